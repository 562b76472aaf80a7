/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatNode: where operations become log entries, are replicated, committed and applied. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "chat-config.h"
#include "chat-daemon-types.h"
#include "chat-store.h"
#include "chat-tls.h"

G_BEGIN_DECLS

/* The payload type of a log entry holding one client operation (compact JSON). */
#define CHAT_NODE_ENTRY_OP 1

typedef enum
{
  CHAT_NODE_ROLE_FOLLOWER,
  CHAT_NODE_ROLE_CANDIDATE,
  CHAT_NODE_ROLE_LEADER,
  CHAT_NODE_ROLE_RECOVERING,
} ChatNodeRole;

/* One server of the cluster as this node sees it (for hello and status). */
typedef struct
{
  char *address;
  const char *state; /* a role name, "down" or "unknown" */
  gboolean in_sync;
  guint64 lag;            /* entries behind this server's log (known on the leader), else 0 */
  gint64 last_contact_ms; /* ms since the leader last heard from it, or -1 when unknown */
} ChatNodeServer;

void chat_node_server_free (ChatNodeServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatNodeServer, chat_node_server_free)

/* Called exactly once per proposal. On success error is NULL, index is the log
 * index that committed the op and result what applying it produced (including a
 * refusal decided by the state: result->error_code >= 0). On failure result is
 * NULL and error is CHAT_ERROR_NOT_LEADER, _UNAVAILABLE or _INTERNAL: the op was
 * not applied. The result belongs to the node; copy what you keep. */
typedef void (*ChatNodeProposeFunc) (ChatNode *node, guint64 index, ChatApplyResult *result,
                                     const GError *error, gpointer user_data);

#define CHAT_TYPE_NODE (chat_node_get_type ())
G_DECLARE_FINAL_TYPE (ChatNode, chat_node, CHAT, NODE, GObject)

/* node_id is this server's 1-based position in config->servers; config must outlive
 * the node. primary: lead the very first term of a fresh cluster at once (--primary). */
ChatNode *chat_node_new (ChatStore *store, const ChatConfig *config, guint node_id,
                         gboolean primary);
/* Loads the replicated state, starts the replication core, its timer and the peer links. */
/* Peer links over TLS (before start). */
void chat_node_set_tls (ChatNode *self, ChatTls *tls);
/* Re-reads the [tls] certificate, key and ca (SIGHUP, chatctl reload-certificates);
 * connections already open keep theirs. Fails, keeping the old ones, on a bad file. */
gboolean chat_node_reload_certificates (ChatNode *self, GError **error);
gboolean chat_node_start (ChatNode *self, GError **error);
/* Fails proposals not yet committed with CHAT_ERROR_UNAVAILABLE and stops leading. */
void chat_node_stop (ChatNode *self);

/* Proposes a client operation (a JSON object with "op"; see chat-store.h). Proposals
 * made during one main-loop iteration are appended in one durable transaction
 * (group commit), replicated, applied in one apply transaction once committed, then
 * answered in order. */
void chat_node_propose (ChatNode *self, JsonObject *op, ChatNodeProposeFunc callback,
                        gpointer user_data);

/* TRUE on the leader once it has committed an entry of its own term: only then does it
 * serve requests (reads included). */
gboolean chat_node_is_leader (ChatNode *self);
/* "host:port" of the leader, or NULL while none is known. */
const char *chat_node_leader_address (ChatNode *self);
/* Why this server can neither lead nor follow a leader yet ("cannot found a new cluster:
 * waiting for 127.0.0.1:5557, which may hold data"), or NULL when it does not wait. */
char *chat_node_describe_waiting (ChatNode *self);
ChatNodeRole chat_node_get_role (ChatNode *self);
const char *chat_node_role_to_string (ChatNodeRole role);
guint chat_node_get_id (ChatNode *self);
/* "host:port" of this server. */
const char *chat_node_get_address (ChatNode *self);
guint64 chat_node_get_term (ChatNode *self);
guint64 chat_node_get_commit_index (ChatNode *self);
guint64 chat_node_get_applied_index (ChatNode *self);
/* Every server of the config, in config order (ChatNodeServer *). */
GPtrArray *chat_node_list_servers (ChatNode *self);
ChatStore *chat_node_get_store (ChatNode *self);

/* Takes over an accepted connection whose first line is a peer hello (see chat-peer.h). */
void chat_node_accept_peer (ChatNode *self, GIOStream *stream, const char *line, gsize len);

/* Admin requests, in the shape of ChatDbusAdminOps (user_data is the node). */
gboolean chat_node_admin_step_down (gpointer node, GError **error);
gboolean chat_node_admin_snapshot (gpointer node, guint64 *index, GError **error);
gboolean chat_node_admin_force_leader (gpointer node, GError **error);
gboolean chat_node_admin_reload_certificates (gpointer node, GError **error);
gboolean chat_node_admin_transfer_leadership (gpointer node, const char *target, char **chosen,
                                              GError **error);

/* Signals:
 *   "applied" (guint64 index, JsonObject *op, gpointer result): after each committed
 *     entry is applied, whoever proposed it (its callback runs first), so every
 *     server delivers the events of every operation it applies.
 *   "status-changed": role, term, leader or commit index changed. */

G_END_DECLS
