/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Latency samples and their summary: percentiles, mean, standard deviation, JSON. */
#include "bench-stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int
compare_u32 (const void *a, const void *b)
{
  guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;

  return (x > y) - (x < y);
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted microsecond values, in milliseconds. */
static double
rank_ms (const guint32 *sorted, guint64 n, double percentile)
{
  guint64 rank = (guint64)ceil (percentile / 100.0 * (double)n);

  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return sorted[rank - 1] / 1000.0;
}

void
bench_summary_compute (BenchSummary *summary, const GArray *samples, gint64 from_us, gint64 to_us)
{
  g_autofree guint32 *values = g_new (guint32, MAX (samples->len, 1));
  guint64 n = 0;
  double sum = 0, sum_sq = 0;

  memset (summary, 0, sizeof *summary);
  summary->window_s = (double)(to_us - from_us) / 1e6;
  for (guint i = 0; i < samples->len; i++)
    {
      const BenchSample *sample = &g_array_index (samples, BenchSample, i);

      if (sample->done_us < from_us || sample->done_us >= to_us)
        continue;
      values[n++] = sample->latency_us;
      sum += sample->latency_us / 1000.0;
      sum_sq += (sample->latency_us / 1000.0) * (sample->latency_us / 1000.0);
    }
  summary->count = n;
  if (summary->window_s > 0)
    summary->throughput = (double)n / summary->window_s;
  if (n == 0)
    return;
  qsort (values, n, sizeof *values, compare_u32);
  summary->median_ms = rank_ms (values, n, 50);
  summary->p90_ms = rank_ms (values, n, 90);
  summary->p99_ms = rank_ms (values, n, 99);
  summary->max_ms = values[n - 1] / 1000.0;
  summary->mean_ms = sum / (double)n;
  summary->stddev_ms = sqrt (MAX (0.0, sum_sq / (double)n - summary->mean_ms * summary->mean_ms));
}

JsonObject *
bench_summary_to_json (const BenchSummary *summary)
{
  JsonObject *object = json_object_new ();
  JsonObject *latency = json_object_new ();

  json_object_set_int_member (object, "acked", (gint64)summary->count);
  json_object_set_double_member (object, "window_s", summary->window_s);
  json_object_set_double_member (object, "throughput", summary->throughput);
  json_object_set_double_member (latency, "median", summary->median_ms);
  json_object_set_double_member (latency, "p90", summary->p90_ms);
  json_object_set_double_member (latency, "p99", summary->p99_ms);
  json_object_set_double_member (latency, "max", summary->max_ms);
  json_object_set_double_member (latency, "mean", summary->mean_ms);
  json_object_set_double_member (latency, "stddev", summary->stddev_ms);
  json_object_set_object_member (object, "latency_ms", latency);
  if (summary->server_cpu_us > 0)
    json_object_set_double_member (object, "server_cpu_us_per_ack", summary->server_cpu_us);
  return object;
}

char *
bench_summary_to_string (const BenchSummary *summary)
{
  g_autofree char *cpu = summary->server_cpu_us > 0
                             ? g_strdup_printf ("  server CPU %.0f us/ack", summary->server_cpu_us)
                             : g_strdup ("");

  return g_strdup_printf ("%8.0f sends/s  median %.3f ms  p90 %.3f ms  p99 %.3f ms  "
                          "max %.3f ms  stddev %.3f ms  (%" G_GUINT64_FORMAT " in %.1f s)%s",
                          summary->throughput, summary->median_ms, summary->p90_ms, summary->p99_ms,
                          summary->max_ms, summary->stddev_ms, summary->count, summary->window_s,
                          cpu);
}

double
bench_percentile_double (double *values, guint n, double percentile)
{
  guint rank = 0;

  if (n == 0)
    return 0;
  qsort (values, n, sizeof *values, compare_double);
  rank = (guint)ceil (percentile / 100.0 * n);
  return values[CLAMP (rank, 1, n) - 1];
}

double
bench_median_double (const double *values, guint n)
{
  g_autofree double *copy = g_memdup2 (values, sizeof *values * MAX (n, 1));

  if (n == 0)
    return 0;
  qsort (copy, n, sizeof *copy, compare_double);
  return n % 2 ? copy[n / 2] : (copy[n / 2 - 1] + copy[n / 2]) / 2;
}

void
bench_summary_median (BenchSummary *out, const BenchSummary *runs, guint n_runs)
{
  g_autofree double *values = g_new (double, MAX (n_runs, 1));
  const gsize offsets[] = {
    G_STRUCT_OFFSET (BenchSummary, window_s),      G_STRUCT_OFFSET (BenchSummary, throughput),
    G_STRUCT_OFFSET (BenchSummary, median_ms),     G_STRUCT_OFFSET (BenchSummary, p90_ms),
    G_STRUCT_OFFSET (BenchSummary, p99_ms),        G_STRUCT_OFFSET (BenchSummary, max_ms),
    G_STRUCT_OFFSET (BenchSummary, mean_ms),       G_STRUCT_OFFSET (BenchSummary, stddev_ms),
    G_STRUCT_OFFSET (BenchSummary, server_cpu_us),
  };

  memset (out, 0, sizeof *out);
  if (n_runs == 0)
    return;
  for (guint f = 0; f < G_N_ELEMENTS (offsets); f++)
    {
      for (guint i = 0; i < n_runs; i++)
        values[i] = G_STRUCT_MEMBER (double, &runs[i], offsets[f]);
      G_STRUCT_MEMBER (double, out, offsets[f]) = bench_median_double (values, n_runs);
    }
  for (guint i = 0; i < n_runs; i++)
    values[i] = (double)runs[i].count;
  out->count = (guint64)bench_median_double (values, n_runs);
}
