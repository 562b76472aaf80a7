/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The last live member of the in-sync set, starved a little as its dead leader's failure
 * timeout runs out, still takes over: docs/replication.md, C13, "a stall just short" (unit
 * test /repl/available/last-member-starved-after-leader-crash). test-cluster-starved.c is
 * the other side: a stall that may have cost a member its place keeps it from leading. */
#include "chat-test-client.h"
#include "chat-test-util.h"

#include <signal.h>

#define CONVERGE_MS 30000
#define LEADER_MS 15000
/* The failure timeout of this cluster (config.ini's default is 400 ms), long enough that
 * the stop below fits well inside it. Elections keep the default 300-600 ms. */
#define FAILURE_TIMEOUT_MS 1000
/* The stop: from QUIET_MS after the leader's crash to the failure timeout less half a
 * heartbeat (100 ms) after it. */
#define QUIET_MS 300
#define STOP_MS (FAILURE_TIMEOUT_MS - 50 - QUIET_MS)

typedef ChatTestPair Fixture;

/* S (stale) is killed and removed from the set; then L (the leader) is killed with
 * nothing in flight, and M, the last member, is stopped from QUIET_MS after that until
 * the failure timeout less half a heartbeat has passed: its first step after the stop
 * shows a stall of STOP_MS, at the end of the wait after which it takes over. Nothing of
 * L reaches it after the stop, so nothing says L lived on to remove it: M must lead alone
 * and serve, with every acknowledged message. When the stall alone made M count itself
 * as possibly removed, it stayed recovering with nobody left to end it (seen in
 * test-cluster-rejoin under the sanitizers; 3 of 3 runs of this test failed then). */
static void
test_stalled_after_leader_crash (Fixture *f, gconstpointer data)
{
  guint leader = chat_test_pair_wait_leader (f, LEADER_MS);
  guint stale = chat_test_cluster_other (f->cluster, leader);
  guint last = 1 + 2 + 3 - leader - stale;
  gint64 deadline = g_get_monotonic_time () + (gint64)CONVERGE_MS * 1000;

  chat_test_pair_write_pipelined (f, 50, 8);
  chat_test_pair_wait_all_in_sync (f, CONVERGE_MS);
  chat_test_cluster_kill (f->cluster, stale);
  while (chat_test_leader_names_in_sync (f->cluster, leader, stale))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      chat_test_pair_write_pipelined (f, 10, 4);
    }
  g_assert_true (chat_test_leader_names_in_sync (f->cluster, leader, last));
  chat_test_pair_write_pipelined (f, 50, 8);

  chat_test_cluster_kill (f->cluster, leader);
  chat_test_spin (QUIET_MS);
  /* A member may lead alone only after a failure timeout without its leader (A5). */
  g_assert_false (chat_test_cluster_leads (f->cluster, last));
  chat_test_cluster_signal (f->cluster, last, SIGSTOP);
  chat_test_spin (STOP_MS);
  chat_test_cluster_signal (f->cluster, last, SIGCONT);

  g_assert_cmpuint (chat_test_cluster_wait_leader (f->cluster, LEADER_MS), ==, last);
  chat_test_pair_write_pipelined (f, 20, 4);
  chat_test_pair_assert_all_once (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/cluster/last-member/stalled-after-leader-crash", Fixture,
              G_STRINGIFY (FAILURE_TIMEOUT_MS), chat_test_pair_set_up_failure_timeout,
              test_stalled_after_leader_crash, chat_test_pair_tear_down);
  return g_test_run ();
}
