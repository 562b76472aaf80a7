/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Accepting clients on the main loop: the connection limit, TCP options and bookkeeping. */
#define G_LOG_DOMAIN "chatd-server"

#include "chat-server.h"

#include "chat-auth.h"
#include "chat-connection.h"
#include "chat-dispatch.h"
#include "chat-peer.h"
#include "chat-sessions.h"
#include "chat-tls.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#define LISTEN_BACKLOG 4096
/* A client that has not finished its TLS handshake by then is dropped. */
#define TLS_HANDSHAKE_TIMEOUT_S 10

struct _ChatServer
{
  GObject parent_instance;

  const ChatConfig *config;
  ChatStore *store;
  ChatReplica *replica;
  ChatPeers *peers; /* the replica's link layer: takes the peer connections */
  ChatSessions *sessions;
  ChatAuth *auth;
  ChatDispatch *dispatch;
  GSocketService *service;
  GHashTable *connections; /* ChatConnection (owned) set */
  ChatTls *tls;            /* NULL: plaintext */
  guint handshaking;       /* TLS handshakes in progress */
  gulong applied_handler;
  guint refused;
};

G_DEFINE_FINAL_TYPE (ChatServer, chat_server, G_TYPE_OBJECT)

static void
chat_server_dispose (GObject *object)
{
  ChatServer *self = CHAT_SERVER (object);

  chat_server_stop (self);
  g_clear_signal_handler (&self->applied_handler, self->replica);
  G_OBJECT_CLASS (chat_server_parent_class)->dispose (object);
}

static void
chat_server_finalize (GObject *object)
{
  ChatServer *self = CHAT_SERVER (object);

  g_hash_table_unref (self->connections);
  g_clear_object (&self->service);
  g_clear_object (&self->tls);
  g_clear_object (&self->dispatch);
  g_clear_object (&self->auth);
  g_clear_object (&self->sessions);
  g_clear_object (&self->peers);
  g_clear_object (&self->replica);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (chat_server_parent_class)->finalize (object);
}

static void
chat_server_class_init (ChatServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = chat_server_dispose;
  object_class->finalize = chat_server_finalize;
}

static void
chat_server_init (ChatServer *self)
{
  self->connections = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref, NULL);
}

static void
on_applied (ChatReplica *replica, guint64 index, JsonObject *op, gpointer result,
            gpointer user_data)
{
  ChatServer *self = user_data;

  chat_sessions_deliver_result (self->sessions, op, result);
}

ChatServer *
chat_server_new (const ChatConfig *config, ChatStore *store, ChatReplica *replica)
{
  ChatServer *self = g_object_new (CHAT_TYPE_SERVER, NULL);

  self->config = config;
  self->store = g_object_ref (store);
  self->replica = g_object_ref (replica);
  self->peers = g_object_ref (chat_replica_get_peers (replica));
  self->sessions = chat_sessions_new ();
  self->auth = chat_auth_new ();
  self->dispatch = chat_dispatch_new (config, store, replica, self->sessions, self->auth);
  self->applied_handler = g_signal_connect (replica, "applied", G_CALLBACK (on_applied), self);
  return self;
}

static void
on_connection_closed (ChatConnection *conn, gpointer user_data)
{
  ChatServer *self = user_data;

  chat_sessions_detach (self->sessions, conn);
  g_signal_handlers_disconnect_by_data (conn, self);
  g_hash_table_remove (self->connections, conn);
}

static void
on_peer_hello (GIOStream *stream, const char *line, gsize len, gpointer user_data)
{
  ChatServer *self = user_data;

  chat_peers_accept (self->peers, stream, line, len, NULL);
}

static void
tune_socket (GSocketConnection *connection)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr (GError) error = NULL;

  /* Responses are small and must leave at once. */
  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, &error))
    g_debug ("TCP_NODELAY: %s", error->message);
}

static void
start_connection (ChatServer *self, GIOStream *stream)
{
  ChatConnection *conn = chat_connection_new (stream, self->dispatch, self->config->max_line_bytes,
                                              self->config->idle_line_timeout_s);

  g_hash_table_add (self->connections, conn);
  g_signal_connect (conn, "closed", G_CALLBACK (on_connection_closed), self);
  chat_connection_set_peer_func (conn, on_peer_hello, self);
  chat_connection_start (conn);
}

typedef struct
{
  ChatServer *server;
  GCancellable *cancellable;
  guint timeout;
} Handshake;

static gboolean
on_handshake_timeout (gpointer user_data)
{
  Handshake *handshake = user_data;

  handshake->timeout = 0;
  g_cancellable_cancel (handshake->cancellable);
  return G_SOURCE_REMOVE;
}

static void
on_handshake_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree Handshake *handshake = user_data;
  g_autoptr (ChatServer) self = handshake->server;
  g_autoptr (GError) error = NULL;

  g_clear_handle_id (&handshake->timeout, g_source_remove);
  g_clear_object (&handshake->cancellable);
  self->handshaking--;
  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error)
      || self->service == NULL || !g_socket_service_is_active (self->service))
    {
      /* A plaintext client, another CA, a scanner: no JSON answer, just the close. */
      g_debug ("TLS handshake failed: %s", error ? error->message : "stopping");
      g_io_stream_close (G_IO_STREAM (source), NULL, NULL);
      return;
    }
  start_connection (self, G_IO_STREAM (source));
}

static void
start_tls (ChatServer *self, GSocketConnection *connection)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GIOStream) tls = chat_tls_wrap_server (self->tls, G_IO_STREAM (connection), &error);
  Handshake *handshake = NULL;

  if (tls == NULL)
    {
      g_warning ("Cannot start TLS: %s", error->message);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return;
    }
  handshake = g_new0 (Handshake, 1);
  handshake->server = g_object_ref (self);
  handshake->cancellable = g_cancellable_new ();
  handshake->timeout
      = g_timeout_add_seconds (TLS_HANDSHAKE_TIMEOUT_S, on_handshake_timeout, handshake);
  self->handshaking++;
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT,
                                    handshake->cancellable, on_handshake_done, handshake);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer user_data)
{
  ChatServer *self = user_data;

  if (g_hash_table_size (self->connections) + self->handshaking >= self->config->max_connections)
    {
      /* Over the limit: close at once, and say so now and then, not for each one. */
      if (self->refused++ % 1000 == 0)
        g_message ("Refusing connections: the limit of %u is reached",
                   self->config->max_connections);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  tune_socket (connection);
  if (self->tls != NULL)
    start_tls (self, connection);
  else
    start_connection (self, G_IO_STREAM (connection));
  return TRUE;
}

void
chat_server_set_tls (ChatServer *self, ChatTls *tls)
{
  g_set_object (&self->tls, tls);
}

static GSocketAddress *
resolve (const char *host, guint16 port, GError **error)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host);
  g_autoptr (GResolver) resolver = NULL;
  GList *addresses = NULL;

  if (inet == NULL)
    {
      resolver = g_resolver_get_default ();
      addresses = g_resolver_lookup_by_name (resolver, host, NULL, error);
      if (addresses == NULL)
        return NULL;
      inet = g_object_ref (addresses->data);
      g_resolver_free_addresses (addresses);
    }
  return g_inet_socket_address_new (inet, port);
}

gboolean
chat_server_listen (ChatServer *self, const char *host, guint16 port, GError **error)
{
  g_autoptr (GSocketAddress) address = resolve (host, port, error);

  if (address == NULL)
    return FALSE;
  self->service = g_socket_service_new ();
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (self->service), LISTEN_BACKLOG);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, NULL,
                                      error))
    {
      g_prefix_error (error, "Cannot listen on %s:%u: ", host, port);
      return FALSE;
    }
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  g_message ("Listening on %s:%u", host, port);
  return TRUE;
}

void
chat_server_stop (ChatServer *self)
{
  g_autoptr (GPtrArray) conns = NULL;
  GHashTableIter iter;
  gpointer conn = NULL;

  if (self->service != NULL)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    }
  conns = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &conn, NULL))
    g_ptr_array_add (conns, g_object_ref (conn));
  for (guint i = 0; i < conns->len; i++)
    chat_connection_close (g_ptr_array_index (conns, i));
}

guint
chat_server_get_n_connections (ChatServer *self)
{
  return g_hash_table_size (self->connections);
}
