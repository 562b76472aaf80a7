/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMetricsServer: serves chat_metrics_render() at GET /metrics over HTTP (libsoup 3). */
#pragma once

#include <glib-object.h>

#include "chat-config.h"
#include "chat-status.h"

G_BEGIN_DECLS

#define CHAT_TYPE_METRICS_SERVER (chat_metrics_server_get_type ())
G_DECLARE_FINAL_TYPE (ChatMetricsServer, chat_metrics_server, CHAT, METRICS_SERVER, GObject)

/* status_func fills the gauges of each scrape (on the main loop); n_servers is the size
 * of the cluster. */
ChatMetricsServer *chat_metrics_server_new (ChatStatusFunc status_func, gpointer user_data,
                                            guint n_servers);
/* Listens on address (plain HTTP); fails when it cannot bind. */
gboolean chat_metrics_server_listen (ChatMetricsServer *self, const ChatServerAddress *address,
                                     GError **error);
/* The port it listens on (after listen; useful with port 0), or 0. */
guint16 chat_metrics_server_get_port (ChatMetricsServer *self);

/* Where server node_id (1-based) of config serves its metrics: [metrics] listen, with the
 * port counted up by node_id - 1 so that servers sharing a host do not collide; NULL when
 * metrics are off. */
ChatServerAddress *chat_metrics_listen_address (const ChatConfig *config, guint node_id);

G_END_DECLS
