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
 * the writer always comes first. Past the bound, once the thread has finished the
 * checkpoint under way, the writes wait (chat_store_writes_held; the main loop goes on)
 * while the thread copies what was committed meanwhile, so that the next write starts the
 * WAL over. At most CHAT_STORE_HOLD_US: the writes then go on, and the next hold comes
 * once the thread is idle again, not before CHAT_STORE_HOLD_GAP_US (a reader, such as the
 * snapshot worker's long read, keeps a checkpoint from copying everything, and holding
 * the writes gains nothing then). Past twice the bound a hold lasts until the thread's
 * checkpoint ends however long it takes, and each write waits for one: writers that
 * outrun the disk, or a reader, are held to the disk's pace. Unless the checkpoint would
 * have much to copy (more than CHAT_STORE_HOLD_MOST_PAGES past what the thread's last one
 * found copied): after a reader, the whole backlog it kept from being copied (65,000-
 * 133,000 frames, and 0.5-2.6 s of writes held on the three servers at once, after the
 * snapshot worker's reads of 6-15 s at etcd's l load). A hold then lasts at most
 * CHAT_STORE_PROBE_HOLD_US, which the checkpoints that a reader cuts short fit in (0-6
 * ms), and the writes go on beside a longer one; the hold that restarts the WAL comes
 * once a checkpoint has left little to copy. The
 * main connection never checkpoints itself: its checkpoint past the bound held the whole
 * loop for its two fsyncs, 400-1,200 ms at etcd's l load, and that was every leader
 * change there (docs/benchmarks.md). */
#define CHAT_STORE_HOLD_US (500 * 1000)
#define CHAT_STORE_HOLD_GAP_US (100 * 1000)
#define CHAT_STORE_HOLD_MOST_PAGES 4000
#define CHAT_STORE_PROBE_HOLD_US (50 * 1000)
#define CHAT_STORE_WAL_HARD_PAGES (2 * CHAT_STORE_WAL_MAX_PAGES)
/* Every connection's settings; automatic checkpoints stay off (the WAL hook asks the
 * checkpoint thread instead). No journal_size_limit: cutting the WAL file back happens in
 * the commit that restarts it, on the main loop, and on a file system mounted with
 * `discard` that ftruncate() discarded every freed range before returning (0.2-0.4 s at
 * etcd's l load). The file keeps the largest size it reached instead. */
#define CONNECTION_PRAGMAS                                                                         \
  "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"               \
  " PRAGMA cache_size = " CHAT_STORE_CACHE_KIB

/* --- opening ------------------------------------------------------------------------ */

/* Every connection of the store is used by one thread at a time (the main loop's, the
 * checkpoint thread's, a snapshot worker's), so none needs SQLite's mutex around each
 * call. Through the WAL-batching VFS: only a connection that writes frames batches them,
 * and the others pass straight through it. */
int
chat_store_db_open (const char *path, int flags, sqlite3 **db)
{
  return sqlite3_open_v2 (path, db, flags | SQLITE_OPEN_NOMUTEX, chat_store_vfs_name ());
}

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

/* FULL: SQLite fsyncs the WAL before the commit returns. OFF: no fsync at all, not even
 * of the WAL's header when a commit restarts it (NORMAL would, on the main loop): the
 * store's sync thread makes these commits durable (chat-store-wal-sync.c), and a power
 * cut keeps a prefix of the WAL's commits either way (docs/storage.md). */
gboolean
chat_store_set_durable (ChatStore *self, gboolean durable, GError **error)
{
  if (self->durable == durable)
    return TRUE;
  if (!chat_store_exec (self, durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = OFF",
                        error))
    return FALSE;
  self->durable = durable;
  return TRUE;
}

/* Whether a checkpoint now would copy more than a hold may wait for: what the WAL holds
 * past the frames that the thread's last checkpoint found copied (all of it when the WAL
 * started over since). */
static gboolean
much_to_copy (ChatStore *self)
{
  int copied = 0;
  guint64 done = chat_checkpointer_done (self->checkpointer, &copied);

  if (done == self->restart_pass || copied > self->wal_frames)
    copied = 0;
  return self->wal_frames - copied > CHAT_STORE_HOLD_MOST_PAGES;
}

/* Past the WAL's bound with the thread idle: its next checkpoint runs while the writes
 * wait, so that it copies everything. */
static void
maybe_hold_for_restart (ChatStore *self, gint64 now)
{
  gboolean hard = self->wal_frames >= CHAT_STORE_WAL_HARD_PAGES;
  /* Past twice the bound each write waits for a checkpoint of its own. */
  gboolean due = now >= self->next_hold_us || (hard && self->wal_frames != self->held_at_frames);

  if (self->checkpointer == NULL || self->wal_frames < CHAT_STORE_WAL_MAX_PAGES || !due
      || !chat_checkpointer_idle (self->checkpointer))
    return;
  self->hold_pass = chat_checkpointer_done (self->checkpointer, NULL);
  self->hold_since_us = now;
  if (much_to_copy (self))
    self->hold_until_us = now + CHAT_STORE_PROBE_HOLD_US;
  else
    self->hold_until_us = hard ? G_MAXINT64 : now + CHAT_STORE_HOLD_US;
  self->holds++;
  chat_checkpointer_request (self->checkpointer);
}

/* A hold ends with the checkpoint it asked for, or at its time limit. */
static void
maybe_end_hold (ChatStore *self, gint64 now)
{
  if (self->hold_until_us == 0
      || (chat_checkpointer_done (self->checkpointer, NULL) == self->hold_pass
          && now < self->hold_until_us))
    return;
  g_debug ("Held the writes for %" G_GINT64_FORMAT " ms for a checkpoint at %d WAL frames",
           (now - self->hold_since_us) / 1000, self->wal_frames);
  self->hold_until_us = 0;
  self->next_hold_us = now + CHAT_STORE_HOLD_GAP_US;
  self->held_at_frames = self->wal_frames;
}

gboolean
chat_store_writes_held (ChatStore *self)
{
  gint64 now = g_get_monotonic_time ();

  maybe_end_hold (self, now);
  if (self->hold_until_us == 0)
    maybe_hold_for_restart (self, now);
  if (self->hold_until_us != 0)
    return TRUE;
  /* Past twice the bound the writes also wait for a checkpoint under way, unless it may
   * have much to copy. */
  return self->checkpointer != NULL && self->wal_frames >= CHAT_STORE_WAL_HARD_PAGES
         && !chat_checkpointer_idle (self->checkpointer) && !much_to_copy (self);
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
    {
      self->checkpoint_asked_at = 0;
      if (self->checkpointer != NULL)
        self->restart_pass = chat_checkpointer_done (self->checkpointer, NULL);
    }
  self->wal_frames = frames;
  chat_wal_gauge_set (self->wal_gauge, frames);
  if (self->checkpointer == NULL)
    return SQLITE_OK; /* still opening: the migrations' few pages wait */
  /* Past the bound, the thread is left to finish what it does, and is asked again only
   * with the writes held (maybe_hold_for_restart): under a steady load it would otherwise
   * always hold the checkpoint lock, and never be idle for a hold to begin. */
  if (frames >= CHAT_STORE_CHECKPOINT_PAGES && frames < CHAT_STORE_WAL_MAX_PAGES
      && checkpoint_step_reached (self, now))
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
  if (chat_store_db_open (self->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &self->db)
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
chat_store_begin_reads (ChatStore *self)
{
  g_autoptr (GError) error = NULL;

  if (sqlite3_get_autocommit (self->db) == 0)
    return FALSE;
  /* Without it each read runs as before, in a transaction of its own. */
  if (!run_cached (self, "BEGIN", &error))
    {
      g_warning ("Beginning a read transaction failed: %s", error->message);
      return FALSE;
    }
  return TRUE;
}

void
chat_store_end_reads (ChatStore *self, gboolean opened)
{
  g_autoptr (GError) error = NULL;

  if (!opened || run_cached (self, "COMMIT", &error))
    return;
  g_warning ("Ending a read transaction failed: %s", error->message);
  /* Left open, it would fail the next write's BEGIN. */
  if (sqlite3_get_autocommit (self->db) == 0)
    end_transaction (self->db, FALSE, NULL);
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
