/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A blocking line connection with deadlines, for setup, probing and failover timing. */
#include "bench-conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct _BenchConn
{
  int fd;
  GString *buffer;
};

static gboolean
wait_fd (int fd, short events, gint64 deadline, GError **error)
{
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = events };
      gint64 left_ms = (deadline - g_get_monotonic_time () + 999) / 1000;
      int n = 0;

      if (left_ms <= 0)
        break;
      n = poll (&pfd, 1, (int)MIN (left_ms, G_MAXINT));
      if (n > 0)
        return TRUE;
      if (n < 0 && errno != EINTR)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "poll: %s",
                       g_strerror (errno));
          return FALSE;
        }
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Timed out");
  return FALSE;
}

static gboolean
resolve (const char *host, guint16 port, struct sockaddr_storage *address, socklen_t *len,
         GError **error)
{
  struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
  struct addrinfo *result = NULL;
  char service[8];
  int rc = 0;

  g_snprintf (service, sizeof service, "%u", port);
  rc = getaddrinfo (host, service, &hints, &result);
  if (rc != 0 || result == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "Cannot resolve %s: %s", host,
                   gai_strerror (rc));
      return FALSE;
    }
  memcpy (address, result->ai_addr, result->ai_addrlen);
  *len = result->ai_addrlen;
  freeaddrinfo (result);
  return TRUE;
}

/* TLS streams by fd: each is set by the thread that connects and used by the one thread
 * that owns the fd afterwards. The stream works on a dup of the fd, so epoll and close()
 * keep working on the fd itself. */
#define MAX_TLS_FDS 65536
static GIOStream *tls_by_fd[MAX_TLS_FDS];
static GTlsDatabase *tls_database;

void
bench_conn_set_tls (GTlsDatabase *database)
{
  g_set_object (&tls_database, database);
}

static gboolean
start_tls (int fd, const char *host, guint16 port, GError **error)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketConnection) base = NULL;
  g_autoptr (GSocketConnectable) identity = g_network_address_new (host, port);
  g_autoptr (GIOStream) tls = NULL;
  int copy = -1;

  if (fd >= MAX_TLS_FDS || (copy = dup (fd)) < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES, "fd out of range");
      return FALSE;
    }
  socket = g_socket_new_from_fd (copy, error);
  if (socket == NULL)
    {
      close (copy);
      return FALSE;
    }
  g_socket_set_timeout (socket, 10);
  base = g_socket_connection_factory_create_connection (socket);
  tls = g_tls_client_connection_new (G_IO_STREAM (base), identity, error);
  if (tls == NULL)
    return FALSE;
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), tls_database);
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, error))
    return FALSE;
  g_socket_set_timeout (socket, 0);
  tls_by_fd[fd] = g_steal_pointer (&tls);
  return TRUE;
}

static gssize
set_errno_from (GError *error, gssize done)
{
  if (done > 0)
    return done;
  if (error == NULL)
    return 0;
  errno = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ? EAGAIN : EPIPE;
  return -1;
}

gssize
bench_io_send (int fd, const void *data, gsize len)
{
  GIOStream *tls = fd >= 0 && fd < MAX_TLS_FDS ? tls_by_fd[fd] : NULL;
  g_autoptr (GError) error = NULL;
  gssize n = 0;

  if (tls == NULL)
    return send (fd, data, len, MSG_NOSIGNAL);
  n = g_pollable_output_stream_write_nonblocking (
      G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (tls)), data, len, NULL, &error);
  return n >= 0 ? n : set_errno_from (error, 0);
}

gssize
bench_io_recv (int fd, void *data, gsize len)
{
  GIOStream *tls = fd >= 0 && fd < MAX_TLS_FDS ? tls_by_fd[fd] : NULL;
  GPollableInputStream *in = NULL;
  gsize done = 0;

  if (tls == NULL)
    return recv (fd, data, len, 0);
  in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (tls));
  while (done < len)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (in, (char *)data + done, len - done,
                                                           NULL, &error);

      if (n <= 0)
        return set_errno_from (error, (gssize)done);
      done += (gsize)n;
    }
  return (gssize)done;
}

void
bench_io_close (int fd)
{
  if (fd < 0)
    return;
  if (fd < MAX_TLS_FDS)
    g_clear_object (&tls_by_fd[fd]);
  close (fd);
}

BenchConn *
bench_conn_new (const char *host, guint16 port, guint timeout_ms, GError **error)
{
  struct sockaddr_storage address;
  socklen_t len = 0;
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  int one = 1, fd = -1, so_error = 0;
  socklen_t so_len = sizeof so_error;
  BenchConn *conn = NULL;

  if (!resolve (host, port, &address, &len, error))
    return NULL;
  fd = socket (address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "socket: %s",
                   g_strerror (errno));
      return NULL;
    }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (fd, (struct sockaddr *)&address, len) != 0 && errno != EINPROGRESS)
    so_error = errno;
  else if (!wait_fd (fd, POLLOUT, deadline, error))
    {
      close (fd);
      return NULL;
    }
  else
    getsockopt (fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len);
  if (so_error != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (so_error), "connect %s:%u: %s", host,
                   port, g_strerror (so_error));
      close (fd);
      return NULL;
    }
  if (tls_database != NULL && !start_tls (fd, host, port, error))
    {
      bench_io_close (fd);
      return NULL;
    }
  conn = g_new0 (BenchConn, 1);
  conn->fd = fd;
  conn->buffer = g_string_new (NULL);
  return conn;
}

void
bench_conn_free (BenchConn *conn)
{
  if (conn == NULL)
    return;
  bench_io_close (conn->fd);
  g_string_free (conn->buffer, TRUE);
  g_free (conn);
}

int
bench_conn_steal_fd (BenchConn *conn, GString **pending)
{
  int fd = conn->fd;

  conn->fd = -1;
  *pending = g_steal_pointer (&conn->buffer);
  conn->buffer = g_string_new (NULL);
  return fd;
}

gboolean
bench_conn_send_line (BenchConn *conn, const char *line, GError **error)
{
  g_autofree char *data = g_strconcat (line, "\n", NULL);
  gsize len = strlen (data), done = 0;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (done < len)
    {
      gssize n = bench_io_send (conn->fd, data + done, len - done);

      if (n > 0)
        done += (gsize)n;
      else if (n < 0 && (errno == EAGAIN || errno == EINTR))
        {
          if (!wait_fd (conn->fd, POLLOUT, deadline, error))
            return FALSE;
        }
      else
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "send: %s",
                       g_strerror (errno));
          return FALSE;
        }
    }
  return TRUE;
}

/* Reads until a full line is buffered; returns it (without the newline). */
static char *
read_line (BenchConn *conn, gint64 deadline, GError **error)
{
  for (;;)
    {
      char *newline = memchr (conn->buffer->str, '\n', conn->buffer->len);
      char chunk[16384];
      ssize_t n = 0;

      if (newline != NULL)
        {
          gsize len = (gsize)(newline - conn->buffer->str);
          char *line = g_strndup (conn->buffer->str, len);

          g_string_erase (conn->buffer, 0, (gssize)len + 1);
          return line;
        }
      /* Read first: TLS may hold bytes the socket no longer shows. */
      n = bench_io_recv (conn->fd, chunk, sizeof chunk);
      if (n > 0)
        g_string_append_len (conn->buffer, chunk, n);
      else if (n < 0 && (errno == EAGAIN || errno == EINTR))
        {
          if (!wait_fd (conn->fd, POLLIN, deadline, error))
            return NULL;
        }
      else
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                               "Connection closed by the server");
          return NULL;
        }
    }
}

JsonObject *
bench_conn_read_response (BenchConn *conn, guint timeout_ms, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  for (;;)
    {
      g_autofree char *line = read_line (conn, deadline, error);
      g_autoptr (JsonNode) node = NULL;
      JsonObject *object = NULL;

      if (line == NULL)
        return NULL;
      node = json_from_string (line, error);
      if (node == NULL)
        return NULL;
      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "Not an object");
          return NULL;
        }
      object = json_node_get_object (node);
      if (!json_object_has_member (object, "event"))
        return json_object_ref (object);
    }
}

JsonObject *
bench_conn_request (BenchConn *conn, const char *line, guint timeout_ms, GError **error)
{
  if (!bench_conn_send_line (conn, line, error))
    return NULL;
  return bench_conn_read_response (conn, timeout_ms, error);
}

gboolean
bench_reply_ok (JsonObject *reply, const char **code)
{
  JsonObject *error = NULL;

  if (json_object_get_boolean_member_with_default (reply, "ok", FALSE))
    return TRUE;
  error = json_object_get_object_member (reply, "error");
  if (code != NULL)
    *code = error ? json_object_get_string_member_with_default (error, "code", "none") : "none";
  return FALSE;
}

JsonObject *
bench_hello (const char *host, guint16 port, guint timeout_ms)
{
  g_autoptr (BenchConn) conn = bench_conn_new (host, port, timeout_ms, NULL);

  if (conn == NULL)
    return NULL;
  return bench_conn_request (
      conn, "{\"id\":0,\"op\":\"hello\",\"client\":\"chatd-bench\",\"proto\":1}", timeout_ms, NULL);
}
