/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatd-bench failover: SIGKILL the leader while a client writes; time to the next ack. */
#include "bench-common.h"
#include "bench-conn.h"

#include <signal.h>
#include <string.h>

#define PASSWORD "chatd-bench-password"
#define ATTEMPT_TIMEOUT_MS 200
#define FAILOVER_TIMEOUT_US (30 * G_USEC_PER_SEC)
#define REJOIN_TIMEOUT_MS 120000
#define MAX_REPEAT 10000

typedef struct
{
  BenchCommon common;
  int repeat;
} FailoverOptions;

typedef struct
{
  BenchCluster *cluster;
  char *user;
  char *session;
  guint64 counter;
} Writer;

static gboolean
parse (FailoverOptions *options, int argc, char **argv, GError **error)
{
  GOptionEntry entries[] = { { "repeat", 'R', 0, G_OPTION_ARG_INT, &options->repeat,
                               "Leader kills to measure (default 20)", "R" },
                             { NULL } };
  g_autoptr (GOptionContext) context
      = g_option_context_new ("- time from SIGKILL of the leader to the next acknowledged write");

  bench_common_init (&options->common, 3);
  options->repeat = 20;
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, bench_common_option_group (&options->common));
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
  if (options->common.servers != NULL || options->common.config != NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "failover starts its own servers (it kills them)");
      return FALSE;
    }
  if (options->repeat < 1 || options->repeat > MAX_REPEAT || options->common.nodes < 2)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--repeat 1-%d and at least 2 --nodes", MAX_REPEAT);
      return FALSE;
    }
  return TRUE;
}

/* A connection to node with the writer's session attached; NULL if node is not the
 * leader (yet) or does not answer. */
static BenchConn *
writer_attach (Writer *writer, guint node)
{
  g_autoptr (BenchConn) conn = NULL;
  g_autoptr (JsonObject) reply = NULL;
  g_autofree char *line = NULL;

  if (!bench_cluster_is_running (writer->cluster, node))
    return NULL;
  conn = bench_conn_new (bench_cluster_host (writer->cluster, node),
                         bench_cluster_port (writer->cluster, node), ATTEMPT_TIMEOUT_MS, NULL);
  if (conn == NULL)
    return NULL;
  line = g_strdup_printf ("{\"id\":1,\"op\":\"resume\",\"session\":\"%s\"}", writer->session);
  reply = bench_conn_request (conn, line, ATTEMPT_TIMEOUT_MS * 5, NULL);
  if (reply == NULL || !bench_reply_ok (reply, NULL))
    return NULL;
  return g_steal_pointer (&conn);
}

static char *
send_line (Writer *writer)
{
  return g_strdup_printf ("{\"id\":2,\"op\":\"send\",\"to\":\"%s\",\"body\":\"failover probe\","
                          "\"client_msg_id\":\"f-%" G_GUINT64_FORMAT "\"}",
                          writer->user, writer->counter);
}

/* Sends the current message on conn; TRUE once acknowledged. */
static gboolean
writer_send (Writer *writer, BenchConn *conn, guint timeout_ms)
{
  g_autofree char *line = send_line (writer);
  g_autoptr (JsonObject) reply = bench_conn_request (conn, line, timeout_ms, NULL);

  return reply != NULL && bench_reply_ok (reply, NULL);
}

/* One sign-up on the server that says it leads; FALSE with the error code (or why not). */
static gboolean
signup_once (Writer *writer, char **code)
{
  guint leader = bench_cluster_wait_leader (writer->cluster, 1000);
  g_autoptr (BenchConn) conn = NULL;
  g_autoptr (JsonObject) reply = NULL;
  g_autofree char *line = NULL;
  const char *failure = NULL;

  if (leader == 0)
    {
      *code = g_strdup ("no leader");
      return FALSE;
    }
  conn = bench_conn_new (bench_cluster_host (writer->cluster, leader),
                         bench_cluster_port (writer->cluster, leader), 5000, NULL);
  line = g_strdup_printf ("{\"id\":1,\"op\":\"signup\",\"username\":\"%s\",\"password\":\"" PASSWORD
                          "\"}",
                          writer->user);
  reply = conn != NULL ? bench_conn_request (conn, line, 10000, NULL) : NULL;
  if (reply != NULL && bench_reply_ok (reply, &failure))
    {
      writer->session = g_strdup (json_object_get_string_member (reply, "session"));
      return TRUE;
    }
  *code = g_strdup (reply != NULL ? failure : "no answer");
  return FALSE;
}

/* A server reports "leader" from its election on, and serves once its first entry is
 * applied (it answers "unavailable" in between). So the sign-up is tried again for up to
 * 30 s. */
static gboolean
writer_signup (Writer *writer, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  g_autofree char *code = NULL;

  while (g_get_monotonic_time () < deadline)
    {
      /* A new name each time: an attempt whose answer was lost may have signed up. */
      g_free (writer->user);
      writer->user = g_strdup_printf ("failover%08x", g_random_int ());
      g_clear_pointer (&code, g_free);
      if (signup_once (writer, &code))
        return TRUE;
      g_usleep (20 * 1000);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "signup failed (%s)", code);
  return FALSE;
}

/* Tries every running node until one acknowledges the pending message. */
static gboolean
writer_retry_until_acked (Writer *writer, gint64 deadline, guint *acked_by)
{
  while (g_get_monotonic_time () < deadline)
    {
      for (guint node = 1; node <= bench_cluster_n_servers (writer->cluster); node++)
        {
          g_autoptr (BenchConn) conn = writer_attach (writer, node);

          if (conn != NULL && writer_send (writer, conn, 5000))
            {
              *acked_by = node;
              return TRUE;
            }
        }
      g_usleep (2000);
    }
  return FALSE;
}

/* One kill: returns the milliseconds from SIGKILL to the next acknowledged write. */
static gboolean
measure_once (Writer *writer, guint *killed, double *ms, GError **error)
{
  guint leader = bench_cluster_wait_leader (writer->cluster, 30000);
  g_autoptr (BenchConn) conn = leader ? writer_attach (writer, leader) : NULL;
  g_autofree char *line = NULL;
  gint64 t0 = 0;
  guint acked_by = 0;

  if (conn == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "No leader to attach to");
      return FALSE;
    }
  /* Steady writing first, then a write in flight when the leader dies. */
  for (guint i = 0; i < 5; i++, writer->counter++)
    if (!writer_send (writer, conn, 10000))
      {
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Steady write failed");
        return FALSE;
      }
  line = send_line (writer);
  bench_conn_send_line (conn, line, NULL);
  t0 = g_get_monotonic_time ();
  bench_cluster_signal (writer->cluster, leader, SIGKILL);
  g_clear_pointer (&conn, bench_conn_free);
  if (!writer_retry_until_acked (writer, t0 + FAILOVER_TIMEOUT_US, &acked_by))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "No write was acknowledged within %d s of the kill",
                   (int)(FAILOVER_TIMEOUT_US / G_USEC_PER_SEC));
      return FALSE;
    }
  *ms = (g_get_monotonic_time () - t0) / 1000.0;
  *killed = leader;
  writer->counter++;
  return TRUE;
}

static gboolean
restart (Writer *writer, guint node, GError **error)
{
  if (!bench_cluster_start (writer->cluster, node, FALSE, error))
    return FALSE;
  if (!bench_cluster_wait_in_sync (writer->cluster, REJOIN_TIMEOUT_MS))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "Node %u did not get back in sync within %d s", node, REJOIN_TIMEOUT_MS / 1000);
      return FALSE;
    }
  return TRUE;
}

static void
report (FailoverOptions *options, const double *times, guint n)
{
  g_autofree double *sorted = g_memdup2 (times, sizeof *times * MAX (n, 1));
  double median = bench_median_double (times, n);
  double p99 = bench_percentile_double (sorted, n, 99);
  double max = n ? sorted[n - 1] : 0;

  if (options->common.json)
    {
      g_autoptr (JsonObject) out = json_object_new ();
      JsonArray *array = json_array_new ();

      json_object_set_string_member (out, "command", "failover");
      json_object_set_object_member (out, "host", bench_host_info ());
      json_object_set_int_member (out, "nodes", options->common.nodes);
      for (guint i = 0; i < n; i++)
        json_array_add_double_element (array, times[i]);
      json_object_set_array_member (out, "failover_ms", array);
      json_object_set_double_member (out, "median_ms", median);
      json_object_set_double_member (out, "p99_ms", p99);
      json_object_set_double_member (out, "max_ms", max);
      bench_print_json (out);
      return;
    }
  g_print ("failover over %u kills: median %.1f ms  p99 %.1f ms  max %.1f ms\n", n, median, p99,
           max);
}

int
bench_failover_main (int argc, char **argv)
{
  FailoverOptions options = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (BenchCluster) cluster = NULL;
  Writer writer = { 0 };
  g_autofree double *times = NULL;
  guint done = 0;

  if (!parse (&options, argc, argv, &error))
    {
      g_printerr ("chatd-bench failover: %s\n", error->message);
      bench_common_clear (&options.common);
      return 2;
    }
  times = g_new0 (double, options.repeat);
  if (!options.common.json)
    bench_print_host_info ();
  cluster = bench_common_cluster (&options.common, &error);
  writer.cluster = cluster;
  if (cluster != NULL && writer_signup (&writer, &error))
    for (; done < (guint)options.repeat; done++)
      {
        guint killed = 0;

        if (!measure_once (&writer, &killed, &times[done], &error)
            || !restart (&writer, killed, &error))
          break;
        if (!options.common.json)
          g_print ("kill %u: node %u, next ack after %.1f ms\n", done + 1, killed, times[done]);
      }
  if (error != NULL)
    g_printerr ("chatd-bench failover: %s\n", error->message);
  if (done > 0)
    report (&options, times, done);
  g_free (writer.user);
  g_free (writer.session);
  bench_common_clear (&options.common);
  return error != NULL;
}
