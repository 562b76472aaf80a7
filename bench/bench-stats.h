/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Latency samples and their summary: percentiles, mean, standard deviation, JSON. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* One acknowledged request: when it completed and how long it took (microseconds,
 * completion time relative to the start of the run). */
typedef struct
{
  gint64 done_us;
  guint32 latency_us;
} BenchSample;

typedef struct
{
  guint64 count;
  double window_s;   /* length of the window the samples were taken from */
  double throughput; /* count / window_s */
  double median_ms;
  double p90_ms;
  double p99_ms;
  double max_ms;
  double mean_ms;
  double stddev_ms;
  double server_cpu_us; /* CPU time (user + system) of the servers per ack, 0 if unknown */
} BenchSummary;

/* Summarizes the samples completed within [from_us, to_us). Sorts a copy. */
void bench_summary_compute (BenchSummary *summary, const GArray *samples, gint64 from_us,
                            gint64 to_us);
JsonObject *bench_summary_to_json (const BenchSummary *summary);
/* "  23456 sends/s  median 1.23 ms  p90 ...": one line, no newline. */
char *bench_summary_to_string (const BenchSummary *summary);
/* The field-by-field median of several runs (for "median of 3 runs"). */
void bench_summary_median (BenchSummary *out, const BenchSummary *runs, guint n_runs);

double bench_median_double (const double *values, guint n);
/* Percentile (0..100) of values, sorted in place. */
double bench_percentile_double (double *values, guint n, double percentile);

G_END_DECLS
