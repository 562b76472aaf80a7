/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatDbus: one server's io.github.chatd.Server1 object on the bus (status + admin). */
#pragma once

#include <gio/gio.h>

#include "chat-cluster-admin.h"
#include "chat-dbus-names.h"
#include "chat-status.h"

G_BEGIN_DECLS

#define CHAT_DBUS_ERROR (chat_dbus_error_quark ())

/* D-Bus errors io.github.chatd.Error.<Name>. */
typedef enum
{
  CHAT_DBUS_ERROR_FAILED,        /* io.github.chatd.Error.Failed */
  CHAT_DBUS_ERROR_NOT_CONFIRMED, /* io.github.chatd.Error.NotConfirmed */
  CHAT_DBUS_ERROR_NOT_LEADER,    /* io.github.chatd.Error.NotLeader */
} ChatDbusError;

GQuark chat_dbus_error_quark (void);

typedef enum
{
  CHAT_DBUS_BUS_NONE,
  CHAT_DBUS_BUS_SYSTEM,
  CHAT_DBUS_BUS_SESSION,
} ChatDbusBus;

#define CHAT_TYPE_DBUS (chat_dbus_get_type ())
G_DECLARE_FINAL_TYPE (ChatDbus, chat_dbus, CHAT, DBUS, GObject)

/* The bus to use: $CHATD_DBUS (system, session or none) when set; else the system
 * bus under systemd (INVOCATION_ID or NOTIFY_SOCKET set); else the session bus
 * when DBUS_SESSION_BUS_ADDRESS is set; else none. */
ChatDbusBus chat_dbus_choose_bus (void);
/* "io.github.chatd.Server<port>". */
char *chat_dbus_name_for_port (guint16 port);

/* status_func fills the properties; it is called on the main loop when a
 * property is read and when chat_dbus_status_changed() runs. */
ChatDbus *chat_dbus_new (guint16 port, ChatStatusFunc status_func, gpointer user_data,
                         GDestroyNotify notify);
/* The admin methods (StepDown, Snapshot, ...) call admin; without one each answers
 * org.freedesktop.DBus.Error.NotSupported. Its CHAT_ERROR_NOT_LEADER becomes
 * io.github.chatd.Error.NotLeader, any other error io.github.chatd.Error.Failed. */
void chat_dbus_set_admin (ChatDbus *self, ChatClusterAdmin *admin);

/* Exports the object and requests the bus name, asynchronously; failures are
 * logged and never fatal (the server works without D-Bus). */
void chat_dbus_start (ChatDbus *self, ChatDbusBus bus);
/* Releases the name and unexports the object (also done on dispose). */
void chat_dbus_stop (ChatDbus *self);
/* TRUE once the bus name is owned (property "name-owned", notified). */
gboolean chat_dbus_get_name_owned (ChatDbus *self);

/* Re-reads the status soon (coalesced) and emits PropertiesChanged for every
 * property whose value changed. Cheap: call it on every cluster change. */
void chat_dbus_status_changed (ChatDbus *self);
/* Does a pending chat_dbus_status_changed() now. */
void chat_dbus_flush (ChatDbus *self);

G_END_DECLS
