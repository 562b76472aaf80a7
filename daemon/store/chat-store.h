/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: one server's SQLite database — replicated log, hard state, chat state. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CHAT_TYPE_STORE (chat_store_get_type ())
G_DECLARE_FINAL_TYPE (ChatStore, chat_store, CHAT, STORE, GObject)

/* One replicated log entry as stored. type is the core's entry type (opaque here);
 * data is the entry payload (for client operations: the op as compact JSON). */
typedef struct
{
  guint64 term;
  guint64 index;
  guint type;
  GBytes *data;
} ChatLogEntry;

ChatLogEntry *chat_log_entry_new (guint64 term, guint64 index, guint type, GBytes *data);
void chat_log_entry_free (ChatLogEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatLogEntry, chat_log_entry_free)

/* An event to push to the live connections of one user (by case-folded key). */
typedef struct
{
  char *user_key;
  JsonObject *event;
  char *except_session; /* session hash whose connections skip it, or NULL */
} ChatApplyEvent;

/* What applying one operation produced. error_code < 0 means success; otherwise
 * it is a ChatErrorCode decided deterministically by the state (e.g. a name taken
 * by a signup committed just before) and error_message explains it. */
typedef struct
{
  JsonObject *reply; /* fields of the success response, never NULL */
  int error_code;
  char *error_message;
  GPtrArray *events;         /* ChatApplyEvent * */
  GPtrArray *ended_sessions; /* char * session hashes whose connections must be told */
} ChatApplyResult;

ChatApplyResult *chat_apply_result_new (void);
void chat_apply_result_free (ChatApplyResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatApplyResult, chat_apply_result_free)

/* Opens (creating or migrating) state_dir/chatd.db: WAL, schema by PRAGMA user_version. */
ChatStore *chat_store_open (const char *state_dir, GError **error);
const char *chat_store_get_path (ChatStore *self);
/* WAL checkpoints: run by the store's checkpoint thread so far, and run by the main
 * connection itself because the WAL had passed its bound (docs/storage.md); the WAL's
 * length in frames after the last commit. */
guint64 chat_store_background_checkpoints (ChatStore *self);
guint64 chat_store_inline_checkpoints (ChatStore *self);
int chat_store_wal_frames (ChatStore *self);

/* --- replication state ------------------------------------------------------ */

/* Durably (fsync before returning) removes entries with index >= truncate_from
 * (0: none) and appends entries (ChatLogEntry *), in one transaction. */
gboolean chat_store_append_log (ChatStore *self, guint64 truncate_from, GPtrArray *entries,
                                GError **error);
/* The same, without waiting for the disk: the entries are durable once a sync requested
 * after this call has completed (or once any durable write has returned). */
gboolean chat_store_append_log_unsynced (ChatStore *self, guint64 truncate_from, GPtrArray *entries,
                                         GError **error);
/* Called in the main context of the store's opener when a requested sync is done: every
 * commit made before the request of `ticket` (and of every earlier ticket) is durable, or
 * error says why not (the server must stop: a failed fsync leaves the disk unknown). */
typedef void (*ChatStoreSyncedFunc) (guint64 ticket, gint64 duration_us, const GError *error,
                                     gpointer user_data);
void chat_store_set_synced_func (ChatStore *self, ChatStoreSyncedFunc func, gpointer user_data);
/* Asks the store's sync thread for an fsync of the WAL; returns the ticket it reports. */
guint64 chat_store_request_sync (ChatStore *self);
/* Entries with index >= from, ascending (ChatLogEntry *). */
GPtrArray *chat_store_load_log (ChatStore *self, guint64 from, GError **error);
/* Drops entries with index <= up_to (they are covered by a snapshot): this call records
 * the compaction, and while chat_store_compact_pending, each chat_store_compact_more
 * deletes for a bounded slice of time (~20 ms). Not fsynced (docs/storage.md). Entries
 * left below a snapshot's index are never loaded (the log is read from after it). */
gboolean chat_store_compact_log (ChatStore *self, guint64 up_to, GError **error);
gboolean chat_store_compact_pending (ChatStore *self);
gboolean chat_store_compact_more (ChatStore *self, GError **error);
guint64 chat_store_last_log_index (ChatStore *self);
/* Small durable key/value blobs: hard state, snapshot metadata, node identity. */
gboolean chat_store_set_meta (ChatStore *self, const char *key, GBytes *value, GError **error);
/* The same without an fsync: durable with the next fsynced commit (a log append), and a
 * power cut before it keeps the old value or the new one. */
gboolean chat_store_set_meta_unsynced (ChatStore *self, const char *key, GBytes *value,
                                       GError **error);
GBytes *chat_store_get_meta (ChatStore *self, const char *key);
gboolean chat_store_delete_meta (ChatStore *self, const char *key, GError **error);

/* --- applying committed operations ----------------------------------------- */

/* Applies committed operations in a batch: one transaction per batch, so many
 * committed entries cost one commit. The applied index is stored in the same
 * transaction, so a crash replays exactly the entries not yet applied. */
gboolean chat_store_begin_apply (ChatStore *self, GError **error);
/* The one deterministic function from (state, index, op) to the next state. Only
 * storage faults fail here; a refused operation is a result with error_code set. */
ChatApplyResult *chat_store_apply (ChatStore *self, guint64 index, JsonObject *op, GError **error);
gboolean chat_store_commit_apply (ChatStore *self, GError **error);
void chat_store_rollback_apply (ChatStore *self);
guint64 chat_store_applied_index (ChatStore *self);
/* One read transaction on the database: the health check that gates the service
 * watchdog, so that systemd restarts a server whose database SQLite cannot read. */
gboolean chat_store_probe (ChatStore *self, GError **error);

/* Whole chat state as opaque bytes (for snapshots) and back. restore replaces
 * the chat state and sets the applied index. */
GBytes *chat_store_snapshot (ChatStore *self, guint64 *applied_index, GError **error);
/* The same from the database file at path (chat_store_get_path) through a connection of its
 * own, callable from any thread while the store keeps writing: the state of one committed
 * transaction, at the applied index it sets. */
GBytes *chat_store_snapshot_file (const char *path, guint64 *applied_index, GError **error);
gboolean chat_store_restore (ChatStore *self, GBytes *snapshot, GError **error);
/* SHA-256 hex of a canonical dump of the chat state (accounts, sessions, messages). */
char *chat_store_state_hash (ChatStore *self, GError **error);

/* --- reads (leader only; answer requests) ---------------------------------- */

/* The display username of a live session (by SHA-256 hex of its token), or NULL. */
char *chat_store_session_user (ChatStore *self, const char *session_hash);
/* Display username of an account by any case of its name, or NULL. */
char *chat_store_user_name (ChatStore *self, const char *username);
/* The stored Argon2id hash of an account, or NULL. */
char *chat_store_password_hash (ChatStore *self, const char *username);
/* When the account now holding this name was created (its signup's `at`), or -1 when
 * there is none: an op stamped with it acts on that account and no later one of the
 * same name (docs/storage.md, "The account an op acts for"). */
gint64 chat_store_account_since (ChatStore *self, const char *username, GError **error);
/* A message already sent by from with this client_msg_id, or NULL (idempotent send). */
JsonObject *chat_store_find_sent (ChatStore *self, const char *from, const char *client_msg_id);

JsonArray *chat_store_list_users (ChatStore *self, const char *pattern, const char *after,
                                  guint limit, gboolean *more, GError **error);
JsonArray *chat_store_history (ChatStore *self, const char *user, const char *with, guint64 before,
                               guint limit, gboolean *more, GError **error);
JsonArray *chat_store_conversations (ChatStore *self, const char *user, GError **error);
JsonArray *chat_store_unread (ChatStore *self, const char *user, guint limit, GError **error);
/* {total, by_user: {name: n}} */
JsonObject *chat_store_unread_count (ChatStore *self, const char *user, GError **error);
/* {messages, deleted, read, more, seq} as in docs/protocol.md "sync". */
JsonObject *chat_store_sync (ChatStore *self, const char *user, guint64 after, guint limit,
                             GError **error);
guint64 chat_store_count_accounts (ChatStore *self);
guint64 chat_store_count_messages (ChatStore *self);

/* --- replay queue (daemon/store/chat-store-replay.c) ------------------------
 *
 * After a network partition in available mode, the operations this server had
 * committed that the winning leader does not have (ChatReplUpdate.diverged) wait
 * in the table `replay` until that leader has committed them (docs/partitions.md).
 * Rows are kept in the order they were added; an op is the log entry's payload
 * (compact JSON), stored as is. */

typedef struct
{
  gint64 id; /* the row's id: ascending in the order ops were added */
  GBytes *op;
} ChatReplayOp;

void chat_replay_op_free (ChatReplayOp *op);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatReplayOp, chat_replay_op_free)

/* Durably (fsync before returning) appends ops (GBytes *) in one transaction. An op
 * already queued byte for byte is not added again (a crash between queueing and the
 * reset that follows makes the same history diverge twice). added (may be NULL) gets
 * how many rows were added. */
gboolean chat_store_add_replay (ChatStore *self, GPtrArray *ops, guint *added, GError **error);
/* The `limit` oldest queued ops (ChatReplayOp *), oldest first. */
GPtrArray *chat_store_list_replay (ChatStore *self, guint limit, GError **error);
/* Removes the rows with these ids (gint64) in one transaction; ids already gone are
 * ignored. Not fsynced: a removal lost in a power cut only replays an op again, and
 * replay is idempotent. */
gboolean chat_store_delete_replay (ChatStore *self, GArray *ids, GError **error);
/* How many ops are queued. */
guint64 chat_store_count_replay (ChatStore *self, GError **error);

G_END_DECLS
