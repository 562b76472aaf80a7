/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatAdmin: connects a running replica to systemd (sd_notify), D-Bus and the metrics endpoint. */
#define G_LOG_DOMAIN "chatd-admin"

#include "config.h"

#include "chat-admin.h"
#include "chat-dbus.h"
#include "chat-journal.h"
#include "chat-metrics-server.h"
#include "chat-replica.h"
#include "chat-server.h"
#include "chat-store.h"
#include "chat-systemd.h"

struct _ChatAdmin
{
  GObject parent_instance;

  ChatReplica *replica;
  ChatStore *store;
  ChatServer *server;
  const ChatConfig *config;
  ChatSystemd *systemd;
  ChatDbus *dbus;
  ChatMetricsServer *metrics; /* NULL unless [metrics] listen is set */
  gulong status_handler;
};

G_DEFINE_FINAL_TYPE (ChatAdmin, chat_admin, G_TYPE_OBJECT)

static void
fill_status (ChatStatus *status, ChatStatusWant want, gpointer user_data)
{
  ChatAdmin *self = CHAT_ADMIN (user_data);
  ChatStore *store = self->store;

  chat_replica_fill_status (self->replica, status);
  status->connected_clients = chat_server_get_n_connections (self->server);
  status->accounts = chat_store_count_accounts (store);
  status->messages = chat_store_count_messages (store);
  if (want & CHAT_STATUS_WANT_STATE_HASH)
    status->state_hash = chat_store_state_hash (store, NULL);
}

/* Cluster events reach the journal from the replica itself (one record per event of the
 * replication core); here the status faces are refreshed. */
static void
on_status_changed (ChatReplica *replica, gpointer user_data)
{
  ChatAdmin *self = CHAT_ADMIN (user_data);

  chat_systemd_status_changed (self->systemd);
  chat_dbus_status_changed (self->dbus);
}

static void
chat_admin_dispose (GObject *object)
{
  ChatAdmin *self = CHAT_ADMIN (object);

  g_clear_signal_handler (&self->status_handler, self->replica);
  if (self->dbus != NULL)
    chat_dbus_stop (self->dbus);
  g_clear_object (&self->dbus);
  g_clear_object (&self->systemd);
  g_clear_object (&self->metrics);
  G_OBJECT_CLASS (chat_admin_parent_class)->dispose (object);
}

static void
chat_admin_class_init (ChatAdminClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = chat_admin_dispose;
}

static void
chat_admin_init (ChatAdmin *self)
{
}

/* The watchdog is fed only while the store still answers (chat-systemd.h). */
static gboolean
check_health (gpointer user_data, GError **error)
{
  ChatAdmin *self = user_data;

  return chat_store_probe (self->store, error);
}

ChatAdmin *
chat_admin_new (ChatReplica *replica, ChatStore *store, ChatServer *server,
                const ChatConfig *config, guint16 port)
{
  ChatAdmin *self = g_object_new (CHAT_TYPE_ADMIN, NULL);

  self->replica = replica;
  self->store = store;
  self->server = server;
  self->config = config;
  chat_journal_set_node (chat_replica_get_address (replica));
  self->systemd = chat_systemd_new ();
  chat_systemd_set_status_func (self->systemd, fill_status, self, NULL);
  chat_systemd_set_health_func (self->systemd, check_health, self, NULL);
  self->dbus = chat_dbus_new (port, fill_status, self, NULL);
  /* chatctl step-down, snapshot, force-leader and transfer-leadership become admin events of
   * the core. */
  chat_dbus_set_admin (self->dbus, CHAT_CLUSTER_ADMIN (replica));
  self->status_handler
      = g_signal_connect (replica, "status-changed", G_CALLBACK (on_status_changed), self);
  return self;
}

/* A scrape endpoint that cannot bind is no reason to refuse chat service: say so, go on. */
static void
start_metrics (ChatAdmin *self)
{
  g_autoptr (ChatServerAddress) address
      = chat_metrics_listen_address (self->config, chat_replica_get_id (self->replica));
  g_autoptr (GError) error = NULL;

  if (address == NULL)
    return;
  self->metrics = chat_metrics_server_new (fill_status, self, self->config->servers->len);
  if (!chat_metrics_server_listen (self->metrics, address, &error))
    {
      g_warning ("%s", error->message);
      g_clear_object (&self->metrics);
    }
}

void
chat_admin_ready (ChatAdmin *self)
{
  g_return_if_fail (CHAT_IS_ADMIN (self));

  on_status_changed (self->replica, self);
  chat_systemd_ready (self->systemd);
  chat_dbus_start (self->dbus, chat_dbus_choose_bus ());
  start_metrics (self);
}

void
chat_admin_stopping (ChatAdmin *self)
{
  g_return_if_fail (CHAT_IS_ADMIN (self));

  /* Stopping is not a cluster event: no stepped-down / peer-down records from here on. */
  g_clear_signal_handler (&self->status_handler, self->replica);
  chat_systemd_stopping (self->systemd);
}
