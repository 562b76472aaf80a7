/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatClusterAdmin: the interface's type and the calls that refuse what is not implemented. */
#include "config.h"

#include "chat-cluster-admin.h"

#include <gio/gio.h>

G_DEFINE_INTERFACE (ChatClusterAdmin, chat_cluster_admin, G_TYPE_OBJECT)

static void
chat_cluster_admin_default_init (ChatClusterAdminInterface *iface)
{
}

static gboolean
supported (gconstpointer member, const char *what, GError **error)
{
  if (member != NULL)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "This server does not support %s yet",
               what);
  return FALSE;
}

gboolean
chat_cluster_admin_step_down (ChatClusterAdmin *self, GError **error)
{
  ChatClusterAdminInterface *iface = NULL;

  g_return_val_if_fail (CHAT_IS_CLUSTER_ADMIN (self), FALSE);
  iface = CHAT_CLUSTER_ADMIN_GET_IFACE (self);
  return supported (iface->step_down, "StepDown", error) && iface->step_down (self, error);
}

gboolean
chat_cluster_admin_snapshot (ChatClusterAdmin *self, guint64 *index, GError **error)
{
  ChatClusterAdminInterface *iface = NULL;

  g_return_val_if_fail (CHAT_IS_CLUSTER_ADMIN (self), FALSE);
  iface = CHAT_CLUSTER_ADMIN_GET_IFACE (self);
  return supported (iface->snapshot, "Snapshot", error) && iface->snapshot (self, index, error);
}

gboolean
chat_cluster_admin_force_leader (ChatClusterAdmin *self, GError **error)
{
  ChatClusterAdminInterface *iface = NULL;

  g_return_val_if_fail (CHAT_IS_CLUSTER_ADMIN (self), FALSE);
  iface = CHAT_CLUSTER_ADMIN_GET_IFACE (self);
  return supported (iface->force_leader, "ForceLeader", error) && iface->force_leader (self, error);
}

gboolean
chat_cluster_admin_reload_certificates (ChatClusterAdmin *self, GError **error)
{
  ChatClusterAdminInterface *iface = NULL;

  g_return_val_if_fail (CHAT_IS_CLUSTER_ADMIN (self), FALSE);
  iface = CHAT_CLUSTER_ADMIN_GET_IFACE (self);
  return supported (iface->reload_certificates, "ReloadCertificates", error)
         && iface->reload_certificates (self, error);
}

gboolean
chat_cluster_admin_transfer_leadership (ChatClusterAdmin *self, const char *target, char **chosen,
                                        GError **error)
{
  ChatClusterAdminInterface *iface = NULL;

  g_return_val_if_fail (CHAT_IS_CLUSTER_ADMIN (self), FALSE);
  iface = CHAT_CLUSTER_ADMIN_GET_IFACE (self);
  return supported (iface->transfer_leadership, "TransferLeadership", error)
         && iface->transfer_leadership (self, target, chosen, error);
}
