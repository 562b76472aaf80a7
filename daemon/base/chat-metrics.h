/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Metrics of one server: counters and histograms fed by the daemon, Prometheus text out. */
#pragma once

#include <glib.h>

#include "chat-status.h"

G_BEGIN_DECLS

/* Upper bounds (seconds) of the latency histograms' buckets; +Inf follows. */
#define CHAT_METRICS_N_BUCKETS 14

/* A client request was answered: op is its operation (NULL for a line that was not a
 * valid request), ok whether it succeeded, seconds from reading its line to the answer. */
void chat_metrics_observe_request (const char *op, gboolean ok, double seconds);
/* A durable write of the replication state (log append, term, snapshot) took seconds:
 * an SQLite commit with synchronous=FULL, which waits for fsync. */
void chat_metrics_observe_fsync (double seconds);
/* The replication timer ran seconds after it was due: how long the main loop was busy
 * elsewhere (apply, fsync, clients) while heartbeats and elections waited. */
void chat_metrics_observe_loop_stall (double seconds);
/* The leader this server follows (or is) changed to another server. */
void chat_metrics_count_leader_change (void);

/* Forgets every count (tests). */
void chat_metrics_reset (void);

/* The Prometheus text exposition (format 0.0.4) of the counters above and of status
 * (role, term, indexes, in-sync set, peers, connections); n_servers is the cluster size. */
char *chat_metrics_render (const ChatStatus *status, guint n_servers);

/* The content type of chat_metrics_render()'s text. */
#define CHAT_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

G_END_DECLS
