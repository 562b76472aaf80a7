/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatAdmin: connects a running node to systemd (sd_notify), D-Bus and the journal. */
#define G_LOG_DOMAIN "chatd-admin"

#include "config.h"

#include "chat-admin.h"
#include "chat-dbus.h"
#include "chat-journal.h"
#include "chat-node.h"
#include "chat-server.h"
#include "chat-store.h"
#include "chat-systemd.h"

struct _ChatAdmin
{
  GObject parent_instance;

  ChatNode *node;
  ChatServer *server;
  const ChatConfig *config;
  ChatSystemd *systemd;
  ChatDbus *dbus;
  gulong status_handler;

  /* What the journal was last told, to log transitions only. */
  ChatNodeRole last_role;
  char *last_leader;
  GHashTable *last_peer_states; /* address -> state */
  char *last_in_sync;
};

G_DEFINE_TYPE (ChatAdmin, chat_admin, G_TYPE_OBJECT)

static void
add_servers (ChatStatus *status, ChatNode *node)
{
  g_autoptr (GPtrArray) servers = chat_node_list_servers (node);
  const char *self_address = chat_node_get_address (node);

  for (guint i = 0; i < servers->len; i++)
    {
      ChatNodeServer *server = g_ptr_array_index (servers, i);

      if (server->in_sync)
        chat_status_add_in_sync (status, server->address);
      if (g_strcmp0 (server->address, self_address) != 0)
        chat_status_add_peer (status, server->address, server->state, 0, -1);
    }
}

static void
fill_status (ChatStatus *status, ChatStatusWant want, gpointer user_data)
{
  ChatAdmin *self = CHAT_ADMIN (user_data);
  ChatStore *store = chat_node_get_store (self->node);

  status->node = g_strdup (chat_node_get_address (self->node));
  status->role = g_strdup (chat_node_role_to_string (chat_node_get_role (self->node)));
  status->term = chat_node_get_term (self->node);
  status->leader = g_strdup (chat_node_leader_address (self->node));
  status->commit_index = chat_node_get_commit_index (self->node);
  status->applied_index = chat_node_get_applied_index (self->node);
  status->mode = g_strdup (chat_cluster_mode_to_string (self->config->mode));
  add_servers (status, self->node);
  status->connected_clients = chat_server_get_n_connections (self->server);
  status->accounts = chat_store_count_accounts (store);
  status->messages = chat_store_count_messages (store);
  if (want & CHAT_STATUS_WANT_STATE_HASH)
    status->state_hash = chat_store_state_hash (store, NULL);
}

static void
log_role_change (ChatAdmin *self, const ChatStatus *status, ChatNodeRole role)
{
  if (role == self->last_role && g_strcmp0 (status->leader, self->last_leader) == 0)
    return;
  if (role == CHAT_NODE_ROLE_LEADER && self->last_role != CHAT_NODE_ROLE_LEADER)
    chat_journal_event (CHAT_EVENT_LEADER_ELECTED, status->term, status->node, NULL, NULL);
  else if (self->last_role == CHAT_NODE_ROLE_LEADER && role != CHAT_NODE_ROLE_LEADER)
    chat_journal_event (CHAT_EVENT_STEPPED_DOWN, status->term, status->leader, NULL, NULL);
  self->last_role = role;
  g_free (self->last_leader);
  self->last_leader = g_strdup (status->leader);
}

static gboolean
peer_is_down (const char *state)
{
  return g_strcmp0 (state, "down") == 0 || g_strcmp0 (state, "unknown") == 0;
}

static void
log_peer_changes (ChatAdmin *self, const ChatStatus *status)
{
  for (guint i = 0; i < status->peers->len; i++)
    {
      const ChatPeerStatus *peer = g_ptr_array_index (status->peers, i);
      const char *before = g_hash_table_lookup (self->last_peer_states, peer->address);

      if (before != NULL && peer_is_down (before) != peer_is_down (peer->state))
        chat_journal_event (peer_is_down (peer->state) ? CHAT_EVENT_PEER_DOWN : CHAT_EVENT_PEER_UP,
                            status->term, status->leader, peer->address, NULL);
      g_hash_table_insert (self->last_peer_states, g_strdup (peer->address),
                           g_strdup (peer->state));
    }
}

static void
log_in_sync_change (ChatAdmin *self, const ChatStatus *status)
{
  g_autofree char *in_sync = NULL;

  g_ptr_array_add (status->in_sync, NULL);
  in_sync = g_strjoinv (",", (char **)status->in_sync->pdata);
  g_ptr_array_set_size (status->in_sync, status->in_sync->len - 1);
  if (self->last_in_sync != NULL && !g_str_equal (self->last_in_sync, in_sync)
      && chat_node_is_leader (self->node))
    chat_journal_event (CHAT_EVENT_IN_SYNC_CHANGED, status->term, status->node, NULL, "now %s",
                        in_sync[0] != '\0' ? in_sync : "(empty)");
  g_free (self->last_in_sync);
  self->last_in_sync = g_steal_pointer (&in_sync);
}

static void
on_status_changed (ChatNode *node, gpointer user_data)
{
  ChatAdmin *self = CHAT_ADMIN (user_data);
  g_autoptr (ChatStatus) status = chat_status_new ();

  fill_status (status, CHAT_STATUS_WANT_DEFAULT, self);
  log_role_change (self, status, chat_node_get_role (node));
  log_peer_changes (self, status);
  log_in_sync_change (self, status);
  chat_systemd_status_changed (self->systemd);
  chat_dbus_status_changed (self->dbus);
}

static void
chat_admin_dispose (GObject *object)
{
  ChatAdmin *self = CHAT_ADMIN (object);

  g_clear_signal_handler (&self->status_handler, self->node);
  if (self->dbus != NULL)
    chat_dbus_stop (self->dbus);
  g_clear_object (&self->dbus);
  g_clear_object (&self->systemd);
  G_OBJECT_CLASS (chat_admin_parent_class)->dispose (object);
}

static void
chat_admin_finalize (GObject *object)
{
  ChatAdmin *self = CHAT_ADMIN (object);

  g_free (self->last_leader);
  g_free (self->last_in_sync);
  g_hash_table_unref (self->last_peer_states);
  G_OBJECT_CLASS (chat_admin_parent_class)->finalize (object);
}

static void
chat_admin_class_init (ChatAdminClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = chat_admin_dispose;
  object_class->finalize = chat_admin_finalize;
}

static void
chat_admin_init (ChatAdmin *self)
{
  self->last_peer_states = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->last_role = CHAT_NODE_ROLE_FOLLOWER;
}

ChatAdmin *
chat_admin_new (ChatNode *node, ChatServer *server, const ChatConfig *config, guint16 port)
{
  ChatAdmin *self = g_object_new (CHAT_TYPE_ADMIN, NULL);

  self->node = node;
  self->server = server;
  self->config = config;
  chat_journal_set_node (chat_node_get_address (node));
  self->systemd = chat_systemd_new ();
  chat_systemd_set_status_func (self->systemd, fill_status, self, NULL);
  self->dbus = chat_dbus_new (port, fill_status, self, NULL);
  self->status_handler
      = g_signal_connect (node, "status-changed", G_CALLBACK (on_status_changed), self);
  return self;
}

void
chat_admin_ready (ChatAdmin *self)
{
  g_return_if_fail (CHAT_IS_ADMIN (self));

  on_status_changed (self->node, self);
  chat_systemd_ready (self->systemd);
  chat_dbus_start (self->dbus, chat_dbus_choose_bus ());
}

void
chat_admin_stopping (ChatAdmin *self)
{
  g_return_if_fail (CHAT_IS_ADMIN (self));

  /* Stopping is not a cluster event: no stepped-down / peer-down records from here on. */
  g_clear_signal_handler (&self->status_handler, self->node);
  chat_systemd_stopping (self->systemd);
}
