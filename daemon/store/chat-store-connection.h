/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store's connection: the object's fields, the statement cache, transactions and the
 * prepare/bind/step helpers that the store's parts (log, chat state, replay queue) share.
 * Used inside daemon/store only. */
#pragma once

#include "chat-store.h"

#include <sqlite3.h>

G_BEGIN_DECLS

/* The WAL's checkpoints, run by a thread of their own (chat-store-checkpoint.c). */
typedef struct _ChatCheckpointer ChatCheckpointer;
ChatCheckpointer *chat_checkpointer_start (const char *path, GError **error);
/* Asks for a checkpoint soon; requests while one runs fold into the next. */
void chat_checkpointer_request (ChatCheckpointer *self);
/* No checkpoint under way or asked for. */
gboolean chat_checkpointer_idle (ChatCheckpointer *self);
/* Checkpoints run so far; copied (may be NULL) gets how many of the WAL's frames the last
 * one found copied when it ended (0 when it failed): a reader keeps it from copying the
 * frames past the point it reads at. */
guint64 chat_checkpointer_done (ChatCheckpointer *self, int *copied);
void chat_checkpointer_stop (ChatCheckpointer *self);

/* The WAL's bound in pages (docs/storage.md, "The WAL's bound"): past it, the writes wait
 * while the thread checkpoints what is left, and the next commit starts the WAL over. */
#define CHAT_STORE_WAL_MAX_PAGES 16000

/* The WAL's length in frames after the last commit of the store that has path open,
 * readable from any thread (chat-store-wal-gauge.c); -1 when no store of this process
 * has it open. */
typedef struct _ChatWalGauge ChatWalGauge;
ChatWalGauge *chat_wal_gauge_new (const char *path);
void chat_wal_gauge_free (ChatWalGauge *self);
void chat_wal_gauge_set (ChatWalGauge *self, int frames);
int chat_wal_gauge_frames (const char *path);

/* fsyncs of the WAL on a thread (chat-store-wal-sync.c). */
typedef struct _ChatWalSyncer ChatWalSyncer;
ChatWalSyncer *chat_wal_syncer_start (const char *db_path, GError **error);
void chat_wal_syncer_set_func (ChatWalSyncer *self, ChatStoreSyncedFunc func, gpointer user_data);
/* A ticket that completes once everything committed before this call is durable. */
guint64 chat_wal_syncer_request (ChatWalSyncer *self);
/* How long the fsync under way has been running, 0 when none is. */
gint64 chat_wal_syncer_busy_us (ChatWalSyncer *self);
void chat_wal_syncer_stop (ChatWalSyncer *self);

/* Tells one of those threads to stop (sets *stopping and wakes it, under lock) and waits
 * for it to end. */
void chat_store_thread_join (GThread *thread, GMutex *lock, GCond *wake, gboolean *stopping);

struct _ChatStore
{
  GObject parent_instance;

  /* the connection (chat-store-connection.c) */
  char *path;
  sqlite3 *db;
  GHashTable *stmts; /* SQL text (static string) -> sqlite3_stmt * */
  gboolean durable;  /* PRAGMA synchronous currently FULL, else OFF */
  ChatCheckpointer *checkpointer;
  ChatWalSyncer *syncer;
  ChatWalGauge *wal_gauge;
  int wal_frames;             /* frames in the WAL after the last commit */
  int checkpoint_asked_at;    /* wal_frames when the thread was last asked, 0 once restarted */
  gint64 checkpoint_asked_us; /* and when */
  gint64 hold_since_us;       /* writes held for the thread's checkpoint since then */
  gint64 hold_until_us;       /* and until then at most (0: none) */
  guint64 hold_pass;          /* the thread's checkpoint count when that one was asked */
  guint64 restart_pass;       /* and when the WAL last started over */
  gint64 next_hold_us;        /* no hold before then */
  int held_at_frames;         /* wal_frames when the last hold ended */
  guint64 holds;              /* writes held so far, for tests */

  /* the replicated log (chat-store-log.c) */
  guint64 last_log_index;
  guint64 compacted_index;
  guint64 compact_target; /* entries up to here go, a slice at a time */

  /* the chat state (chat-store-apply.c) */
  gboolean in_apply;        /* between begin_apply and commit/rollback */
  guint64 applied_index;    /* applied index as seen inside the current transaction */
  guint64 applied_at_begin; /* value to restore on rollback */
};

/* The schema version this code writes; chat_store_open() migrates older files to it
 * (chat-store-schema.c). */
#define CHAT_STORE_SCHEMA_VERSION 3
gboolean chat_store_migrate (ChatStore *self, GError **error);

/* Meta keys owned by the store itself (callers keep to their own names). */
#define CHAT_STORE_META_APPLIED "store.applied_index"
#define CHAT_STORE_META_COMPACTED "store.compacted_index"
/* A decimal guint64 under a meta key, written within the current transaction
 * (chat-store-log.c); read back as 0 when absent. */
gboolean chat_store_put_meta_uint (ChatStore *self, const char *key, guint64 value, GError **error);
guint64 chat_store_read_meta_uint (ChatStore *self, const char *key);
/* The log's positions as stored, at open (chat-store-log.c). */
gboolean chat_store_load_log_positions (ChatStore *self, GError **error);

/* Opens self->path with the settings of docs/storage.md and the WAL hook; closes it (at
 * synchronous FULL, so the last close checkpoints with fsyncs) after stopping the threads. */
gboolean chat_store_connect (ChatStore *self, GError **error);
void chat_store_disconnect (ChatStore *self);

/* --- errors and plain statements ------------------------------------------------ */

/* sqlite3_open_v2 for every connection of the store: through its VFS, without SQLite's
 * per-call mutex. */
int chat_store_db_open (const char *path, int flags, sqlite3 **db);
/* Sets error (CHAT_ERROR_INTERNAL) from the connection's last SQLite error. */
gboolean chat_store_db_fail (sqlite3 *db, GError **error, const char *what);
gboolean chat_store_db_exec (sqlite3 *db, const char *sql, GError **error);
gboolean chat_store_fail (ChatStore *self, GError **error, const char *what);
gboolean chat_store_exec (ChatStore *self, const char *sql, GError **error);

/* --- transactions ---------------------------------------------------------------- */

typedef enum
{
  CHAT_STORE_READ,           /* a read transaction; inside a transaction already: that one */
  CHAT_STORE_WRITE_SYNCED,   /* synchronous FULL: fsynced before COMMIT returns */
  CHAT_STORE_WRITE_UNSYNCED, /* synchronous OFF: the sync thread's fsync, or replayable */
} ChatStoreMode;

/* The work of one transaction; FALSE with error set rolls the transaction back. */
typedef gboolean (*ChatStoreDbWork) (sqlite3 *db, gpointer data, GError **error);
typedef gboolean (*ChatStoreWork) (ChatStore *self, gpointer data, GError **error);

/* Runs work inside BEGIN … COMMIT on db (any connection, any thread). begin is "BEGIN" or
 * "BEGIN IMMEDIATE". A failed work, or a failed COMMIT, rolls back; a failed COMMIT or
 * ROLLBACK is reported in error like any other failure. */
gboolean chat_store_db_transaction (sqlite3 *db, const char *begin, ChatStoreDbWork work,
                                    gpointer data, GError **error);
/* The same on the store's connection, with its synchronous mode set for mode first. */
gboolean chat_store_transaction (ChatStore *self, ChatStoreMode mode, ChatStoreWork work,
                                 gpointer data, GError **error);
/* The two halves of a write transaction that stays open across calls (an apply batch):
 * chat_store_end commits (commit TRUE) or rolls back, reports either's failure, and
 * returns TRUE only when it committed. */
gboolean chat_store_begin (ChatStore *self, ChatStoreMode mode, GError **error);
gboolean chat_store_end (ChatStore *self, gboolean commit, GError **error);
/* Runs work inside a savepoint of the open transaction: a failure undoes work alone. */
gboolean chat_store_savepoint (ChatStore *self, ChatStoreWork work, gpointer data, GError **error);

/* FULL (durable) or OFF; outside transactions. Runs a checkpoint that a commit at OFF left
 * for later first (docs/storage.md, "Connection settings"). */
gboolean chat_store_set_durable (ChatStore *self, gboolean durable, GError **error);

/* --- cached statements ------------------------------------------------------------ */

/* One-off statements are finalized on scope exit. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* A cached statement in use: borrowed from the cache and reset on scope exit, so it
 * never holds a read snapshot open past the function that used it. */
typedef sqlite3_stmt ChatStmt;
void chat_store_stmt_release (ChatStmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatStmt, chat_store_stmt_release)

/* Returns the cached statement for sql (a string literal), prepared on first use. */
ChatStmt *chat_store_prepare (ChatStore *self, const char *sql, GError **error);

/* One parameter to bind, ?1, ?2, … in order: CHAT_SQL_INT (n), CHAT_SQL_TEXT (s) (NULL
 * binds SQL NULL), CHAT_SQL_BLOB (bytes). */
typedef enum
{
  CHAT_SQL_ARG_INT,
  CHAT_SQL_ARG_TEXT,
  CHAT_SQL_ARG_BLOB,
} ChatSqlArgType;

typedef struct
{
  ChatSqlArgType type;
  gint64 number;
  const char *text;
  GBytes *blob;
} ChatSqlArg;

#define CHAT_SQL_INT(value) ((ChatSqlArg){ CHAT_SQL_ARG_INT, (gint64)(value), NULL, NULL })
#define CHAT_SQL_TEXT(value) ((ChatSqlArg){ CHAT_SQL_ARG_TEXT, 0, (value), NULL })
#define CHAT_SQL_BLOB(value) ((ChatSqlArg){ CHAT_SQL_ARG_BLOB, 0, NULL, (value) })
#define CHAT_SQL_ARGS(...)                                                                         \
  ((const ChatSqlArg[]){ __VA_ARGS__ }),                                                           \
      (guint)(sizeof ((const ChatSqlArg[]){ __VA_ARGS__ }) / sizeof (ChatSqlArg))

/* The cached statement for sql with args bound, ready to step (NULL on a fault). */
ChatStmt *chat_store_query_args (ChatStore *self, const char *sql, const ChatSqlArg *args,
                                 guint n_args, GError **error);
/* Prepares sql, binds args and steps it once: for statements that return no rows. */
gboolean chat_store_run_args (ChatStore *self, const char *sql, const ChatSqlArg *args,
                              guint n_args, GError **error);
#define chat_store_query(self, sql, error, ...)                                                    \
  chat_store_query_args ((self), (sql), CHAT_SQL_ARGS (__VA_ARGS__), (error))
#define chat_store_run(self, sql, error, ...)                                                      \
  chat_store_run_args ((self), (sql), CHAT_SQL_ARGS (__VA_ARGS__), (error))

/* Steps a statement that returns no rows. */
gboolean chat_store_step_done (ChatStore *self, ChatStmt *stmt, GError **error);
/* Steps a statement that returns at most one row: *found says whether it did. */
gboolean chat_store_step_row (ChatStore *self, ChatStmt *stmt, gboolean *found, GError **error);
/* Steps a statement that returns one row and reads its first column as an integer; a
 * fault, or no row, is reported as `what` failing. */
gboolean chat_store_step_int (ChatStore *self, ChatStmt *stmt, gint64 *value, const char *what,
                              GError **error);
/* Called for each row of a statement; FALSE (with error set) stops the walk. */
typedef gboolean (*ChatStoreRowFunc) (ChatStmt *stmt, gpointer data, GError **error);
/* Steps stmt to its end, calling func on each row; a storage fault is reported as `what`
 * failing. */
gboolean chat_store_each_row (ChatStore *self, ChatStmt *stmt, ChatStoreRowFunc func, gpointer data,
                              const char *what, GError **error);
/* The rows of stmt, each added by func to a new array whose elements free_func frees;
 * NULL on a storage fault, or when stmt is NULL (its preparation failed). */
GPtrArray *chat_store_collect (ChatStore *self, ChatStmt *stmt, ChatStoreRowFunc func,
                               GDestroyNotify free_func, const char *what, GError **error);
/* Rows changed by the last statement that wrote. */
gint64 chat_store_changes (ChatStore *self);

/* Binds text, treating NULL as SQL NULL. */
void chat_store_bind_text (ChatStmt *stmt, int pos, const char *text);
/* A copy of a text column, or NULL. */
char *chat_store_column_dup (ChatStmt *stmt, int col);
/* A copy of a blob column. */
GBytes *chat_store_column_bytes (ChatStmt *stmt, int col);

G_END_DECLS
