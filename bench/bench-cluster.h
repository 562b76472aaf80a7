/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The servers a benchmark talks to: chatd processes it starts itself, or given addresses. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BenchCluster BenchCluster;

/* n chatd servers on free loopback ports with fresh state directories under a temp
 * directory. mode: "available" or "quorum" (NULL: available). settings: extra
 * "group.key=value" lines for config.ini (may be NULL). Nothing runs yet. */
BenchCluster *bench_cluster_new_local (guint n, const char *mode, const char *const *settings,
                                       GError **error);
/* Servers someone else runs: "host:port,host:port,...". */
BenchCluster *bench_cluster_new_external (const char *servers, GError **error);
void bench_cluster_free (BenchCluster *cluster); /* kills what it started, removes its files */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchCluster, bench_cluster_free)

/* The chatd binary used for local servers: --chatd, $CHATD_BUILD_ROOT/daemon/chatd,
 * the build tree this program was built in, or "chatd" from PATH. */
void bench_cluster_set_chatd_path (const char *path);

/* Starts node (1-based) and waits until it answers hello. */
gboolean bench_cluster_start (BenchCluster *cluster, guint node, gboolean primary, GError **error);
/* Starts every node (node 1 with --primary) and waits for a leader. */
gboolean bench_cluster_start_all (BenchCluster *cluster, GError **error);
/* Sends signum to node and waits for it to exit. */
void bench_cluster_signal (BenchCluster *cluster, guint node, int signum);
gboolean bench_cluster_is_running (BenchCluster *cluster, guint node);

/* The node answering hello as leader, polling until timeout; 0 if none. */
guint bench_cluster_wait_leader (BenchCluster *cluster, guint timeout_ms);
/* TRUE once the leader reports every server up and in sync. */
gboolean bench_cluster_wait_in_sync (BenchCluster *cluster, guint timeout_ms);

guint bench_cluster_n_servers (BenchCluster *cluster);
/* The Prometheus endpoint of node: local servers get one ([metrics] listen, ports counting
 * up from a free one); running servers when bench_cluster_set_metrics named the first. */
void bench_cluster_set_metrics (BenchCluster *cluster, const char *host, guint16 first_port);
gboolean bench_cluster_metrics_address (BenchCluster *cluster, guint node, char **host,
                                        guint16 *port);
gboolean bench_cluster_is_local (BenchCluster *cluster);
const char *bench_cluster_host (BenchCluster *cluster, guint node);
guint16 bench_cluster_port (BenchCluster *cluster, guint node);
GPid bench_cluster_pid (BenchCluster *cluster, guint node); /* 0 when not running */
/* Read from the node's database (read-only, while it runs): applied index and last
 * log index; 0 when unknown. */
guint64 bench_cluster_applied_index (BenchCluster *cluster, guint node);
guint64 bench_cluster_last_log_index (BenchCluster *cluster, guint node);

/* CPU time (user + system) of a process in microseconds, from /proc/PID/stat. */
guint64 bench_process_cpu_us (GPid pid);
/* The sum over every running local server. */
guint64 bench_cluster_cpu_us (BenchCluster *cluster);

/* VmRSS of a process in bytes, from /proc/PID/status; 0 if unknown. */
guint64 bench_process_rss (GPid pid);

G_END_DECLS
