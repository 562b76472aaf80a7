/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: opening the database, schema migrations, statement cache and apply batches. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-private.h"
#include "chat-error.h"
#include "chat-slice.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

G_DEFINE_TYPE (ChatStore, chat_store, G_TYPE_OBJECT)

/* Page cache per connection, in KiB (a negative cache_size): the indexes that every send
 * touches stay in memory instead of being read back with pread at each batch. */
#define CHAT_STORE_CACHE_KIB "-65536"
/* WAL pages after which a commit asks the checkpoint thread for a checkpoint (SQLite's
 * automatic checkpoint is 1,000 pages). Each apply batch rewrites the same index pages; a
 * longer WAL copies each of them to the database once per checkpoint instead of once per
 * thousand pages. */
#define CHAT_STORE_CHECKPOINT_PAGES 4000
/* The WAL's bound (64 MiB of 4 KiB pages). A checkpoint that runs beside a busy writer
 * copies what was committed when it began, and the WAL starts over only when a commit
 * finds everything copied: under a steady load the writer always comes first, and at
 * etcd's l load the WAL grew to 1 GiB. Past the bound the main connection checkpoints
 * once itself (copying what the thread left, usually little), at most once a second,
 * after which the next commit starts the WAL over (unless a reader still pins it). */
#define CHAT_STORE_WAL_MAX_PAGES (4 * CHAT_STORE_CHECKPOINT_PAGES)
#define CHAT_STORE_INLINE_INTERVAL_US G_USEC_PER_SEC
/* An fsync of the log this long under way fails the health check, so that the service
 * watchdog (every 5 s of its 10) restarts a server whose disk hangs: the main loop itself
 * goes on while the sync thread waits. */
#define CHAT_STORE_SYNC_STALL_US (5 * G_USEC_PER_SEC)
/* Every connection's settings; automatic checkpoints stay off (the WAL hook asks the
 * checkpoint thread instead). No journal_size_limit: cutting the WAL file back happens in
 * the commit that restarts it, on the main loop, and on a file system mounted with
 * `discard` that ftruncate() discarded every freed range before returning (0.2-0.4 s at
 * etcd's l load). The file keeps the largest size it reached instead. */
#define CONNECTION_PRAGMAS                                                                         \
  "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"                                           \
  " PRAGMA cache_size = " CHAT_STORE_CACHE_KIB

/* --- schema -------------------------------------------------------------------- */

/* Version 1: the replicated log, meta blobs and the chat state. Every read in
 * chat-store-query.c and every lookup in chat-store-apply.c has an index here. */
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

/* migrations[v - 1] brings a version v - 1 database to version v. */
static const MigrateFunc migrations[CHAT_STORE_SCHEMA_VERSION] = {
  migrate_to_1,
  migrate_to_2,
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
migrate_one (ChatStore *self, int version, GError **error)
{
  g_autofree char *set_version = g_strdup_printf ("PRAGMA user_version = %d", version);

  if (!chat_store_exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;
  if (!migrations[version - 1](self, error) || !chat_store_exec (self, set_version, error)
      || !chat_store_exec (self, "COMMIT", error))
    {
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      g_prefix_error (error, "Migrating the database to version %d: ", version);
      return FALSE;
    }
  g_debug ("Database schema now at version %d", version);
  return TRUE;
}

static gboolean
migrate (ChatStore *self, GError **error)
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

/* --- helpers ------------------------------------------------------------------- */

gboolean
chat_store_fail (ChatStore *self, GError **error, const char *what)
{
  g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "%s: %s (SQLite code %d)", what,
               sqlite3_errmsg (self->db), sqlite3_extended_errcode (self->db));
  return FALSE;
}

gboolean
chat_store_exec (ChatStore *self, const char *sql, GError **error)
{
  if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return chat_store_fail (self, error, "Database statement failed");
  return TRUE;
}

ChatStmt *
chat_store_prepare (ChatStore *self, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->stmts, sql);

  if (stmt != NULL)
    return stmt;
  if (sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
    {
      chat_store_fail (self, error, "Preparing a statement");
      return NULL;
    }
  g_hash_table_insert (self->stmts, (gpointer)sql, stmt);
  return stmt;
}

void
chat_store_stmt_release (ChatStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

gboolean
chat_store_step_done (ChatStore *self, ChatStmt *stmt, GError **error)
{
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return chat_store_fail (self, error, "Writing to the database");
  return TRUE;
}

void
chat_store_bind_text (ChatStmt *stmt, int pos, const char *text)
{
  if (text == NULL)
    sqlite3_bind_null (stmt, pos);
  else
    sqlite3_bind_text (stmt, pos, text, -1, SQLITE_TRANSIENT);
}

char *
chat_store_column_dup (ChatStmt *stmt, int col)
{
  return g_strdup ((const char *)sqlite3_column_text (stmt, col));
}

/* The checkpoint past the WAL's bound that a commit asked for (on_wal_commit). It copies
 * the WAL into the database and lets it restart, so it must fsync both, which a connection
 * at synchronous OFF does not do: it runs at NORMAL at least. */
static gboolean
run_deferred_checkpoint (ChatStore *self, GError **error)
{
  gint64 start = g_get_monotonic_time ();

  if (!self->checkpoint_deferred)
    return TRUE;
  self->checkpoint_deferred = FALSE;
  if (!self->durable && !chat_store_exec (self, "PRAGMA synchronous = NORMAL", error))
    return FALSE;
  sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  self->inline_checkpoint_us = g_get_monotonic_time ();
  self->inline_checkpoints++;
  chat_slice_note ("checkpointing the WAL past its bound", start, (guint)self->wal_frames);
  return self->durable || chat_store_exec (self, "PRAGMA synchronous = OFF", error);
}

/* FULL: SQLite fsyncs the WAL before the commit returns. OFF: no fsync at all, not even
 * of the WAL's header when a commit restarts it (NORMAL would, on the main loop): the
 * store's sync thread makes these commits durable (chat-store-wal-sync.c), and a power
 * cut keeps a prefix of the WAL's commits either way (docs/storage.md). */
gboolean
chat_store_set_durable (ChatStore *self, gboolean durable, GError **error)
{
  if (!run_deferred_checkpoint (self, error))
    return FALSE;
  if (self->durable == durable)
    return TRUE;
  if (!chat_store_exec (self, durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = OFF",
                        error))
    return FALSE;
  self->durable = durable;
  return TRUE;
}

gboolean
chat_store_put_meta_uint (ChatStore *self, const char *key, guint64 value, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, value);

  stmt = chat_store_prepare (self, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                             error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_blob (stmt, 2, text, (int)strlen (text), SQLITE_TRANSIENT);
  return chat_store_step_done (self, stmt, error);
}

guint64
chat_store_read_meta_uint (ChatStore *self, const char *key)
{
  g_autoptr (GBytes) value = chat_store_get_meta (self, key);
  g_autofree char *text = NULL;
  gsize len = 0;
  const char *data = NULL;

  if (value == NULL)
    return 0;
  data = g_bytes_get_data (value, &len);
  text = g_strndup (data, len);
  return g_ascii_strtoull (text, NULL, 10);
}

/* --- object -------------------------------------------------------------------- */

static void
chat_store_finalize (GObject *object)
{
  ChatStore *self = CHAT_STORE (object);

  if (self->in_apply)
    g_warning ("Store closed inside an apply batch; the batch is rolled back");
  g_clear_pointer (&self->syncer, chat_wal_syncer_stop);
  g_clear_pointer (&self->checkpointer, chat_checkpointer_stop);
  g_clear_pointer (&self->stmts, g_hash_table_unref);
  /* The last connection to close checkpoints the whole WAL and deletes it: with fsyncs. */
  if (self->db != NULL)
    sqlite3_exec (self->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
  if (self->db != NULL)
    sqlite3_close_v2 (self->db);
  g_free (self->path);
  G_OBJECT_CLASS (chat_store_parent_class)->finalize (object);
}

static void
chat_store_class_init (ChatStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = chat_store_finalize;
}

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static void
chat_store_init (ChatStore *self)
{
  self->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, finalize_stmt);
}

/* After every commit of the main connection (in place of SQLite's automatic checkpoint,
 * which would run inside that commit, on the main loop). */
static int
on_wal_commit (void *data, sqlite3 *db, const char *name, int frames)
{
  ChatStore *self = data;
  gint64 start = g_get_monotonic_time ();

  self->wal_frames = frames;
  if (self->checkpointer == NULL)
    return SQLITE_OK; /* still opening: the migrations' few pages wait */
  if (frames >= CHAT_STORE_CHECKPOINT_PAGES)
    chat_checkpointer_request (self->checkpointer);
  /* Not here, where the connection may be at synchronous OFF: at the start of the next
   * write (chat_store_set_durable). */
  if (frames >= CHAT_STORE_WAL_MAX_PAGES
      && start - self->inline_checkpoint_us >= CHAT_STORE_INLINE_INTERVAL_US)
    self->checkpoint_deferred = TRUE;
  return SQLITE_OK;
}

static gboolean
configure_connection (ChatStore *self, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  const char *mode = NULL;

  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, 5000);
  sqlite3_db_config (self->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
  if (sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL) != SQLITE_OK
      || sqlite3_step (stmt) != SQLITE_ROW)
    return chat_store_fail (self, error, "Switching to WAL mode");
  mode = (const char *)sqlite3_column_text (stmt, 0);
  if (g_strcmp0 (mode, "wal") != 0)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                   "%s cannot use WAL mode (journal mode is %s)", self->path, mode);
      return FALSE;
    }
  self->durable = TRUE;
  if (!chat_store_exec (self, CONNECTION_PRAGMAS, error))
    return FALSE;
  sqlite3_wal_hook (self->db, on_wal_commit, self);
  return TRUE;
}

static gboolean
load_positions (ChatStore *self, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, "SELECT max (idx) FROM log", error);

  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return chat_store_fail (self, error, "Reading the log");
  self->compacted_index = chat_store_read_meta_uint (self, CHAT_STORE_META_COMPACTED);
  self->applied_index = chat_store_read_meta_uint (self, CHAT_STORE_META_APPLIED);
  self->last_log_index = MAX ((guint64)sqlite3_column_int64 (stmt, 0), self->compacted_index);
  return TRUE;
}

ChatStore *
chat_store_open (const char *state_dir, GError **error)
{
  g_autoptr (ChatStore) self = NULL;

  g_return_val_if_fail (state_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "Cannot create %s: %s", state_dir,
                   g_strerror (saved_errno));
      return NULL;
    }
  self = g_object_new (CHAT_TYPE_STORE, NULL);
  self->path = g_build_filename (state_dir, "chatd.db", NULL);
  if (sqlite3_open_v2 (self->path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
      != SQLITE_OK)
    {
      chat_store_fail (self, error, "Opening the database");
      g_prefix_error (error, "%s: ", self->path);
      return NULL;
    }
  if (!configure_connection (self, error) || !migrate (self, error) || !load_positions (self, error)
      || (self->checkpointer = chat_checkpointer_start (self->path, error)) == NULL
      || (self->syncer = chat_wal_syncer_start (self->path, error)) == NULL)
    {
      g_prefix_error (error, "%s: ", self->path);
      return NULL;
    }
  g_debug ("Opened %s: applied %" G_GUINT64_FORMAT ", last log index %" G_GUINT64_FORMAT,
           self->path, self->applied_index, self->last_log_index);
  return g_steal_pointer (&self);
}

guint64
chat_store_background_checkpoints (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->checkpointer != NULL ? chat_checkpointer_done (self->checkpointer) : 0;
}

guint64
chat_store_inline_checkpoints (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->inline_checkpoints;
}

int
chat_store_wal_frames (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->wal_frames;
}

void
chat_store_set_synced_func (ChatStore *self, ChatStoreSyncedFunc func, gpointer user_data)
{
  g_return_if_fail (CHAT_IS_STORE (self));
  chat_wal_syncer_set_func (self->syncer, func, user_data);
}

guint64
chat_store_request_sync (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return chat_wal_syncer_request (self->syncer);
}

const char *
chat_store_get_path (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  return self->path;
}

/* --- apply batches ------------------------------------------------------------- */

gboolean
chat_store_begin_apply (ChatStore *self, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  /* The log is the durable record; applied state may lag it after a power cut
   * and is replayed from the log (see docs/storage.md). */
  if (!chat_store_set_durable (self, FALSE, error)
      || !chat_store_exec (self, "BEGIN IMMEDIATE", error))
    {
      g_prefix_error (error, "Starting an apply batch: ");
      return FALSE;
    }
  self->in_apply = TRUE;
  self->batch_implicit = FALSE;
  self->applied_at_begin = self->applied_index;
  return TRUE;
}

gboolean
chat_store_commit_apply (ChatStore *self, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (self->in_apply, FALSE);

  if (!chat_store_put_meta_uint (self, CHAT_STORE_META_APPLIED, self->applied_index, error)
      || !chat_store_exec (self, "COMMIT", error))
    {
      chat_store_rollback_apply (self);
      g_prefix_error (error, "Committing applied operations: ");
      return FALSE;
    }
  self->in_apply = FALSE;
  return TRUE;
}

void
chat_store_rollback_apply (ChatStore *self)
{
  g_return_if_fail (CHAT_IS_STORE (self));

  if (!self->in_apply)
    return;
  if (sqlite3_get_autocommit (self->db) == 0)
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
  self->applied_index = self->applied_at_begin;
  self->in_apply = FALSE;
}

guint64
chat_store_applied_index (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->applied_index;
}

gboolean
chat_store_probe (ChatStore *self, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);

  if (chat_wal_syncer_busy_us (self->syncer) > CHAT_STORE_SYNC_STALL_US)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                   "An fsync of the write-ahead log has not returned for %d s",
                   CHAT_STORE_SYNC_STALL_US / G_USEC_PER_SEC);
      return FALSE;
    }
  stmt = chat_store_prepare (self, "SELECT count(*) FROM meta", error);
  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return chat_store_fail (self, error, "Reading the database");
  return TRUE;
}

/* --- results ------------------------------------------------------------------- */

static void
apply_event_free (ChatApplyEvent *event)
{
  g_free (event->user_key);
  g_clear_pointer (&event->event, json_object_unref);
  g_free (event->except_session);
  g_free (event);
}

ChatApplyResult *
chat_apply_result_new (void)
{
  ChatApplyResult *result = g_new0 (ChatApplyResult, 1);

  result->reply = json_object_new ();
  result->error_code = -1;
  result->events = g_ptr_array_new_with_free_func ((GDestroyNotify)apply_event_free);
  result->ended_sessions = g_ptr_array_new_with_free_func (g_free);
  return result;
}

void
chat_apply_result_free (ChatApplyResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->reply, json_object_unref);
  g_free (result->error_message);
  g_ptr_array_unref (result->events);
  g_ptr_array_unref (result->ended_sessions);
  g_free (result);
}
