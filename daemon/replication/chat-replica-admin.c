/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica: the operator's requests (chatctl over D-Bus, SIGHUP) as admin events of the core. */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-replica-private.h"

#include "chat-error.h"

static gboolean
check_running (ChatReplica *self, GError **error)
{
  if (chat_replica_running (self))
    return TRUE;
  g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE, "The server is not running");
  return FALSE;
}

gboolean
chat_replica_step_down (ChatReplica *self, GError **error)
{
  ChatReplEvent event = { .type = CHAT_REPL_EVENT_ADMIN, .admin = CHAT_REPL_ADMIN_STEP_DOWN };

  if (!check_running (self, error))
    return FALSE;
  if (chat_repl_get_role (self->repl) != CHAT_REPL_ROLE_LEADER)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_NOT_LEADER,
                           "This server is not the leader");
      return FALSE;
    }
  chat_replica_step (self, &event);
  return TRUE;
}

/* A follower that can take over at once: linked to this leader and in the in-sync set. */
static gboolean
can_take_over (const ChatReplStatus *status, guint node)
{
  for (guint i = 0; i < status->n_peers; i++)
    if (status->peers[i].node == node)
      return status->peers[i].up && status->peers[i].in_sync;
  return FALSE;
}

/* The in-sync follower with the least lag, or 0 when there is none. */
static guint
closest_in_sync_follower (const ChatReplStatus *status)
{
  guint best = 0;
  guint64 best_lag = G_MAXUINT64;

  for (guint i = 0; i < status->n_peers; i++)
    {
      const ChatReplPeerStatus *peer = &status->peers[i];

      if (can_take_over (status, peer->node) && peer->lag < best_lag)
        {
          best = peer->node;
          best_lag = peer->lag;
        }
    }
  return best;
}

gboolean
chat_replica_transfer_leadership (ChatReplica *self, guint target, guint *chosen, GError **error)
{
  ChatReplEvent event = { .type = CHAT_REPL_EVENT_ADMIN, .admin = CHAT_REPL_ADMIN_TRANSFER };
  g_autofree ChatReplStatus *status = g_new0 (ChatReplStatus, 1);

  if (!check_running (self, error))
    return FALSE;
  chat_repl_get_status (self->repl, status);
  if (status->role != CHAT_REPL_ROLE_LEADER)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_NOT_LEADER,
                           "This server is not the leader");
      return FALSE;
    }
  if (target == 0)
    target = closest_in_sync_follower (status);
  if (target == 0 || !can_take_over (status, target))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE,
                           "No other server is linked to the leader and in sync, "
                           "so none can take over now");
      return FALSE;
    }
  event.target = target;
  chat_replica_step (self, &event);
  *chosen = target;
  return TRUE;
}

gboolean
chat_replica_force_leader (ChatReplica *self, GError **error)
{
  ChatReplEvent event = { .type = CHAT_REPL_EVENT_ADMIN, .admin = CHAT_REPL_ADMIN_FORCE_LEADER };

  if (!check_running (self, error))
    return FALSE;
  g_warning ("An operator forces this server to lead");
  chat_replica_step (self, &event);
  return TRUE;
}

void
chat_replica_set_tls (ChatReplica *self, ChatTls *tls)
{
  g_set_object (&self->tls, tls);
  chat_peers_set_tls (self->peers, tls);
  if (tls != NULL)
    chat_tls_warn_if_expired (tls);
}

gboolean
chat_replica_reload_certificates (ChatReplica *self, GError **error)
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

/* --- as ChatClusterAdmin ------------------------------------------------------------------ */

static gboolean
admin_step_down (ChatClusterAdmin *admin, GError **error)
{
  return chat_replica_step_down (CHAT_REPLICA (admin), error);
}

static gboolean
admin_snapshot (ChatClusterAdmin *admin, guint64 *index, GError **error)
{
  return chat_replica_take_snapshot (CHAT_REPLICA (admin), index, error);
}

static gboolean
admin_force_leader (ChatClusterAdmin *admin, GError **error)
{
  return chat_replica_force_leader (CHAT_REPLICA (admin), error);
}

static gboolean
admin_reload_certificates (ChatClusterAdmin *admin, GError **error)
{
  return chat_replica_reload_certificates (CHAT_REPLICA (admin), error);
}

/* target is "host:port" of config.ini, or "" for the closest in-sync follower. */
static gboolean
admin_transfer_leadership (ChatClusterAdmin *admin, const char *target, char **chosen,
                           GError **error)
{
  ChatReplica *self = CHAT_REPLICA (admin);
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
  if (!chat_replica_transfer_leadership (self, target_id, &chosen_id, error))
    return FALSE;
  *chosen = g_strdup (chat_replica_address_of (self, chosen_id));
  return TRUE;
}

void
chat_replica_admin_init (ChatClusterAdminInterface *iface)
{
  iface->step_down = admin_step_down;
  iface->snapshot = admin_snapshot;
  iface->force_leader = admin_force_leader;
  iface->reload_certificates = admin_reload_certificates;
  iface->transfer_leadership = admin_transfer_leadership;
}
