/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConnection: one client connection — line framing, ordered responses, a write queue. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "chat-daemon-types.h"

G_BEGIN_DECLS

/* Reading pauses while more than this many bytes wait to be written ... */
#define CHAT_CONNECTION_PAUSE_QUEUED_BYTES (256 * 1024)
/* ... and a client that lets more than this pile up (it does not read) is dropped. */
#define CHAT_CONNECTION_MAX_QUEUED_BYTES (64 * 1024 * 1024)
/* Requests of one connection in flight at once; later lines wait in the socket. */
#define CHAT_CONNECTION_MAX_IN_FLIGHT 1024

#define CHAT_TYPE_CONNECTION (chat_connection_get_type ())
G_DECLARE_FINAL_TYPE (ChatConnection, chat_connection, CHAT, CONNECTION, GObject)

/* stream is a GSocketConnection; its socket is watched through the shared epoll source
 * (chat-poll-source.h). The connection reads lines of at most max_line_bytes and closes
 * itself when a partial line stalls for idle_line_timeout_s seconds. Requests go to
 * dispatch. It emits "closed" once, when it closes for any reason. */
ChatConnection *chat_connection_new (GIOStream *stream, ChatDispatch *dispatch,
                                     gsize max_line_bytes, guint idle_line_timeout_s);
void chat_connection_start (ChatConnection *self);
/* Closes at once, dropping unsent data. */
void chat_connection_close (ChatConnection *self);
gboolean chat_connection_is_closed (ChatConnection *self);
/* "host:port" of the client, for logs. */
const char *chat_connection_get_peer (ChatConnection *self);

/* Writes a pushed event (an object without id) now, between responses. */
void chat_connection_send_event (ChatConnection *self, JsonObject *event);
/* Queues a line already written ('\n'-terminated); shared lines are sent by reference. */
void chat_connection_send_line (ChatConnection *self, GBytes *line);
/* Fills the response slot of a request (see ChatRequest); responses leave in request order. */
void chat_connection_complete (ChatConnection *self, guint64 ticket, gboolean pipelined,
                               GBytes *line);

/* The session logged in on this connection (ChatSessions keeps the index). */
const char *chat_connection_get_session_hash (ChatConnection *self);
const char *chat_connection_get_user_key (ChatConnection *self);
void chat_connection_set_session (ChatConnection *self, const char *session_hash,
                                  const char *username);

/* A connection whose first line opens a peer handshake (chat_peers_is_hello()) is handed
 * to func with its stream and that line; the connection then emits "closed" without
 * closing the stream. Without a func such a line is an ordinary (bad) request. */
typedef void (*ChatConnectionPeerFunc) (GIOStream *stream, const char *line, gsize len,
                                        gpointer user_data);
void chat_connection_set_peer_func (ChatConnection *self, ChatConnectionPeerFunc func,
                                    gpointer user_data);

G_END_DECLS
