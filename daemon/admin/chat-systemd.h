/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatSystemd: sd_notify READY/STATUS/STOPPING and the health-gated watchdog keepalive. */
#pragma once

#include <glib-object.h>

#include "chat-status.h"

G_BEGIN_DECLS

#define CHAT_TYPE_SYSTEMD (chat_systemd_get_type ())
G_DECLARE_FINAL_TYPE (ChatSystemd, chat_systemd, CHAT, SYSTEMD, GObject)

/* Provided by the daemon: TRUE when the store and the loop are healthy. While it
 * returns FALSE the watchdog is not fed, so systemd restarts a wedged server. */
typedef gboolean (*ChatHealthFunc) (gpointer user_data, GError **error);

/* Everything is a no-op when not run by systemd (no NOTIFY_SOCKET) or when built
 * without libsystemd. The watchdog timer starts here when WATCHDOG_USEC is set. */
ChatSystemd *chat_systemd_new (void);

/* TRUE when the service manager listens for notifications (NOTIFY_SOCKET is set). */
gboolean chat_systemd_is_supervised (void);
/* Half of WATCHDOG_USEC in microseconds (the keepalive period), or 0 when disabled. */
guint64 chat_systemd_get_watchdog_interval (ChatSystemd *self);

void chat_systemd_set_status_func (ChatSystemd *self, ChatStatusFunc func, gpointer user_data,
                                   GDestroyNotify notify);
void chat_systemd_set_health_func (ChatSystemd *self, ChatHealthFunc func, gpointer user_data,
                                   GDestroyNotify notify);

/* READY=1 with the current STATUS= (call once state is loaded and the port is bound). */
void chat_systemd_ready (ChatSystemd *self);
/* Re-reads the status through the status func and sends STATUS= if the text
 * changed; coalesced, so it is cheap to call on every cluster change. */
void chat_systemd_status_changed (ChatSystemd *self);
/* STOPPING=1 (on SIGTERM, before the clean shutdown). STATUS= updates stop; the
 * keepalive goes on while the main loop runs, so a slow shutdown is not killed. */
void chat_systemd_stopping (ChatSystemd *self);

G_END_DECLS
