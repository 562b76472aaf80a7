/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A restarted server rejoins by itself, by log entries or by snapshot, while clients write;
 * a stale server restarted alone does not lead (the recovering rule). */
#include "chat-test-client.h"
#include "chat-test-util.h"

#include <string.h>

#define CONVERGE_MS 30000
#define LEADER_MS 15000

typedef ChatTestPair Fixture;

/* Starts the next numbered send from alice to bob. */
static void
send_next (Fixture *f)
{
  g_autofree char *body = g_strdup_printf ("message %u", f->sent->len);

  chat_test_pair_send_async (f, body);
}

/* Keeps up to `window` sends in flight until n more are acknowledged, running the loop. */
static void
write_pipelined (Fixture *f, guint n, guint window)
{
  guint target = f->sent->len + n;

  while (f->sent->len < target || f->in_flight > 0)
    {
      while (f->sent->len < target && f->in_flight < window)
        send_next (f);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (f->failed, ==, 0);
}

static gboolean
log_mentions (Fixture *f, guint node, const char *text)
{
  g_autofree char *path = chat_test_cluster_log_path (f->cluster, node);
  g_autofree char *contents = NULL;

  return g_file_get_contents (path, &contents, NULL, NULL) && strstr (contents, text) != NULL;
}

/* The returning follower deposed nobody (pre-vote, docs/replication.md C11). Under a
 * sanitizer with TLS every step runs several times slower and a starved server can still
 * cost an election (the open "no leader churn under load" work): that build reports it. */
static void
assert_same_leader (Fixture *f, guint leader)
{
  guint now = chat_test_cluster_wait_leader (f->cluster, LEADER_MS);
  /* Its own step-down, not the failover line naming a leader of the cluster's first second. */
  g_autofree char *stepped_down = g_strdup_printf ("127.0.0.1:%u stopped leading in term",
                                                   chat_test_cluster_port (f->cluster, leader));
  gboolean changed = now != leader || log_mentions (f, leader, stepped_down);

  if (changed && g_getenv ("CHATD_TEST_LEADER_CHANGE_TOLERATED") != NULL)
    {
      g_test_message ("the leader changed (%u, now %u) in this slowed build", leader, now);
      return;
    }
  g_assert_cmpuint (now, ==, leader);
  g_assert_false (changed);
}

/* A follower misses writes, comes back while alice keeps sending, and catches up. */
static void
test_rejoin (Fixture *f, gconstpointer data)
{
  guint leader = chat_test_cluster_wait_leader (f->cluster, LEADER_MS);
  guint follower = chat_test_cluster_other (f->cluster, leader);

  write_pipelined (f, 20, 4);
  chat_test_cluster_kill (f->cluster, follower);
  write_pipelined (f, 300, 16);
  /* Restart it with sends in flight, and keep writing while it catches up. */
  for (guint i = 0; i < 8; i++)
    send_next (f);
  chat_test_cluster_start (f->cluster, follower, FALSE);
  write_pipelined (f, 200, 8);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  if (data != NULL)
    g_assert_true (log_mentions (f, follower, "installed a snapshot up to index"));
  write_pipelined (f, 10, 1);
  chat_test_pair_assert_all_once (f);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  assert_same_leader (f, leader);
}

/* The recovering rule: a server that missed writes and restarts alone must not lead (it
 * could lose what the others acknowledged); once the last survivor returns, it leads and
 * everything converges. */
static void
test_recovering (Fixture *f, gconstpointer data)
{
  guint leader = chat_test_cluster_wait_leader (f->cluster, LEADER_MS);
  guint stale = chat_test_cluster_other (f->cluster, leader);
  guint last = 0;

  write_pipelined (f, 10, 4);
  chat_test_cluster_kill (f->cluster, stale);
  write_pipelined (f, 20, 4);
  last = chat_test_cluster_other (f->cluster, leader);
  chat_test_cluster_kill (f->cluster, leader);
  write_pipelined (f, 10, 4);
  g_assert_cmpuint (chat_test_cluster_wait_leader (f->cluster, LEADER_MS), ==, last);
  chat_test_cluster_kill (f->cluster, last);

  chat_test_cluster_start (f->cluster, stale, FALSE);
  /* Well past several election timeouts: still nobody leads. */
  g_assert_cmpuint (chat_test_cluster_wait_leader (f->cluster, 4000), ==, 0);
  chat_test_cluster_start (f->cluster, last, FALSE);
  g_assert_cmpuint (chat_test_cluster_wait_leader (f->cluster, LEADER_MS), !=, 0);
  chat_test_cluster_start (f->cluster, leader, FALSE);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  write_pipelined (f, 5, 1);
  chat_test_pair_assert_all_once (f);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/cluster/rejoin/by-entries", Fixture, NULL, chat_test_pair_set_up, test_rejoin,
              chat_test_pair_tear_down);
  /* A small snapshot interval: a server that misses a few hundred writes needs a snapshot. */
  g_test_add ("/cluster/rejoin/by-snapshot", Fixture, "50", chat_test_pair_set_up, test_rejoin,
              chat_test_pair_tear_down);
  g_test_add ("/cluster/rejoin/recovering", Fixture, NULL, chat_test_pair_set_up, test_recovering,
              chat_test_pair_tear_down);
  return g_test_run ();
}
