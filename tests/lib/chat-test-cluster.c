/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Real chatd processes for tests and benchmarks: config.ini, state directories, and the
 * servers' processes (started through chat-test-spawn, so they die with this process). */
#define G_LOG_DOMAIN "chatd-test"

#include "chat-test-cluster-private.h"
#include "chat-test-spawn.h"
#include "chat-fs.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOOPBACK "127.0.0.1"
#define STOP_TIMEOUT_MS 20000
#define START_ATTEMPTS 3
#define CLUSTER_KEY "chatd-test-cluster-key-0123456789abcdef\n"

static const ChatTestClusterTiming default_timing = {
  .start_ms = 20000,
  .ready_hello_ms = 2000,
  .ready_poll_ms = 20,
  .leader_hello_ms = 1000,
  .leader_poll_ms = 50,
};

ChatTestServer *
chat_test_cluster_server (ChatTestCluster *cluster, guint node)
{
  g_assert_cmpuint (node, >=, 1);
  g_assert_cmpuint (node, <=, cluster->n_servers);
  return &cluster->servers[node - 1];
}

/* --- ports and config ----------------------------------------------------------------- */

static guint16
pick_free_port (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* The kernel may hand the same free port out twice once the probing socket is closed:
 * keep picking until no server of the cluster has it. */
guint16
chat_test_cluster_pick_port (ChatTestCluster *cluster)
{
  for (;;)
    {
      guint16 port = pick_free_port ();
      gboolean taken = FALSE;

      for (guint i = 0; i < cluster->n_servers; i++)
        taken |= cluster->servers[i].port == port;
      if (!taken)
        return port;
    }
}

static void
copy_options (GKeyFile *from, GKeyFile *to)
{
  g_auto (GStrv) groups = g_key_file_get_groups (from, NULL);

  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) keys = g_key_file_get_keys (from, groups[g], NULL, NULL);

      for (guint k = 0; keys[k] != NULL; k++)
        {
          g_autofree char *value = g_key_file_get_value (from, groups[g], keys[k], NULL);

          g_key_file_set_value (to, groups[g], keys[k], value);
        }
    }
}

/* config.ini and, beside it, cluster.key (where chatd reads the cluster key from). */
gboolean
chat_test_cluster_write_config (ChatTestCluster *cluster, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autofree char *key_path = NULL;

  if (!cluster->local)
    return TRUE;
  for (guint i = 0; i < cluster->n_servers; i++)
    {
      g_autofree char *host_key = g_strdup_printf ("host%u", i + 1);
      g_autofree char *port_key = g_strdup_printf ("port%u", i + 1);

      g_key_file_set_string (file, "server", host_key, cluster->servers[i].host);
      g_key_file_set_integer (file, "server", port_key, cluster->servers[i].port);
    }
  g_key_file_set_string (file, "cluster", "mode", cluster->mode);
  copy_options (cluster->options, file);
  key_path = g_build_filename (cluster->dir, "cluster.key", NULL);
  return g_key_file_save_to_file (file, cluster->config_path, error)
         && g_file_set_contents_full (key_path, CLUSTER_KEY, -1, G_FILE_SET_CONTENTS_NONE, 0600,
                                      error);
}

static void
rewrite_config (ChatTestCluster *cluster)
{
  g_autoptr (GError) error = NULL;

  chat_test_cluster_write_config (cluster, &error);
  g_assert_no_error (error);
}

static ChatTestCluster *
cluster_alloc (guint n_servers, gboolean local)
{
  ChatTestCluster *cluster = g_new0 (ChatTestCluster, 1);

  g_assert_cmpuint (n_servers, >, 0);
  cluster->local = local;
  cluster->n_servers = n_servers;
  cluster->servers = g_new0 (ChatTestServer, n_servers);
  cluster->options = g_key_file_new ();
  cluster->timing = default_timing;
  cluster->keep = g_getenv ("CHATD_TEST_KEEP") != NULL;
  return cluster;
}

static void
init_server (ChatTestCluster *cluster, guint i)
{
  ChatTestServer *server = &cluster->servers[i];
  g_autofree char *name = g_strdup_printf ("state-%u", i + 1);
  g_autofree char *log = g_strdup_printf ("chatd-%u.log", i + 1);

  server->host = g_strdup (LOOPBACK);
  server->port = chat_test_cluster_pick_port (cluster);
  server->port_picked = TRUE;
  server->state_dir = g_build_filename (cluster->dir, name, NULL);
  server->log_path = g_build_filename (cluster->dir, log, NULL);
  g_assert_cmpint (g_mkdir_with_parents (server->state_dir, 0700), ==, 0);
}

ChatTestCluster *
chat_test_cluster_new_full (guint n_servers, const char *mode, const char *dir_template,
                            GError **error)
{
  g_autoptr (ChatTestCluster) cluster = cluster_alloc (n_servers, TRUE);
  const char *build_root = g_getenv ("CHATD_BUILD_ROOT");

  cluster->dir = g_dir_make_tmp (dir_template, error);
  if (cluster->dir == NULL)
    return NULL;
  cluster->config_path = g_build_filename (cluster->dir, "config.ini", NULL);
  cluster->mode = g_strdup (mode ? mode : "available");
  if (build_root != NULL)
    cluster->chatd = g_build_filename (build_root, "daemon", "chatd", NULL);
  for (guint i = 0; i < n_servers; i++)
    init_server (cluster, i);
  if (!chat_test_cluster_write_config (cluster, error))
    return NULL;
  return g_steal_pointer (&cluster);
}

ChatTestCluster *
chat_test_cluster_new (guint n_servers, const char *mode)
{
  g_autoptr (GError) error = NULL;
  ChatTestCluster *cluster
      = chat_test_cluster_new_full (n_servers, mode, "chatd-test-XXXXXX", &error);

  g_assert_no_error (error);
  g_assert_nonnull (cluster->chatd);
  if (g_getenv ("CHATD_TEST_TLS") != NULL)
    chat_test_cluster_use_tls (cluster);
  return cluster;
}

ChatTestCluster *
chat_test_cluster_new_external (guint n_servers)
{
  return cluster_alloc (n_servers, FALSE);
}

void
chat_test_cluster_free (ChatTestCluster *cluster)
{
  if (cluster == NULL)
    return;
  for (guint i = 0; i < cluster->n_servers; i++)
    {
      ChatTestServer *server = &cluster->servers[i];

      chat_test_cluster_terminate (cluster, i + 1, SIGKILL);
      g_clear_object (&server->process);
      g_free (server->host);
      g_free (server->netns);
      g_strfreev (server->env);
      g_free (server->state_dir);
      g_free (server->log_path);
    }
  if (cluster->dir != NULL && !cluster->keep)
    chat_fs_remove_tree (cluster->dir);
  else if (cluster->dir != NULL)
    g_printerr ("# kept %s\n", cluster->dir);
  g_free (cluster->servers);
  g_key_file_unref (cluster->options);
  g_strfreev (cluster->env);
  g_clear_object (&cluster->tls);
  g_free (cluster->chatd);
  g_free (cluster->mode);
  g_free (cluster->config_path);
  g_free (cluster->dir);
  g_free (cluster);
}

/* --- settings -------------------------------------------------------------------------- */

void
chat_test_cluster_set_option (ChatTestCluster *cluster, const char *group, const char *key,
                              const char *value)
{
  g_key_file_set_value (cluster->options, group, key, value);
  rewrite_config (cluster);
}

void
chat_test_cluster_set_address (ChatTestCluster *cluster, guint node, const char *host, guint16 port)
{
  ChatTestServer *server = chat_test_cluster_server (cluster, node);

  g_free (server->host);
  server->host = g_strdup (host);
  if (port != 0)
    {
      server->port = port;
      server->port_picked = FALSE;
    }
  rewrite_config (cluster);
}

void
chat_test_cluster_set_netns (ChatTestCluster *cluster, guint node, const char *netns)
{
  ChatTestServer *server = chat_test_cluster_server (cluster, node);

  g_free (server->netns);
  server->netns = g_strdup (netns);
}

static char **
env_add (char **env, const char *name, const char *value)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *entry = value != NULL ? g_strconcat (name, "=", value, NULL) : g_strdup (name);

  if (env != NULL)
    g_strv_builder_addv (builder, (const char **)env);
  g_strv_builder_add (builder, entry);
  g_strfreev (env);
  return g_strv_builder_end (builder);
}

void
chat_test_cluster_setenv (ChatTestCluster *cluster, guint node, const char *name, const char *value)
{
  if (node == 0)
    cluster->env = env_add (cluster->env, name, value);
  else
    {
      ChatTestServer *server = chat_test_cluster_server (cluster, node);

      server->env = env_add (server->env, name, value);
    }
}

void
chat_test_cluster_set_chatd (ChatTestCluster *cluster, const char *path)
{
  g_free (cluster->chatd);
  cluster->chatd = g_strdup (path);
}

void
chat_test_cluster_set_timing (ChatTestCluster *cluster, const ChatTestClusterTiming *timing)
{
  cluster->timing = *timing;
}

void
chat_test_cluster_set_tls_database (ChatTestCluster *cluster, GTlsDatabase *database)
{
  g_set_object (&cluster->tls, database);
}

void
chat_test_cluster_set_keep (ChatTestCluster *cluster, gboolean keep)
{
  cluster->keep = keep;
}

/* --- processes ------------------------------------------------------------------------- */

static gboolean
process_running (GSubprocess *process)
{
  /* GSubprocess reaps its child on GLib's worker thread; the identifier goes away then. */
  return process != NULL && g_subprocess_get_identifier (process) != NULL;
}

static void
apply_env (GSubprocessLauncher *launcher, char **env)
{
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      const char *eq = strchr (env[i], '=');
      g_autofree char *name = eq ? g_strndup (env[i], (gsize)(eq - env[i])) : g_strdup (env[i]);

      if (eq != NULL)
        g_subprocess_launcher_setenv (launcher, name, eq + 1, TRUE);
      else
        g_subprocess_launcher_unsetenv (launcher, name);
    }
}

static GSubprocessLauncher *
server_launcher (ChatTestCluster *cluster, ChatTestServer *server, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  int fd = open (server->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", server->log_path,
                   g_strerror (errno));
      return NULL;
    }
  g_subprocess_launcher_unsetenv (launcher, "STATE_DIRECTORY");
  g_subprocess_launcher_unsetenv (launcher, "NOTIFY_SOCKET");
  apply_env (launcher, cluster->env);
  apply_env (launcher, server->env);
  g_subprocess_launcher_take_stderr_fd (launcher, dup (fd));
  g_subprocess_launcher_take_stdout_fd (launcher, fd);
  return g_steal_pointer (&launcher);
}

gboolean
chat_test_cluster_spawn (ChatTestCluster *cluster, guint node, gboolean primary, GError **error)
{
  ChatTestServer *server = chat_test_cluster_server (cluster, node);
  g_autofree char *port = g_strdup_printf ("%u", server->port);
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();

  g_return_val_if_fail (cluster->local, FALSE);
  g_assert_false (process_running (server->process));
  launcher = server_launcher (cluster, server, error);
  if (launcher == NULL)
    return FALSE;
  if (server->netns != NULL)
    {
      g_ptr_array_add (argv, "ip");
      g_ptr_array_add (argv, "netns");
      g_ptr_array_add (argv, "exec");
      g_ptr_array_add (argv, server->netns);
    }
  g_ptr_array_add (argv, cluster->chatd);
  g_ptr_array_add (argv, "--host");
  g_ptr_array_add (argv, server->host);
  g_ptr_array_add (argv, "--port");
  g_ptr_array_add (argv, port);
  g_ptr_array_add (argv, "--config");
  g_ptr_array_add (argv, cluster->config_path);
  g_ptr_array_add (argv, "--state-dir");
  g_ptr_array_add (argv, server->state_dir);
  if (primary)
    g_ptr_array_add (argv, "--primary");
  g_ptr_array_add (argv, NULL);
  g_clear_object (&server->process);
  server->process = chat_test_spawn (launcher, (const char *const *)argv->pdata, error);
  return server->process != NULL;
}

static gboolean
log_mentions (const char *path, const char *text)
{
  g_autofree char *contents = NULL;

  return g_file_get_contents (path, &contents, NULL, NULL) && strstr (contents, text) != NULL;
}

gboolean
chat_test_cluster_wait_ready (ChatTestCluster *cluster, guint node, GError **error)
{
  ChatTestServer *server = chat_test_cluster_server (cluster, node);
  gint64 deadline = g_get_monotonic_time () + (gint64)cluster->timing.start_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (JsonObject) reply = NULL;

      if (!process_running (server->process))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "chatd node %u exited during start (log: %s)", node, server->log_path);
          return FALSE;
        }
      reply = chat_test_cluster_hello (cluster, node, FALSE, cluster->timing.ready_hello_ms);
      if (reply != NULL)
        return TRUE;
      g_usleep (cluster->timing.ready_poll_ms * 1000);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               "chatd node %u on port %u did not answer hello in time (log: %s)", node,
               server->port, server->log_path);
  return FALSE;
}

gboolean
chat_test_cluster_try_start (ChatTestCluster *cluster, guint node, gboolean primary, GError **error)
{
  ChatTestServer *server = chat_test_cluster_server (cluster, node);

  for (guint attempt = 1;; attempt++)
    {
      g_autoptr (GError) local_error = NULL;

      if (!chat_test_cluster_spawn (cluster, node, primary, error))
        return FALSE;
      if (chat_test_cluster_wait_ready (cluster, node, &local_error))
        {
          cluster->started_once = TRUE;
          return TRUE;
        }
      /* The free port was taken meanwhile: pick another while nothing else runs. */
      if (attempt < START_ATTEMPTS && !cluster->started_once && server->port_picked
          && !process_running (server->process)
          && log_mentions (server->log_path, "already in use"))
        {
          server->port = chat_test_cluster_pick_port (cluster);
          if (!chat_test_cluster_write_config (cluster, error))
            return FALSE;
          continue;
        }
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
}

gboolean
chat_test_cluster_try_start_all (ChatTestCluster *cluster, GError **error)
{
  for (guint node = 1; node <= cluster->n_servers; node++)
    if (!chat_test_cluster_try_start (cluster, node, node == 1, error))
      return FALSE;
  if (chat_test_cluster_wait_leader (cluster, cluster->timing.start_ms) == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "No leader was elected");
      return FALSE;
    }
  return TRUE;
}

void
chat_test_cluster_start (ChatTestCluster *cluster, guint node, gboolean primary)
{
  g_autoptr (GError) error = NULL;

  if (!chat_test_cluster_try_start (cluster, node, primary, &error))
    g_error ("%s", error->message);
}

void
chat_test_cluster_start_all (ChatTestCluster *cluster)
{
  g_autoptr (GError) error = NULL;

  if (!chat_test_cluster_try_start_all (cluster, &error))
    g_error ("%s", error->message);
}

/* Waits for a server sent signum to exit, and reaps it (GLib's worker thread reaps; polled
 * every millisecond, as chatd-bench failover times a kill with its reaping). */
static void
reap (ChatTestServer *server, int signum)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_MS * 1000;

  while (process_running (server->process) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  if (process_running (server->process))
    {
      chat_test_spawn_signal_group (server->process, SIGKILL);
      g_error ("chatd on port %u ignored signal %d", server->port, signum);
    }
  g_subprocess_wait (server->process, NULL, NULL);
}

/* SIGKILL goes to the server's whole process group; other signals to the server. */
static void
send_signal (ChatTestServer *server, int signum)
{
  if (signum == SIGKILL)
    chat_test_spawn_signal_group (server->process, signum);
  else
    g_subprocess_send_signal (server->process, signum);
}

static void
assert_clean_exit (ChatTestServer *server)
{
  if (server->process != NULL)
    g_assert_true (g_subprocess_get_if_exited (server->process)
                   && g_subprocess_get_exit_status (server->process) == 0);
}

void
chat_test_cluster_terminate (ChatTestCluster *cluster, guint node, int signum)
{
  ChatTestServer *server = chat_test_cluster_server (cluster, node);

  if (!process_running (server->process))
    return;
  send_signal (server, signum);
  reap (server, signum);
}

void
chat_test_cluster_kill (ChatTestCluster *cluster, guint node)
{
  chat_test_cluster_terminate (cluster, node, SIGKILL);
}

void
chat_test_cluster_stop (ChatTestCluster *cluster, guint node)
{
  chat_test_cluster_terminate (cluster, node, SIGTERM);
  assert_clean_exit (chat_test_cluster_server (cluster, node));
}

/* SIGTERM to every server first, then the reaping: stopped one by one, the last ones could
 * see the first ones go (a slow disk makes a stop take longer than the failure timeout)
 * and record it, so the servers would stop at different applied indexes. */
void
chat_test_cluster_stop_all (ChatTestCluster *cluster)
{
  gboolean *signalled = g_newa (gboolean, cluster->n_servers + 1);

  for (guint node = 1; node <= cluster->n_servers; node++)
    {
      ChatTestServer *server = chat_test_cluster_server (cluster, node);

      signalled[node] = process_running (server->process);
      if (signalled[node])
        send_signal (server, SIGTERM);
    }
  for (guint node = 1; node <= cluster->n_servers; node++)
    {
      if (!signalled[node])
        continue;
      reap (chat_test_cluster_server (cluster, node), SIGTERM);
      assert_clean_exit (chat_test_cluster_server (cluster, node));
    }
}

void
chat_test_cluster_signal (ChatTestCluster *cluster, guint node, int signum)
{
  ChatTestServer *server = chat_test_cluster_server (cluster, node);

  g_assert_nonnull (server->process);
  send_signal (server, signum);
}

gboolean
chat_test_cluster_is_running (ChatTestCluster *cluster, guint node)
{
  return !cluster->local || process_running (chat_test_cluster_server (cluster, node)->process);
}

GPid
chat_test_cluster_pid (ChatTestCluster *cluster, guint node)
{
  ChatTestServer *server = chat_test_cluster_server (cluster, node);
  const char *identifier = server->process ? g_subprocess_get_identifier (server->process) : NULL;

  return identifier != NULL ? (GPid)atoi (identifier) : 0;
}

/* --- where things are ------------------------------------------------------------------ */

guint
chat_test_cluster_n_servers (ChatTestCluster *cluster)
{
  return cluster->n_servers;
}

const char *
chat_test_cluster_host (ChatTestCluster *cluster, guint node)
{
  return chat_test_cluster_server (cluster, node)->host;
}

guint16
chat_test_cluster_port (ChatTestCluster *cluster, guint node)
{
  return chat_test_cluster_server (cluster, node)->port;
}

const char *
chat_test_cluster_dir (ChatTestCluster *cluster)
{
  return cluster->dir;
}

const char *
chat_test_cluster_config_path (ChatTestCluster *cluster)
{
  return cluster->config_path;
}

const char *
chat_test_cluster_state_dir (ChatTestCluster *cluster, guint node)
{
  return chat_test_cluster_server (cluster, node)->state_dir;
}

const char *
chat_test_cluster_log_file (ChatTestCluster *cluster, guint node)
{
  return chat_test_cluster_server (cluster, node)->log_path;
}
