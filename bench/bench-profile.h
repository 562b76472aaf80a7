/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --profile: where the local servers spend their processor time during a run, from perf. */
#pragma once

#include "bench-cluster.h"

G_BEGIN_DECLS

typedef struct _BenchProfile BenchProfile;

/* Starts sampling every running local server of cluster (perf record, no call graphs).
 * NULL with error set when perf is missing or cannot sample (perf_event_paranoid). */
BenchProfile *bench_profile_start (BenchCluster *cluster, GError **error);
/* Stops sampling and returns the top functions by own time, one per line
 * ("  12.3%  chatd  libsqlite3.so.0  sqlite3VdbeExec"), at most top lines. */
char *bench_profile_stop (BenchProfile *profile, guint top, GError **error);
void bench_profile_free (BenchProfile *profile);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchProfile, bench_profile_free)

G_END_DECLS
