/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica: the replication core hosted on GLib: disk, peers, timers, apply, proposals. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "chat-config.h"
#include "chat-repl.h"
#include "chat-store.h"
#include "chat-tls.h"

G_BEGIN_DECLS

/* Called exactly once per proposal: index and result on success (result belongs to the
 * replica), or error (CHAT_ERROR_NOT_LEADER, _UNAVAILABLE or _INTERNAL: not applied). */
typedef void (*ChatReplicaDoneFunc) (guint64 index, ChatApplyResult *result, const GError *error,
                                     gpointer user_data);

/* Called after each committed entry with a client operation is applied on this server,
 * after the proposal's own ChatReplicaDoneFunc (if it was proposed here). */
typedef void (*ChatReplicaAppliedFunc) (guint64 index, JsonObject *op, ChatApplyResult *result,
                                        gpointer user_data);

#define CHAT_TYPE_REPLICA (chat_replica_get_type ())
G_DECLARE_FINAL_TYPE (ChatReplica, chat_replica, CHAT, REPLICA, GObject)

/* config must outlive the replica; node_id is the 1-based position in config->servers. */
ChatReplica *chat_replica_new (ChatStore *store, const ChatConfig *config, guint node_id,
                               gboolean primary);
/* applied runs for every applied operation; status_changed (may be NULL) whenever role,
 * term, leader, commit index, in-sync set or a peer's state changes. */
void chat_replica_set_callbacks (ChatReplica *self, ChatReplicaAppliedFunc applied,
                                 GCallback status_changed, gpointer user_data);
/* Loads the persisted state (hard state, snapshot, log, applied index), brings the chat
 * state up to the snapshot if a crash interrupted an install, starts the core, the
 * timer and the peer links. */
/* Peer links over TLS (before start); see chat_peers_set_tls(). */
void chat_replica_set_tls (ChatReplica *self, ChatTls *tls);
gboolean chat_replica_start (ChatReplica *self, GError **error);
/* Fails pending proposals with CHAT_ERROR_UNAVAILABLE and closes the peer links. */
void chat_replica_stop (ChatReplica *self);

/* op is a client operation (see chat-store.h). Proposals of one main-loop iteration
 * share one durable append (group commit). */
void chat_replica_propose (ChatReplica *self, JsonObject *op, ChatReplicaDoneFunc done,
                           gpointer user_data);

/* Hands over an accepted connection whose first line is a peer hello. */
void chat_replica_accept_peer (ChatReplica *self, GIOStream *stream, const char *line, gsize len,
                               GBytes *rest);

/* Leader that has committed an entry of its own term: it may answer reads. */
gboolean chat_replica_is_serving (ChatReplica *self);
void chat_replica_get_status (ChatReplica *self, ChatReplStatus *status);
/* Whether the link this server dialled to node is up. */
gboolean chat_replica_peer_connected (ChatReplica *self, guint node);

/* Admin requests (D-Bus). Each fails with a readable error when refused. */
gboolean chat_replica_step_down (ChatReplica *self, GError **error);
gboolean chat_replica_take_snapshot (ChatReplica *self, guint64 *index, GError **error);
gboolean chat_replica_force_leader (ChatReplica *self, GError **error);
/* Hands leadership to target (a node id), or with 0 to the in-sync follower with the least
 * lag; *chosen is the node asked to take over. The core sends it TIMEOUT_NOW once it
 * holds the whole log, so the handover costs one election and no timeout. */
gboolean chat_replica_transfer_leadership (ChatReplica *self, guint target, guint *chosen,
                                           GError **error);

G_END_DECLS
