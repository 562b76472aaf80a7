/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Chaos test checker: reads every server's database after the run and compares it with
 * what the writers sent and what was acknowledged. */
#define G_LOG_DOMAIN "chaos"

#include "chaos.h"
#include "chat-test-db.h"
#include "chat-store.h"

#include <sqlite3.h>
#include <string.h>

typedef struct
{
  gint64 id;
  char *to;
  char *body;
  guint copies;
} StoredMessage;

static void
stored_message_free (StoredMessage *message)
{
  g_free (message->to);
  g_free (message->body);
  g_free (message);
}

static sqlite3 *
open_readonly (ChatTestCluster *cluster, guint node)
{
  g_autofree char *path
      = g_build_filename (chat_test_cluster_state_dir (cluster, node), "chatd.db", NULL);
  sqlite3 *db = NULL;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    {
      g_printerr ("# cannot open %s: %s\n", path, sqlite3_errmsg (db));
      sqlite3_close (db);
      return NULL;
    }
  sqlite3_busy_timeout (db, 2000);
  return db;
}

gboolean
chaos_wait_converged (ChatTestCluster *cluster, guint timeout_ms)
{
  return chat_test_cluster_wait_same_applied (cluster, timeout_ms) != 0;
}

/* Every stored message by "from/client_msg_id" (sender and recipient case-folded). */
static GHashTable *
read_messages (ChatTestCluster *cluster, guint node, guint64 *duplicated)
{
  GHashTable *messages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                (GDestroyNotify)stored_message_free);
  g_autoptr (GHashTable) bodies = g_hash_table_new (g_str_hash, g_str_equal);
  sqlite3 *db = open_readonly (cluster, node);
  sqlite3_stmt *stmt = NULL;

  g_assert_nonnull (db);
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT id, from_key, to_key, body, client_msg_id "
                                       "FROM messages ORDER BY id",
                                       -1, &stmt, NULL),
                   ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      StoredMessage *message = g_new0 (StoredMessage, 1);
      char *key
          = g_strdup_printf ("%s/%s", sqlite3_column_text (stmt, 1), sqlite3_column_text (stmt, 4));

      message->id = sqlite3_column_int64 (stmt, 0);
      message->to = g_strdup ((const char *)sqlite3_column_text (stmt, 2));
      message->body = g_strdup ((const char *)sqlite3_column_text (stmt, 3));
      /* Each composed message has its own body: the same body twice is a duplicate. */
      if (g_hash_table_contains (bodies, message->body))
        (*duplicated)++;
      else
        g_hash_table_add (bodies, message->body);
      if (g_hash_table_contains (messages, key))
        (*duplicated)++;
      g_hash_table_replace (messages, key, message);
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return messages;
}

static void
check_node (ChatTestCluster *cluster, guint node, GHashTable *sends, ChaosVerdict *verdict,
            GHashTable *lost_keys, GHashTable *renumbered_keys)
{
  guint64 duplicated = 0;
  g_autoptr (GHashTable) stored = read_messages (cluster, node, &duplicated);
  GHashTableIter iter;
  gpointer key, value;

  verdict->duplicated += duplicated;
  g_hash_table_iter_init (&iter, sends);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      ChaosSend *send = value;
      StoredMessage *message = g_hash_table_lookup (stored, key);

      if (send->seq == 0)
        continue; /* never acknowledged: may or may not be there */
      if (message != NULL && message->id != send->seq && g_strcmp0 (message->to, send->to) == 0
          && g_strcmp0 (message->body, send->body) == 0)
        {
          /* An acknowledged id never changes (docs/replication.md, §9). */
          if (g_hash_table_size (renumbered_keys) < 5)
            g_printerr ("# node %u: acknowledged %s (seq %" G_GINT64_FORMAT
                        ") is stored as %" G_GINT64_FORMAT "\n",
                        node, (char *)key, send->seq, message->id);
          g_hash_table_add (renumbered_keys, key);
          continue;
        }
      if (message == NULL || g_strcmp0 (message->to, send->to) != 0
          || g_strcmp0 (message->body, send->body) != 0)
        {
          if (g_hash_table_size (lost_keys) < 5)
            g_printerr ("# node %u: acknowledged %s (seq %" G_GINT64_FORMAT ") %s\n", node,
                        (char *)key, send->seq, message ? "changed" : "missing");
          g_hash_table_add (lost_keys, key);
        }
    }
  g_hash_table_iter_init (&iter, stored);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      ChaosSend *send = g_hash_table_lookup (sends, key);
      StoredMessage *message = value;

      if (send == NULL || g_strcmp0 (send->body, message->body) != 0)
        {
          g_printerr ("# node %u: message %s was never sent\n", node, (char *)key);
          verdict->phantom++;
        }
    }
}

static char *
state_hash (ChatTestCluster *cluster, guint node, guint64 *applied)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatStore) store
      = chat_store_open (chat_test_cluster_state_dir (cluster, node), &error);
  char *hash = NULL;

  g_assert_no_error (error);
  hash = chat_store_state_hash (store, &error);
  g_assert_no_error (error);
  *applied = chat_store_applied_index (store);
  return hash;
}

void
chaos_check (ChatTestCluster *cluster, GHashTable *sends, ChaosVerdict *verdict)
{
  g_autoptr (GHashTable) lost_keys = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) renumbered_keys = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *first_hash = NULL;
  guint64 first_applied = 0;
  GHashTableIter iter;
  gpointer value;

  memset (verdict, 0, sizeof *verdict);
  verdict->hashes_match = verdict->applied_match = TRUE;
  g_hash_table_iter_init (&iter, sends);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    verdict->acknowledged += ((ChaosSend *)value)->seq != 0;
  for (guint node = 1; node <= chat_test_cluster_n_servers (cluster); node++)
    {
      guint64 applied = 0;
      g_autofree char *hash = state_hash (cluster, node, &applied);

      check_node (cluster, node, sends, verdict, lost_keys, renumbered_keys);
      g_printerr ("# node %u: applied index %" G_GUINT64_FORMAT ", state hash %s\n", node, applied,
                  hash);
      if (node == 1)
        {
          first_hash = g_steal_pointer (&hash);
          first_applied = applied;
          continue;
        }
      verdict->hashes_match &= g_strcmp0 (hash, first_hash) == 0;
      verdict->applied_match &= applied == first_applied;
    }
  verdict->lost = g_hash_table_size (lost_keys);
  verdict->renumbered = g_hash_table_size (renumbered_keys);
}
