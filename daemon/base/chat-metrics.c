/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Metrics of one server: counters and histograms fed by the daemon, Prometheus text out. */
#include "config.h"

#include "chat-metrics.h"

#include <string.h>

/* Requests take from tens of microseconds (reads) to seconds (writes during a failover);
 * fsyncs from a fraction of a millisecond to a slow disk's hundreds. */
static const double bucket_bounds[CHAT_METRICS_N_BUCKETS] = {
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
};

/* The op label takes at most this many values (the protocol has fewer operations). */
#define MAX_OPS 64

typedef struct
{
  guint64 buckets[CHAT_METRICS_N_BUCKETS]; /* not cumulative: one count per bucket */
  guint64 count;
  double sum;
} Histogram;

typedef struct
{
  char *op;
  char *label; /* op, escaped for a label value */
  guint64 ok;
  guint64 failed;
  Histogram latency;
} OpStats;

static GMutex lock;
static GPtrArray *ops; /* OpStats *, in order of first use */
static Histogram fsync_latency;
static Histogram loop_stall;
static guint64 leader_changes;

static void
histogram_observe (Histogram *h, double seconds)
{
  guint i = 0;

  while (i < CHAT_METRICS_N_BUCKETS && seconds > bucket_bounds[i])
    i++;
  if (i < CHAT_METRICS_N_BUCKETS)
    h->buckets[i]++;
  h->count++;
  h->sum += seconds;
}

/* Label values escape backslash, double quote and newline. */
static void
append_label_value (GString *out, const char *value)
{
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '\\' || *p == '"')
        g_string_append_c (out, '\\');
      if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

static void
op_stats_free (OpStats *stats)
{
  g_free (stats->op);
  g_free (stats->label);
  g_free (stats);
}

/* Called with the lock held. */
static OpStats *
find_op (const char *op)
{
  OpStats *stats;
  GString *label = NULL;

  if (ops == NULL)
    ops = g_ptr_array_new_with_free_func ((GDestroyNotify)op_stats_free);
  for (guint i = 0; i < ops->len; i++)
    if (g_str_equal (((OpStats *)ops->pdata[i])->op, op))
      return ops->pdata[i];
  if (ops->len >= MAX_OPS)
    return NULL;
  label = g_string_new (NULL);
  append_label_value (label, op);
  stats = g_new0 (OpStats, 1);
  stats->op = g_strdup (op);
  stats->label = g_string_free (label, FALSE);
  g_ptr_array_add (ops, stats);
  return stats;
}

void
chat_metrics_observe_request (const char *op, gboolean ok, double seconds)
{
  OpStats *stats;

  g_mutex_lock (&lock);
  stats = find_op (op != NULL ? op : "invalid");
  if (stats != NULL)
    {
      if (ok)
        stats->ok++;
      else
        stats->failed++;
      histogram_observe (&stats->latency, seconds);
    }
  g_mutex_unlock (&lock);
}

void
chat_metrics_observe_fsync (double seconds)
{
  g_mutex_lock (&lock);
  histogram_observe (&fsync_latency, seconds);
  g_mutex_unlock (&lock);
}

void
chat_metrics_observe_loop_stall (double seconds)
{
  g_mutex_lock (&lock);
  histogram_observe (&loop_stall, seconds);
  g_mutex_unlock (&lock);
}

void
chat_metrics_count_leader_change (void)
{
  g_mutex_lock (&lock);
  leader_changes++;
  g_mutex_unlock (&lock);
}

void
chat_metrics_reset (void)
{
  g_mutex_lock (&lock);
  g_clear_pointer (&ops, g_ptr_array_unref);
  memset (&fsync_latency, 0, sizeof fsync_latency);
  memset (&loop_stall, 0, sizeof loop_stall);
  leader_changes = 0;
  g_mutex_unlock (&lock);
}

/* --- the text format ---------------------------------------------------------------- */

static void
append_header (GString *out, const char *name, const char *type, const char *help)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
append_double (GString *out, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.10g", value));
}

static void
append_gauge (GString *out, const char *name, const char *help, guint64 value)
{
  append_header (out, name, "gauge", help);
  g_string_append_printf (out, "%s %" G_GUINT64_FORMAT "\n", name, value);
}

/* name_bucket{labels,le="..."} lines with cumulative counts, then _sum and _count. */
static void
append_histogram (GString *out, const char *name, const char *labels, const Histogram *h)
{
  const char *sep = *labels != '\0' ? "," : "";
  guint64 cumulative = 0;

  for (guint i = 0; i < CHAT_METRICS_N_BUCKETS; i++)
    {
      cumulative += h->buckets[i];
      g_string_append_printf (out, "%s_bucket{%s%sle=\"", name, labels, sep);
      append_double (out, bucket_bounds[i]);
      g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", cumulative);
    }
  g_string_append_printf (out, "%s_bucket{%s%sle=\"+Inf\"} %" G_GUINT64_FORMAT "\n", name, labels,
                          sep, h->count);
  g_string_append_printf (out, "%s_sum%s%s%s ", name, *labels ? "{" : "", labels,
                          *labels ? "}" : "");
  append_double (out, h->sum);
  g_string_append_printf (out, "\n%s_count%s%s%s %" G_GUINT64_FORMAT "\n", name, *labels ? "{" : "",
                          labels, *labels ? "}" : "", h->count);
}

static void
render_status (GString *out, const ChatStatus *status, guint n_servers)
{
  static const char *const roles[] = { "leader", "follower", "candidate", "recovering" };

  append_header (out, "chatd_info", "gauge", "This server: its address and the cluster mode.");
  g_string_append (out, "chatd_info{node=\"");
  append_label_value (out, status->node != NULL ? status->node : "");
  g_string_append (out, "\",mode=\"");
  append_label_value (out, status->mode != NULL ? status->mode : "");
  g_string_append (out, "\"} 1\n");
  append_header (out, "chatd_role", "gauge",
                 "1 for the role this server has now, 0 for the others.");
  for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
    g_string_append_printf (out, "chatd_role{role=\"%s\"} %d\n", roles[i],
                            g_strcmp0 (status->role, roles[i]) == 0);
  append_gauge (out, "chatd_term", "The current term (as chatctl status shows it).", status->term);
  append_gauge (out, "chatd_has_leader", "1 when this server knows a leader (or is it).",
                status->leader != NULL && *status->leader != '\0');
  append_gauge (out, "chatd_commit_index", "The highest log index known committed.",
                status->commit_index);
  append_gauge (out, "chatd_applied_index", "The highest log index applied to the chat state.",
                status->applied_index);
  append_gauge (out, "chatd_in_sync_servers",
                "Servers in the in-sync set (every write waits for them all).",
                status->in_sync != NULL ? status->in_sync->len : 0);
  append_gauge (out, "chatd_servers", "Servers configured in the cluster.", n_servers);
  append_gauge (out, "chatd_client_connections", "Open client connections.",
                status->connected_clients);
}

static void
render_peers (GString *out, const ChatStatus *status)
{
  append_header (out, "chatd_peer_lag_entries", "gauge",
                 "Log entries a peer is behind this server (known on the leader).");
  for (guint i = 0; status->peers != NULL && i < status->peers->len; i++)
    {
      const ChatPeerStatus *peer = status->peers->pdata[i];

      g_string_append (out, "chatd_peer_lag_entries{peer=\"");
      append_label_value (out, peer->address);
      g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", peer->lag);
    }
  append_header (out, "chatd_peer_up", "gauge",
                 "1 when a peer answers (any state but down or unknown), else 0.");
  for (guint i = 0; status->peers != NULL && i < status->peers->len; i++)
    {
      const ChatPeerStatus *peer = status->peers->pdata[i];
      gboolean up = g_strcmp0 (peer->state, "down") != 0 && g_strcmp0 (peer->state, "unknown") != 0;

      g_string_append (out, "chatd_peer_up{peer=\"");
      append_label_value (out, peer->address);
      g_string_append_printf (out, "\"} %d\n", up);
    }
}

/* Called with the lock held. */
static void
render_counters (GString *out)
{
  append_header (out, "chatd_leader_changes_total", "counter",
                 "Times the leader this server follows (or is) changed to another server.");
  g_string_append_printf (out, "chatd_leader_changes_total %" G_GUINT64_FORMAT "\n",
                          leader_changes);
  append_header (out, "chatd_requests_total", "counter",
                 "Client requests answered, by operation and result (ok or error).");
  for (guint i = 0; ops != NULL && i < ops->len; i++)
    {
      const OpStats *stats = ops->pdata[i];

      g_string_append_printf (
          out,
          "chatd_requests_total{op=\"%s\",result=\"ok\"} %" G_GUINT64_FORMAT
          "\nchatd_requests_total{op=\"%s\",result=\"error\"} %" G_GUINT64_FORMAT "\n",
          stats->label, stats->ok, stats->label, stats->failed);
    }
  append_header (out, "chatd_request_duration_seconds", "histogram",
                 "Time from reading a request line to writing its answer, by operation.");
  for (guint i = 0; ops != NULL && i < ops->len; i++)
    {
      const OpStats *stats = ops->pdata[i];
      g_autofree char *labels = g_strdup_printf ("op=\"%s\"", stats->label);

      append_histogram (out, "chatd_request_duration_seconds", labels, &stats->latency);
    }
  append_header (out, "chatd_fsync_duration_seconds", "histogram",
                 "Time of one durable write of the replication state (an fsynced commit).");
  append_histogram (out, "chatd_fsync_duration_seconds", "", &fsync_latency);
  append_header (out, "chatd_main_loop_stall_seconds", "histogram",
                 "How late a 50 ms main-loop timer ran after it was due (main loop busy).");
  append_histogram (out, "chatd_main_loop_stall_seconds", "", &loop_stall);
}

char *
chat_metrics_render (const ChatStatus *status, guint n_servers)
{
  GString *out = g_string_new (NULL);

  render_status (out, status, n_servers);
  render_peers (out, status);
  g_mutex_lock (&lock);
  render_counters (out);
  g_mutex_unlock (&lock);
  return g_string_free (out, FALSE);
}
