/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The benchmark's line connections (tests/lib's line client with the benchmark's TLS
 * setting), and raw I/O on the sockets the load generator takes out of them. */
#include "bench-conn.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

/* Writes block this long at most. */
#define SEND_TIMEOUT_MS 10000
/* A TLS handshake may take this long, whatever the connect timeout. */
#define HANDSHAKE_TIMEOUT_MS 10000

/* TLS streams by fd: each is set by the thread that takes the fd out of its connection
 * and used by the one thread that owns the fd afterwards. The stream works on a copy of
 * the fd, so epoll and close() keep working on the fd itself. */
#define MAX_TLS_FDS 65536
static GIOStream *tls_by_fd[MAX_TLS_FDS];
static GTlsDatabase *tls_database;

void
bench_conn_set_tls (GTlsDatabase *database)
{
  g_set_object (&tls_database, database);
}

GTlsDatabase *
bench_conn_get_tls (void)
{
  return tls_database;
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
  ChatTestLineOptions options = { .tls = tls_database, .handshake_ms = HANDSHAKE_TIMEOUT_MS };

  return chat_test_line_connect (host, port, &options, timeout_ms, error);
}

void
bench_conn_free (BenchConn *conn)
{
  chat_test_line_free (conn);
}

int
bench_conn_steal_fd (BenchConn *conn, GString **pending)
{
  GIOStream *tls = NULL;
  int fd = chat_test_line_steal_fd (conn, &tls, pending);

  if (tls != NULL && fd >= 0 && fd < MAX_TLS_FDS)
    tls_by_fd[fd] = tls;
  else
    g_clear_object (&tls);
  return fd;
}

gboolean
bench_conn_send_line (BenchConn *conn, const char *line, GError **error)
{
  return chat_test_line_send_line (conn, line, SEND_TIMEOUT_MS, error);
}

JsonObject *
bench_conn_read_response (BenchConn *conn, guint timeout_ms, GError **error)
{
  return chat_test_line_read_response (conn, timeout_ms, NULL, error);
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
  ChatTestLineOptions options = { .tls = tls_database, .handshake_ms = HANDSHAKE_TIMEOUT_MS };

  return chat_test_line_hello (host, port, &options, FALSE, timeout_ms);
}
