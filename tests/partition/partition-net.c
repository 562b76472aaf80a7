/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network namespaces for partition tests: one per server, joined by a bridge that lives in
 * its own namespace; a server is cut off by taking its bridge port down. */
#define G_LOG_DOMAIN "partition"

#include "partition-net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SUBNET "10.213.0."

struct _PartNet
{
  char *prefix;
  guint n;
  char **namespaces;    /* [0] the switch, [1..n] the servers */
  char **addresses;     /* [1..n] */
  GTlsDatabase *tls_ca; /* NULL: connections speak plaintext */
};

struct _PartConn
{
  int fd;
  GSocket *socket; /* over TLS only; it owns fd */
  GIOStream *tls;  /* NULL: plaintext */
  GString *buffer;
};

/* Runs argv; TRUE when it exits 0. Output goes to the test log on failure. */
static gboolean
run (const char *const *argv, gboolean must)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                     &status, &error)
      || !g_spawn_check_wait_status (status, NULL))
    {
      g_autofree char *command = g_strjoinv (" ", (char **)argv);

      if (must)
        g_error ("“%s” failed: %s%s", command, error ? error->message : "", err ? err : "");
      return FALSE;
    }
  return TRUE;
}

#define RUN(...) run ((const char *const[]){ __VA_ARGS__, NULL }, TRUE)

gboolean
part_net_available (char **skip)
{
  g_autofree char *name = g_strdup_printf ("chatdprobe%d", (int)getpid ());

  if (geteuid () != 0)
    {
      *skip = g_strdup ("partition tests need root (network namespaces)");
      return FALSE;
    }
  if (!run ((const char *const[]){ "ip", "netns", "add", name, NULL }, FALSE))
    {
      *skip = g_strdup ("`ip netns add` does not work here (iproute2 missing or no permission)");
      return FALSE;
    }
  run ((const char *const[]){ "ip", "netns", "del", name, NULL }, FALSE);
  return TRUE;
}

static void
add_server_namespace (PartNet *net, guint node)
{
  g_autofree char *port = g_strdup_printf ("v%u", node);
  g_autofree char *cidr = g_strdup_printf ("%s/24", net->addresses[node]);
  const char *sw = net->namespaces[0], *ns = net->namespaces[node];

  RUN ("ip", "netns", "add", ns);
  RUN ("ip", "-n", ns, "link", "set", "lo", "up");
  RUN ("ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
  RUN ("ip", "-n", sw, "link", "set", port, "master", "br0");
  RUN ("ip", "-n", sw, "link", "set", port, "up");
  RUN ("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0");
  RUN ("ip", "-n", ns, "link", "set", "eth0", "up");
}

PartNet *
part_net_new (const char *prefix, guint n)
{
  PartNet *net = g_new0 (PartNet, 1);

  net->prefix = g_strdup (prefix);
  net->n = n;
  net->namespaces = g_new0 (char *, n + 2);
  net->addresses = g_new0 (char *, n + 2);
  net->namespaces[0] = g_strdup_printf ("%s-sw", prefix);
  RUN ("ip", "netns", "add", net->namespaces[0]);
  RUN ("ip", "-n", net->namespaces[0], "link", "add", "br0", "type", "bridge");
  RUN ("ip", "-n", net->namespaces[0], "link", "set", "br0", "up");
  for (guint node = 1; node <= n; node++)
    {
      net->namespaces[node] = g_strdup_printf ("%s-%u", prefix, node);
      net->addresses[node] = g_strdup_printf (SUBNET "%u", node);
      add_server_namespace (net, node);
    }
  return net;
}

const char *
part_net_namespace (PartNet *net, guint node)
{
  g_assert (node >= 1 && node <= net->n);
  return net->namespaces[node];
}

const char *
part_net_address (PartNet *net, guint node)
{
  g_assert (node >= 1 && node <= net->n);
  return net->addresses[node];
}

void
part_net_set_tls (PartNet *net, GTlsDatabase *ca)
{
  g_set_object (&net->tls_ca, ca);
}

void
part_net_isolate (PartNet *net, guint node, gboolean isolated)
{
  g_autofree char *port = g_strdup_printf ("v%u", node);

  RUN ("ip", "-n", net->namespaces[0], "link", "set", port, isolated ? "down" : "up");
}

/* SIGKILLs every process inside namespace ns, then deletes it. */
static void
delete_namespace (const char *ns)
{
  g_autofree char *out = NULL;
  const char *argv[] = { "ip", "netns", "pids", ns, NULL };

  if (g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, &out, NULL, NULL, NULL)
      && out != NULL)
    {
      g_auto (GStrv) pids = g_strsplit (out, "\n", -1);

      for (guint i = 0; pids[i] != NULL; i++)
        {
          gint64 pid = g_ascii_strtoll (pids[i], NULL, 10);

          if (pid > 1 && pid != getpid ())
            kill ((pid_t)pid, SIGKILL);
        }
    }
  run ((const char *const[]){ "ip", "netns", "del", ns, NULL }, FALSE);
}

void
part_net_cleanup_prefix (const char *prefix)
{
  g_autoptr (GDir) dir = g_dir_open ("/run/netns", 0, NULL);
  const char *name = NULL;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, prefix))
      delete_namespace (name);
}

void
part_net_free (PartNet *net)
{
  if (net == NULL)
    return;
  for (guint node = net->n; node >= 1; node--)
    delete_namespace (net->namespaces[node]);
  delete_namespace (net->namespaces[0]);
  g_strfreev (net->namespaces);
  for (guint node = 0; node <= net->n; node++)
    g_free (net->addresses[node]);
  g_free (net->addresses);
  g_clear_object (&net->tls_ca);
  g_free (net->prefix);
  g_free (net);
}

/* --- connections from inside a namespace ------------------------------------------- */

/* A TCP socket that belongs to namespace ns (this thread switches there and back). */
static int
socket_in_namespace (const char *ns)
{
  g_autofree char *path = g_strdup_printf ("/run/netns/%s", ns);
  int self = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open (path, O_RDONLY | O_CLOEXEC);
  int fd = -1;

  g_assert_cmpint (self, >=, 0);
  g_assert_cmpint (target, >=, 0);
  g_assert_cmpint (setns (target, CLONE_NEWNET), ==, 0);
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  g_assert_cmpint (setns (self, CLONE_NEWNET), ==, 0);
  close (self);
  close (target);
  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static gboolean
wait_fd (int fd, short events, gint64 deadline)
{
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = events };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      int n = 0;

      if (left <= 0)
        return FALSE;
      n = poll (&pfd, 1, (int)left);
      if (n > 0)
        return TRUE;
      if (n < 0 && errno != EINTR)
        return FALSE;
    }
}

/* A TLS client over the connected fd that verifies the server's certificate for node's
 * address against the test CA; the handshake is bounded by the connect timeout (rounded
 * up to whole seconds, the unit of GSocket's timeout). */
static gboolean
conn_start_tls (PartConn *conn, PartNet *net, guint node, guint timeout_ms)
{
  g_autoptr (GSocketConnectable) identity = g_network_address_new (part_net_address (net, node), 0);
  g_autoptr (GSocketConnection) base = NULL;
  g_autoptr (GError) error = NULL;

  conn->socket = g_socket_new_from_fd (conn->fd, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (conn->socket, MAX (1, (timeout_ms + 999) / 1000));
  base = g_socket_connection_factory_create_connection (conn->socket);
  conn->tls = g_tls_client_connection_new (G_IO_STREAM (base), identity, &error);
  g_assert_no_error (error);
  g_tls_connection_set_database (G_TLS_CONNECTION (conn->tls), net->tls_ca);
  if (g_tls_connection_handshake (G_TLS_CONNECTION (conn->tls), NULL, &error))
    return TRUE;
  /* A certificate that does not verify is a failure, not a server that is slow. */
  if (error->domain == G_TLS_ERROR && error->code == G_TLS_ERROR_BAD_CERTIFICATE)
    g_error ("TLS handshake with %s: %s", part_net_address (net, node), error->message);
  g_debug ("TLS handshake with %s: %s", part_net_address (net, node), error->message);
  return FALSE;
}

PartConn *
part_conn_new (PartNet *net, guint node, guint16 port, guint timeout_ms)
{
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (port) };
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  int fd = socket_in_namespace (part_net_namespace (net, node));
  int one = 1, so_error = 0;
  socklen_t len = sizeof so_error;
  PartConn *conn = NULL;

  inet_pton (AF_INET, part_net_address (net, node), &address.sin_addr);
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (fd, (struct sockaddr *)&address, sizeof address) != 0 && errno != EINPROGRESS)
    so_error = errno;
  else if (!wait_fd (fd, POLLOUT, deadline))
    so_error = ETIMEDOUT;
  else
    getsockopt (fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0)
    {
      close (fd);
      return NULL;
    }
  conn = g_new0 (PartConn, 1);
  conn->fd = fd;
  conn->buffer = g_string_new (NULL);
  if (net->tls_ca != NULL && !conn_start_tls (conn, net, node, timeout_ms))
    g_clear_pointer (&conn, part_conn_free);
  return conn;
}

void
part_conn_free (PartConn *conn)
{
  if (conn == NULL)
    return;
  g_clear_object (&conn->tls);
  if (conn->socket != NULL)
    g_object_unref (conn->socket); /* closes fd */
  else
    close (conn->fd);
  g_string_free (conn->buffer, TRUE);
  g_free (conn);
}

/* recv() on the fd or through TLS, never blocking: bytes read, 0 at the end, or -1 with
 * errno (EAGAIN: nothing yet). TLS may hold decrypted bytes the fd no longer shows, so
 * the caller reads before it polls. */
static gssize
conn_recv (PartConn *conn, char *buffer, gsize size)
{
  g_autoptr (GError) error = NULL;
  GInputStream *input = NULL;
  gssize n = 0;

  if (conn->tls == NULL)
    return recv (conn->fd, buffer, size, 0);
  input = g_io_stream_get_input_stream (conn->tls);
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (input), buffer, size, NULL,
                                                &error);
  if (n < 0)
    errno = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ? EAGAIN : EIO;
  return n;
}

static gboolean
conn_send (PartConn *conn, const char *data, gsize size)
{
  if (conn->tls == NULL)
    return send (conn->fd, data, size, MSG_NOSIGNAL) == (ssize_t)size;
  return g_output_stream_write_all (g_io_stream_get_output_stream (conn->tls), data, size, NULL,
                                    NULL, NULL);
}

static char *
read_line (PartConn *conn, gint64 deadline)
{
  for (;;)
    {
      char *newline = memchr (conn->buffer->str, '\n', conn->buffer->len);
      char chunk[8192];
      gssize n = 0;

      if (newline != NULL)
        {
          gsize len = (gsize)(newline - conn->buffer->str);
          char *line = g_strndup (conn->buffer->str, len);

          g_string_erase (conn->buffer, 0, (gssize)len + 1);
          return line;
        }
      n = conn_recv (conn, chunk, sizeof chunk);
      if (n > 0)
        g_string_append_len (conn->buffer, chunk, n);
      else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        return NULL;
      else if (!wait_fd (conn->fd, POLLIN, deadline))
        return NULL;
    }
}

JsonObject *
part_conn_request (PartConn *conn, const char *line, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  g_autofree char *data = g_strconcat (line, "\n", NULL);

  if (!conn_send (conn, data, strlen (data)))
    return NULL;
  for (;;)
    {
      g_autofree char *reply = read_line (conn, deadline);
      g_autoptr (JsonNode) node = NULL;
      JsonObject *object = NULL;

      if (reply == NULL)
        return NULL;
      node = json_from_string (reply, NULL);
      if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
        return NULL;
      object = json_node_get_object (node);
      if (!json_object_has_member (object, "event"))
        return json_object_ref (object);
    }
}
