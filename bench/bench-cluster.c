/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The servers a benchmark talks to: chatd processes it starts itself (tests/lib's cluster
 * launcher), or given addresses; and what the benchmark reads of them. */
#include "config.h"

#include "bench-cluster.h"
#include "bench-conn.h"
#include "chat-test-cluster.h"
#include "chat-test-db.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct _BenchCluster
{
  gboolean local;
  ChatTestCluster *servers;
  char *metrics_host;
  guint16 metrics_port; /* node i's endpoint is metrics_port + i - 1; 0: none */
};

/* Local servers: a start takes this long at most; one hello while waiting, 1 s. */
static const ChatTestClusterTiming timing = {
  .start_ms = 30000,
  .ready_hello_ms = 1000,
  .ready_poll_ms = 10,
  .leader_hello_ms = 1000,
  .leader_poll_ms = 5,
};

static char *chatd_path_override;

void
bench_cluster_set_chatd_path (const char *path)
{
  g_free (chatd_path_override);
  chatd_path_override = g_strdup (path);
}

static char *
chatd_path (void)
{
  const char *build_root = g_getenv ("CHATD_BUILD_ROOT");
  g_autofree char *in_tree = g_build_filename (BENCH_BUILD_ROOT, "daemon", "chatd", NULL);

  if (chatd_path_override != NULL)
    return g_strdup (chatd_path_override);
  if (build_root != NULL)
    return g_build_filename (build_root, "daemon", "chatd", NULL);
  if (g_file_test (in_tree, G_FILE_TEST_IS_EXECUTABLE))
    return g_steal_pointer (&in_tree);
  return g_strdup ("chatd");
}

static gboolean
port_free (guint16 port)
{
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean free_port = FALSE;

  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  free_port = fd >= 0 && bind (fd, (struct sockaddr *)&address, sizeof address) == 0;
  if (fd >= 0)
    close (fd);
  return free_port;
}

/* n consecutive free ports that no server uses, for the servers' metrics endpoints. */
static guint16
pick_metrics_ports (ChatTestCluster *servers, guint n)
{
  for (guint attempt = 0; attempt < 100; attempt++)
    {
      guint16 first = chat_test_cluster_pick_port (servers);
      gboolean ok = first > 0 && first < 65535 - n;

      for (guint i = 0; ok && i < n; i++)
        for (guint s = 1; ok && s <= n; s++)
          ok = chat_test_cluster_port (servers, s) != first + i;
      for (guint i = 1; ok && i < n; i++)
        ok = port_free ((guint16)(first + i));
      if (ok)
        return first;
    }
  return 0;
}

/* --set metrics.listen=HOST:PORT replaces the ports picked for the metrics endpoints. */
static void
use_metrics_listen (BenchCluster *cluster, const char *listen)
{
  const char *colon = strrchr (listen, ':');
  guint64 port = 0;

  cluster->metrics_port = 0;
  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return;
  g_free (cluster->metrics_host);
  cluster->metrics_host = g_strndup (listen, (gsize)(colon - listen));
  cluster->metrics_port = (guint16)port;
}

/* The metrics endpoint and the --set group.key=value lines, into config.ini. */
static gboolean
configure (BenchCluster *cluster, const char *const *settings, GError **error)
{
  if (cluster->metrics_port != 0)
    {
      g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", cluster->metrics_port);

      chat_test_cluster_set_option (cluster->servers, "metrics", "listen", listen);
    }
  for (guint i = 0; settings != NULL && settings[i] != NULL; i++)
    {
      const char *dot = strchr (settings[i], '.'), *eq = strchr (settings[i], '=');
      g_autofree char *group = NULL, *key = NULL;

      if (dot == NULL || eq == NULL || eq < dot)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--set wants group.key=value, not “%s”", settings[i]);
          return FALSE;
        }
      group = g_strndup (settings[i], (gsize)(dot - settings[i]));
      key = g_strndup (dot + 1, (gsize)(eq - dot - 1));
      chat_test_cluster_set_option (cluster->servers, group, key, eq + 1);
      if (g_str_equal (group, "metrics") && g_str_equal (key, "listen"))
        use_metrics_listen (cluster, eq + 1);
    }
  return TRUE;
}

BenchCluster *
bench_cluster_new_local (guint n, const char *mode, const char *const *settings, GError **error)
{
  g_autoptr (BenchCluster) cluster = g_new0 (BenchCluster, 1);
  g_autofree char *chatd = chatd_path ();

  cluster->local = TRUE;
  cluster->servers = chat_test_cluster_new_full (n, mode, "chatd-bench-XXXXXX", error);
  if (cluster->servers == NULL)
    return NULL;
  chat_test_cluster_set_keep (cluster->servers, g_getenv ("CHATD_BENCH_KEEP") != NULL);
  chat_test_cluster_set_chatd (cluster->servers, chatd);
  chat_test_cluster_set_timing (cluster->servers, &timing);
  chat_test_cluster_set_tls_database (cluster->servers, bench_conn_get_tls ());
  chat_test_cluster_setenv (cluster->servers, 0, "CHATD_DBUS",
                            g_getenv ("CHATD_DBUS") ? g_getenv ("CHATD_DBUS") : "none");
  cluster->metrics_host = g_strdup ("127.0.0.1");
  cluster->metrics_port = pick_metrics_ports (cluster->servers, n);
  if (!configure (cluster, settings, error))
    return NULL;
  return g_steal_pointer (&cluster);
}

BenchCluster *
bench_cluster_new_external (const char *servers, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (servers, ",", -1);
  g_autoptr (BenchCluster) cluster = g_new0 (BenchCluster, 1);
  guint n = g_strv_length (parts);

  if (n == 0)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "No servers");
      return NULL;
    }
  cluster->servers = chat_test_cluster_new_external (n);
  chat_test_cluster_set_tls_database (cluster->servers, bench_conn_get_tls ());
  chat_test_cluster_set_timing (cluster->servers, &timing);
  for (guint i = 0; i < n; i++)
    {
      const char *colon = strrchr (parts[i], ':');
      g_autofree char *host = NULL;
      guint64 port = 0;

      if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--servers wants host:port,..., not “%s”", parts[i]);
          return NULL;
        }
      host = g_strndup (parts[i], (gsize)(colon - parts[i]));
      chat_test_cluster_set_address (cluster->servers, i + 1, host, (guint16)port);
    }
  return g_steal_pointer (&cluster);
}

void
bench_cluster_free (BenchCluster *cluster)
{
  if (cluster == NULL)
    return;
  g_clear_pointer (&cluster->servers, chat_test_cluster_free);
  g_free (cluster->metrics_host);
  g_free (cluster);
}

gboolean
bench_cluster_start (BenchCluster *cluster, guint node, gboolean primary, GError **error)
{
  g_return_val_if_fail (cluster->local, FALSE);
  return chat_test_cluster_try_start (cluster->servers, node, primary, error);
}

gboolean
bench_cluster_start_all (BenchCluster *cluster, GError **error)
{
  return chat_test_cluster_try_start_all (cluster->servers, error);
}

void
bench_cluster_signal (BenchCluster *cluster, guint node, int signum)
{
  if (cluster->local)
    chat_test_cluster_terminate (cluster->servers, node, signum);
}

gboolean
bench_cluster_is_running (BenchCluster *cluster, guint node)
{
  return chat_test_cluster_is_running (cluster->servers, node);
}

guint
bench_cluster_wait_leader (BenchCluster *cluster, guint timeout_ms)
{
  return chat_test_cluster_wait_leader (cluster->servers, timeout_ms);
}

gboolean
bench_cluster_wait_in_sync (BenchCluster *cluster, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  do
    {
      if (chat_test_cluster_in_sync (cluster->servers, FALSE))
        return TRUE;
      g_usleep (20 * 1000);
    }
  while (g_get_monotonic_time () < deadline);
  return FALSE;
}

guint
bench_cluster_n_servers (BenchCluster *cluster)
{
  return chat_test_cluster_n_servers (cluster->servers);
}

void
bench_cluster_set_metrics (BenchCluster *cluster, const char *host, guint16 first_port)
{
  g_free (cluster->metrics_host);
  cluster->metrics_host = g_strdup (host);
  cluster->metrics_port = first_port;
}

gboolean
bench_cluster_metrics_address (BenchCluster *cluster, guint node, char **host, guint16 *port)
{
  if (cluster->metrics_port == 0 || cluster->metrics_host == NULL || node < 1
      || node > bench_cluster_n_servers (cluster))
    return FALSE;
  *host = g_strdup (cluster->metrics_host);
  *port = (guint16)(cluster->metrics_port + node - 1);
  return TRUE;
}

gboolean
bench_cluster_is_local (BenchCluster *cluster)
{
  return cluster->local;
}

const char *
bench_cluster_host (BenchCluster *cluster, guint node)
{
  return chat_test_cluster_host (cluster->servers, node);
}

guint16
bench_cluster_port (BenchCluster *cluster, guint node)
{
  return chat_test_cluster_port (cluster->servers, node);
}

GPid
bench_cluster_pid (BenchCluster *cluster, guint node)
{
  return cluster->local ? chat_test_cluster_pid (cluster->servers, node) : 0;
}

/* Read from the node's database: 0 when unknown. */
static guint64
query_uint (BenchCluster *cluster, guint node, const char *sql)
{
  if (!cluster->local)
    return 0;
  return (guint64)MAX (
      chat_test_db_query_int (chat_test_cluster_state_dir (cluster->servers, node), sql), 0);
}

guint64
bench_cluster_applied_index (BenchCluster *cluster, guint node)
{
  return query_uint (cluster, node,
                     "SELECT CAST (CAST (value AS TEXT) AS INTEGER) FROM meta "
                     "WHERE key = 'store.applied_index'");
}

guint64
bench_cluster_last_log_index (BenchCluster *cluster, guint node)
{
  return query_uint (cluster, node, "SELECT coalesce (max (idx), 0) FROM log");
}

guint64
bench_process_rss (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int)pid);
  g_autofree char *contents = NULL;
  const char *line = NULL;

  if (pid <= 0 || !g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  line = strstr (contents, "\nVmRSS:");
  if (line == NULL)
    return 0;
  return g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10) * 1024;
}

guint64
bench_process_cpu_us (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int)pid);
  g_autofree char *contents = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after_name = NULL;

  if (pid <= 0 || !g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  /* Fields after the command name (which may hold spaces): state is field 3. */
  after_name = strrchr (contents, ')');
  if (after_name == NULL)
    return 0;
  fields = g_strsplit (after_name + 2, " ", -1);
  if (g_strv_length (fields) < 13)
    return 0;
  return (g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10))
         * G_USEC_PER_SEC / (guint64)sysconf (_SC_CLK_TCK);
}

guint64
bench_cluster_cpu_us (BenchCluster *cluster)
{
  guint64 total = 0;

  for (guint node = 1; node <= bench_cluster_n_servers (cluster); node++)
    total += bench_process_cpu_us (bench_cluster_pid (cluster, node));
  return total;
}
