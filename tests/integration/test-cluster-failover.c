/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kill -9 on three real servers: one fault, two faults in every order, libchat riding through. */
#include "chat-test-client.h"
#include "chat-test-util.h"

#include <string.h>

#define CONVERGE_MS 30000
#define LEADER_MS 15000

typedef ChatTestPair Fixture;

/* The test data is the fault order, not a snapshot interval. */
static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  chat_test_pair_set_up (f, NULL);
}

static gint64
term_of (Fixture *f, guint node)
{
  g_autoptr (JsonObject) hello = chat_test_hello (f->cluster, node);

  g_assert_nonnull (hello);
  return json_object_get_int_member (hello, "term");
}

/* Kills the leader and times how long until libchat's next send is acknowledged. */
static void
kill_leader_and_time (Fixture *f, const char *what)
{
  guint leader = chat_test_pair_wait_leader (f, LEADER_MS);
  gint64 start = 0;

  chat_test_cluster_kill (f->cluster, leader);
  start = g_get_monotonic_time ();
  chat_test_pair_send_some (f, 1);
  g_test_message (
      "%s: the first write after killing leader %u was acknowledged after %" G_GINT64_FORMAT " ms",
      what, leader, (g_get_monotonic_time () - start) / 1000);
}

static void
restart_all_stopped (Fixture *f)
{
  for (guint node = 1; node <= 3; node++)
    {
      if (!chat_test_cluster_is_running (f->cluster, node))
        chat_test_cluster_start (f->cluster, node, FALSE);
    }
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
}

/* One fault: the leader. A new one is elected with a higher term; nothing is lost. */
static void
test_kill_leader (Fixture *f, gconstpointer data)
{
  guint old = 0, now = 0;
  gint64 old_term = 0;

  chat_test_pair_send_some (f, 10);
  old = chat_test_pair_wait_leader (f, LEADER_MS);
  old_term = term_of (f, old);
  kill_leader_and_time (f, "one fault");
  now = chat_test_pair_wait_leader (f, LEADER_MS);
  g_assert_cmpuint (now, !=, old);
  g_assert_cmpint (term_of (f, now), >, old_term);
  /* Exactly one server says it leads. */
  for (guint node = 1; node <= 3; node++)
    {
      g_autoptr (JsonObject) hello = chat_test_hello (f->cluster, node);

      if (hello == NULL)
        continue;
      g_assert_true (node == now
                     || g_strcmp0 (json_object_get_string_member (hello, "role"), "leader") != 0);
    }
  chat_test_pair_send_some (f, 10);
  restart_all_stopped (f);
  chat_test_pair_assert_all_once (f);
}

/* One fault: a follower. Writes go on; the follower comes back in sync. */
static void
test_kill_follower (Fixture *f, gconstpointer data)
{
  guint leader = chat_test_pair_wait_leader (f, LEADER_MS);
  guint follower = leader == 1 ? 2 : 1;

  chat_test_pair_send_some (f, 10);
  chat_test_cluster_kill (f->cluster, follower);
  chat_test_pair_send_some (f, 10);
  g_assert_cmpuint (chat_test_pair_wait_leader (f, LEADER_MS), ==, leader);
  restart_all_stopped (f);
  chat_test_pair_send_some (f, 5);
  chat_test_pair_assert_all_once (f);
}

/* Two faults: 'L' kills the current leader, 'F' a follower, in the order given. */
static void
test_two_faults (Fixture *f, gconstpointer data)
{
  const char *order = data;

  chat_test_pair_send_some (f, 5);
  for (const char *c = order; *c != '\0'; c++)
    {
      guint leader = chat_test_pair_wait_leader (f, LEADER_MS);

      if (*c == 'L')
        kill_leader_and_time (f, order);
      else
        chat_test_cluster_kill (f->cluster, chat_test_cluster_other (f->cluster, leader));
      chat_test_pair_send_some (f, 5);
    }
  /* One server left, serving alone. */
  g_assert_cmpuint (chat_test_pair_wait_leader (f, LEADER_MS), !=, 0);
  chat_test_pair_assert_all_once (f);
  restart_all_stopped (f);
  chat_test_pair_send_some (f, 5);
  chat_test_pair_assert_all_once (f);
}

/* Sends in flight while the leader dies all succeed without the caller retrying, each
 * stored exactly once. */
static void
test_in_flight (Fixture *f, gconstpointer data)
{
  guint leader = chat_test_pair_wait_leader (f, LEADER_MS);

  chat_test_pair_send_some (f, 2);
  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *body = g_strdup_printf ("in flight %u", i);

      chat_test_pair_send_async (f, body);
    }
  /* Let part of them reach the leader, then kill it mid-stream. */
  g_main_context_iteration (NULL, FALSE);
  chat_test_cluster_kill (f->cluster, leader);
  chat_test_pair_wait_sent (f);
  g_assert_cmpuint (f->failed, ==, 0);
  g_assert_cmpuint (chat_test_pair_wait_leader (f, LEADER_MS), !=, leader);
  chat_test_pair_assert_all_once (f);
  restart_all_stopped (f);
  chat_test_pair_assert_all_once (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/cluster/failover/kill-leader", Fixture, NULL, fixture_set_up, test_kill_leader,
              chat_test_pair_tear_down);
  g_test_add ("/cluster/failover/kill-follower", Fixture, NULL, fixture_set_up, test_kill_follower,
              chat_test_pair_tear_down);
  g_test_add ("/cluster/failover/two-faults/leader-then-leader", Fixture, "LL", fixture_set_up,
              test_two_faults, chat_test_pair_tear_down);
  g_test_add ("/cluster/failover/two-faults/leader-then-follower", Fixture, "LF", fixture_set_up,
              test_two_faults, chat_test_pair_tear_down);
  g_test_add ("/cluster/failover/two-faults/follower-then-leader", Fixture, "FL", fixture_set_up,
              test_two_faults, chat_test_pair_tear_down);
  g_test_add ("/cluster/failover/two-faults/follower-then-follower", Fixture, "FF", fixture_set_up,
              test_two_faults, chat_test_pair_tear_down);
  g_test_add ("/cluster/failover/in-flight", Fixture, NULL, fixture_set_up, test_in_flight,
              chat_test_pair_tear_down);
  return g_test_run ();
}
