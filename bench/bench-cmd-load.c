/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatd-bench load: closed-loop sends at one or more client counts, each point R times. */
#include "bench-common.h"
#include "bench-monitor.h"
#include "bench-profile.h"
#include "chat-defaults.h"

#include <stdio.h>
#include <string.h>

/* Lines of perf report printed after each run with --profile. */
#define PROFILE_TOP 15

/* The longest measured point; --size is bounded by the servers' default max_body_bytes. */
#define MAX_DURATION_S 3600

typedef struct
{
  BenchCommon common;
  char *clients;
  int size;
  double duration;
  double warmup;
  gint64 count;
  int threads;
  char *recipient;
  double rate;
  gboolean profile;
} LoadOptions;

static void
load_options_clear (LoadOptions *options)
{
  bench_common_clear (&options->common);
  g_free (options->clients);
  g_free (options->recipient);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LoadOptions, load_options_clear)

static gboolean
parse (LoadOptions *options, int argc, char **argv, GError **error)
{
  GOptionEntry entries[] = {
    { "clients", 'c', 0, G_OPTION_ARG_STRING, &options->clients,
      "Concurrent clients; a list measures each (default 64)", "C[,C…]" },
    { "size", 's', 0, G_OPTION_ARG_INT, &options->size, "Message body in bytes (default 100)",
      "BYTES" },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &options->duration,
      "Measured seconds per point (default 10)", "S" },
    { "warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &options->warmup,
      "Unmeasured seconds before (default 1)", "S" },
    { "count", 0, 0, G_OPTION_ARG_INT64, &options->count,
      "Stop a point after this many acked sends (still bounded by --duration)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &options->threads, "Client threads (default 1)", "T" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &options->rate,
      "At most this many sends per second in all, as etcdctl check perf does (default: no limit)",
      "N" },
    { "profile", 0, 0, G_OPTION_ARG_NONE, &options->profile,
      "After each run, the servers' top functions by processor time (needs perf)", NULL },
    { "recipient", 0, 0, G_OPTION_ARG_STRING, &options->recipient,
      "sink: all send to one offline user (default); peer: client i to client i+1, online",
      "sink|peer" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- closed-loop send load");

  bench_common_init (&options->common, 1);
  options->size = 100;
  options->duration = 10;
  options->warmup = 1;
  options->threads = 1;
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, bench_common_option_group (&options->common));
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
  if (options->size < 1 || options->size > CHAT_DEFAULT_MAX_BODY_BYTES || options->duration <= 0
      || options->duration > MAX_DURATION_S || options->warmup < 0 || options->common.runs < 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--size 1-%d, --duration 0-%d s, --runs at least 1", CHAT_DEFAULT_MAX_BODY_BYTES,
                   MAX_DURATION_S);
      return FALSE;
    }
  return TRUE;
}

static void
print_run (guint run, guint clients, const BenchSummary *summary, guint64 errors,
           const BenchHealth *health)
{
  g_autofree char *line = bench_summary_to_string (summary);
  g_autofree char *cluster = bench_health_to_string (health);

  g_print ("run %u  %4u clients  %s  errors %" G_GUINT64_FORMAT "\n", run, clients, line, errors);
  g_print ("run %u  %4u clients  cluster: %s\n", run, clients, cluster);
}

/* With --profile, the sign-ups (Argon2 on the servers) come before the first profile: the
 * runs resume the accounts. */
static gboolean
sign_up_first (const BenchLoadOptions *load, BenchAccounts **accounts, GError **error)
{
  g_autoptr (BenchLoad) signed_up = bench_load_prepare (load, error);

  if (signed_up == NULL)
    return FALSE;
  *accounts = bench_load_take_accounts (signed_up);
  return TRUE;
}

static BenchProfile *
start_profile (BenchCluster *cluster)
{
  g_autoptr (GError) error = NULL;
  BenchProfile *profile = bench_profile_start (cluster, &error);

  if (profile == NULL)
    g_printerr ("chatd-bench load: no profile: %s\n", error->message);
  return profile;
}

/* On stderr, so that the run lines on stdout (and --json) read as before. */
static void
print_profile (BenchProfile *profile, guint run)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *top = bench_profile_stop (profile, PROFILE_TOP, &error);

  fflush (stdout);
  if (top == NULL)
    g_printerr ("run %u  no profile: %s\n", run, error->message);
  else
    g_printerr ("run %u  servers' top functions by own processor time (perf):\n%s", run, top);
}

/* One point: fresh servers (or the given ones), accounts signed up once, then R runs
 * that resume them, each watched by a monitor from its sign-up to its end. */
static gboolean
measure_point (LoadOptions *options, guint clients, BenchSummary *summaries, guint64 *errors,
               BenchHealth *healths, GError **error)
{
  g_autoptr (BenchCluster) cluster = bench_common_cluster (&options->common, error);
  g_autoptr (BenchAccounts) accounts = NULL;
  BenchLoadOptions load = {
    .n_clients = clients,
    .body_size = (gsize)options->size,
    .n_threads = (guint)MAX (options->threads, 1),
    .recipient
    = g_strcmp0 (options->recipient, "peer") == 0 ? BENCH_RECIPIENT_PEER : BENCH_RECIPIENT_SINK,
    .rate = options->rate,
  };
  guint leader = 0;

  if (cluster == NULL)
    return FALSE;
  load.cluster = bench_cluster_is_local (cluster) ? cluster : NULL;
  leader = bench_cluster_wait_leader (cluster, 30000);
  if (leader == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "No leader");
      return FALSE;
    }
  load.host = bench_cluster_host (cluster, leader);
  load.port = bench_cluster_port (cluster, leader);
  for (guint r = 0; r < (guint)options->common.runs; r++)
    {
      g_autoptr (BenchMonitor) monitor = bench_monitor_start (cluster);
      g_autoptr (BenchProfile) profile = NULL;

      if (options->profile && accounts == NULL && !sign_up_first (&load, &accounts, error))
        return FALSE;
      if (options->profile)
        profile = start_profile (cluster);
      if (!bench_load_run_with (&load, &accounts, options->warmup, options->duration,
                                (guint64)options->count, &summaries[r], &errors[r], error))
        return FALSE;
      bench_monitor_stop (monitor, &healths[r]);
      if (!options->common.json)
        print_run (r + 1, clients, &summaries[r], errors[r], &healths[r]);
      if (profile != NULL)
        print_profile (profile, r + 1);
    }
  return TRUE;
}

static JsonObject *
point_to_json (guint clients, const BenchSummary *runs, guint n_runs, const guint64 *errors,
               const BenchHealth *healths)
{
  JsonObject *point = json_object_new ();
  JsonArray *array = json_array_new ();
  BenchSummary median;

  for (guint r = 0; r < n_runs; r++)
    {
      JsonObject *run = bench_summary_to_json (&runs[r]);

      json_object_set_int_member (run, "errors", (gint64)errors[r]);
      json_object_set_object_member (run, "cluster", bench_health_to_json (&healths[r]));
      json_array_add_object_element (array, run);
    }
  bench_summary_median (&median, runs, n_runs);
  json_object_set_int_member (point, "clients", clients);
  json_object_set_array_member (point, "runs", array);
  json_object_set_object_member (point, "median_of_runs", bench_summary_to_json (&median));
  return point;
}

int
bench_load_main (int argc, char **argv)
{
  g_auto (LoadOptions) options = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) clients = NULL;
  g_autofree BenchSummary *summaries = NULL;
  g_autofree guint64 *errors = NULL;
  g_autofree BenchHealth *healths = NULL;
  guint runs = 0;

  if (!parse (&options, argc, argv, &error)
      || (clients = bench_parse_uint_list (options.clients ? options.clients : "64", &error))
             == NULL)
    {
      g_printerr ("chatd-bench load: %s\n", error->message);
      return 2;
    }
  runs = (guint)options.common.runs;
  summaries = g_new0 (BenchSummary, clients->len * runs);
  errors = g_new0 (guint64, clients->len * runs);
  healths = g_new0 (BenchHealth, clients->len * runs);
  if (!options.common.json)
    bench_print_host_info ();
  for (guint c = 0; c < clients->len; c++)
    if (!measure_point (&options, g_array_index (clients, guint, c), &summaries[c * runs],
                        &errors[c * runs], &healths[c * runs], &error))
      {
        g_printerr ("chatd-bench load: %s\n", error->message);
        return 1;
      }
  if (options.common.json)
    {
      g_autoptr (JsonObject) out = json_object_new ();
      JsonArray *points = json_array_new ();

      json_object_set_string_member (out, "command", "load");
      json_object_set_object_member (out, "host", bench_host_info ());
      json_object_set_int_member (out, "nodes", options.common.servers ? 0 : options.common.nodes);
      json_object_set_int_member (out, "size", options.size);
      json_object_set_double_member (out, "rate_limit", options.rate);
      json_object_set_string_member (out, "recipient",
                                     options.recipient ? options.recipient : "sink");
      for (guint c = 0; c < clients->len; c++)
        json_array_add_object_element (
            points, point_to_json (g_array_index (clients, guint, c), &summaries[c * runs], runs,
                                   &errors[c * runs], &healths[c * runs]));
      json_object_set_array_member (out, "points", points);
      bench_print_json (out);
      return 0;
    }
  for (guint c = 0; c < clients->len && runs > 1; c++)
    {
      BenchSummary median;
      BenchHealth all = { 0 };
      g_autofree char *line = NULL;
      g_autofree char *cluster = NULL;

      bench_summary_median (&median, &summaries[c * runs], runs);
      for (guint r = 0; r < runs; r++)
        bench_health_merge (&all, &healths[c * runs + r]);
      line = bench_summary_to_string (&median);
      cluster = bench_health_to_string (&all);
      g_print ("median of %u runs  %4u clients  %s\n", runs, g_array_index (clients, guint, c),
               line);
      g_print ("all %u runs  %4u clients  cluster: %s\n", runs, g_array_index (clients, guint, c),
               cluster);
    }
  return 0;
}
