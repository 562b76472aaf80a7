/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cluster's health during a measurement: leader changes, in-sync set, main-loop stalls. */
#pragma once

#include "bench-cluster.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define BENCH_MONITOR_MAX_SERVERS 9

typedef struct
{
  guint n_servers;
  guint polls;           /* rounds of hello on every server */
  guint leader_changes;  /* a different leader (or a new leader term) than the one before */
  guint64 terms_started; /* term counters spent on campaigns, as the highest term shows */
  int min_in_sync;       /* smallest in-sync set a leader reported; -1: no leader answered */
  guint no_leader_polls; /* rounds in which no server answered as leader */
  /* From each server's /metrics (-1: unknown, no [metrics] endpoint): main-loop stall p99
   * and the largest stall, as the upper bound of their histogram bucket (+Inf: 1e9), over
   * the run only; and leader changes as that server counted them. */
  double stall_p99_s[BENCH_MONITOR_MAX_SERVERS];
  double stall_max_s[BENCH_MONITOR_MAX_SERVERS];
  guint64 stall_count[BENCH_MONITOR_MAX_SERVERS];
  gint64 server_leader_changes[BENCH_MONITOR_MAX_SERVERS];
} BenchHealth;

typedef struct _BenchMonitor BenchMonitor;

/* Reads every server's metrics now and polls hello on each every 100 ms from a thread
 * of its own until bench_monitor_stop. */
BenchMonitor *bench_monitor_start (BenchCluster *cluster);
/* Stops polling, reads the metrics again and fills health with what happened between. */
void bench_monitor_stop (BenchMonitor *monitor, BenchHealth *health);
void bench_monitor_free (BenchMonitor *monitor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchMonitor, bench_monitor_free)

/* "leader changes 0  elections 0  min in-sync 3/3  stall p99 s1 0.01 s2 ..." */
char *bench_health_to_string (const BenchHealth *health);
JsonObject *bench_health_to_json (const BenchHealth *health);
/* Field by field across runs: the sums of leader changes and elections, the smallest
 * in-sync set, the largest stall p99 of each server. */
void bench_health_merge (BenchHealth *into, const BenchHealth *run);

G_END_DECLS
