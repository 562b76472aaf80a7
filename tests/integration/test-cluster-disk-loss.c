/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A lost disk must not let a stale server lead: a server restarted with the in-sync set
 * {itself, X}, where X's state directory was emptied, while the server that holds every
 * commit is outside that set and down. docs/replication.md, A6 ("A vote from a new store
 * vouches for nothing"); the simulator found it (seeds 486, 1389 and 2415 of
 * --ship-images --disk-loss). */
#include "chat-fs.h"
#include "chat-test-client.h"
#include "chat-test-db.h"
#include "chat-test-util.h"

#include <sqlite3.h>

#define PASSWORD "correct horse"
#define CONVERGE_MS 30000
#define LEADER_MS 15000
#define IN_SYNC_MS 15000
/* Many election and failure timeouts: long enough for a stale server to win. */
#define WITHOUT_HOLDER_MS 4000
#define PHASE_SENDS 150

typedef struct
{
  ChatTestCluster *cluster;
  ChatClient *alice;
  GHashTable *acked; /* body -> (gint64 *) the seq its acknowledgement named */
} Fixture;

static void
send_phase (Fixture *f, const char *phase, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *body = g_strdup_printf ("%s %u", phase, i);
      gint64 seq = chat_test_client_send (f->alice, "alice", body);

      g_hash_table_replace (f->acked, g_strdup (body), g_memdup2 (&seq, sizeof seq));
    }
  g_test_message ("%u messages acknowledged: %s", n, phase);
}

/* Waits until the leader names every running server in its in-sync set: from then on a
 * commit needs each of their disks. */
static void
wait_in_sync (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)IN_SYNC_MS * 1000;

  while (!chat_test_cluster_in_sync (f->cluster, TRUE))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("The running servers did not join the in-sync set within %u ms", IN_SYNC_MS);
      g_usleep (50 * 1000);
    }
}

/* Whether any of the two running servers, neither of which holds what was committed last,
 * says it leads within WITHOUT_HOLDER_MS. */
static gboolean
led_without_holder (Fixture *f, guint stale, guint wiped)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)WITHOUT_HOLDER_MS * 1000;
  const guint running[] = { stale, wiped };

  while (g_get_monotonic_time () < deadline)
    {
      for (guint i = 0; i < G_N_ELEMENTS (running); i++)
        if (chat_test_cluster_leads (f->cluster, running[i]))
          {
            g_test_message ("node %u leads while the server holding every commit is down",
                            running[i]);
            return TRUE;
          }
      g_usleep (50 * 1000);
    }
  return FALSE;
}

/* Reads node's database: every acknowledged message must be stored once, under the seq
 * its acknowledgement named. Returns how many were lost, doubled and renumbered. */
static guint
count_wrong (Fixture *f, guint node)
{
  g_autofree char *path
      = g_build_filename (chat_test_cluster_state_dir (f->cluster, node), "chatd.db", NULL);
  g_autoptr (GHashTable) stored = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  guint lost = 0, doubled = 0, renumbered = 0;
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  GHashTableIter iter;
  gpointer key, value;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 2000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT body, id FROM messages", -1, &stmt, NULL), ==,
                   SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 1);

      if (!g_hash_table_insert (stored, g_strdup ((const char *)sqlite3_column_text (stmt, 0)),
                                g_memdup2 (&id, sizeof id)))
        doubled++;
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_hash_table_iter_init (&iter, f->acked);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      gint64 *id = g_hash_table_lookup (stored, key);

      lost += id == NULL;
      renumbered += id != NULL && *id != *(gint64 *)value;
    }
  g_test_message ("node %u: %u acknowledged, %u lost, %u doubled, %u renumbered", node,
                  g_hash_table_size (f->acked), lost, doubled, renumbered);
  return lost + doubled + renumbered;
}

/* Roles, whichever server leads first: the leader L goes on while the others are killed
 * one after the other, first H, then S (the set shrinks to {L, S}, then {L}); H comes
 * back and catches up ({L, H}), and every message after that is committed on L's and
 * H's disks. Then L and H are killed, L's state directory is emptied, and S (whose set
 * on disk is {S, L}) and L's new store start while H is still down. S alone lacks every
 * commit since it stopped; L's new store grants any vote. Before the rule, S led on that
 * vote, and when H came back its entries were replaced and replayed with new seqs. */
static void
test_stale_member_and_wiped_peer (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (3, NULL);
  Fixture f = { .cluster = cluster };
  guint leader = 0, holder = 0, stale = 0;
  gboolean led = FALSE;
  guint wrong = 0;

  f.acked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  chat_test_cluster_start_all (cluster);
  leader = chat_test_cluster_wait_leader (cluster, LEADER_MS);
  g_assert_cmpuint (leader, !=, 0);
  holder = leader % 3 + 1;
  stale = holder % 3 + 1;
  f.alice = chat_test_client_new (cluster);
  chat_test_client_signup (f.alice, "alice", PASSWORD);
  send_phase (&f, "all three", PHASE_SENDS);

  chat_test_cluster_kill (cluster, holder);
  send_phase (&f, "holder down", PHASE_SENDS);
  chat_test_cluster_kill (cluster, stale);
  send_phase (&f, "leader alone", PHASE_SENDS);
  chat_test_cluster_start (cluster, holder, FALSE);
  wait_in_sync (&f);
  send_phase (&f, "leader and holder", PHASE_SENDS);

  g_clear_object (&f.alice);
  chat_test_cluster_kill (cluster, leader);
  chat_test_cluster_kill (cluster, holder);
  chat_fs_remove_tree (chat_test_cluster_state_dir (cluster, leader));
  g_test_message ("node %u leads, node %u holds every commit, node %u is stale; node %u's "
                  "disk lost",
                  leader, holder, stale, leader);
  chat_test_cluster_start (cluster, leader, FALSE);
  chat_test_cluster_start (cluster, stale, FALSE);
  led = led_without_holder (&f, stale, leader);

  chat_test_cluster_start (cluster, holder, FALSE);
  g_assert_cmpuint (chat_test_cluster_wait_leader (cluster, LEADER_MS), !=, 0);
  f.alice = chat_test_client_new (cluster);
  chat_test_client_login (f.alice, "alice", PASSWORD);
  send_phase (&f, "after", 50);
  chat_test_wait_converged (cluster, CONVERGE_MS);
  g_clear_object (&f.alice);
  chat_test_cluster_stop_all (cluster);
  for (guint node = 1; node <= 3; node++)
    wrong += count_wrong (&f, node);
  g_assert_false (led);
  g_assert_cmpuint (wrong, ==, 0);
  g_hash_table_unref (f.acked);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cluster/disk-loss/stale-member-and-wiped-peer",
                   test_stale_member_and_wiped_peer);
  return g_test_run ();
}
