/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatd-bench idle: server memory per idle connection, and send load with them open. */
#include "bench-common.h"
#include "bench-conn.h"

#include <sys/socket.h>
#include <unistd.h>

typedef struct
{
  BenchCommon common;
  int connections;
  int clients;
  int size;
  double duration;
  double warmup;
  int server_pid;
} IdleOptions;

typedef struct
{
  BenchSummary without_before;
  BenchSummary with_idle;
  BenchSummary without_after;
  guint64 rss_before;
  guint64 rss_after;
  guint opened;
  guint still_open;
  double bytes_per_connection;
  double ratio;
} IdleRun;

static gboolean
parse (IdleOptions *options, int argc, char **argv, GError **error)
{
  GOptionEntry entries[]
      = { { "connections", 'N', 0, G_OPTION_ARG_INT, &options->connections,
            "Idle connections to hold open (default 10000)", "N" },
          { "clients", 'c', 0, G_OPTION_ARG_INT, &options->clients,
            "Clients of the load compared with and without them (default 64)", "C" },
          { "size", 's', 0, G_OPTION_ARG_INT, &options->size, "Message body in bytes (default 100)",
            "BYTES" },
          { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &options->duration,
            "Measured seconds of each load (default 10)", "S" },
          { "warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &options->warmup,
            "Unmeasured seconds before each load (default 1)", "S" },
          { "server-pid", 0, 0, G_OPTION_ARG_INT, &options->server_pid,
            "PID of the server given with --servers (for its VmRSS)", "PID" },
          { NULL } };
  g_autoptr (GOptionContext) context
      = g_option_context_new ("- memory per idle connection and load with them open");

  bench_common_init (&options->common, 1);
  options->connections = 10000;
  options->clients = 64;
  options->size = 100;
  options->duration = 10;
  options->warmup = 1;
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, bench_common_option_group (&options->common));
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
  if (options->connections < 1 || options->clients < 1 || options->duration <= 0
      || options->duration > 3600 || options->common.runs < 1)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "Bad option value");
      return FALSE;
    }
  if (options->common.servers != NULL && options->server_pid <= 0)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--servers needs --server-pid");
      return FALSE;
    }
  return TRUE;
}

/* Connects n clients that each say hello once and then stay silent. */
static GArray *
open_idle (const char *host, guint16 port, guint n, GError **error)
{
  GArray *fds = g_array_sized_new (FALSE, FALSE, sizeof (int), n);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (BenchConn) conn = bench_conn_new (host, port, 10000, error);
      g_autoptr (JsonObject) reply = NULL;
      g_autoptr (GString) pending = NULL;
      int fd = -1;

      if (conn != NULL)
        reply = bench_conn_request (
            conn, "{\"id\":0,\"op\":\"hello\",\"client\":\"chatd-bench idle\",\"proto\":1}", 10000,
            error);
      if (reply == NULL)
        {
          g_prefix_error (error, "Idle connection %u: ", i + 1);
          for (guint k = 0; k < fds->len; k++)
            close (g_array_index (fds, int, k));
          g_array_unref (fds);
          return NULL;
        }
      fd = bench_conn_steal_fd (conn, &pending);
      g_array_append_val (fds, fd);
    }
  return fds;
}

/* Connections the server has not closed (a read would not return end of stream). */
static guint
count_open (GArray *fds)
{
  guint open = 0;

  for (guint i = 0; i < fds->len; i++)
    {
      char byte;
      ssize_t n = recv (g_array_index (fds, int, i), &byte, 1, MSG_PEEK | MSG_DONTWAIT);

      open += n < 0;
    }
  return open;
}

static void
close_all (GArray *fds)
{
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
}

static gboolean
run_load (IdleOptions *options, BenchCluster *cluster, BenchAccounts **accounts,
          BenchSummary *summary, GError **error)
{
  BenchLoadOptions load = {
    .host = bench_cluster_host (cluster, 1),
    .port = bench_cluster_port (cluster, 1),
    .n_clients = (guint)options->clients,
    .body_size = (gsize)options->size,
    .n_threads = 1,
    .cluster = bench_cluster_is_local (cluster) ? cluster : NULL,
  };

  return bench_load_run_with (&load, accounts, options->warmup, options->duration, 0, summary, NULL,
                              error);
}

static gboolean
measure (IdleOptions *options, IdleRun *run, GError **error)
{
  g_autoptr (BenchCluster) cluster = bench_common_cluster (&options->common, error);
  g_autoptr (GArray) fds = NULL;
  g_autoptr (BenchAccounts) accounts = NULL;
  GPid pid = 0;

  if (cluster == NULL)
    return FALSE;
  pid = bench_cluster_is_local (cluster) ? bench_cluster_pid (cluster, 1) : options->server_pid;
  if (!run_load (options, cluster, &accounts, &run->without_before, error))
    return FALSE;
  run->rss_before = bench_process_rss (pid);
  fds = open_idle (bench_cluster_host (cluster, 1), bench_cluster_port (cluster, 1),
                   (guint)options->connections, error);
  if (fds == NULL)
    return FALSE;
  g_usleep (G_USEC_PER_SEC);
  run->rss_after = bench_process_rss (pid);
  run->opened = fds->len;
  if (!run_load (options, cluster, &accounts, &run->with_idle, error))
    return FALSE;
  run->still_open = count_open (fds);
  close_all (fds);
  g_usleep (G_USEC_PER_SEC / 2);
  if (!run_load (options, cluster, &accounts, &run->without_after, error))
    return FALSE;
  run->bytes_per_connection
      = ((double)run->rss_after - (double)run->rss_before) / (double)run->opened;
  run->ratio = run->with_idle.throughput
               / ((run->without_before.throughput + run->without_after.throughput) / 2);
  return TRUE;
}

static JsonObject *
run_to_json (const IdleRun *run)
{
  JsonObject *object = json_object_new ();

  json_object_set_int_member (object, "rss_before", (gint64)run->rss_before);
  json_object_set_int_member (object, "rss_after", (gint64)run->rss_after);
  json_object_set_int_member (object, "connections", run->opened);
  json_object_set_int_member (object, "still_open", run->still_open);
  json_object_set_double_member (object, "bytes_per_connection", run->bytes_per_connection);
  json_object_set_object_member (object, "load_without_before",
                                 bench_summary_to_json (&run->without_before));
  json_object_set_object_member (object, "load_with_idle", bench_summary_to_json (&run->with_idle));
  json_object_set_object_member (object, "load_without_after",
                                 bench_summary_to_json (&run->without_after));
  json_object_set_double_member (object, "throughput_ratio", run->ratio);
  return object;
}

static void
print_run (guint r, const IdleRun *run)
{
  g_print ("run %u  %u idle connections (%u still open after the load): RSS %.1f -> %.1f MiB, "
           "%.0f bytes per connection\n",
           r + 1, run->opened, run->still_open, run->rss_before / 1048576.0,
           run->rss_after / 1048576.0, run->bytes_per_connection);
  g_print ("run %u  load without %.0f sends/s, with %.0f sends/s, without again %.0f sends/s: "
           "ratio %.3f (p99 %.3f / %.3f / %.3f ms)\n",
           r + 1, run->without_before.throughput, run->with_idle.throughput,
           run->without_after.throughput, run->ratio, run->without_before.p99_ms,
           run->with_idle.p99_ms, run->without_after.p99_ms);
}

int
bench_idle_main (int argc, char **argv)
{
  IdleOptions options = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree IdleRun *runs = NULL;
  g_autofree double *per_conn = NULL, *ratios = NULL;
  guint n_runs = 0;
  int status = 0;

  if (!parse (&options, argc, argv, &error))
    {
      g_printerr ("chatd-bench idle: %s\n", error->message);
      bench_common_clear (&options.common);
      return 2;
    }
  n_runs = (guint)options.common.runs;
  runs = g_new0 (IdleRun, n_runs);
  per_conn = g_new0 (double, n_runs);
  ratios = g_new0 (double, n_runs);
  if (!options.common.json)
    bench_print_host_info ();
  for (guint r = 0; r < n_runs && status == 0; r++)
    {
      if (!measure (&options, &runs[r], &error))
        {
          g_printerr ("chatd-bench idle: %s\n", error->message);
          status = 1;
          break;
        }
      per_conn[r] = runs[r].bytes_per_connection;
      ratios[r] = runs[r].ratio;
      if (!options.common.json)
        print_run (r, &runs[r]);
    }
  if (status == 0 && options.common.json)
    {
      g_autoptr (JsonObject) out = json_object_new ();
      JsonArray *array = json_array_new ();

      json_object_set_string_member (out, "command", "idle");
      json_object_set_object_member (out, "host", bench_host_info ());
      for (guint r = 0; r < n_runs; r++)
        json_array_add_object_element (array, run_to_json (&runs[r]));
      json_object_set_array_member (out, "runs", array);
      json_object_set_double_member (out, "median_bytes_per_connection",
                                     bench_median_double (per_conn, n_runs));
      json_object_set_double_member (out, "median_throughput_ratio",
                                     bench_median_double (ratios, n_runs));
      bench_print_json (out);
    }
  else if (status == 0)
    g_print ("median of %u runs: %.0f bytes per idle connection, throughput ratio %.3f\n", n_runs,
             bench_median_double (per_conn, n_runs), bench_median_double (ratios, n_runs));
  bench_common_clear (&options.common);
  return status;
}
