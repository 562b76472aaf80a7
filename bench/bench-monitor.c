/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cluster's health during a measurement: leader changes, in-sync set, main-loop stalls.
 *
 * A thread asks every server hello every 100 ms (the leader reports the in-sync set, every
 * server its term and leader), and each server's Prometheus endpoint is read before and
 * after the run: the difference of its main-loop stall histogram is the run's own. */
#include "bench-monitor.h"
#include "bench-conn.h"

#include <gio/gio.h>
#include <string.h>

#define POLL_INTERVAL_US (100 * 1000)
#define HELLO_TIMEOUT_MS 1000
#define METRICS_TIMEOUT_S 5
#define MAX_BUCKETS 32

/* One reading of a server's stall histogram (cumulative counts, as Prometheus gives them). */
typedef struct
{
  gboolean valid;
  guint n_buckets;
  double bound[MAX_BUCKETS]; /* le; +Inf as 1e9 */
  guint64 cumulative[MAX_BUCKETS];
  guint64 leader_changes;
} MetricsReading;

struct _BenchMonitor
{
  BenchCluster *cluster;
  GThread *thread;
  int stopping; /* atomic */
  MetricsReading before[BENCH_MONITOR_MAX_SERVERS];
  BenchHealth health; /* the polling thread's findings */
  guint64 last_leader_term;
  guint64 first_term;
  guint64 highest_term;
};

/* --- metrics over HTTP ------------------------------------------------------------- */

static char *
http_get_metrics (const char *host, guint16 port)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autofree char *request
      = g_strdup_printf ("GET /metrics HTTP/1.0\r\nHost: %s:%u\r\n\r\n", host, port);
  g_autoptr (GString) text = g_string_new (NULL);
  GInputStream *in = NULL;
  char buf[16384];
  gssize n = 0;

  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_client_set_timeout (client, METRICS_TIMEOUT_S);
  connection = g_socket_client_connect_to_host (client, host, port, NULL, NULL);
  if (connection == NULL
      || !g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                     request, strlen (request), NULL, NULL, NULL))
    return NULL;
  in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0 && text->len < 4 << 20)
    g_string_append_len (text, buf, n);
  return n < 0 ? NULL : g_string_free (g_steal_pointer (&text), FALSE);
}

static void
parse_bucket (MetricsReading *reading, const char *line)
{
  const char *le = strstr (line, "le=\"");
  const char *value = strrchr (line, ' ');
  guint i = reading->n_buckets;

  if (le == NULL || value == NULL || i >= MAX_BUCKETS)
    return;
  le += strlen ("le=\"");
  reading->bound[i] = g_str_has_prefix (le, "+Inf") ? 1e9 : g_ascii_strtod (le, NULL);
  reading->cumulative[i] = g_ascii_strtoull (value + 1, NULL, 10);
  reading->n_buckets++;
}

static MetricsReading
read_metrics (BenchCluster *cluster, guint node)
{
  MetricsReading reading = { 0 };
  g_autofree char *host = NULL;
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint16 port = 0;

  if (!bench_cluster_metrics_address (cluster, node, &host, &port)
      || (text = http_get_metrics (host, port)) == NULL)
    return reading;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "chatd_main_loop_stall_seconds_bucket{"))
        parse_bucket (&reading, lines[i]);
      else if (g_str_has_prefix (lines[i], "chatd_leader_changes_total "))
        reading.leader_changes
            = g_ascii_strtoull (lines[i] + strlen ("chatd_leader_changes_total "), NULL, 10);
    }
  reading.valid = reading.n_buckets > 0;
  return reading;
}

/* The bucket bound under which fraction of the run's stalls fall. */
static double
bucket_quantile (const MetricsReading *before, const MetricsReading *after, double fraction)
{
  guint last = after->n_buckets - 1;
  guint64 total = after->cumulative[last] - before->cumulative[last];

  for (guint i = 0; i < after->n_buckets; i++)
    {
      guint64 below = after->cumulative[i] - before->cumulative[i];

      if ((double)below >= fraction * (double)total)
        return after->bound[i];
    }
  return after->bound[last];
}

static void
fill_stalls (BenchMonitor *monitor, guint node, BenchHealth *health)
{
  const MetricsReading *before = &monitor->before[node - 1];
  MetricsReading after = read_metrics (monitor->cluster, node);
  guint i = node - 1;

  health->stall_p99_s[i] = health->stall_max_s[i] = -1;
  health->server_leader_changes[i] = -1;
  if (!before->valid || !after.valid || before->n_buckets != after.n_buckets)
    return;
  health->stall_count[i]
      = after.cumulative[after.n_buckets - 1] - before->cumulative[before->n_buckets - 1];
  health->stall_p99_s[i] = bucket_quantile (before, &after, 0.99);
  health->stall_max_s[i] = bucket_quantile (before, &after, 1.0);
  health->server_leader_changes[i] = (gint64)(after.leader_changes - before->leader_changes);
}

/* --- hello polling ----------------------------------------------------------------- */

static int
count_in_sync (JsonObject *hello)
{
  JsonArray *servers = json_object_get_array_member (hello, "servers");
  int n = 0;

  for (guint i = 0; servers != NULL && i < json_array_get_length (servers); i++)
    n += json_object_get_boolean_member_with_default (json_array_get_object_element (servers, i),
                                                      "in_sync", FALSE);
  return n;
}

/* A leader with a term other than the last leader's is a change (a new election won). */
static void
note_leader (BenchMonitor *monitor, JsonObject *hello)
{
  BenchHealth *health = &monitor->health;
  guint64 term = (guint64)json_object_get_int_member_with_default (hello, "term", 0);
  int in_sync = count_in_sync (hello);

  if (monitor->last_leader_term != 0 && term != monitor->last_leader_term)
    health->leader_changes++;
  monitor->last_leader_term = MAX (monitor->last_leader_term, term);
  if (health->min_in_sync < 0 || in_sync < health->min_in_sync)
    health->min_in_sync = in_sync;
}

static void
poll_once (BenchMonitor *monitor)
{
  gboolean leader_seen = FALSE;

  for (guint node = 1; node <= monitor->health.n_servers; node++)
    {
      g_autoptr (JsonObject) hello = NULL;
      guint64 term = 0;

      if (!bench_cluster_is_running (monitor->cluster, node))
        continue;
      hello = bench_hello (bench_cluster_host (monitor->cluster, node),
                           bench_cluster_port (monitor->cluster, node), HELLO_TIMEOUT_MS);
      if (hello == NULL || !json_object_get_boolean_member_with_default (hello, "ok", FALSE))
        continue;
      term = (guint64)json_object_get_int_member_with_default (hello, "term", 0);
      if (monitor->first_term == 0)
        monitor->first_term = term;
      monitor->highest_term = MAX (monitor->highest_term, term);
      if (g_strcmp0 (json_object_get_string_member_with_default (hello, "role", ""), "leader") == 0)
        {
          note_leader (monitor, hello);
          leader_seen = TRUE;
        }
    }
  monitor->health.polls++;
  monitor->health.no_leader_polls += !leader_seen;
}

static gpointer
monitor_main (gpointer data)
{
  BenchMonitor *monitor = data;

  while (!__atomic_load_n (&monitor->stopping, __ATOMIC_RELAXED))
    {
      gint64 next = g_get_monotonic_time () + POLL_INTERVAL_US;

      poll_once (monitor);
      while (!__atomic_load_n (&monitor->stopping, __ATOMIC_RELAXED)
             && g_get_monotonic_time () < next)
        g_usleep (10 * 1000);
    }
  return NULL;
}

BenchMonitor *
bench_monitor_start (BenchCluster *cluster)
{
  BenchMonitor *monitor = g_new0 (BenchMonitor, 1);

  monitor->cluster = cluster;
  monitor->health.n_servers = MIN (bench_cluster_n_servers (cluster), BENCH_MONITOR_MAX_SERVERS);
  monitor->health.min_in_sync = -1;
  for (guint node = 1; node <= monitor->health.n_servers; node++)
    monitor->before[node - 1] = read_metrics (cluster, node);
  monitor->thread = g_thread_new ("bench-monitor", monitor_main, monitor);
  return monitor;
}

void
bench_monitor_stop (BenchMonitor *monitor, BenchHealth *health)
{
  if (monitor->thread != NULL)
    {
      __atomic_store_n (&monitor->stopping, 1, __ATOMIC_RELAXED);
      g_thread_join (monitor->thread);
      monitor->thread = NULL;
    }
  *health = monitor->health;
  /* Terms are counter * 256 + node id: the counters spent are the campaigns started. */
  health->terms_started = (monitor->highest_term >> 8) - (monitor->first_term >> 8);
  for (guint node = 1; node <= health->n_servers; node++)
    {
      fill_stalls (monitor, node, health);
      /* A leader that came and went between two polls still shows in the servers' own
       * counts of the leaders they followed. */
      if (health->server_leader_changes[node - 1] > (gint64)health->leader_changes)
        health->leader_changes = (guint)health->server_leader_changes[node - 1];
    }
}

void
bench_monitor_free (BenchMonitor *monitor)
{
  BenchHealth ignored;

  if (monitor == NULL)
    return;
  if (monitor->thread != NULL)
    bench_monitor_stop (monitor, &ignored);
  g_free (monitor);
}

/* --- reporting --------------------------------------------------------------------- */

static void
append_seconds (GString *out, double seconds)
{
  if (seconds < 0)
    g_string_append (out, "?");
  else if (seconds >= 1e9)
    g_string_append (out, ">5s");
  else
    g_string_append_printf (out, "%g", seconds);
}

char *
bench_health_to_string (const BenchHealth *health)
{
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "leader changes %u  elections %" G_GUINT64_FORMAT "  min in-sync ",
                          health->leader_changes, health->terms_started);
  if (health->min_in_sync < 0)
    g_string_append (out, "?");
  else
    g_string_append_printf (out, "%d", health->min_in_sync);
  g_string_append_printf (out, "/%u  no-leader polls %u/%u  stall p99/max (s)", health->n_servers,
                          health->no_leader_polls, health->polls);
  for (guint i = 0; i < health->n_servers; i++)
    {
      g_string_append_printf (out, " s%u ", i + 1);
      append_seconds (out, health->stall_p99_s[i]);
      g_string_append_c (out, '/');
      append_seconds (out, health->stall_max_s[i]);
    }
  return g_string_free (out, FALSE);
}

JsonObject *
bench_health_to_json (const BenchHealth *health)
{
  JsonObject *object = json_object_new ();
  JsonArray *servers = json_array_new ();

  json_object_set_int_member (object, "leader_changes", health->leader_changes);
  json_object_set_int_member (object, "elections", (gint64)health->terms_started);
  json_object_set_int_member (object, "min_in_sync", health->min_in_sync);
  json_object_set_int_member (object, "no_leader_polls", health->no_leader_polls);
  json_object_set_int_member (object, "polls", health->polls);
  for (guint i = 0; i < health->n_servers; i++)
    {
      JsonObject *server = json_object_new ();

      json_object_set_double_member (server, "stall_p99_s", health->stall_p99_s[i]);
      json_object_set_double_member (server, "stall_max_s", health->stall_max_s[i]);
      json_object_set_int_member (server, "stall_samples", (gint64)health->stall_count[i]);
      json_object_set_int_member (server, "leader_changes", health->server_leader_changes[i]);
      json_array_add_object_element (servers, server);
    }
  json_object_set_array_member (object, "servers", servers);
  return object;
}

void
bench_health_merge (BenchHealth *into, const BenchHealth *run)
{
  if (into->n_servers == 0)
    {
      *into = *run;
      return;
    }
  into->polls += run->polls;
  into->leader_changes += run->leader_changes;
  into->terms_started += run->terms_started;
  into->no_leader_polls += run->no_leader_polls;
  if (run->min_in_sync >= 0 && (into->min_in_sync < 0 || run->min_in_sync < into->min_in_sync))
    into->min_in_sync = run->min_in_sync;
  for (guint i = 0; i < MIN (into->n_servers, run->n_servers); i++)
    {
      into->stall_p99_s[i] = MAX (into->stall_p99_s[i], run->stall_p99_s[i]);
      into->stall_max_s[i] = MAX (into->stall_max_s[i], run->stall_max_s[i]);
      into->stall_count[i] += run->stall_count[i];
      into->server_leader_changes[i] += MAX (run->server_leader_changes[i], 0);
    }
}
