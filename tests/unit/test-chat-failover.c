/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for chat-failover: one report per leader change, by the new leader, with its times. */
#include "config.h"

#include "chat-failover.h"

/* Server 2's view: server 1 leads, goes silent at 1000 ms, 2 notices at 1700 ms, wins the
 * election at 1750 ms and serves at 1770 ms. */
static void
test_crash (void)
{
  ChatFailover f;
  ChatFailoverReport report = { 0 };
  guint lost = 0;
  guint64 silence = 0;

  chat_failover_init (&f, 2);
  chat_failover_leader (&f, 1, 100);
  chat_failover_contact (&f, 1, 1000);
  chat_failover_contact (&f, 3, 1500); /* another follower: not the leader */
  g_assert_false (chat_failover_get_loss (&f, &lost, &silence));
  chat_failover_leader (&f, 0, 1700);
  g_assert_true (chat_failover_get_loss (&f, &lost, &silence));
  g_assert_cmpuint (lost, ==, 1);
  g_assert_cmpuint (silence, ==, 700);
  chat_failover_leader (&f, 2, 1750);
  g_assert_false (chat_failover_get_loss (&f, &lost, &silence));
  g_assert_true (chat_failover_serving (&f, 1770, &report));
  g_assert_cmpuint (report.old_leader, ==, 1);
  g_assert_cmpuint (report.downtime_ms, ==, 770);
  g_assert_cmpuint (report.silence_ms, ==, 700);
  g_assert_false (report.old_leader_answered);
  /* Once per change. */
  g_assert_false (chat_failover_serving (&f, 1800, &report));
  /* The report said 1 stopped answering: the core's peer-down for it says nothing new,
   * once; another server's does. */
  g_assert_true (chat_failover_peer_down_is_news (&f, 3));
  g_assert_false (chat_failover_peer_down_is_news (&f, 1));
  g_assert_true (chat_failover_peer_down_is_news (&f, 1));
}

/* Server 3 of the same story: it follows the new leader and reports nothing. */
static void
test_follower_reports_nothing (void)
{
  ChatFailover f;
  ChatFailoverReport report = { 0 };

  chat_failover_init (&f, 3);
  chat_failover_leader (&f, 1, 100);
  chat_failover_contact (&f, 1, 1000);
  chat_failover_leader (&f, 0, 1650);
  chat_failover_leader (&f, 2, 1760);
  g_assert_false (chat_failover_serving (&f, 1800, &report));
}

/* The first leader of a cluster, or of a server that just started, replaced nobody. */
static void
test_first_leader (void)
{
  ChatFailover f;
  ChatFailoverReport report = { 0 };

  chat_failover_init (&f, 1);
  chat_failover_leader (&f, 1, 50);
  g_assert_false (chat_failover_serving (&f, 60, &report));
}

/* Lost elections in between do not restart the clock: the time counts from the old leader's
 * last message. */
static void
test_several_elections (void)
{
  ChatFailover f;
  ChatFailoverReport report = { 0 };

  chat_failover_init (&f, 2);
  chat_failover_leader (&f, 1, 0);
  chat_failover_contact (&f, 1, 500);
  chat_failover_leader (&f, 0, 1200);
  chat_failover_leader (&f, 2, 1300);
  chat_failover_leader (&f, 0, 1400); /* lost it again before serving */
  chat_failover_leader (&f, 2, 2100);
  g_assert_true (chat_failover_serving (&f, 2200, &report));
  g_assert_cmpuint (report.old_leader, ==, 1);
  g_assert_cmpuint (report.downtime_ms, ==, 1700);
}

/* A leader that hands over is heard from until the last moment: a short silence. */
static void
test_direct_change (void)
{
  ChatFailover f;
  ChatFailoverReport report = { 0 };

  chat_failover_init (&f, 3);
  chat_failover_leader (&f, 1, 0);
  chat_failover_contact (&f, 1, 990);
  chat_failover_leader (&f, 3, 1000);
  g_assert_true (chat_failover_serving (&f, 1040, &report));
  g_assert_cmpuint (report.old_leader, ==, 1);
  g_assert_cmpuint (report.silence_ms, ==, 10);
  g_assert_cmpuint (report.downtime_ms, ==, 50);
}

/* Server 1 steps down and votes for 2: it still answers. */
static void
test_step_down (void)
{
  ChatFailover f;
  ChatFailoverReport report = { 0 };

  chat_failover_init (&f, 2);
  chat_failover_leader (&f, 1, 0);
  chat_failover_contact (&f, 1, 600);
  chat_failover_leader (&f, 0, 1000);
  chat_failover_contact (&f, 1, 1005); /* its vote */
  chat_failover_leader (&f, 2, 1010);
  g_assert_true (chat_failover_serving (&f, 1020, &report));
  g_assert_true (report.old_leader_answered);
  g_assert_cmpuint (report.downtime_ms, ==, 420);
  /* It was not reported down: going down later is news. */
  g_assert_true (chat_failover_peer_down_is_news (&f, 1));
}

/* The old leader came back (peer-up) and then failed again: that peer-down is news. */
static void
test_back_then_down (void)
{
  ChatFailover f;
  ChatFailoverReport report = { 0 };

  chat_failover_init (&f, 2);
  chat_failover_leader (&f, 1, 0);
  chat_failover_contact (&f, 1, 100);
  chat_failover_leader (&f, 2, 800);
  g_assert_true (chat_failover_serving (&f, 820, &report));
  chat_failover_peer_up (&f, 1);
  g_assert_true (chat_failover_peer_down_is_news (&f, 1));
}

/* The old leader steps down and leads again: no leader change to report. */
static void
test_same_leader_again (void)
{
  ChatFailover f;
  ChatFailoverReport report = { 0 };

  chat_failover_init (&f, 1);
  chat_failover_leader (&f, 1, 0);
  chat_failover_leader (&f, 0, 100);
  chat_failover_leader (&f, 1, 200);
  g_assert_false (chat_failover_serving (&f, 300, &report));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/chat-failover/crash", test_crash);
  g_test_add_func ("/chat-failover/follower-reports-nothing", test_follower_reports_nothing);
  g_test_add_func ("/chat-failover/first-leader", test_first_leader);
  g_test_add_func ("/chat-failover/several-elections", test_several_elections);
  g_test_add_func ("/chat-failover/direct-change", test_direct_change);
  g_test_add_func ("/chat-failover/step-down", test_step_down);
  g_test_add_func ("/chat-failover/back-then-down", test_back_then_down);
  g_test_add_func ("/chat-failover/same-leader-again", test_same_leader_again);
  return g_test_run ();
}
