/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatServer: the listening socket, the connection limit and the live connections. */
#pragma once

#include <gio/gio.h>

#include "chat-config.h"
#include "chat-daemon-types.h"
#include "chat-replica.h"
#include "chat-store.h"
#include "chat-tls.h"

G_BEGIN_DECLS

#define CHAT_TYPE_SERVER (chat_server_get_type ())
G_DECLARE_FINAL_TYPE (ChatServer, chat_server, CHAT, SERVER, GObject)

/* config must outlive the server. The server delivers the events of every
 * operation the replica applies to the connections they concern, and hands connections
 * that open with a peer hello to the replica's peer links. */
ChatServer *chat_server_new (const ChatConfig *config, ChatStore *store, ChatReplica *replica);
/* With tls, every accepted connection speaks TLS only (before chat_server_listen()). */
void chat_server_set_tls (ChatServer *self, ChatTls *tls);
/* Binds host:port (an address or a name resolved now) and starts accepting. */
gboolean chat_server_listen (ChatServer *self, const char *host, guint16 port, GError **error);
/* Stops accepting and closes every connection. */
void chat_server_stop (ChatServer *self);
guint chat_server_get_n_connections (ChatServer *self);

G_END_DECLS
