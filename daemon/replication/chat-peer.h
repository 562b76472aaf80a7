/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatPeers: this server's authenticated links to the other servers of the cluster. */
#pragma once

#include <gio/gio.h>

#include "chat-config.h"
#include "chat-tls.h"

G_BEGIN_DECLS

/* The longest line a peer may send (a snapshot chunk or a batch of entries, encoded). */
#define CHAT_PEER_MAX_LINE_BYTES (8 * 1024 * 1024)
/* Bytes that may wait for one peer; further messages to it are dropped (the replication
 * core sends again what was not acknowledged). */
#define CHAT_PEER_MAX_QUEUED_BYTES (8 * 1024 * 1024)

/* A line from an authenticated peer: one replication message, not yet decoded. */
typedef void (*ChatPeerMessageFunc) (guint from, const char *line, gsize len, gpointer user_data);

#define CHAT_TYPE_PEERS (chat_peers_get_type ())
G_DECLARE_FINAL_TYPE (ChatPeers, chat_peers, CHAT, PEERS, GObject)

/* node_id is this server's 1-based position in config->servers; config must outlive
 * the object. Each server dials every other one and sends its own messages only on
 * the links it dialled; it receives on the links the others dialled (see
 * docs/replication.md, "The host: chatd"). */
ChatPeers *chat_peers_new (const ChatConfig *config, guint node_id, ChatPeerMessageFunc func,
                           gpointer user_data);
/* With tls, links are dialled over TLS with our certificate, and an accepted hello
 * is taken only from a connection whose certificate verified (before start). */
void chat_peers_set_tls (ChatPeers *self, ChatTls *tls);
/* Opens the link to server node in place of a TCP connection to its address, or returns
 * NULL (dialled again after the backoff). The unit tests link replicas by socket pairs. */
typedef GIOStream *(*ChatPeerDialFunc) (guint node, gpointer user_data);
/* Before start; func NULL: TCP (and TLS when set), as always. */
void chat_peers_set_dial_func (ChatPeers *self, ChatPeerDialFunc func, gpointer user_data);
/* Starts dialling every other server (reconnecting with backoff from then on). */
void chat_peers_start (ChatPeers *self);
/* Closes every link and stops dialling. */
void chat_peers_stop (ChatPeers *self);

/* Queues one line (without '\n') for server `to`. Dropped when that link is not
 * authenticated yet or too much already waits for it. Returns TRUE when queued. */
gboolean chat_peers_send (ChatPeers *self, guint to, GBytes *line);

/* TRUE when a connection's first line opens a peer handshake ({"peer":"hello",...}). */
gboolean chat_peers_is_hello (const char *line, gsize len);
/* Takes over an accepted connection whose first line was a peer hello; rest holds
 * bytes already read after that line (may be NULL). The connection is authenticated
 * before any message on it is delivered, and closed when that fails. */
void chat_peers_accept (ChatPeers *self, GIOStream *stream, const char *hello_line, gsize len,
                        GBytes *rest);

/* Whether the link this server dialled to `node` is authenticated and open. */
gboolean chat_peers_is_connected (ChatPeers *self, guint node);
/* Messages dropped because a link was down or full, since the start. */
guint64 chat_peers_get_dropped (ChatPeers *self);

/* HMAC-SHA256 (hex) of text under secret: the proofs of the handshake. */
char *chat_peers_compute_proof (const char *secret, const char *text);

G_END_DECLS
