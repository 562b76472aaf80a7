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
  if (conn->fd >= 0)
    close (conn->fd);
  g_string_free (conn->buffer, TRUE);
  g_free (conn);
}

int
bench_conn_get_fd (BenchConn *conn)
{
  return conn->fd;
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
      ssize_t n = send (conn->fd, data + done, len - done, MSG_NOSIGNAL);

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
      if (!wait_fd (conn->fd, POLLIN, deadline, error))
        return NULL;
      n = recv (conn->fd, chunk, sizeof chunk, 0);
      if (n > 0)
        g_string_append_len (conn->buffer, chunk, n);
      else if (n == 0 || (errno != EAGAIN && errno != EINTR))
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
