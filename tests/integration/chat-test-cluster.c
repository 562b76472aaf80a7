/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test harness: chatd processes on free loopback ports, and blocking raw line connections. */
#define G_LOG_DOMAIN "chatd-test"

#include "chat-test-cluster.h"
#include "chat-fs.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>

#define HOST "127.0.0.1"
#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS 20000
#define REQUEST_TIMEOUT_MS 60000
#define START_ATTEMPTS 3

typedef struct
{
  guint16 port;
  char *state_dir;
  char *log_path;
  GSubprocess *process;
} Server;

struct _ChatTestCluster
{
  char *dir;
  char *config_path;
  char *mode;
  GKeyFile *options; /* extra config lines */
  Server *servers;
  guint n_servers;
  gboolean started_once;
};

struct _ChatTestConn
{
  GSocket *socket;
  GIOStream *tls; /* over socket, when the cluster speaks TLS */
  GString *buffer;
  GPtrArray *events;
  gboolean eof;
};

/* --- ports and config ----------------------------------------------------------- */

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
static guint16
pick_unused_port (ChatTestCluster *cluster)
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

/* chatd reads the cluster key from cluster.key beside config.ini. */
static void
write_cluster_key (ChatTestCluster *cluster)
{
  g_autofree char *path = g_build_filename (cluster->dir, "cluster.key", NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents_full (path, "integration-test-cluster-key-0123456789\n", -1,
                            G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);
}

static void
write_config (ChatTestCluster *cluster)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) groups = g_key_file_get_groups (cluster->options, NULL);

  for (guint i = 0; i < cluster->n_servers; i++)
    {
      g_autofree char *host_key = g_strdup_printf ("host%u", i + 1);
      g_autofree char *port_key = g_strdup_printf ("port%u", i + 1);

      g_key_file_set_string (file, "server", host_key, HOST);
      g_key_file_set_integer (file, "server", port_key, cluster->servers[i].port);
    }
  g_key_file_set_string (file, "cluster", "mode", cluster->mode);
  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) keys = g_key_file_get_keys (cluster->options, groups[g], NULL, NULL);
      for (guint k = 0; keys[k] != NULL; k++)
        {
          g_autofree char *value
              = g_key_file_get_value (cluster->options, groups[g], keys[k], NULL);
          g_key_file_set_value (file, groups[g], keys[k], value);
        }
    }
  g_key_file_save_to_file (file, cluster->config_path, &error);
  g_assert_no_error (error);
  write_cluster_key (cluster);
}

ChatTestCluster *
chat_test_cluster_new (guint n_servers, const char *mode)
{
  ChatTestCluster *cluster = g_new0 (ChatTestCluster, 1);
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (n_servers, >, 0);
  cluster->dir = g_dir_make_tmp ("chatd-test-XXXXXX", &error);
  g_assert_no_error (error);
  cluster->config_path = g_build_filename (cluster->dir, "config.ini", NULL);
  cluster->mode = g_strdup (mode ? mode : "available");
  cluster->options = g_key_file_new ();
  cluster->n_servers = n_servers;
  cluster->servers = g_new0 (Server, n_servers);
  for (guint i = 0; i < n_servers; i++)
    {
      g_autofree char *name = g_strdup_printf ("state-%u", i + 1);
      g_autofree char *log = g_strdup_printf ("chatd-%u.log", i + 1);

      cluster->servers[i].port = pick_unused_port (cluster);
      cluster->servers[i].state_dir = g_build_filename (cluster->dir, name, NULL);
      cluster->servers[i].log_path = g_build_filename (cluster->dir, log, NULL);
      g_assert_cmpint (g_mkdir_with_parents (cluster->servers[i].state_dir, 0700), ==, 0);
    }
  write_config (cluster);
  if (g_getenv ("CHATD_TEST_TLS") != NULL)
    chat_test_cluster_use_tls (cluster);
  return cluster;
}

void
chat_test_cluster_set_option (ChatTestCluster *cluster, const char *group, const char *key,
                              const char *value)
{
  g_key_file_set_value (cluster->options, group, key, value);
  write_config (cluster);
}

guint
chat_test_cluster_n_servers (ChatTestCluster *cluster)
{
  return cluster->n_servers;
}

guint16
chat_test_cluster_port (ChatTestCluster *cluster, guint node)
{
  g_assert_cmpuint (node, >=, 1);
  g_assert_cmpuint (node, <=, cluster->n_servers);
  return cluster->servers[node - 1].port;
}

const char *
chat_test_cluster_config_path (ChatTestCluster *cluster)
{
  return cluster->config_path;
}

const char *
chat_test_cluster_state_dir (ChatTestCluster *cluster, guint node)
{
  g_assert_cmpuint (node, >=, 1);
  g_assert_cmpuint (node, <=, cluster->n_servers);
  return cluster->servers[node - 1].state_dir;
}

/* --- TLS ------------------------------------------------------------------------------ */

/* The CA every connection of this process trusts once a cluster speaks TLS. */
static GTlsDatabase *tls_database;

GTlsDatabase *
chat_test_tls_database (void)
{
  return tls_database;
}

void
chat_test_make_certificates (const char *dir, const char *host, gboolean expired)
{
  g_autofree char *script
      = g_build_filename (g_getenv ("CHATD_SOURCE_ROOT"), "scripts", "make-certificates", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process
      = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, script, expired ? "--expired" : dir,
                          expired ? dir : host, expired ? host : NULL, NULL);

  g_assert_no_error (error);
  g_subprocess_wait_check (process, NULL, &error);
  g_assert_no_error (error);
}

void
chat_test_cluster_use_tls (ChatTestCluster *cluster)
{
  g_autofree char *dir = g_build_filename (cluster->dir, "tls", NULL);
  g_autofree char *ca = g_build_filename (dir, "ca.pem", NULL);
  g_autofree char *certificate = g_build_filename (dir, HOST ".pem", NULL);
  g_autofree char *key = g_build_filename (dir, HOST ".key", NULL);
  g_autoptr (GError) error = NULL;

  chat_test_make_certificates (dir, HOST, FALSE);
  g_clear_object (&tls_database);
  tls_database = g_tls_file_database_new (ca, &error);
  g_assert_no_error (error);
  g_key_file_set_string (cluster->options, "tls", "certificate", certificate);
  g_key_file_set_string (cluster->options, "tls", "key", key);
  g_key_file_set_string (cluster->options, "tls", "ca", ca);
  write_config (cluster);
}

const char *
chat_test_cluster_dir (ChatTestCluster *cluster)
{
  return cluster->dir;
}

static gboolean
conn_start_tls (ChatTestConn *conn, GError **error)
{
  g_autoptr (GSocketConnection) base = g_socket_connection_factory_create_connection (conn->socket);
  g_autoptr (GSocketConnectable) identity = g_network_address_new (HOST, 0);

  conn->tls = g_tls_client_connection_new (G_IO_STREAM (base), identity, error);
  if (conn->tls == NULL)
    return FALSE;
  g_tls_connection_set_database (G_TLS_CONNECTION (conn->tls), tls_database);
  return g_tls_connection_handshake (G_TLS_CONNECTION (conn->tls), NULL, error);
}

/* --- raw connections ---------------------------------------------------------------- */

/* source: the local loopback address to connect from (any of 127.0.0.0/8), or NULL. */
static ChatTestConn *
conn_try_new_from (guint16 port, const char *source, GError **error)
{
  g_autoptr (GSocket) socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  ChatTestConn *conn = NULL;

  if (socket == NULL)
    return NULL;
  g_socket_set_timeout (socket, 30);
  if (source != NULL)
    {
      g_autoptr (GSocketAddress) local = g_inet_socket_address_new_from_string (source, 0);
      g_assert_nonnull (local);
      if (!g_socket_bind (socket, local, FALSE, error))
        return NULL;
    }
  if (!g_socket_connect (socket, address, NULL, error))
    return NULL;
  conn = g_new0 (ChatTestConn, 1);
  conn->socket = g_steal_pointer (&socket);
  conn->buffer = g_string_new (NULL);
  conn->events = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  if (tls_database != NULL && !conn_start_tls (conn, error))
    {
      chat_test_conn_free (conn);
      return NULL;
    }
  return conn;
}

static ChatTestConn *
conn_try_new (guint16 port, GError **error)
{
  return conn_try_new_from (port, NULL, error);
}

ChatTestConn *
chat_test_conn_new_from (guint16 port, const char *source)
{
  g_autoptr (GError) error = NULL;
  ChatTestConn *conn = conn_try_new_from (port, source, &error);

  g_assert_no_error (error);
  return conn;
}

ChatTestConn *
chat_test_conn_new (guint16 port)
{
  g_autoptr (GError) error = NULL;
  ChatTestConn *conn = conn_try_new (port, &error);

  g_assert_no_error (error);
  return conn;
}

void
chat_test_conn_free (ChatTestConn *conn)
{
  if (conn == NULL)
    return;
  g_clear_object (&conn->tls);
  g_socket_close (conn->socket, NULL);
  g_object_unref (conn->socket);
  g_string_free (conn->buffer, TRUE);
  g_ptr_array_unref (conn->events);
  g_free (conn);
}

void
chat_test_conn_send_raw (ChatTestConn *conn, const void *data, gsize len)
{
  const char *bytes = data;

  while (len > 0)
    {
      g_autoptr (GError) error = NULL;
      gssize n = conn->tls != NULL ? g_output_stream_write (
                     g_io_stream_get_output_stream (conn->tls), bytes, len, NULL, &error)
                                   : g_socket_send (conn->socket, bytes, len, NULL, &error);

      if (n < 0)
        {
          /* The server may close first (an oversize line); the reader sees it. */
          g_debug ("send: %s", error->message);
          return;
        }
      bytes += n;
      len -= (gsize)n;
    }
}

void
chat_test_conn_send_line (ChatTestConn *conn, const char *line)
{
  g_autofree char *with_newline = g_strconcat (line, "\n", NULL);

  chat_test_conn_send_raw (conn, with_newline, strlen (with_newline));
}

/* TLS may hold decrypted bytes the socket no longer shows: read without blocking first,
 * and wait on the socket only when the stream would block. */
static gboolean
fill_tls (ChatTestConn *conn, gint64 deadline)
{
  GPollableInputStream *in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (conn->tls));
  char chunk[65536];

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (in, chunk, sizeof chunk, NULL, &error);

      if (n > 0)
        {
          g_string_append_len (conn->buffer, chunk, n);
          return TRUE;
        }
      if (n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          conn->eof = TRUE;
          return FALSE;
        }
      g_socket_condition_timed_wait (conn->socket, G_IO_IN,
                                     MIN (deadline - g_get_monotonic_time (), 50000), NULL, NULL);
    }
  return FALSE;
}

/* Reads more bytes within the deadline; FALSE on timeout or end of stream. */
static gboolean
fill (ChatTestConn *conn, gint64 deadline)
{
  char chunk[65536];
  gint64 left = deadline - g_get_monotonic_time ();
  g_autoptr (GError) error = NULL;
  gssize n = 0;

  if (conn->eof || left <= 0)
    return FALSE;
  if (conn->tls != NULL)
    return fill_tls (conn, deadline);
  if (!g_socket_condition_timed_wait (conn->socket, G_IO_IN, left, NULL, NULL))
    return FALSE;
  n = g_socket_receive (conn->socket, chunk, sizeof chunk, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return TRUE;
  if (n <= 0)
    {
      conn->eof = TRUE;
      return FALSE;
    }
  g_string_append_len (conn->buffer, chunk, n);
  return TRUE;
}

static char *
read_line (ChatTestConn *conn, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  for (;;)
    {
      char *newline = memchr (conn->buffer->str, '\n', conn->buffer->len);

      if (newline != NULL)
        {
          gsize len = (gsize)(newline - conn->buffer->str);
          char *line = g_strndup (conn->buffer->str, len);

          g_string_erase (conn->buffer, 0, (gssize)len + 1);
          return line;
        }
      if (!fill (conn, deadline))
        return NULL;
    }
}

JsonObject *
chat_test_conn_read (ChatTestConn *conn, guint timeout_ms)
{
  g_autofree char *line = read_line (conn, timeout_ms);
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) error = NULL;

  if (line == NULL)
    return NULL;
  node = json_from_string (line, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

JsonObject *
chat_test_conn_request (ChatTestConn *conn, const char *json_line)
{
  chat_test_conn_send_line (conn, json_line);
  for (;;)
    {
      JsonObject *object = chat_test_conn_read (conn, REQUEST_TIMEOUT_MS);

      if (object == NULL)
        g_error ("No response to a request (connection %s)", conn->eof ? "closed" : "timed out");
      if (!json_object_has_member (object, "event"))
        return object;
      g_ptr_array_add (conn->events, object);
    }
}

GPtrArray *
chat_test_conn_take_events (ChatTestConn *conn)
{
  GPtrArray *events = g_steal_pointer (&conn->events);

  conn->events = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  return events;
}

gboolean
chat_test_conn_wait_closed (ChatTestConn *conn, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  while (!conn->eof)
    {
      g_string_truncate (conn->buffer, 0);
      if (!fill (conn, deadline) && !conn->eof)
        return FALSE;
    }
  return TRUE;
}

/* --- processes ------------------------------------------------------------------------ */

static Server *
server_of (ChatTestCluster *cluster, guint node)
{
  g_assert_cmpuint (node, >=, 1);
  g_assert_cmpuint (node, <=, cluster->n_servers);
  return &cluster->servers[node - 1];
}

static gboolean
process_running (GSubprocess *process)
{
  /* GSubprocess reaps its child on GLib's worker thread; the identifier goes away then. */
  return process != NULL && g_subprocess_get_identifier (process) != NULL;
}

static GSubprocess *
spawn (ChatTestCluster *cluster, guint node, gboolean primary)
{
  Server *server = server_of (cluster, node);
  const char *build_root = g_getenv ("CHATD_BUILD_ROOT");
  g_autofree char *chatd = NULL;
  g_autofree char *port = g_strdup_printf ("%u", server->port);
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GError) error = NULL;
  int fd = open (server->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  GSubprocess *process = NULL;

  g_assert_nonnull (build_root);
  g_assert_cmpint (fd, >=, 0);
  chatd = g_build_filename (build_root, "daemon", "chatd", NULL);
  g_subprocess_launcher_unsetenv (launcher, "STATE_DIRECTORY");
  g_subprocess_launcher_unsetenv (launcher, "NOTIFY_SOCKET");
  g_subprocess_launcher_take_stderr_fd (launcher, dup (fd));
  g_subprocess_launcher_take_stdout_fd (launcher, fd);
  process = g_subprocess_launcher_spawn (launcher, &error, chatd, "--host", HOST, "--port", port,
                                         "--config", cluster->config_path, "--state-dir",
                                         server->state_dir, primary ? "--primary" : NULL, NULL);
  g_assert_no_error (error);
  return process;
}

static char *
hello_role (guint16 port, guint timeout_ms)
{
  g_autoptr (ChatTestConn) conn = conn_try_new (port, NULL);
  g_autoptr (JsonObject) reply = NULL;

  if (conn == NULL)
    return NULL;
  chat_test_conn_send_line (conn,
                            "{\"id\":0,\"op\":\"hello\",\"client\":\"chat-test\",\"proto\":1}");
  reply = chat_test_conn_read (conn, timeout_ms);
  if (reply == NULL || !json_object_get_boolean_member_with_default (reply, "ok", FALSE))
    return NULL;
  return g_strdup (json_object_get_string_member_with_default (reply, "role", "unknown"));
}

static gboolean
log_mentions (const char *path, const char *text)
{
  g_autofree char *contents = NULL;

  return g_file_get_contents (path, &contents, NULL, NULL) && strstr (contents, text) != NULL;
}

/* TRUE once the server answers hello; FALSE if it exited first. */
static gboolean
wait_ready (Server *server)
{
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_MS * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *role = NULL;

      if (!process_running (server->process))
        return FALSE;
      role = hello_role (server->port, 2000);
      if (role != NULL)
        return TRUE;
      g_usleep (20 * 1000);
    }
  g_error ("chatd on port %u did not answer hello in time (log: %s)", server->port,
           server->log_path);
  return FALSE;
}

void
chat_test_cluster_start (ChatTestCluster *cluster, guint node, gboolean primary)
{
  Server *server = server_of (cluster, node);

  g_assert_false (process_running (server->process));
  for (guint attempt = 1; attempt <= START_ATTEMPTS; attempt++)
    {
      g_clear_object (&server->process);
      server->process = spawn (cluster, node, primary);
      if (wait_ready (server))
        {
          cluster->started_once = TRUE;
          return;
        }
      /* The free port was taken meanwhile: pick another while nothing else runs. */
      if (!cluster->started_once && log_mentions (server->log_path, "already in use"))
        {
          server->port = pick_unused_port (cluster);
          write_config (cluster);
          continue;
        }
      break;
    }
  g_error ("chatd node %u exited during start (log: %s)", node, server->log_path);
}

guint
chat_test_cluster_wait_leader (ChatTestCluster *cluster, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  do
    {
      for (guint node = 1; node <= cluster->n_servers; node++)
        {
          g_autofree char *role = NULL;

          if (!process_running (cluster->servers[node - 1].process))
            continue;
          role = hello_role (cluster->servers[node - 1].port, 1000);
          if (g_strcmp0 (role, "leader") == 0)
            return node;
        }
      g_usleep (50 * 1000);
    }
  while (g_get_monotonic_time () < deadline);
  return 0;
}

void
chat_test_cluster_start_all (ChatTestCluster *cluster)
{
  for (guint node = 1; node <= cluster->n_servers; node++)
    chat_test_cluster_start (cluster, node, node == 1);
  g_assert_cmpuint (chat_test_cluster_wait_leader (cluster, START_TIMEOUT_MS), !=, 0);
}

/* Waits for a server sent signum to exit, and reaps it. */
static void
reap (Server *server, int signum)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_MS * 1000;

  while (process_running (server->process) && g_get_monotonic_time () < deadline)
    g_usleep (5 * 1000);
  if (process_running (server->process))
    {
      g_subprocess_force_exit (server->process);
      g_error ("chatd on port %u ignored signal %d", server->port, signum);
    }
  g_subprocess_wait (server->process, NULL, NULL);
}

static void
signal_and_reap (Server *server, int signum)
{
  if (!process_running (server->process))
    return;
  g_subprocess_send_signal (server->process, signum);
  reap (server, signum);
}

static void
assert_clean_exit (Server *server)
{
  if (server->process != NULL)
    g_assert_true (g_subprocess_get_if_exited (server->process)
                   && g_subprocess_get_exit_status (server->process) == 0);
}

void
chat_test_cluster_kill (ChatTestCluster *cluster, guint node)
{
  signal_and_reap (server_of (cluster, node), SIGKILL);
}

void
chat_test_cluster_stop (ChatTestCluster *cluster, guint node)
{
  Server *server = server_of (cluster, node);

  signal_and_reap (server, SIGTERM);
  assert_clean_exit (server);
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
      Server *server = server_of (cluster, node);

      signalled[node] = process_running (server->process);
      if (signalled[node])
        g_subprocess_send_signal (server->process, SIGTERM);
    }
  for (guint node = 1; node <= cluster->n_servers; node++)
    {
      if (!signalled[node])
        continue;
      reap (server_of (cluster, node), SIGTERM);
      assert_clean_exit (server_of (cluster, node));
    }
}

void
chat_test_cluster_signal (ChatTestCluster *cluster, guint node, int signum)
{
  Server *server = server_of (cluster, node);

  g_assert_nonnull (server->process);
  g_subprocess_send_signal (server->process, signum);
}

gboolean
chat_test_cluster_is_running (ChatTestCluster *cluster, guint node)
{
  return process_running (server_of (cluster, node)->process);
}

void
chat_test_cluster_free (ChatTestCluster *cluster)
{
  if (cluster == NULL)
    return;
  for (guint i = 0; i < cluster->n_servers; i++)
    {
      signal_and_reap (&cluster->servers[i], SIGKILL);
      g_clear_object (&cluster->servers[i].process);
      g_free (cluster->servers[i].state_dir);
      g_free (cluster->servers[i].log_path);
    }
  /* CHATD_TEST_KEEP=1 keeps the logs and databases for a look after a failure. */
  if (g_getenv ("CHATD_TEST_KEEP") == NULL)
    chat_fs_remove_tree (cluster->dir);
  else
    g_printerr ("# kept %s\n", cluster->dir);
  g_free (cluster->servers);
  g_key_file_unref (cluster->options);
  g_free (cluster->mode);
  g_free (cluster->config_path);
  g_free (cluster->dir);
  g_free (cluster);
}

/* How long a server has to answer a hello. */
#define HELLO_TIMEOUT_MS 2000

static JsonObject *
hello_with (ChatTestCluster *cluster, guint node, gboolean want_hash)
{
  g_autoptr (ChatTestConn) conn = NULL;
  JsonObject *reply = NULL;

  if (!chat_test_cluster_is_running (cluster, node))
    return NULL;
  conn = chat_test_conn_new (chat_test_cluster_port (cluster, node));
  chat_test_conn_send_line (conn, want_hash ? "{\"id\":1,\"op\":\"hello\",\"state_hash\":true}"
                                            : "{\"id\":1,\"op\":\"hello\"}");
  reply = chat_test_conn_read (conn, HELLO_TIMEOUT_MS);
  if (reply != NULL && !json_object_get_boolean_member_with_default (reply, "ok", FALSE))
    g_clear_pointer (&reply, json_object_unref);
  return reply;
}

JsonObject *
chat_test_hello (ChatTestCluster *cluster, guint node)
{
  return hello_with (cluster, node, FALSE);
}

char *
chat_test_state_hash (ChatTestCluster *cluster, guint node, guint64 *applied)
{
  g_autoptr (JsonObject) reply = hello_with (cluster, node, TRUE);

  if (reply == NULL || !json_object_has_member (reply, "state_hash"))
    return NULL;
  if (applied != NULL)
    *applied = (guint64)json_object_get_int_member_with_default (reply, "applied_index", 0);
  return g_strdup (json_object_get_string_member (reply, "state_hash"));
}
