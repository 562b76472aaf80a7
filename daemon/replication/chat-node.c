/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatNode: the dispatcher's view of the replicated log (a façade over ChatReplica). */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-node.h"

#include "chat-error.h"
#include "chat-replica.h"

typedef struct
{
  ChatNode *node;
  ChatNodeProposeFunc callback;
  gpointer user_data;
} Proposal;

struct _ChatNode
{
  GObject parent_instance;

  ChatStore *store;
  const ChatConfig *config;
  guint node_id;
  char *address;
  char **addresses; /* every server's "host:port", by node id - 1 */
  ChatReplica *replica;
  ChatTls *tls; /* NULL: plaintext */
  gboolean started;
};

enum
{
  SIGNAL_APPLIED,
  SIGNAL_STATUS_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ChatNode, chat_node, G_TYPE_OBJECT)

void
chat_node_server_free (ChatNodeServer *server)
{
  if (server == NULL)
    return;
  g_free (server->address);
  g_free (server);
}

static void
chat_node_dispose (GObject *object)
{
  ChatNode *self = CHAT_NODE (object);

  chat_node_stop (self);
  G_OBJECT_CLASS (chat_node_parent_class)->dispose (object);
}

static void
chat_node_finalize (GObject *object)
{
  ChatNode *self = CHAT_NODE (object);

  g_clear_object (&self->replica);
  g_clear_object (&self->tls);
  g_clear_object (&self->store);
  g_free (self->address);
  g_strfreev (self->addresses);
  G_OBJECT_CLASS (chat_node_parent_class)->finalize (object);
}

static void
chat_node_class_init (ChatNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = chat_node_dispose;
  object_class->finalize = chat_node_finalize;
  signals[SIGNAL_APPLIED]
      = g_signal_new ("applied", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 3, G_TYPE_UINT64, JSON_TYPE_OBJECT, G_TYPE_POINTER);
  signals[SIGNAL_STATUS_CHANGED]
      = g_signal_new ("status-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
}

static void
chat_node_init (ChatNode *self)
{
}

static void
on_applied (guint64 index, JsonObject *op, ChatApplyResult *result, gpointer user_data)
{
  ChatNode *self = user_data;

  g_signal_emit (self, signals[SIGNAL_APPLIED], 0, index, op, result);
}

static void
on_status_changed (gpointer user_data)
{
  ChatNode *self = user_data;

  g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0);
}

ChatNode *
chat_node_new (ChatStore *store, const ChatConfig *config, guint node_id, gboolean primary)
{
  ChatNode *self = g_object_new (CHAT_TYPE_NODE, NULL);
  guint n = config->servers->len;

  g_return_val_if_fail (node_id >= 1 && node_id <= n, self);
  self->store = g_object_ref (store);
  self->config = config;
  self->node_id = node_id;
  self->addresses = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    self->addresses[i] = chat_server_address_to_string (g_ptr_array_index (config->servers, i));
  self->address = g_strdup (self->addresses[node_id - 1]);
  self->replica = chat_replica_new (store, config, node_id, primary);
  chat_replica_set_callbacks (self->replica, on_applied, G_CALLBACK (on_status_changed), self);
  return self;
}

void
chat_node_set_tls (ChatNode *self, ChatTls *tls)
{
  g_set_object (&self->tls, tls);
  chat_replica_set_tls (self->replica, tls);
  if (tls != NULL)
    chat_tls_warn_if_expired (tls);
}

gboolean
chat_node_reload_certificates (ChatNode *self, GError **error)
{
  if (self->tls == NULL)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "This server has no [tls] section: there is nothing to reload");
      return FALSE;
    }
  if (!chat_tls_reload (self->tls, error))
    {
      g_warning ("Keeping the certificates in use: %s", (*error)->message);
      return FALSE;
    }
  g_message ("Certificates reloaded: new connections use them");
  chat_tls_warn_if_expired (self->tls);
  return TRUE;
}

gboolean
chat_node_start (ChatNode *self, GError **error)
{
  if (!chat_replica_start (self->replica, error))
    {
      g_prefix_error (error, "Starting replication failed: ");
      return FALSE;
    }
  self->started = TRUE;
  g_message ("Node %u (%s) of %u started", self->node_id, self->address,
             self->config->servers->len);
  return TRUE;
}

void
chat_node_stop (ChatNode *self)
{
  if (!self->started)
    return;
  self->started = FALSE;
  chat_replica_stop (self->replica);
  g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0);
}

/* --- proposals ---------------------------------------------------------------------- */

static void
on_proposal_done (guint64 index, ChatApplyResult *result, const GError *error, gpointer user_data)
{
  g_autofree Proposal *proposal = user_data;

  proposal->callback (proposal->node, index, result, error, proposal->user_data);
  g_object_unref (proposal->node);
}

void
chat_node_propose (ChatNode *self, JsonObject *op, ChatNodeProposeFunc callback, gpointer user_data)
{
  Proposal *proposal = g_new0 (Proposal, 1);

  proposal->node = g_object_ref (self);
  proposal->callback = callback;
  proposal->user_data = user_data;
  chat_replica_propose (self->replica, op, on_proposal_done, proposal);
}

void
chat_node_accept_peer (ChatNode *self, GIOStream *stream, const char *line, gsize len)
{
  chat_replica_accept_peer (self->replica, stream, line, len, NULL);
}

/* --- status ---------------------------------------------------------------------------- */

static const char *
address_of (ChatNode *self, guint node)
{
  if (node < 1 || node > self->config->servers->len)
    return NULL;
  return self->addresses[node - 1];
}

/* "127.0.0.1:5556, 127.0.0.1:5557", or NULL for an empty set. */
static char *
describe_servers (ChatNode *self, ChatReplNodeSet set)
{
  g_autoptr (GString) text = g_string_new (NULL);

  for (guint id = 1; id <= self->config->servers->len; id++)
    {
      if (CHAT_REPL_NODE_SET_HAS (set, id))
        g_string_append_printf (text, "%s%s", text->len > 0 ? ", " : "", address_of (self, id));
    }
  return text->len > 0 ? g_strdup (text->str) : NULL;
}

char *
chat_node_describe_waiting (ChatNode *self)
{
  ChatReplStatus status;
  g_autofree char *who = NULL;

  chat_replica_get_status (self->replica, &status);
  who = describe_servers (self, status.waiting_for);
  switch (status.waiting)
    {
      case CHAT_REPL_WAIT_FOUND:
        return g_strdup_printf ("cannot found a new cluster: waiting for %s, which may hold data",
                                who != NULL ? who : "every configured server");
      case CHAT_REPL_WAIT_CLUSTER:
        if (who == NULL)
          return g_strdup ("empty store: the other servers belong to a cluster; waiting for "
                           "its leader");
        return g_strdup_printf ("empty store: the other servers belong to a cluster; waiting "
                                "for its leader (silent: %s)",
                                who);
      case CHAT_REPL_WAIT_IN_SYNC:
        return g_strdup_printf ("waiting for %s of its in-sync set, which may hold newer data",
                                who != NULL ? who : "a server");
      case CHAT_REPL_WAIT_NONE:
      default:
        return NULL;
    }
}

gboolean
chat_node_is_leader (ChatNode *self)
{
  return chat_replica_is_serving (self->replica);
}

const char *
chat_node_leader_address (ChatNode *self)
{
  ChatReplStatus status;

  chat_replica_get_status (self->replica, &status);
  return address_of (self, status.leader);
}

static ChatNodeRole
role_of (const ChatReplStatus *status)
{
  switch (status->role)
    {
      case CHAT_REPL_ROLE_LEADER:
        return CHAT_NODE_ROLE_LEADER;
      case CHAT_REPL_ROLE_CANDIDATE:
        return status->recovering ? CHAT_NODE_ROLE_RECOVERING : CHAT_NODE_ROLE_CANDIDATE;
      case CHAT_REPL_ROLE_FOLLOWER:
      default:
        return status->recovering ? CHAT_NODE_ROLE_RECOVERING : CHAT_NODE_ROLE_FOLLOWER;
    }
}

ChatNodeRole
chat_node_get_role (ChatNode *self)
{
  ChatReplStatus status;

  chat_replica_get_status (self->replica, &status);
  return role_of (&status);
}

const char *
chat_node_role_to_string (ChatNodeRole role)
{
  switch (role)
    {
      case CHAT_NODE_ROLE_LEADER:
        return "leader";
      case CHAT_NODE_ROLE_CANDIDATE:
        return "candidate";
      case CHAT_NODE_ROLE_RECOVERING:
        return "recovering";
      case CHAT_NODE_ROLE_FOLLOWER:
      default:
        return "follower";
    }
}

guint
chat_node_get_id (ChatNode *self)
{
  return self->node_id;
}

const char *
chat_node_get_address (ChatNode *self)
{
  return self->address;
}

guint64
chat_node_get_term (ChatNode *self)
{
  ChatReplStatus status;

  chat_replica_get_status (self->replica, &status);
  return status.term;
}

guint64
chat_node_get_commit_index (ChatNode *self)
{
  ChatReplStatus status;

  chat_replica_get_status (self->replica, &status);
  return status.commit_index;
}

guint64
chat_node_get_applied_index (ChatNode *self)
{
  return chat_store_applied_index (self->store);
}

ChatStore *
chat_node_get_store (ChatNode *self)
{
  return self->store;
}

/* How this server sees another: the leader knows each peer's progress; a follower knows
 * its leader and whether its own links are up. */
static void
describe_peer (ChatNode *self, const ChatReplStatus *status, const ChatReplPeerStatus *peer,
               ChatNodeServer *server)
{
  gint64 now_ms = g_get_monotonic_time () / 1000;
  gboolean linked = chat_replica_peer_connected (self->replica, peer->node);

  server->in_sync = CHAT_REPL_NODE_SET_HAS (status->in_sync, peer->node);
  if (status->role == CHAT_REPL_ROLE_LEADER)
    {
      server->state = peer->up ? "follower" : "down";
      server->lag = peer->lag;
      server->last_contact_ms
          = peer->last_contact_ms > 0 ? MAX (now_ms - (gint64)peer->last_contact_ms, 0) : -1;
      return;
    }
  if (peer->node == status->leader)
    server->state = linked ? "leader" : "down";
  else if (!linked)
    server->state = "down";
  else
    server->state = status->leader != 0 ? "follower" : "unknown";
}

GPtrArray *
chat_node_list_servers (ChatNode *self)
{
  GPtrArray *servers = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_node_server_free);
  ChatReplStatus status;

  chat_replica_get_status (self->replica, &status);
  for (guint id = 1; id <= self->config->servers->len; id++)
    {
      ChatNodeServer *server = g_new0 (ChatNodeServer, 1);

      server->address = g_strdup (address_of (self, id));
      server->last_contact_ms = -1;
      if (id == self->node_id)
        {
          server->state = chat_node_role_to_string (role_of (&status));
          server->in_sync = CHAT_REPL_NODE_SET_HAS (status.in_sync, id);
        }
      for (guint i = 0; i < status.n_peers; i++)
        {
          if (status.peers[i].node == id)
            describe_peer (self, &status, &status.peers[i], server);
        }
      g_ptr_array_add (servers, server);
    }
  return servers;
}

/* --- admin ------------------------------------------------------------------------------ */

gboolean
chat_node_admin_step_down (gpointer node, GError **error)
{
  return chat_replica_step_down (CHAT_NODE (node)->replica, error);
}

/* target is "host:port" of config.ini, or "" for the closest in-sync follower. */
gboolean
chat_node_admin_transfer_leadership (gpointer node, const char *target, char **chosen,
                                     GError **error)
{
  ChatNode *self = CHAT_NODE (node);
  guint target_id = 0, chosen_id = 0;

  if (*target != '\0')
    {
      g_autoptr (ChatServerAddress) address = chat_server_address_parse (target, error);

      if (address == NULL)
        return FALSE;
      target_id = chat_config_find_server (self->config, address->host, address->port);
      if (target_id == 0)
        {
          g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                       "%s is not a server of the cluster", target);
          return FALSE;
        }
    }
  if (!chat_replica_transfer_leadership (self->replica, target_id, &chosen_id, error))
    return FALSE;
  *chosen = g_strdup (self->addresses[chosen_id - 1]);
  return TRUE;
}

gboolean
chat_node_admin_snapshot (gpointer node, guint64 *index, GError **error)
{
  return chat_replica_take_snapshot (CHAT_NODE (node)->replica, index, error);
}

gboolean
chat_node_admin_force_leader (gpointer node, GError **error)
{
  return chat_replica_force_leader (CHAT_NODE (node)->replica, error);
}

gboolean
chat_node_admin_reload_certificates (gpointer node, GError **error)
{
  return chat_node_reload_certificates (CHAT_NODE (node), error);
}
