/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore's chat state: applying committed operations, the reads that answer requests,
 * snapshots and the state hash. */
#pragma once

#include "chat-store-types.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A message a send just stored, kept as its fields. The send's reply and its "message"
 * events are written from them as text, once, and only where someone is answered or told:
 * a follower, which has no one, writes nothing (docs/benchmarks.md, "JSON on the send
 * path"). Reference-counted: the result, its events and the proposer's answer share it. */
typedef struct
{
  gint64 id; /* and its seq: the log index that committed it */
  char *from;
  char *to;
  char *body;
  gint64 sent_at;
  GString *json;      /* the message as JSON text, written on first use */
  GBytes *event_line; /* its "message" event as a protocol line, written on first use */
} ChatStoredMessage;

ChatStoredMessage *chat_stored_message_new (gint64 id, const char *from, const char *to,
                                            const char *body, gint64 sent_at);
ChatStoredMessage *chat_stored_message_ref (ChatStoredMessage *message);
void chat_stored_message_unref (ChatStoredMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatStoredMessage, chat_stored_message_unref)
/* {id, seq, from, to, body, sent_at, read: false} as JSON text (no newline): the text
 * json-glib's generator prints for the object chat_store_message_from_row reads back. */
const char *chat_stored_message_get_json (ChatStoredMessage *message, gsize *len);
/* {"event": "message", "message": {...}} as a '\n'-terminated protocol line. */
GBytes *chat_stored_message_get_event_line (ChatStoredMessage *message);

/* An event to push to the live connections of one user (by case-folded key). */
typedef struct
{
  char *user_key;
  JsonObject *event;          /* NULL for a "message" event, which message describes */
  ChatStoredMessage *message; /* a "message" event's message, or NULL */
  char *except_session;       /* session hash whose connections skip it, or NULL */
} ChatApplyEvent;

/* The event as a '\n'-terminated protocol line. */
GBytes *chat_apply_event_to_line (const ChatApplyEvent *event);

/* What applying one operation produced. error_code < 0 means success; otherwise
 * it is a ChatErrorCode decided deterministically by the state (e.g. a name taken
 * by a signup committed just before) and error_message explains it. */
typedef struct
{
  JsonObject *reply; /* fields of the success response, never NULL */
  /* The message a send stored, when it stored one: the success response is then
   * {"message": message} (chat_stored_message_get_json) and reply is empty. */
  ChatStoredMessage *message;
  int error_code;
  char *error_message;
  GPtrArray *events;         /* ChatApplyEvent * */
  GPtrArray *ended_sessions; /* char * session hashes whose connections must be told */
} ChatApplyResult;

ChatApplyResult *chat_apply_result_new (void);
void chat_apply_result_free (ChatApplyResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatApplyResult, chat_apply_result_free)

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

/* --- snapshots and the state hash ------------------------------------------ */

/* Whole chat state as opaque bytes (for snapshots) and back. restore replaces
 * the chat state and sets the applied index. */
GBytes *chat_store_snapshot (ChatStore *self, guint64 *applied_index, GError **error);
/* The same from the database file at path (chat_store_get_path) through a connection of its
 * own, callable from any thread while the store keeps writing: the state of one committed
 * transaction, written as a new SQLite database file at image_path (whatever was there
 * goes first), and the applied index it holds. The file is written, not synced: the caller
 * makes it durable. On failure, nothing is left at image_path. */
gboolean chat_store_snapshot_file (const char *path, const char *image_path, guint64 *applied_index,
                                   GError **error);
gboolean chat_store_restore (ChatStore *self, GBytes *snapshot, GError **error);
/* SHA-256 hex of a canonical dump of the chat state (accounts, sessions, messages). */
char *chat_store_state_hash (ChatStore *self, GError **error);

/* --- reads (leader only; answer requests) ---------------------------------- */

/* The reads of one request share one read transaction (a send makes three): each read on
 * its own takes and drops the WAL's read lock, two fcntl() calls, some 7 % of the loop's
 * time at 64 clients (docs/benchmarks.md). Returns whether it opened one; pass that to
 * chat_store_end_reads(). Inside an open transaction it opens none. Only reads may come
 * between the two calls. */
gboolean chat_store_begin_reads (ChatStore *self);
void chat_store_end_reads (ChatStore *self, gboolean opened);

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

G_END_DECLS
