/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica: its status as the core reports it and as D-Bus, hello and chatctl show it. */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-replica-private.h"

const char *
chat_replica_address_of (ChatReplica *self, guint node)
{
  if (node < 1 || node > self->config->servers->len)
    return NULL;
  return self->addresses[node - 1];
}

ChatPeers *
chat_replica_get_peers (ChatReplica *self)
{
  g_return_val_if_fail (CHAT_IS_REPLICA (self), NULL);
  return self->peers;
}

gboolean
chat_replica_is_serving (ChatReplica *self)
{
  return chat_replica_running (self) && self->serving
         && chat_repl_get_role (self->repl) == CHAT_REPL_ROLE_LEADER;
}

gboolean
chat_replica_is_electing (ChatReplica *self)
{
  return chat_replica_running (self) && !self->serving
         && chat_repl_get_role (self->repl) == CHAT_REPL_ROLE_LEADER;
}

guint
chat_replica_get_id (ChatReplica *self)
{
  return self->node_id;
}

const char *
chat_replica_get_address (ChatReplica *self)
{
  return chat_replica_address_of (self, self->node_id);
}

void
chat_replica_get_status (ChatReplica *self, ChatReplStatus *status)
{
  if (self->repl == NULL)
    {
      *status = (ChatReplStatus){ .node_id = self->node_id };
      return;
    }
  chat_repl_get_status (self->repl, status);
}

const char *
chat_replica_get_leader_address (ChatReplica *self)
{
  ChatReplStatus status;

  chat_replica_get_status (self, &status);
  return chat_replica_address_of (self, status.leader);
}

gboolean
chat_replica_peer_connected (ChatReplica *self, guint node)
{
  return chat_peers_is_connected (self->peers, node);
}

static const char *
role_name (const ChatReplStatus *status)
{
  switch (status->role)
    {
      case CHAT_REPL_ROLE_LEADER:
        return "leader";
      case CHAT_REPL_ROLE_CANDIDATE:
        return status->recovering ? "recovering" : "candidate";
      case CHAT_REPL_ROLE_FOLLOWER:
      default:
        return status->recovering ? "recovering" : "follower";
    }
}

char *
chat_replica_describe_set (ChatReplica *self, ChatReplNodeSet set)
{
  g_autoptr (GString) text = g_string_new (NULL);

  for (guint id = 1; id <= self->config->servers->len; id++)
    {
      if (CHAT_REPL_NODE_SET_HAS (set, id))
        g_string_append_printf (text, "%s%s", text->len > 0 ? ", " : "",
                                chat_replica_address_of (self, id));
    }
  return text->len > 0 ? g_strdup (text->str) : NULL;
}

/* Why this server can neither lead nor follow a leader yet ("cannot found a new cluster:
 * waiting for 127.0.0.1:5557, which may hold data"), or NULL when it does not wait. */
static char *
describe_waiting (ChatReplica *self, const ChatReplStatus *status)
{
  g_autofree char *who = chat_replica_describe_set (self, status->waiting_for);

  switch (status->waiting)
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

/* How this server sees another: the leader knows each peer's progress; a follower knows
 * its leader and whether its own links are up. */
static ChatPeerStatus *
describe_peer (ChatReplica *self, const ChatReplStatus *status, const ChatReplPeerStatus *peer)
{
  gint64 now_ms = g_get_monotonic_time () / 1000;
  gboolean linked = chat_replica_peer_connected (self, peer->node);
  const char *address = chat_replica_address_of (self, peer->node);

  if (status->role == CHAT_REPL_ROLE_LEADER)
    return chat_peer_status_new (
        address, peer->up ? "follower" : "down", peer->lag,
        peer->last_contact_ms > 0 ? MAX (now_ms - (gint64)peer->last_contact_ms, 0) : -1);
  if (peer->node == status->leader)
    return chat_peer_status_new (address, linked ? "leader" : "down", 0, -1);
  if (!linked)
    return chat_peer_status_new (address, "down", 0, -1);
  return chat_peer_status_new (address, status->leader != 0 ? "follower" : "unknown", 0, -1);
}

void
chat_replica_fill_status (ChatReplica *self, ChatStatus *status)
{
  g_autofree ChatReplStatus *core = g_new0 (ChatReplStatus, 1);

  g_return_if_fail (CHAT_IS_REPLICA (self));

  chat_replica_get_status (self, core);
  status->node = g_strdup (chat_replica_get_address (self));
  status->role = g_strdup (role_name (core));
  status->term = core->term;
  status->leader = g_strdup (chat_replica_address_of (self, core->leader));
  status->waiting = describe_waiting (self, core);
  status->commit_index = core->commit_index;
  status->applied_index = chat_store_applied_index (self->store);
  status->mode = g_strdup (chat_cluster_mode_to_string (self->config->mode));
  for (guint id = 1; id <= self->config->servers->len; id++)
    {
      if (CHAT_REPL_NODE_SET_HAS (core->in_sync, id))
        chat_status_add_in_sync (status, chat_replica_address_of (self, id));
    }
  for (guint i = 0; i < core->n_peers; i++)
    g_ptr_array_add (status->peers, describe_peer (self, core, &core->peers[i]));
}
