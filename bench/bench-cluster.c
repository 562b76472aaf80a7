/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The servers a benchmark talks to: chatd processes it starts itself, or given addresses. */
#include "config.h"

#include "bench-cluster.h"
#include "bench-conn.h"
#include "chat-fs.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_TIMEOUT_MS 30000
#define HELLO_TIMEOUT_MS 1000

typedef struct
{
  char *host;
  guint16 port;
  char *state_dir;
  char *log_path;
  GPid pid;
} BenchServer;

struct _BenchCluster
{
  gboolean local;
  char *dir;
  char *config_path;
  BenchServer *servers;
  guint n;
  char *metrics_host;
  guint16 metrics_port; /* node i's endpoint is metrics_port + i - 1; 0: none */
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

static guint16
pick_free_port (void)
{
  struct sockaddr_in address = { .sin_family = AF_INET };
  socklen_t len = sizeof address;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint16 port = 0;

  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd >= 0 && bind (fd, (struct sockaddr *)&address, sizeof address) == 0
      && getsockname (fd, (struct sockaddr *)&address, &len) == 0)
    port = ntohs (address.sin_port);
  if (fd >= 0)
    close (fd);
  return port;
}

/* The kernel may hand the same free port out twice once the probing socket is closed:
 * keep picking until none of the first n servers has it. */
static guint16
pick_unused_port (const BenchServer *servers, guint n)
{
  for (;;)
    {
      guint16 port = pick_free_port ();
      gboolean taken = FALSE;

      for (guint i = 0; i < n; i++)
        taken |= servers[i].port == port;
      if (!taken)
        return port;
    }
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
pick_metrics_ports (const BenchServer *servers, guint n)
{
  for (guint attempt = 0; attempt < 100; attempt++)
    {
      guint16 first = pick_unused_port (servers, n);
      gboolean ok = first > 0 && first < 65535 - n;

      for (guint i = 0; ok && i < n; i++)
        for (guint s = 0; ok && s < n; s++)
          ok = servers[s].port != first + i;
      for (guint i = 1; ok && i < n; i++)
        ok = port_free ((guint16)(first + i));
      if (ok)
        return first;
    }
  return 0;
}

/* chatd reads the cluster key from cluster.key beside config.ini. */
static gboolean
write_cluster_key (BenchCluster *cluster, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (cluster->config_path);
  g_autofree char *path = g_build_filename (dir, "cluster.key", NULL);

  return g_file_set_contents_full (path, "chatd-bench-cluster-key-0123456789abcdef\n", -1,
                                   G_FILE_SET_CONTENTS_NONE, 0600, error);
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

static gboolean
write_config (BenchCluster *cluster, const char *mode, const char *const *settings, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();

  for (guint i = 0; i < cluster->n; i++)
    {
      g_autofree char *host_key = g_strdup_printf ("host%u", i + 1);
      g_autofree char *port_key = g_strdup_printf ("port%u", i + 1);

      g_key_file_set_string (file, "server", host_key, cluster->servers[i].host);
      g_key_file_set_integer (file, "server", port_key, cluster->servers[i].port);
    }
  g_key_file_set_string (file, "cluster", "mode", mode ? mode : "available");
  if (cluster->metrics_port != 0)
    {
      g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", cluster->metrics_port);

      g_key_file_set_string (file, "metrics", "listen", listen);
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
      g_key_file_set_value (file, group, key, eq + 1);
      if (g_str_equal (group, "metrics") && g_str_equal (key, "listen"))
        use_metrics_listen (cluster, eq + 1);
    }
  return g_key_file_save_to_file (file, cluster->config_path, error)
         && write_cluster_key (cluster, error);
}

BenchCluster *
bench_cluster_new_local (guint n, const char *mode, const char *const *settings, GError **error)
{
  g_autoptr (BenchCluster) cluster = g_new0 (BenchCluster, 1);

  cluster->local = TRUE;
  cluster->dir = g_dir_make_tmp ("chatd-bench-XXXXXX", error);
  if (cluster->dir == NULL)
    return NULL;
  cluster->config_path = g_build_filename (cluster->dir, "config.ini", NULL);
  cluster->n = n;
  cluster->servers = g_new0 (BenchServer, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *state = g_strdup_printf ("state-%u", i + 1);
      g_autofree char *log = g_strdup_printf ("chatd-%u.log", i + 1);

      cluster->servers[i].host = g_strdup ("127.0.0.1");
      cluster->servers[i].port = pick_unused_port (cluster->servers, i);
      cluster->servers[i].state_dir = g_build_filename (cluster->dir, state, NULL);
      cluster->servers[i].log_path = g_build_filename (cluster->dir, log, NULL);
      g_mkdir_with_parents (cluster->servers[i].state_dir, 0700);
    }
  cluster->metrics_host = g_strdup ("127.0.0.1");
  cluster->metrics_port = pick_metrics_ports (cluster->servers, n);
  if (!write_config (cluster, mode, settings, error))
    return NULL;
  return g_steal_pointer (&cluster);
}

BenchCluster *
bench_cluster_new_external (const char *servers, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (servers, ",", -1);
  g_autoptr (BenchCluster) cluster = g_new0 (BenchCluster, 1);

  cluster->n = g_strv_length (parts);
  cluster->servers = g_new0 (BenchServer, MAX (cluster->n, 1));
  for (guint i = 0; i < cluster->n; i++)
    {
      const char *colon = strrchr (parts[i], ':');
      guint64 port = 0;

      if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--servers wants host:port,..., not “%s”", parts[i]);
          return NULL;
        }
      cluster->servers[i].host = g_strndup (parts[i], (gsize)(colon - parts[i]));
      cluster->servers[i].port = (guint16)port;
    }
  if (cluster->n == 0)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "No servers");
      return NULL;
    }
  return g_steal_pointer (&cluster);
}

void
bench_cluster_free (BenchCluster *cluster)
{
  if (cluster == NULL)
    return;
  for (guint i = 0; i < cluster->n; i++)
    {
      if (cluster->servers[i].pid > 0)
        bench_cluster_signal (cluster, i + 1, SIGKILL);
      g_free (cluster->servers[i].host);
      g_free (cluster->servers[i].state_dir);
      g_free (cluster->servers[i].log_path);
    }
  if (cluster->dir != NULL && g_getenv ("CHATD_BENCH_KEEP") == NULL)
    chat_fs_remove_tree (cluster->dir);
  else if (cluster->dir != NULL)
    g_printerr ("kept %s\n", cluster->dir);
  g_free (cluster->servers);
  g_free (cluster->metrics_host);
  g_free (cluster->config_path);
  g_free (cluster->dir);
  g_free (cluster);
}

static BenchServer *
server_of (BenchCluster *cluster, guint node)
{
  g_assert (node >= 1 && node <= cluster->n);
  return &cluster->servers[node - 1];
}

/* In the child: die with the benchmark, whatever ends it. */
static void
child_setup (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
spawn (BenchCluster *cluster, guint node, gboolean primary, GError **error)
{
  BenchServer *server = server_of (cluster, node);
  g_autofree char *chatd = chatd_path ();
  g_autofree char *port = g_strdup_printf ("%u", server->port);
  const char *argv[] = { chatd,
                         "--host",
                         server->host,
                         "--port",
                         port,
                         "--config",
                         cluster->config_path,
                         "--state-dir",
                         server->state_dir,
                         primary ? "--primary" : NULL,
                         NULL };
  int log_fd = open (server->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  g_auto (GStrv) env = g_get_environ ();
  gboolean ok = FALSE;

  env = g_environ_unsetenv (env, "STATE_DIRECTORY");
  env = g_environ_unsetenv (env, "NOTIFY_SOCKET");
  env = g_environ_setenv (env, "CHATD_DBUS", "none", FALSE);
  ok = g_spawn_async_with_pipes_and_fds (
      NULL, argv, (const char *const *)env, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
      child_setup, NULL, -1, log_fd, log_fd, NULL, NULL, 0, &server->pid, NULL, NULL, NULL, error);
  close (log_fd);
  return ok;
}

gboolean
bench_cluster_start (BenchCluster *cluster, guint node, gboolean primary, GError **error)
{
  BenchServer *server = server_of (cluster, node);
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_MS * 1000;

  g_return_val_if_fail (cluster->local, FALSE);
  if (!spawn (cluster, node, primary, error))
    return FALSE;
  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (JsonObject) hello = NULL;
      int status = 0;

      if (waitpid (server->pid, &status, WNOHANG) == server->pid)
        {
          server->pid = 0;
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "chatd node %u exited (log: %s)", node,
                       server->log_path);
          return FALSE;
        }
      hello = bench_hello (server->host, server->port, HELLO_TIMEOUT_MS);
      if (hello != NULL)
        return TRUE;
      g_usleep (10 * 1000);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "chatd node %u did not answer (log: %s)",
               node, server->log_path);
  return FALSE;
}

gboolean
bench_cluster_start_all (BenchCluster *cluster, GError **error)
{
  for (guint node = 1; node <= cluster->n; node++)
    if (!bench_cluster_start (cluster, node, node == 1, error))
      return FALSE;
  if (bench_cluster_wait_leader (cluster, START_TIMEOUT_MS) == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "No leader was elected");
      return FALSE;
    }
  return TRUE;
}

void
bench_cluster_signal (BenchCluster *cluster, guint node, int signum)
{
  BenchServer *server = server_of (cluster, node);

  if (server->pid <= 0)
    return;
  kill (server->pid, signum);
  while (waitpid (server->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  server->pid = 0;
}

gboolean
bench_cluster_is_running (BenchCluster *cluster, guint node)
{
  return !cluster->local || server_of (cluster, node)->pid > 0;
}

static char *
hello_role (BenchCluster *cluster, guint node, JsonObject **reply)
{
  BenchServer *server = server_of (cluster, node);
  g_autoptr (JsonObject) hello = NULL;
  char *role = NULL;

  if (!bench_cluster_is_running (cluster, node))
    return NULL;
  hello = bench_hello (server->host, server->port, HELLO_TIMEOUT_MS);
  if (hello == NULL || !json_object_get_boolean_member_with_default (hello, "ok", FALSE))
    return NULL;
  role = g_strdup (json_object_get_string_member_with_default (hello, "role", ""));
  if (reply != NULL)
    *reply = g_steal_pointer (&hello);
  return role;
}

guint
bench_cluster_wait_leader (BenchCluster *cluster, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  do
    {
      for (guint node = 1; node <= cluster->n; node++)
        {
          g_autofree char *role = hello_role (cluster, node, NULL);

          if (g_strcmp0 (role, "leader") == 0)
            return node;
        }
      g_usleep (5 * 1000);
    }
  while (g_get_monotonic_time () < deadline);
  return 0;
}

static gboolean
all_in_sync (JsonObject *hello)
{
  JsonArray *servers = json_object_get_array_member (hello, "servers");

  for (guint i = 0; servers != NULL && i < json_array_get_length (servers); i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);

      if (!json_object_get_boolean_member_with_default (server, "in_sync", FALSE))
        return FALSE;
    }
  return servers != NULL;
}

gboolean
bench_cluster_wait_in_sync (BenchCluster *cluster, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  do
    {
      for (guint node = 1; node <= cluster->n; node++)
        {
          g_autoptr (JsonObject) hello = NULL;
          g_autofree char *role = hello_role (cluster, node, &hello);

          if (g_strcmp0 (role, "leader") == 0 && all_in_sync (hello))
            return TRUE;
        }
      g_usleep (20 * 1000);
    }
  while (g_get_monotonic_time () < deadline);
  return FALSE;
}

guint
bench_cluster_n_servers (BenchCluster *cluster)
{
  return cluster->n;
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
  if (cluster->metrics_port == 0 || cluster->metrics_host == NULL || node < 1 || node > cluster->n)
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
  return server_of (cluster, node)->host;
}

guint16
bench_cluster_port (BenchCluster *cluster, guint node)
{
  return server_of (cluster, node)->port;
}

GPid
bench_cluster_pid (BenchCluster *cluster, guint node)
{
  return server_of (cluster, node)->pid;
}

static guint64
query_uint (BenchCluster *cluster, guint node, const char *sql)
{
  const char *dir = server_of (cluster, node)->state_dir;
  g_autofree char *path = dir ? g_build_filename (dir, "chatd.db", NULL) : NULL;
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  guint64 value = 0;

  if (path == NULL || !g_file_test (path, G_FILE_TEST_EXISTS))
    return 0;
  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
    {
      sqlite3_busy_timeout (db, 1000);
      if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK
          && sqlite3_step (stmt) == SQLITE_ROW)
        value = (guint64)sqlite3_column_int64 (stmt, 0);
      sqlite3_finalize (stmt);
    }
  sqlite3_close (db);
  return value;
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

  for (guint i = 0; i < cluster->n; i++)
    total += bench_process_cpu_us (cluster->servers[i].pid);
  return total;
}
