/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatAdmin: connects a running replica to systemd (sd_notify), D-Bus and the metrics endpoint. */
#pragma once

#include <glib-object.h>

#include "chat-config.h"
#include "chat-daemon-types.h"
#include "chat-replica.h"

G_BEGIN_DECLS

#define CHAT_TYPE_ADMIN (chat_admin_get_type ())
G_DECLARE_FINAL_TYPE (ChatAdmin, chat_admin, CHAT, ADMIN, GObject)

/* Watches the replica's "status-changed" signal: keeps STATUS= and the D-Bus properties
 * current; D-Bus's admin methods call the replica (ChatClusterAdmin). replica, store,
 * server and config must outlive it. */
ChatAdmin *chat_admin_new (ChatReplica *replica, ChatStore *store, ChatServer *server,
                           const ChatConfig *config, guint16 port);
/* Once the store is loaded and the port is bound: READY=1, and the bus name is requested. */
void chat_admin_ready (ChatAdmin *self);
/* On SIGTERM/SIGINT, before the clean shutdown: STOPPING=1. */
void chat_admin_stopping (ChatAdmin *self);

G_END_DECLS
