/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore's connection: settings, the WAL hook, transactions and cached statements. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-connection.h"
#include "chat-store-vfs.h"
#include "chat-error.h"
#include "chat-slice.h"

/* Page cache per connection, in KiB (a negative cache_size): the indexes that every send
 * touches stay in memory instead of being read back with pread at each batch. */
#define CHAT_STORE_CACHE_KIB "-65536"
/* WAL pages after which a commit asks the checkpoint thread for a checkpoint (SQLite's
 * automatic checkpoint is 1,000 pages). Each apply batch rewrites the same index pages; a
 * longer WAL copies each of them to the database once per checkpoint instead of once per
 * thousand pages. */
#define CHAT_STORE_CHECKPOINT_PAGES 4000
/* Past that, the thread is asked again once this many more pages are in the WAL, or this
 * long after it was last asked. The WAL does not restart after the thread's checkpoints
 * while commits go on (see below), so asking at every commit past
 * CHAT_STORE_CHECKPOINT_PAGES kept the thread checkpointing back to back, two fsyncs for
 * a few pages each time: 4,318 checkpoints in a 6 s load of one server and 8 clients, 116
 * since, and 12 % less server CPU per acknowledged send (docs/benchmarks.md). Asking
 * again after a while still finds the pause in the writes that lets the WAL restart. */
#define CHAT_STORE_CHECKPOINT_STEP_PAGES 1000
#define CHAT_STORE_CHECKPOINT_STEP_US (50 * 1000)
/* The WAL's bound is CHAT_STORE_WAL_MAX_PAGES (64 MiB of 4 KiB pages). A checkpoint that
 * runs beside a busy writer copies what was committed when it began, and the WAL starts
 * over only when a write transaction begins with everything copied: under a steady load
 * the writer always comes first. Past the bound the main connection checkpoints itself
 * (copying what the thread left, usually little) once the thread is idle, at the start of
 * a write, which then starts the WAL over. A reader that keeps it from copying everything
 * (an operator's sqlite3) is waited out this long between tries. */
#define CHAT_STORE_INLINE_RETRY_US (20 * 1000)
/* What the main connection's own checkpoint may have left to copy: the thread, asked
 * once more, brings the WAL's uncopied tail under this first. A tail of 40,000 frames (a
 * second at etcd's l load) held the main loop for 240 ms, more than half the failure
 * timeout. */
#define CHAT_STORE_INLINE_MAX_FRAMES 1000
#define CHAT_STORE_WAL_HARD_PAGES (2 * CHAT_STORE_WAL_MAX_PAGES)
#define CHAT_STORE_HARD_WAIT_US (20 * 1000)
/* Every connection's settings; automatic checkpoints stay off (the WAL hook asks the
 * checkpoint thread instead). No journal_size_limit: cutting the WAL file back happens in
 * the commit that restarts it, on the main loop, and on a file system mounted with
 * `discard` that ftruncate() discarded every freed range before returning (0.2-0.4 s at
 * etcd's l load). The file keeps the largest size it reached instead. */
#define CONNECTION_PRAGMAS                                                                         \
  "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"               \
  " PRAGMA cache_size = " CHAT_STORE_CACHE_KIB

/* --- errors and plain statements ------------------------------------------------ */

gboolean
chat_store_db_fail (sqlite3 *db, GError **error, const char *what)
{
  g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "%s: %s (SQLite code %d)", what,
               sqlite3_errmsg (db), sqlite3_extended_errcode (db));
  return FALSE;
}

gboolean
chat_store_db_exec (sqlite3 *db, const char *sql, GError **error)
{
  if (sqlite3_exec (db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return chat_store_db_fail (db, error, "Database statement failed");
  return TRUE;
}

gboolean
chat_store_fail (ChatStore *self, GError **error, const char *what)
{
  return chat_store_db_fail (self->db, error, what);
}

gboolean
chat_store_exec (ChatStore *self, const char *sql, GError **error)
{
  return chat_store_db_exec (self->db, sql, error);
}

/* --- the connection's settings and its WAL ---------------------------------------- */

/* The checkpoint past the WAL's bound that a commit asked for (on_wal_commit). It copies
 * the WAL into the database and lets it restart, so it must fsync both, which a connection
 * at synchronous OFF does not do: it runs at NORMAL at least. Never while the thread
 * checkpoints: SQLite would refuse it (one checkpoint at a time), and a refused one at
 * most once a second let the WAL grow to hundreds of MB. Nor, the first time, while the
 * thread has left more than CHAT_STORE_INLINE_MAX_FRAMES to copy: it is asked once more
 * instead. Only once: a writer that commits faster than the thread copies leaves it a
 * long tail every time, and the WAL grew without bound (five times it, in the unit test,
 * once commits wrote their frames in batches). Kept for the next write until it has
 * copied the whole WAL, after which the transaction that follows restarts it. Past
 * CHAT_STORE_WAL_HARD_PAGES each write first waits up to CHAT_STORE_HARD_WAIT_US for the
 * thread to finish: the WAL's hard bound, which only a writer that outruns the disk
 * reaches, and which slows it to the disk's pace without holding the loop for longer. */
static gboolean
run_deferred_checkpoint (ChatStore *self, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  int log_frames = -1, copied = -1;
  int rc;

  if (!self->checkpoint_deferred || start < self->inline_retry_us)
    return TRUE;
  if (self->checkpointer != NULL
      && !chat_checkpointer_idle (self->checkpointer, self->wal_frames >= CHAT_STORE_WAL_HARD_PAGES
                                                          ? CHAT_STORE_HARD_WAIT_US
                                                          : 0))
    return TRUE;
  if (self->checkpointer != NULL && !self->tail_left_to_thread
      && (gint64)self->wal_frames - chat_checkpointer_copied (self->checkpointer)
             > CHAT_STORE_INLINE_MAX_FRAMES)
    {
      self->tail_left_to_thread = TRUE;
      chat_checkpointer_request (self->checkpointer);
      return TRUE;
    }
  if (!self->durable && !chat_store_exec (self, "PRAGMA synchronous = NORMAL", error))
    return FALSE;
  rc = sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
  if (rc == SQLITE_OK && copied == log_frames)
    self->checkpoint_deferred = self->tail_left_to_thread = FALSE;
  else /* a reader, the thread just started, or a fault (which the thread reports too) */
    self->inline_retry_us = start + CHAT_STORE_INLINE_RETRY_US;
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

static gboolean
checkpoint_step_reached (ChatStore *self, gint64 now)
{
  return self->wal_frames - self->checkpoint_asked_at >= CHAT_STORE_CHECKPOINT_STEP_PAGES
         || now - self->checkpoint_asked_us >= CHAT_STORE_CHECKPOINT_STEP_US;
}

/* After every commit of the main connection (in place of SQLite's automatic checkpoint,
 * which would run inside that commit, on the main loop). frames is the WAL's length. */
static int
on_wal_commit (void *data, sqlite3 *db, const char *name, int frames)
{
  ChatStore *self = data;
  gint64 now = g_get_monotonic_time ();

  if (frames < self->wal_frames) /* this commit restarted the WAL */
    self->checkpoint_asked_at = 0;
  self->wal_frames = frames;
  chat_wal_gauge_set (self->wal_gauge, frames);
  if (self->checkpointer == NULL)
    return SQLITE_OK; /* still opening: the migrations' few pages wait */
  /* Not here, where the connection may be at synchronous OFF: at the start of the next
   * write (chat_store_set_durable). */
  if (frames >= CHAT_STORE_WAL_MAX_PAGES)
    self->checkpoint_deferred = TRUE;
  /* Once that one is due, the thread is left to finish what it does, and is not asked
   * again: under a steady load it would otherwise always hold the checkpoint lock. */
  if (frames >= CHAT_STORE_CHECKPOINT_PAGES && checkpoint_step_reached (self, now)
      && !(self->checkpoint_deferred && now >= self->inline_retry_us))
    {
      chat_checkpointer_request (self->checkpointer);
      self->checkpoint_asked_at = frames;
      self->checkpoint_asked_us = now;
    }
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
  self->wal_gauge = chat_wal_gauge_new (self->path);
  sqlite3_wal_hook (self->db, on_wal_commit, self);
  return TRUE;
}

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

gboolean
chat_store_connect (ChatStore *self, GError **error)
{
  self->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, finalize_stmt);
  /* The only connection that writes WAL frames, so the only one that batches them. */
  if (sqlite3_open_v2 (self->path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                       chat_store_vfs_name ())
      != SQLITE_OK)
    return chat_store_fail (self, error, "Opening the database");
  return configure_connection (self, error);
}

void
chat_store_disconnect (ChatStore *self)
{
  g_clear_pointer (&self->syncer, chat_wal_syncer_stop);
  g_clear_pointer (&self->checkpointer, chat_checkpointer_stop);
  g_clear_pointer (&self->wal_gauge, chat_wal_gauge_free);
  g_clear_pointer (&self->stmts, g_hash_table_unref);
  if (self->db == NULL)
    return;
  /* The last connection to close checkpoints the whole WAL and deletes it: with fsyncs. */
  sqlite3_exec (self->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
  sqlite3_close_v2 (self->db);
  self->db = NULL;
}

void
chat_store_thread_join (GThread *thread, GMutex *lock, GCond *wake, gboolean *stopping)
{
  g_mutex_lock (lock);
  *stopping = TRUE;
  g_cond_signal (wake);
  g_mutex_unlock (lock);
  g_thread_join (thread);
}

/* --- transactions ---------------------------------------------------------------- */

/* Ends the open transaction of db: COMMIT, or ROLLBACK when commit is FALSE or the COMMIT
 * failed. A failure of either is reported in error, unless error holds one already (the
 * reason for the rollback), which a failed ROLLBACK then prefixes. */
static gboolean
end_transaction (sqlite3 *db, gboolean commit, GError **error)
{
  g_autoptr (GError) rollback_error = NULL;

  if (commit && chat_store_db_exec (db, "COMMIT", error))
    return TRUE;
  if (commit)
    g_prefix_error (error, "Committing: ");
  /* A COMMIT that failed on a busy or full disk leaves the transaction open. */
  if (sqlite3_get_autocommit (db) != 0)
    return FALSE;
  if (chat_store_db_exec (db, "ROLLBACK", &rollback_error))
    return FALSE;
  g_warning ("Rolling back a transaction failed: %s", rollback_error->message);
  if (error != NULL && *error == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&rollback_error), "Rolling back: ");
  else
    g_prefix_error (error, "(and rolling back failed: %s) ", rollback_error->message);
  return FALSE;
}

gboolean
chat_store_db_transaction (sqlite3 *db, const char *begin, ChatStoreDbWork work, gpointer data,
                           GError **error)
{
  g_autoptr (GError) local = NULL;

  if (!chat_store_db_exec (db, begin, error))
    return FALSE;
  /* The work's own error decides, even when the caller passes no GError. */
  if (!work (db, data, &local))
    {
      end_transaction (db, FALSE, &local);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return end_transaction (db, TRUE, error);
}

gboolean
chat_store_begin (ChatStore *self, ChatStoreMode mode, GError **error)
{
  if (mode == CHAT_STORE_READ)
    return chat_store_exec (self, "BEGIN", error);
  return chat_store_set_durable (self, mode == CHAT_STORE_WRITE_SYNCED, error)
         && chat_store_exec (self, "BEGIN IMMEDIATE", error);
}

gboolean
chat_store_end (ChatStore *self, gboolean commit, GError **error)
{
  return end_transaction (self->db, commit, error);
}

/* A ChatStoreWork with its store, run as a ChatStoreDbWork. */
typedef struct
{
  ChatStore *store;
  ChatStoreWork work;
  gpointer data;
} StoreWork;

static gboolean
run_store_work (sqlite3 *db, gpointer data, GError **error)
{
  StoreWork *w = data;

  return w->work (w->store, w->data, error);
}

gboolean
chat_store_transaction (ChatStore *self, ChatStoreMode mode, ChatStoreWork work, gpointer data,
                        GError **error)
{
  StoreWork store_work = { self, work, data };

  /* A read inside an open transaction (the state hash during an apply batch) sees it. */
  if (mode == CHAT_STORE_READ && sqlite3_get_autocommit (self->db) == 0)
    return work (self, data, error);
  if (mode != CHAT_STORE_READ
      && !chat_store_set_durable (self, mode == CHAT_STORE_WRITE_SYNCED, error))
    return FALSE;
  return chat_store_db_transaction (self->db, mode == CHAT_STORE_READ ? "BEGIN" : "BEGIN IMMEDIATE",
                                    run_store_work, &store_work, error);
}

static gboolean
run_cached (ChatStore *self, const char *sql, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, sql, error);

  return stmt != NULL && chat_store_step_done (self, stmt, error);
}

gboolean
chat_store_savepoint (ChatStore *self, ChatStoreWork work, gpointer data, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GError) undo_error = NULL;

  if (!run_cached (self, "SAVEPOINT chat_store_work", error))
    return FALSE;
  if (work (self, data, &local))
    return run_cached (self, "RELEASE chat_store_work", error);
  if (!run_cached (self, "ROLLBACK TO chat_store_work", &undo_error)
      || !run_cached (self, "RELEASE chat_store_work", &undo_error))
    g_prefix_error (&local, "(and undoing it failed: %s) ", undo_error->message);
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

/* --- cached statements ------------------------------------------------------------ */

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

/* borrowed: the statement is reset before the caller's values go (chat_store_run_args). */
static void
bind_arg (ChatStmt *stmt, int pos, const ChatSqlArg *arg, gboolean borrowed)
{
  gsize len = 0;
  gconstpointer data = NULL;

  switch (arg->type)
    {
      case CHAT_SQL_ARG_INT:
        sqlite3_bind_int64 (stmt, pos, arg->number);
        break;
      case CHAT_SQL_ARG_TEXT:
        chat_store_bind_text (stmt, pos, arg->text);
        break;
      case CHAT_SQL_ARG_BLOB:
        data = g_bytes_get_data (arg->blob, &len);
        sqlite3_bind_blob64 (stmt, pos, len > 0 ? data : "", len,
                             borrowed ? SQLITE_STATIC : SQLITE_TRANSIENT);
        break;
    }
}

static ChatStmt *
prepare_bound (ChatStore *self, const char *sql, const ChatSqlArg *args, guint n_args,
               gboolean borrowed, GError **error)
{
  ChatStmt *stmt = chat_store_prepare (self, sql, error);

  if (stmt == NULL)
    return NULL;
  for (guint i = 0; i < n_args; i++)
    bind_arg (stmt, (int)i + 1, &args[i], borrowed);
  return stmt;
}

ChatStmt *
chat_store_query_args (ChatStore *self, const char *sql, const ChatSqlArg *args, guint n_args,
                       GError **error)
{
  return prepare_bound (self, sql, args, n_args, FALSE, error);
}

gboolean
chat_store_run_args (ChatStore *self, const char *sql, const ChatSqlArg *args, guint n_args,
                     GError **error)
{
  g_autoptr (ChatStmt) stmt = prepare_bound (self, sql, args, n_args, TRUE, error);

  return stmt != NULL && chat_store_step_done (self, stmt, error);
}

gboolean
chat_store_step_done (ChatStore *self, ChatStmt *stmt, GError **error)
{
  if (sqlite3_step (stmt) != SQLITE_DONE)
    return chat_store_fail (self, error, "Writing to the database");
  return TRUE;
}

gboolean
chat_store_step_row (ChatStore *self, ChatStmt *stmt, gboolean *found, GError **error)
{
  int rc = sqlite3_step (stmt);

  *found = rc == SQLITE_ROW;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return chat_store_fail (self, error, "Reading the database");
  return TRUE;
}

gboolean
chat_store_step_int (ChatStore *self, ChatStmt *stmt, gint64 *value, const char *what,
                     GError **error)
{
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return chat_store_fail (self, error, what);
  *value = sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

gboolean
chat_store_each_row (ChatStore *self, ChatStmt *stmt, ChatStoreRowFunc func, gpointer data,
                     const char *what, GError **error)
{
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      if (!func (stmt, data, error))
        return FALSE;
    }
  if (rc != SQLITE_DONE)
    return chat_store_fail (self, error, what);
  return TRUE;
}

GPtrArray *
chat_store_collect (ChatStore *self, ChatStmt *stmt, ChatStoreRowFunc func,
                    GDestroyNotify free_func, const char *what, GError **error)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (free_func);

  if (stmt == NULL || !chat_store_each_row (self, stmt, func, rows, what, error))
    return NULL;
  return g_steal_pointer (&rows);
}

gint64
chat_store_changes (ChatStore *self)
{
  return sqlite3_changes (self->db);
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

GBytes *
chat_store_column_bytes (ChatStmt *stmt, int col)
{
  return g_bytes_new (sqlite3_column_blob (stmt, col), (gsize)sqlite3_column_bytes (stmt, col));
}
