/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatd-bench rejoin: a stopped follower misses E entries, restarts and catches up while
 * live clients keep writing; catch-up rate and live latency against steady state. */
#include "bench-common.h"

#include <signal.h>

#define POLL_US 10000
#define CATCH_UP_TIMEOUT_US (300 * G_USEC_PER_SEC)

typedef struct
{
  BenchCommon common;
  gint64 entries;
  int live_clients;
  int bulk_clients;
  double steady;
} RejoinOptions;

typedef struct
{
  guint64 behind;      /* entries the restarted server lacked */
  double catch_up_s;   /* restart until applied index reached the leader's */
  double first_s;      /* restart until the applied index first moved */
  double rate;         /* behind / catch_up_s */
  double stream_rate;  /* entries per second from the first move to the end */
  BenchSummary steady; /* live traffic before the follower stopped */
  BenchSummary during; /* live traffic while it caught up */
  double p99_ratio;
} RejoinRun;

static gboolean
parse (RejoinOptions *options, int argc, char **argv, GError **error)
{
  GOptionEntry entries[]
      = { { "entries", 'E', 0, G_OPTION_ARG_INT64, &options->entries,
            "Entries written while the follower is down (default 100000)", "E" },
          { "clients", 'c', 0, G_OPTION_ARG_INT, &options->live_clients,
            "Live clients writing throughout (default 16)", "C" },
          { "bulk-clients", 0, 0, G_OPTION_ARG_INT, &options->bulk_clients,
            "Clients writing the E entries (default 64)", "C" },
          { "steady", 0, 0, G_OPTION_ARG_DOUBLE, &options->steady,
            "Seconds of steady-state live traffic measured first (default 5)", "S" },
          { NULL } };
  g_autoptr (GOptionContext) context
      = g_option_context_new ("- catch-up rate of a restarted follower under live traffic");

  bench_common_init (&options->common, 3);
  options->entries = 100000;
  options->live_clients = 16;
  options->bulk_clients = 64;
  options->steady = 5;
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, bench_common_option_group (&options->common));
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
  if (options->common.servers != NULL || options->common.config != NULL || options->common.nodes < 2
      || options->entries < 1 || options->entries > 100000000 || options->live_clients < 1
      || options->bulk_clients < 1 || options->steady <= 0 || options->common.runs < 1)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "rejoin starts its own servers (at least 2); check the values");
      return FALSE;
    }
  return TRUE;
}

static guint
pick_follower (BenchCluster *cluster, guint leader)
{
  return leader == bench_cluster_n_servers (cluster) ? 1 : leader + 1;
}

/* Writes count entries with a separate closed-loop load (bounded by 10 minutes). */
static gboolean
write_bulk (RejoinOptions *options, BenchCluster *cluster, guint leader, GError **error)
{
  BenchLoadOptions bulk = {
    .host = bench_cluster_host (cluster, leader),
    .port = bench_cluster_port (cluster, leader),
    .n_clients = (guint)options->bulk_clients,
    .body_size = 100,
    .n_threads = 1,
  };
  BenchSummary summary;

  return bench_load_run (&bulk, 0, 600, (guint64)options->entries, &summary, NULL, error);
}

/* Polls the follower's applied index until it reaches target; notes when it first moved
 * past start (and the index then). */
static gboolean
wait_caught_up (BenchCluster *cluster, guint follower, guint64 start, guint64 target,
                gint64 *first_at, guint64 *first_index, gint64 *done_at)
{
  gint64 deadline = g_get_monotonic_time () + CATCH_UP_TIMEOUT_US;

  while (g_get_monotonic_time () < deadline)
    {
      guint64 applied = bench_cluster_applied_index (cluster, follower);

      if (*first_at == 0 && applied > start)
        {
          *first_at = g_get_monotonic_time ();
          *first_index = applied;
        }
      if (applied >= target)
        {
          *done_at = g_get_monotonic_time ();
          return TRUE;
        }
      g_usleep (POLL_US);
    }
  return FALSE;
}

static gboolean
measure (RejoinOptions *options, RejoinRun *run, GError **error)
{
  g_autoptr (BenchCluster) cluster = bench_common_cluster (&options->common, error);
  g_autoptr (BenchLoad) live = NULL;
  guint leader = 0, follower = 0;
  gint64 steady_from = G_USEC_PER_SEC, steady_to = 0, restart_at = 0, done_at = 0, first_at = 0;
  guint64 target = 0, start = 0, first_index = 0;
  BenchLoadOptions live_options
      = { .n_clients = (guint)options->live_clients, .body_size = 100, .n_threads = 1 };

  if (cluster == NULL || !bench_cluster_wait_in_sync (cluster, 30000))
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Cluster not in sync");
      return FALSE;
    }
  leader = bench_cluster_wait_leader (cluster, 30000);
  follower = pick_follower (cluster, leader);
  live_options.host = bench_cluster_host (cluster, leader);
  live_options.port = bench_cluster_port (cluster, leader);
  live = bench_load_prepare (&live_options, error);
  if (live == NULL)
    return FALSE;
  bench_load_start (live);
  steady_to = steady_from + (gint64)(options->steady * G_USEC_PER_SEC);
  g_usleep ((gulong)steady_to);
  bench_cluster_signal (cluster, follower, SIGTERM);
  if (!write_bulk (options, cluster, leader, error))
    return FALSE;
  target = bench_cluster_last_log_index (cluster, leader);
  start = bench_cluster_applied_index (cluster, follower);
  run->behind = target - start;
  restart_at = g_get_monotonic_time ();
  if (!bench_cluster_start (cluster, follower, FALSE, error))
    return FALSE;
  if (!wait_caught_up (cluster, follower, start, target, &first_at, &first_index, &done_at))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Node %u did not catch up within %d s",
                   follower, (int)(CATCH_UP_TIMEOUT_US / G_USEC_PER_SEC));
      return FALSE;
    }
  bench_load_stop (live);
  run->catch_up_s = (done_at - restart_at) / 1e6;
  run->rate = run->behind / MAX (run->catch_up_s, 1e-6);
  run->first_s = (first_at - restart_at) / 1e6;
  /* The first move can reach the target at once (a snapshot install): nothing streams. */
  run->stream_rate
      = target > first_index ? (target - first_index) / MAX ((done_at - first_at) / 1e6, 1e-3) : 0;
  bench_summary_compute (&run->steady, bench_load_samples (live), steady_from, steady_to);
  /* Live samples are timed from the load's own start. */
  bench_summary_compute (&run->during, bench_load_samples (live),
                         restart_at - bench_load_start_time (live),
                         done_at - bench_load_start_time (live));
  run->p99_ratio = run->during.p99_ms / MAX (run->steady.p99_ms, 1e-9);
  return TRUE;
}

static JsonObject *
run_to_json (const RejoinRun *run)
{
  JsonObject *object = json_object_new ();

  json_object_set_int_member (object, "entries_behind", (gint64)run->behind);
  json_object_set_double_member (object, "catch_up_s", run->catch_up_s);
  json_object_set_double_member (object, "entries_per_s", run->rate);
  json_object_set_double_member (object, "first_progress_s", run->first_s);
  json_object_set_double_member (object, "entries_per_s_after_first_progress", run->stream_rate);
  json_object_set_object_member (object, "live_steady", bench_summary_to_json (&run->steady));
  json_object_set_object_member (object, "live_during_catch_up",
                                 bench_summary_to_json (&run->during));
  json_object_set_double_member (object, "p99_ratio", run->p99_ratio);
  return object;
}

int
bench_rejoin_main (int argc, char **argv)
{
  RejoinOptions options = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree RejoinRun *runs = NULL;
  g_autofree double *rates = NULL, *ratios = NULL;
  guint n = 0;

  if (!parse (&options, argc, argv, &error))
    {
      g_printerr ("chatd-bench rejoin: %s\n", error->message);
      bench_common_clear (&options.common);
      return 2;
    }
  runs = g_new0 (RejoinRun, options.common.runs);
  rates = g_new0 (double, options.common.runs);
  ratios = g_new0 (double, options.common.runs);
  if (!options.common.json)
    bench_print_host_info ();
  for (; n < (guint)options.common.runs; n++)
    {
      if (!measure (&options, &runs[n], &error))
        break;
      rates[n] = runs[n].rate;
      ratios[n] = runs[n].p99_ratio;
      if (!options.common.json)
        g_print ("run %u: %" G_GUINT64_FORMAT " entries behind, caught up in %.2f s = %.0f "
                 "entries/s (first progress after %.2f s, then %.0f entries/s); live p99 %.3f ms "
                 "steady, %.3f ms during catch-up (x%.2f)\n",
                 n + 1, runs[n].behind, runs[n].catch_up_s, runs[n].rate, runs[n].first_s,
                 runs[n].stream_rate, runs[n].steady.p99_ms, runs[n].during.p99_ms,
                 runs[n].p99_ratio);
    }
  if (error != NULL)
    g_printerr ("chatd-bench rejoin: %s\n", error->message);
  if (n > 0 && options.common.json)
    {
      g_autoptr (JsonObject) out = json_object_new ();
      JsonArray *array = json_array_new ();

      json_object_set_string_member (out, "command", "rejoin");
      json_object_set_object_member (out, "host", bench_host_info ());
      for (guint r = 0; r < n; r++)
        json_array_add_object_element (array, run_to_json (&runs[r]));
      json_object_set_array_member (out, "runs", array);
      json_object_set_double_member (out, "median_entries_per_s", bench_median_double (rates, n));
      json_object_set_double_member (out, "median_p99_ratio", bench_median_double (ratios, n));
      bench_print_json (out);
    }
  else if (n > 0)
    g_print ("median of %u runs: %.0f entries/s, live p99 ratio %.2f\n", n,
             bench_median_double (rates, n), bench_median_double (ratios, n));
  bench_common_clear (&options.common);
  return error != NULL;
}
