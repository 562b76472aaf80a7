/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatClient: the chatd client library's connection to a cluster, with failover. */
#pragma once

#include <gio/gio.h>

#include "chat-config.h"
#include "chat-error.h"
#include "chat-message.h"
#include "chat-conversation.h"
#include "chat-cluster-info.h"

G_BEGIN_DECLS

typedef enum
{
  CHAT_CONNECTION_STATE_OFFLINE,      /* not connected and not trying */
  CHAT_CONNECTION_STATE_CONNECTING,   /* first connection, looking for the leader */
  CHAT_CONNECTION_STATE_CONNECTED,    /* talking to the leader */
  CHAT_CONNECTION_STATE_RECONNECTING, /* lost the leader; retrying with backoff */
} ChatConnectionState;

#define CHAT_TYPE_CONNECTION_STATE (chat_connection_state_get_type ())
GType chat_connection_state_get_type (void);
/* "offline", "connecting", "connected", "reconnecting". */
const char *chat_connection_state_to_string (ChatConnectionState state);

#define CHAT_TYPE_CLIENT (chat_client_get_type ())
G_DECLARE_FINAL_TYPE (ChatClient, chat_client, CHAT, CLIENT, GObject)

/* Default of "request-timeout": a request that has not succeeded within it (across
 * reconnects and retries) fails with CHAT_ERROR_UNAVAILABLE. */
#define CHAT_CLIENT_DEFAULT_REQUEST_TIMEOUT_MS 30000

/*
 * Properties:
 *   "servers"            GStrv     "host:port" of every server, in order (construct-only)
 *   "client-name"        string    sent in hello as "client" (default "libchat VERSION")
 *   "connection-state"   ChatConnectionState (read-only)
 *   "username"           string    the logged-in user, or NULL (read-only)
 *   "session"            string    the session token, or NULL; set it before
 *                                  chat_client_resume_async() to reuse a stored one
 *   "leader"             string    the leader's "host:port" as last reported, or NULL (read-only)
 *   "server"             string    the "host:port" connected to, or NULL (read-only)
 *   "last-seq"           gint64    highest seq seen in any message or event; after a
 *                                  reconnect, sync fetches what came after it. Writable
 *                                  so an application can restore it from disk.
 *   "request-timeout"    guint     milliseconds, see CHAT_CLIENT_DEFAULT_REQUEST_TIMEOUT_MS
 *   "cluster-health"     GPtrArray of ChatServerStatus from the latest hello (read-only)
 *
 * Signals (all emitted on the thread-default main context of construction):
 *   "message-received"          (ChatMessage *message)
 *       A message pushed by the server (to this user, or sent by this user from another
 *       connection) or found by the sync that follows a reconnect. Each message id is
 *       signalled at most once. Messages returned by this client's own send, history,
 *       read_unread and sync calls are not signalled.
 *   "messages-deleted"          (GArray *ids)
 *       ids is a GArray of gint64 (G_TYPE_ARRAY, transfer none): messages gone for both
 *       participants. Also emitted for deletions found by the sync after a reconnect.
 *   "messages-read"             (const char *by, const char *with, gint64 up_to)
 *       "by" read every message "with" (this user) sent them with seq <= up_to.
 *   "connection-state-changed"  (ChatConnectionState state)
 *   "leader-changed"            (const char *leader)   "host:port" or NULL
 *   "session-ended"             (const char *reason)
 *       "logout", "account_deleted" (from the server) or "expired" (a reconnect could
 *       not resume the session). "username" and "session" are NULL afterwards.
 *   "account-deleted"           (const char *user)
 *       A user this user talked to deleted their account (their messages are gone).
 *
 * Requests: every operation is asynchronous and may be started at any time: a client
 * that is offline connects on its own, and requests wait while it (re)connects. They
 * are pipelined on one connection. not_leader and unavailable answers, and lost
 * connections, are handled inside: the client reconnects to the leader with backoff,
 * resumes the session and sends the request again (safe: see docs/libchat.md), until
 * "request-timeout" runs out. Errors are in the CHAT_ERROR domain with the server's
 * code; G_IO_ERROR_CANCELLED when cancelled; G_IO_ERROR_CLOSED when
 * chat_client_disconnect() is called while it is pending.
 */

/* servers: "host:port" strings, tried in order. */
ChatClient *chat_client_new (const char *const *servers);
/* The servers of config.ini; over TLS when it has a [tls] section (trusting its ca, or
 * the system store). Fails when the ca file cannot be read. */
ChatClient *chat_client_new_from_config (const ChatConfig *config, GError **error);
/* Speak TLS to every server, verifying its certificate against database (NULL:
 * plaintext). Takes effect at the next connection. */
void chat_client_set_tls_database (ChatClient *self, GTlsDatabase *database);
/* (A request that cannot reach any server because every certificate failed
 * verification fails with G_TLS_ERROR_BAD_CERTIFICATE rather than
 * CHAT_ERROR_UNAVAILABLE.) */

ChatConnectionState chat_client_get_connection_state (ChatClient *self);
const char *chat_client_get_username (ChatClient *self);
const char *chat_client_get_session (ChatClient *self);
void chat_client_set_session (ChatClient *self, const char *session);
const char *chat_client_get_leader (ChatClient *self);
const char *chat_client_get_server (ChatClient *self);
gint64 chat_client_get_last_seq (ChatClient *self);
void chat_client_set_last_seq (ChatClient *self, gint64 last_seq);
guint chat_client_get_request_timeout (ChatClient *self);
void chat_client_set_request_timeout (ChatClient *self, guint timeout_ms);
void chat_client_set_client_name (ChatClient *self, const char *name);
/* Servers reported up by the latest hello; *n_total (optional) gets the number known.
 * For a line such as "2 of 3 servers up". */
guint chat_client_count_servers_up (ChatClient *self, guint *n_total);
/* A fresh client_msg_id: this client's random prefix and a counter. */
char *chat_client_new_client_msg_id (ChatClient *self);

/* Finds the leader and connects to it (CONNECTED). Optional: every request connects
 * on its own. Fails with CHAT_ERROR_UNAVAILABLE when no leader answers within
 * "request-timeout". */
void chat_client_connect_async (ChatClient *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean chat_client_connect_finish (ChatClient *self, GAsyncResult *result, GError **error);
/* Closes the connection and stops reconnecting (OFFLINE); pending requests fail with
 * G_IO_ERROR_CLOSED. The session stays valid on the server: resume it later. */
void chat_client_disconnect (ChatClient *self);

void chat_client_hello_async (ChatClient *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
ChatHelloInfo *chat_client_hello_finish (ChatClient *self, GAsyncResult *result, GError **error);

/* signup, login and resume set "username" and "session". *unread is optional. */
void chat_client_signup_async (ChatClient *self, const char *username, const char *password,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);
gboolean chat_client_signup_finish (ChatClient *self, GAsyncResult *result, GError **error);
void chat_client_login_async (ChatClient *self, const char *username, const char *password,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean chat_client_login_finish (ChatClient *self, GAsyncResult *result, guint *unread,
                                   GError **error);
/* session NULL: resumes "session". */
void chat_client_resume_async (ChatClient *self, const char *session, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
gboolean chat_client_resume_finish (ChatClient *self, GAsyncResult *result, guint *unread,
                                    GError **error);
/* The same without "request-timeout": it waits while no server answers (an application
 * that starts offline with a kept session) until resumed, refused or cancelled. Finish it
 * with chat_client_resume_finish(). */
void chat_client_resume_queued_async (ChatClient *self, const char *session,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data);
/* Ends the session on every server; "username" and "session" become NULL. */
void chat_client_logout_async (ChatClient *self, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
gboolean chat_client_logout_finish (ChatClient *self, GAsyncResult *result, GError **error);

/* limit 0: the server's default; after NULL: from the start. Returns usernames. */
void chat_client_list_users_async (ChatClient *self, const char *pattern, guint limit,
                                   const char *after, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
GStrv chat_client_list_users_finish (ChatClient *self, GAsyncResult *result, gboolean *more,
                                     GError **error);

/* Generates the client_msg_id itself; retries reuse it, so a message is stored once. */
void chat_client_send_async (ChatClient *self, const char *to, const char *body,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data);
/* The same with a caller-chosen client_msg_id (e.g. from chat_client_new_client_msg_id()
 * kept in an outbox across restarts). */
void chat_client_send_with_id_async (ChatClient *self, const char *to, const char *body,
                                     const char *client_msg_id, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
/* The same without "request-timeout": the message stays queued across outages, sent again
 * on every new connection with its client_msg_id, until the cluster commits it (stored
 * once) or refuses it, or cancellable is cancelled. The one retry loop an outbox needs.
 * Finish it with chat_client_send_finish(). */
void chat_client_send_queued_async (ChatClient *self, const char *to, const char *body,
                                    const char *client_msg_id, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
ChatMessage *chat_client_send_finish (ChatClient *self, GAsyncResult *result, GError **error);

/* Oldest unread first; marks them read. limit 0: the server's default.
 * Returns ChatMessage * (element free function set). */
void chat_client_read_unread_async (ChatClient *self, guint limit, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *chat_client_read_unread_finish (ChatClient *self, GAsyncResult *result, GError **error);

/* before 0: from the newest. Ascending seq within the page. */
void chat_client_history_async (ChatClient *self, const char *with, gint64 before, guint limit,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
GPtrArray *chat_client_history_finish (ChatClient *self, GAsyncResult *result, gboolean *more,
                                       GError **error);

/* Returns ChatConversation *, most recent first. */
void chat_client_conversations_async (ChatClient *self, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *chat_client_conversations_finish (ChatClient *self, GAsyncResult *result,
                                             GError **error);

void chat_client_mark_read_async (ChatClient *self, const char *with, gint64 up_to,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean chat_client_mark_read_finish (ChatClient *self, GAsyncResult *result, guint *marked,
                                       GError **error);

/* *by_user (optional): username -> GUINT_TO_POINTER (count), a new reference. */
void chat_client_unread_count_async (ChatClient *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
gboolean chat_client_unread_count_finish (ChatClient *self, GAsyncResult *result, guint *total,
                                          GHashTable **by_user, GError **error);

/* Whom a deletion is for: DEFAULT is "everyone" for messages the caller sent and "me"
 * for those it received; only a message's sender may delete it for everyone. */
typedef enum
{
  CHAT_DELETE_SCOPE_DEFAULT,
  CHAT_DELETE_SCOPE_EVERYONE,
  CHAT_DELETE_SCOPE_ME,
} ChatDeleteScope;

/* ids: n_ids message ids. *deleted (optional) gets the gint64 ids gone for both
 * participants, *hidden (optional) those hidden from the caller's own view only.
 * CHAT_DELETE_SCOPE_EVERYONE on a message someone else sent fails with
 * CHAT_ERROR_FORBIDDEN and deletes nothing. */
void chat_client_delete_messages_async (ChatClient *self, const gint64 *ids, guint n_ids,
                                        ChatDeleteScope scope, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
gboolean chat_client_delete_messages_finish (ChatClient *self, GAsyncResult *result,
                                             GArray **deleted, GArray **hidden, GError **error);

/* Deletes the account; "username" and "session" become NULL. */
void chat_client_delete_account_async (ChatClient *self, const char *password,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean chat_client_delete_account_finish (ChatClient *self, GAsyncResult *result, GError **error);

/* One page of everything after seq "after"; limit 0: the server's default. Does not
 * emit signals (the automatic sync after a reconnect does). */
void chat_client_sync_async (ChatClient *self, gint64 after, guint limit, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
ChatSyncResult *chat_client_sync_finish (ChatClient *self, GAsyncResult *result, GError **error);

G_END_DECLS
