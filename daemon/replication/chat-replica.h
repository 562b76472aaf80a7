/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica: the one object between the daemon and the replication core: proposals,
 * applied operations, status and the operator's requests. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "chat-cluster-admin.h"
#include "chat-config.h"
#include "chat-peer.h"
#include "chat-repl.h"
#include "chat-status.h"
#include "chat-store.h"
#include "chat-tls.h"

G_BEGIN_DECLS

#define CHAT_TYPE_REPLICA (chat_replica_get_type ())
G_DECLARE_FINAL_TYPE (ChatReplica, chat_replica, CHAT, REPLICA, GObject)

/* config must outlive the replica; node_id is the 1-based position in config->servers.
 * primary: lead the very first term of a fresh cluster at once (--primary).
 *
 * Signals:
 *   "applied" (guint64 index, JsonObject *op, gpointer result): after each committed client
 *     operation is applied on this server (result: its ChatApplyResult), whoever proposed
 *     it; a proposal made here is answered first, so every server delivers the events of
 *     every operation it applies.
 *   "status-changed": role, term, leader, commit index, in-sync set or a peer changed.
 *   "failed" (GError *error): a storage fault after the core moved on, which memory cannot
 *     undo. The replica does nothing more; the process is to stop, so that a restart
 *     recovers from what the disk holds (main.c does). */
ChatReplica *chat_replica_new (ChatStore *store, const ChatConfig *config, guint node_id,
                               gboolean primary);
/* Peer links over TLS (before start); see chat_peers_set_tls(). */
void chat_replica_set_tls (ChatReplica *self, ChatTls *tls);
/* Re-reads the [tls] certificate, key and ca (SIGHUP, chatctl reload-certificates);
 * connections already open keep theirs. Fails, keeping the old ones, on a bad file. */
gboolean chat_replica_reload_certificates (ChatReplica *self, GError **error);
/* Loads the persisted state (hard state, snapshot, log, applied index), brings the chat
 * state up to the snapshot if a crash interrupted an install, starts the core, the
 * timer and the peer links. */
gboolean chat_replica_start (ChatReplica *self, GError **error);
/* Fails pending proposals with CHAT_ERROR_UNAVAILABLE and closes the peer links. */
void chat_replica_stop (ChatReplica *self);

/* Proposes a client operation (a JSON object with "op"; see chat-store.h). Proposals of
 * one main-loop iteration share one durable append (group commit); each is answered once
 * its entry is committed and applied, in log order. */
void chat_replica_propose_async (ChatReplica *self, JsonObject *op, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
/* What applying the op produced (reply, or a refusal decided by the state:
 * result->error_code >= 0; its events go to "applied"), and in *index the log index that
 * committed it. NULL with CHAT_ERROR_NOT_LEADER, _UNAVAILABLE or _INTERNAL when it was not
 * applied (or G_IO_ERROR_CANCELLED: the answer is not wanted any more; the op may still
 * commit). */
ChatApplyResult *chat_replica_propose_finish (ChatReplica *self, GAsyncResult *result,
                                              guint64 *index, GError **error);

/* The link layer: the client server hands it every accepted connection whose first line
 * is a peer hello (chat_peers_accept()). */
ChatPeers *chat_replica_get_peers (ChatReplica *self);

/* --- status (chat-replica-status.c) ---------------------------------------------- */

/* TRUE on the leader once it has committed an entry of its own term: only then does it
 * serve requests (reads included). */
gboolean chat_replica_is_serving (ChatReplica *self);
/* A leader that does not serve yet: requests wait for it (chat-dispatch-ready.c). */
gboolean chat_replica_is_electing (ChatReplica *self);
guint chat_replica_get_id (ChatReplica *self);
/* "host:port" of this server, and of the leader (NULL while none is known). */
const char *chat_replica_get_address (ChatReplica *self);
const char *chat_replica_get_leader_address (ChatReplica *self);
/* The core's own status (term, role, indexes, peers by node id). */
void chat_replica_get_status (ChatReplica *self, ChatReplStatus *status);
/* Fills the replication part of status (node, role, term, leader, waiting, indexes, mode,
 * in-sync set, peers): what D-Bus, sd_notify, the metrics, hello and chatctl show. */
void chat_replica_fill_status (ChatReplica *self, ChatStatus *status);
/* Whether the link this server dialled to node is up. */
gboolean chat_replica_peer_connected (ChatReplica *self, guint node);

/* --- admin: also as ChatClusterAdmin, which takes "host:port" targets ---------------- */

gboolean chat_replica_step_down (ChatReplica *self, GError **error);
gboolean chat_replica_take_snapshot (ChatReplica *self, guint64 *index, GError **error);
gboolean chat_replica_force_leader (ChatReplica *self, GError **error);
/* Hands leadership to target (a node id), or with 0 to the in-sync follower with the least
 * lag; *chosen is the node asked to take over. The core sends it TIMEOUT_NOW once it
 * holds the whole log, so the handover costs one election and no timeout. */
gboolean chat_replica_transfer_leadership (ChatReplica *self, guint target, guint *chosen,
                                           GError **error);

G_END_DECLS
