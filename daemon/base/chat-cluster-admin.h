/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatClusterAdmin: the operator's requests to a server of the cluster (chatctl over D-Bus). */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define CHAT_TYPE_CLUSTER_ADMIN (chat_cluster_admin_get_type ())
G_DECLARE_INTERFACE (ChatClusterAdmin, chat_cluster_admin, CHAT, CLUSTER_ADMIN, GObject)

/* Each request runs on the main loop and fails with a readable CHAT_ERROR when refused
 * (CHAT_ERROR_NOT_LEADER: ask the leader). A member left NULL fails with
 * G_IO_ERROR_NOT_SUPPORTED. */
struct _ChatClusterAdminInterface
{
  GTypeInterface parent_iface;

  gboolean (*step_down) (ChatClusterAdmin *self, GError **error);
  /* *index: the log index the snapshot covers. */
  gboolean (*snapshot) (ChatClusterAdmin *self, guint64 *index, GError **error);
  /* Only asked once the operator confirmed that acknowledged writes may be lost. */
  gboolean (*force_leader) (ChatClusterAdmin *self, GError **error);
  gboolean (*reload_certificates) (ChatClusterAdmin *self, GError **error);
  /* target: "host:port" of config.ini, or "" for the server's own choice; *chosen: the
   * server asked to take over. */
  gboolean (*transfer_leadership) (ChatClusterAdmin *self, const char *target, char **chosen,
                                   GError **error);
};

gboolean chat_cluster_admin_step_down (ChatClusterAdmin *self, GError **error);
gboolean chat_cluster_admin_snapshot (ChatClusterAdmin *self, guint64 *index, GError **error);
gboolean chat_cluster_admin_force_leader (ChatClusterAdmin *self, GError **error);
gboolean chat_cluster_admin_reload_certificates (ChatClusterAdmin *self, GError **error);
gboolean chat_cluster_admin_transfer_leadership (ChatClusterAdmin *self, const char *target,
                                                 char **chosen, GError **error);

G_END_DECLS
