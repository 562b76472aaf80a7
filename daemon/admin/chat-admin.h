/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatAdmin: connects a running node to systemd (sd_notify), D-Bus and the journal. */
#pragma once

#include <glib-object.h>

#include "chat-config.h"
#include "chat-daemon-types.h"

G_BEGIN_DECLS

#define CHAT_TYPE_ADMIN (chat_admin_get_type ())
G_DECLARE_FINAL_TYPE (ChatAdmin, chat_admin, CHAT, ADMIN, GObject)

/* Watches node's "status-changed" signal: keeps STATUS= and the D-Bus properties
 * current and logs leader-elected / stepped-down / peer-up / peer-down / in-sync-changed
 * to the journal. node, server and config must outlive it. */
ChatAdmin *chat_admin_new (ChatNode *node, ChatServer *server, const ChatConfig *config,
                           guint16 port);
/* Once the store is loaded and the port is bound: READY=1, and the bus name is requested. */
void chat_admin_ready (ChatAdmin *self);
/* On SIGTERM/SIGINT, before the clean shutdown: STOPPING=1. */
void chat_admin_stopping (ChatAdmin *self);

G_END_DECLS
