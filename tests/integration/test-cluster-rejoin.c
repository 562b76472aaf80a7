/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A restarted server rejoins by itself, by log entries or by snapshot, while clients write;
 * a stale server restarted alone does not lead (the recovering rule). */
#include "chat-test-client.h"
#include "chat-test-util.h"

#include <string.h>

#define PASSWORD "correct horse"
#define CONVERGE_MS 30000
#define LEADER_MS 15000

typedef struct
{
  ChatTestCluster *cluster;
  ChatClient *alice;
  ChatClient *bob;
  guint sent;
  guint in_flight;
  guint failed;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->cluster = chat_test_cluster_new (3, NULL);
  /* Small, so that a server that misses a few hundred writes needs a snapshot. */
  if (data != NULL)
    chat_test_cluster_set_option (f->cluster, "cluster", "snapshot_interval", data);
  chat_test_cluster_start_all (f->cluster);
  f->alice = chat_test_client_new (f->cluster);
  f->bob = chat_test_client_new (f->cluster);
  chat_test_client_signup (f->alice, "alice", PASSWORD);
  chat_test_client_signup (f->bob, "bob", PASSWORD);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->alice);
  g_clear_object (&f->bob);
  chat_test_cluster_free (f->cluster);
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatMessage) message = chat_client_send_finish (CHAT_CLIENT (source), result, &error);

  if (message == NULL)
    {
      g_test_message ("a send failed: %s", error->message);
      f->failed++;
    }
  f->in_flight--;
}

/* Keeps up to `window` sends in flight until n more are acknowledged, running the loop. */
static void
write_pipelined (Fixture *f, guint n, guint window)
{
  guint target = f->sent + n;

  while (f->sent < target || f->in_flight > 0)
    {
      while (f->sent < target && f->in_flight < window)
        {
          g_autofree char *body = g_strdup_printf ("message %u", f->sent++);

          chat_client_send_async (f->alice, "bob", body, NULL, on_sent, f);
          f->in_flight++;
        }
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (f->failed, ==, 0);
}

static void
assert_all_once (Fixture *f)
{
  g_autoptr (GPtrArray) history = chat_test_client_history_all (f->bob, "alice");
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < history->len; i++)
    {
      const char *body = chat_message_get_body (g_ptr_array_index (history, i));

      g_assert_false (g_hash_table_contains (seen, body));
      g_hash_table_add (seen, g_strdup (body));
    }
  for (guint i = 0; i < f->sent; i++)
    {
      g_autofree char *body = g_strdup_printf ("message %u", i);

      if (!g_hash_table_contains (seen, body))
        g_error ("Acknowledged “%s” is lost", body);
    }
  g_assert_cmpuint (history->len, ==, f->sent);
}

static gboolean
log_mentions (Fixture *f, guint node, const char *text)
{
  g_autofree char *path = chat_test_cluster_log_path (f->cluster, node);
  g_autofree char *contents = NULL;

  return g_file_get_contents (path, &contents, NULL, NULL) && strstr (contents, text) != NULL;
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
    {
      g_autofree char *body = g_strdup_printf ("message %u", f->sent++);

      chat_client_send_async (f->alice, "bob", body, NULL, on_sent, f);
      f->in_flight++;
    }
  chat_test_cluster_start (f->cluster, follower, FALSE);
  write_pipelined (f, 200, 8);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  if (data != NULL)
    g_assert_true (log_mentions (f, follower, "snapshot installed"));
  write_pipelined (f, 10, 1);
  assert_all_once (f);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
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
  assert_all_once (f);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/cluster/rejoin/by-entries", Fixture, NULL, fixture_set_up, test_rejoin,
              fixture_tear_down);
  g_test_add ("/cluster/rejoin/by-snapshot", Fixture, "50", fixture_set_up, test_rejoin,
              fixture_tear_down);
  g_test_add ("/cluster/rejoin/recovering", Fixture, NULL, fixture_set_up, test_recovering,
              fixture_tear_down);
  return g_test_run ();
}
