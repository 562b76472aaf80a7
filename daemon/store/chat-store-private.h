/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals shared by the ChatStore files: the object, statement cache and SQLite helpers. */
#pragma once

#include "chat-store.h"

#include <sqlite3.h>

G_BEGIN_DECLS

/* The schema version this code writes; chat_store_open() migrates older files to it. */
#define CHAT_STORE_SCHEMA_VERSION 2

/* Meta keys owned by the store itself (callers keep to their own names). */
#define CHAT_STORE_META_APPLIED "store.applied_index"
#define CHAT_STORE_META_COMPACTED "store.compacted_index"

/* The WAL's checkpoints, run by a thread of their own (chat-store-checkpoint.c). */
typedef struct _ChatCheckpointer ChatCheckpointer;
ChatCheckpointer *chat_checkpointer_start (const char *path, GError **error);
/* Asks for a checkpoint soon; requests while one runs fold into the next. */
void chat_checkpointer_request (ChatCheckpointer *self);
guint64 chat_checkpointer_done (ChatCheckpointer *self);
void chat_checkpointer_stop (ChatCheckpointer *self);

/* fsyncs of the WAL on a thread (chat-store-wal-sync.c). */
typedef struct _ChatWalSyncer ChatWalSyncer;
ChatWalSyncer *chat_wal_syncer_start (const char *db_path, GError **error);
void chat_wal_syncer_set_func (ChatWalSyncer *self, ChatStoreSyncedFunc func, gpointer user_data);
/* A ticket that completes once everything committed before this call is durable. */
guint64 chat_wal_syncer_request (ChatWalSyncer *self);
/* How long the fsync under way has been running, 0 when none is. */
gint64 chat_wal_syncer_busy_us (ChatWalSyncer *self);
void chat_wal_syncer_stop (ChatWalSyncer *self);

struct _ChatStore
{
  GObject parent_instance;

  char *path;
  sqlite3 *db;
  GHashTable *stmts;            /* SQL text (static string) -> sqlite3_stmt * */
  gboolean durable;             /* PRAGMA synchronous currently FULL, else OFF */
  gboolean checkpoint_deferred; /* past the WAL's bound: checkpoint at the next write */
  gboolean in_apply;            /* between begin_apply and commit/rollback */
  gboolean batch_implicit;      /* the current batch was opened by chat_store_apply itself */
  guint64 applied_index;        /* applied index as seen inside the current transaction */
  guint64 applied_at_begin;     /* value to restore on rollback */
  guint64 last_log_index;
  guint64 compacted_index;
  guint64 compact_target; /* entries up to here go, a slice at a time */
  ChatCheckpointer *checkpointer;
  ChatWalSyncer *syncer;
  int wal_frames;              /* frames in the WAL after the last commit */
  gint64 inline_checkpoint_us; /* when the main connection last checkpointed itself */
  guint64 inline_checkpoints;  /* run by the main connection (the WAL past its bound) */
};

/* One-off statements are finalized on scope exit. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* A cached statement in use: borrowed from the cache and reset on scope exit, so it
 * never holds a read snapshot open past the function that used it. */
typedef sqlite3_stmt ChatStmt;
void chat_store_stmt_release (ChatStmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatStmt, chat_store_stmt_release)

/* Returns the cached statement for sql (a string literal), prepared on first use. */
ChatStmt *chat_store_prepare (ChatStore *self, const char *sql, GError **error);
gboolean chat_store_exec (ChatStore *self, const char *sql, GError **error);
/* Sets error (CHAT_ERROR_INTERNAL) from the connection's last SQLite error. */
gboolean chat_store_fail (ChatStore *self, GError **error, const char *what);
/* Steps a statement that returns no rows. */
gboolean chat_store_step_done (ChatStore *self, ChatStmt *stmt, GError **error);
/* Switches PRAGMA synchronous between FULL (durable) and OFF; outside transactions. Runs
 * a checkpoint that a commit at OFF left for later first. */
gboolean chat_store_set_durable (ChatStore *self, gboolean durable, GError **error);
/* Writes a decimal guint64 under a meta key within the current transaction. */
gboolean chat_store_put_meta_uint (ChatStore *self, const char *key, guint64 value, GError **error);
guint64 chat_store_read_meta_uint (ChatStore *self, const char *key);

/* Binds text, treating NULL as SQL NULL. */
void chat_store_bind_text (ChatStmt *stmt, int pos, const char *text);
/* A copy of a text column, or NULL. */
char *chat_store_column_dup (ChatStmt *stmt, int col);

/* Message rows: the columns and joins every message read selects, in this order. */
#define CHAT_STORE_MESSAGE_COLUMNS                                                                 \
  "m.id, fa.name, ta.name, m.body, m.sent_at, m.read "                                             \
  "FROM messages m JOIN accounts fa ON fa.key = m.from_key "                                       \
  "JOIN accounts ta ON ta.key = m.to_key "
/* A condition on "m": the message is not hidden from the user whose key is bound to
 * param (a tombstone of that user for a message that still exists: deleted "for me"). */
#define CHAT_STORE_NOT_HIDDEN(param)                                                               \
  " NOT EXISTS (SELECT 1 FROM tombstones h WHERE h.user_key = " param " AND h.id = m.id) "
/* {id, seq, from, to, body, sent_at, read} from a row selected with the columns above. */
JsonObject *chat_store_message_from_row (ChatStmt *stmt);
/* The message with this id, or NULL (error set only on a storage fault). */
JsonObject *chat_store_message_by_id (ChatStore *self, gint64 id, GError **error);
/* The message from_key sent with this client_msg_id, or NULL (error set on a fault). */
JsonObject *chat_store_find_sent_by_key (ChatStore *self, const char *from_key,
                                         const char *client_msg_id, GError **error);
/* The display name for a case-folded key, or NULL (error set only on a storage fault). */
char *chat_store_name_for_key (ChatStore *self, const char *key, GError **error);

G_END_DECLS
