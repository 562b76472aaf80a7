/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore's schema: one migration per version, from the file's version to this code's. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-connection.h"
#include "chat-error.h"

/* --- schema -------------------------------------------------------------------- */

/* Version 1: the replicated log, meta blobs and the chat state. Every read in
 * chat-store-query.c and every lookup in chat-store-apply.c has an index here (the unread
 * ones as version 3 left them). */
static const char schema_v1[]
    = "CREATE TABLE log ("
      "  idx INTEGER PRIMARY KEY,"
      "  term INTEGER NOT NULL,"
      "  type INTEGER NOT NULL,"
      "  data BLOB NOT NULL);"
      "CREATE TABLE meta ("
      "  key TEXT PRIMARY KEY,"
      "  value BLOB NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE accounts ("
      "  key TEXT PRIMARY KEY,"
      "  name TEXT NOT NULL,"
      "  password_hash TEXT NOT NULL,"
      "  created_at INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE sessions ("
      "  token_hash TEXT PRIMARY KEY,"
      "  user_key TEXT NOT NULL REFERENCES accounts (key),"
      "  created_at INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE INDEX sessions_by_user ON sessions (user_key);"
      "CREATE TABLE messages ("
      "  id INTEGER PRIMARY KEY,"
      "  from_key TEXT NOT NULL REFERENCES accounts (key),"
      "  to_key TEXT NOT NULL REFERENCES accounts (key),"
      "  body TEXT NOT NULL,"
      "  sent_at INTEGER NOT NULL,"
      "  read INTEGER NOT NULL DEFAULT 0,"
      "  read_seq INTEGER,"
      "  client_msg_id TEXT NOT NULL,"
      "  UNIQUE (from_key, client_msg_id));"
      /* history: one conversation in seq order, whichever direction */
      "CREATE INDEX messages_by_conversation"
      "  ON messages (min (from_key, to_key), max (from_key, to_key), id);"
      /* sync, conversations, delete_account */
      "CREATE INDEX messages_by_sender ON messages (from_key, id);"
      "CREATE INDEX messages_by_recipient ON messages (to_key, id);"
      /* unread (oldest first), unread counts per sender, mark_read */
      "CREATE INDEX messages_unread ON messages (to_key, id) WHERE read = 0;"
      "CREATE INDEX messages_unread_by_sender ON messages (to_key, from_key, id) WHERE read = 0;"
      /* sync: the sender's messages read after a seq */
      "CREATE INDEX messages_read_changes ON messages (from_key, read_seq)"
      "  WHERE read_seq IS NOT NULL;"
      /* one row per participant who still has an account; sync reads them by seq */
      "CREATE TABLE tombstones ("
      "  user_key TEXT NOT NULL,"
      "  id INTEGER NOT NULL,"
      "  seq INTEGER NOT NULL,"
      "  PRIMARY KEY (user_key, id)) WITHOUT ROWID;"
      "CREATE INDEX tombstones_by_seq ON tombstones (user_key, seq, id);";

/* Version 2: meta becomes a rowid table, so that rewriting a small value (the applied
 * index, every batch) no longer walks the overflow pages of the snapshot blob stored
 * beside it in a WITHOUT ROWID b-tree; replay keeps the operations of a diverged
 * history (docs/partitions.md) until the cluster's leader has committed them. */
static const char schema_v2[] = "CREATE TABLE meta_v2 ("
                                "  key TEXT PRIMARY KEY,"
                                "  value BLOB NOT NULL);"
                                "INSERT INTO meta_v2 (key, value) SELECT key, value FROM meta;"
                                "DROP TABLE meta;"
                                "ALTER TABLE meta_v2 RENAME TO meta;"
                                "CREATE TABLE replay ("
                                "  id INTEGER PRIMARY KEY,"
                                "  op BLOB NOT NULL);";

/* Version 3: one unread index instead of two. The one by sender, (to_key, from_key, id),
 * put every message of a recipient with many correspondents on a page of its own, a
 * page more to write per message; the one left carries from_key as its last column, so
 * the per-sender counts and mark_read read it alone, over the recipient's unread messages
 * (docs/storage.md). */
static const char schema_v3[] = "DROP INDEX IF EXISTS messages_unread;"
                                "DROP INDEX IF EXISTS messages_unread_by_sender;"
                                "CREATE INDEX messages_unread ON messages (to_key, id, from_key)"
                                "  WHERE read = 0;";

typedef gboolean (*MigrateFunc) (ChatStore *self, GError **error);

static gboolean
migrate_to_1 (ChatStore *self, GError **error)
{
  return chat_store_exec (self, schema_v1, error);
}

static gboolean
migrate_to_2 (ChatStore *self, GError **error)
{
  return chat_store_exec (self, schema_v2, error);
}

static gboolean
migrate_to_3 (ChatStore *self, GError **error)
{
  return chat_store_exec (self, schema_v3, error);
}

/* migrations[v - 1] brings a version v - 1 database to version v. */
static const MigrateFunc migrations[CHAT_STORE_SCHEMA_VERSION] = {
  migrate_to_1,
  migrate_to_2,
  migrate_to_3,
};

static gint64
read_user_version (ChatStore *self, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;

  if (sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK
      || sqlite3_step (stmt) != SQLITE_ROW)
    {
      chat_store_fail (self, error, "Reading the schema version");
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

static gboolean
migrate_step (ChatStore *self, gpointer data, GError **error)
{
  int version = *(int *)data;
  g_autofree char *set_version = g_strdup_printf ("PRAGMA user_version = %d", version);

  return migrations[version - 1](self, error) && chat_store_exec (self, set_version, error);
}

/* The migration and the new version in one transaction, fsynced (the connection is at
 * synchronous FULL while opening). */
static gboolean
migrate_one (ChatStore *self, int version, GError **error)
{
  if (!chat_store_transaction (self, CHAT_STORE_WRITE_SYNCED, migrate_step, &version, error))
    {
      g_prefix_error (error, "Migrating the database to version %d: ", version);
      return FALSE;
    }
  g_debug ("Database schema now at version %d", version);
  return TRUE;
}

gboolean
chat_store_migrate (ChatStore *self, GError **error)
{
  gint64 version = read_user_version (self, error);

  if (version < 0)
    return FALSE;
  if (version > CHAT_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                   "%s has schema version %" G_GINT64_FORMAT
                   ", newer than this chatd understands (%d)",
                   self->path, version, CHAT_STORE_SCHEMA_VERSION);
      return FALSE;
    }
  for (int v = (int)version + 1; v <= CHAT_STORE_SCHEMA_VERSION; v++)
    {
      if (!migrate_one (self, v, error))
        return FALSE;
    }
  return TRUE;
}
