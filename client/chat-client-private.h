/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatClient internals shared by chat-client.c, chat-client-conn.c and chat-client-ops.c. */
#pragma once

#include "chat-client.h"
#include "chat-client-codec.h"
#include "chat-link.h"

G_BEGIN_DECLS

/* Reconnect backoff: 50 ms doubling to 2 s, ±25 % jitter. */
#define CHAT_CLIENT_BACKOFF_BASE_MS 50
#define CHAT_CLIENT_BACKOFF_MAX_MS 500
#define CHAT_CLIENT_BACKOFF_JITTER 0.5
#define CHAT_CLIENT_CONNECT_TIMEOUT_MS 2000
#define CHAT_CLIENT_SYNC_PAGE 500
#define CHAT_CLIENT_SEEN_IDS 16384

typedef enum
{
  CHAT_REQUEST_NONE = 0,
  /* A retried logout or delete_account that finds the session gone has succeeded. */
  CHAT_REQUEST_UNAUTH_MEANS_DONE = 1 << 0,
  /* A retried signup that finds the name taken logs in with the same password. */
  CHAT_REQUEST_SIGNUP = 1 << 1,
  /* No "request-timeout": it waits across outages until answered or cancelled. */
  CHAT_REQUEST_NO_DEADLINE = 1 << 2,
} ChatRequestFlags;

typedef struct _ChatRequest ChatRequest;

/* Runs on a successful response before the task returns it; may reject it. */
typedef gboolean (*ChatRequestHook) (ChatClient *self, JsonObject *response, GError **error);
/* Handles the response to an internal request (hello, resume, sync during failover). Not
 * called when the connection closes first. */
typedef void (*ChatInternalHandler) (ChatClient *self, JsonObject *response);

struct _ChatClient
{
  GObject parent_instance;

  GMainContext *context;
  GStrv servers;
  char *client_name;
  GTlsDatabase *tls_database; /* NULL: plaintext */
  gboolean last_error_is_tls; /* the last connect failed on the server's certificate */
  ChatConnectionState state;
  char *username;
  char *session;
  char *leader;
  char *server;
  gint64 last_seq;
  guint request_timeout_ms;
  GPtrArray *cluster_health; /* ChatServerStatus * */
  char *msg_id_prefix;
  guint64 msg_id_counter;

  /* Connection and failover (chat-client-conn.c). */
  ChatLink *conn;
  gboolean ready; /* conn is the leader and the session is attached */
  gboolean want_connected;
  gboolean ever_connected;
  GCancellable *connect_cancellable;
  GPtrArray *candidates; /* char *, this round's addresses in order */
  guint candidate_index;
  guint hops;
  guint backoff_attempt;
  GSource *retry_source;
  GSource *handshake_source;
  char *last_error;
  gint64 next_wire_id;
  GQueue pending;       /* ChatRequest *, caller requests not yet completed */
  GHashTable *inflight; /* wire id (gint64 *) -> ChatRequest * sent on conn */

  /* Catching up: after a reconnect (signalling what was missed), or silently after
   * a login while last-seq is unknown (the baseline). */
  gboolean resync_pending;
  gboolean resync_silent;
  gboolean syncing;
  gint64 resync_from;
  ChatIdSet *seen_messages;
  ChatIdSet *seen_deletions;
};

/* chat-client.c */
void chat_client_set_state (ChatClient *self, ChatConnectionState state);
void chat_client_set_leader (ChatClient *self, const char *leader);
void chat_client_set_server (ChatClient *self, const char *server);
void chat_client_set_user (ChatClient *self, const char *username, const char *session);
void chat_client_end_session (ChatClient *self, const char *reason);
void chat_client_set_cluster_health (ChatClient *self, const ChatHelloInfo *info);
void chat_client_note_seq (ChatClient *self, gint64 seq);
/* Records a message the caller got directly; it will not be signalled later. */
void chat_client_note_message_seen (ChatClient *self, ChatMessage *message);
/* Signals message-received unless already seen. */
void chat_client_deliver_message (ChatClient *self, ChatMessage *message);
void chat_client_deliver_deleted (ChatClient *self, GArray *ids);
void chat_client_handle_event (ChatClient *self, JsonObject *event);

/* chat-client-conn.c */
void chat_client_conn_init (ChatClient *self);
void chat_client_conn_shutdown (ChatClient *self, const GError *error);
void chat_client_ensure_connecting (ChatClient *self);
/* Queues a caller request. args holds "op" and the fields (no "id"); taken. */
void chat_client_request_async (ChatClient *self, JsonObject *args, ChatRequestHook on_success,
                                ChatRequestFlags flags, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data,
                                gpointer source_tag);
JsonObject *chat_client_request_finish (ChatClient *self, GAsyncResult *result, gpointer source_tag,
                                        GError **error);
/* Sends an internal request on the current connection (dropped if it closes). */
void chat_client_send_internal (ChatClient *self, JsonObject *args, ChatInternalHandler handler);
/* Starts the silent baseline or the post-reconnect sync when one is due. */
void chat_client_maybe_sync (ChatClient *self);
/* After login, signup or resume: learn last-seq silently when it is unknown. */
void chat_client_start_baseline (ChatClient *self);

G_END_DECLS
