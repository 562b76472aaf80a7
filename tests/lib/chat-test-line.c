/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A raw JSON-line connection to a chatd server with deadlines: plaintext or TLS, from
 * another loopback address or from inside a network namespace. */
#define G_LOG_DOMAIN "chatd-test"

#include "chat-test-line.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct _ChatTestLine
{
  int fd;          /* non-blocking */
  GIOStream *tls;  /* over a copy of fd; NULL: plaintext */
  GString *buffer; /* read, not consumed yet */
  gboolean closed;
};

static char *client_name;

static gint64
deadline_in (guint timeout_ms)
{
  return g_get_monotonic_time () + (gint64)timeout_ms * 1000;
}

static gboolean
set_errno_error (GError **error, int code, const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (code), "%s: %s", what, g_strerror (code));
  return FALSE;
}

/* Waits until fd is ready for events, or the deadline passes (G_IO_ERROR_TIMED_OUT). */
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
        return set_errno_error (error, errno, "poll");
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Timed out");
  return FALSE;
}

/* --- connecting ----------------------------------------------------------------------- */

/* A TCP socket of network namespace netns: this thread switches there and back (setns
 * changes the calling thread only). */
static int
socket_in_namespace (const char *netns, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/run/netns/%s", netns);
  int self = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open (path, O_RDONLY | O_CLOEXEC);
  int fd = -1, saved = 0;

  if (self < 0 || target < 0 || setns (target, CLONE_NEWNET) != 0)
    saved = errno;
  else
    {
      fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      saved = errno;
      g_assert_cmpint (setns (self, CLONE_NEWNET), ==, 0);
    }
  if (self >= 0)
    close (self);
  if (target >= 0)
    close (target);
  if (fd < 0)
    set_errno_error (error, saved, netns);
  return fd;
}

static int
new_socket (const ChatTestLineOptions *options, GError **error)
{
  int fd = -1;

  if (options->netns != NULL)
    return socket_in_namespace (options->netns, error);
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    set_errno_error (error, errno, "socket");
  return fd;
}

static gboolean
bind_source (int fd, const char *source, GError **error)
{
  struct sockaddr_in local = { .sin_family = AF_INET };

  if (source == NULL)
    return TRUE;
  g_assert_true (inet_pton (AF_INET, source, &local.sin_addr) == 1);
  if (bind (fd, (struct sockaddr *)&local, sizeof local) != 0)
    return set_errno_error (error, errno, "bind");
  return TRUE;
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

static gboolean
connect_within (int fd, const char *host, guint16 port, gint64 deadline, GError **error)
{
  struct sockaddr_storage address;
  socklen_t len = 0, so_len = sizeof (int);
  int one = 1, so_error = 0;

  if (!resolve (host, port, &address, &len, error))
    return FALSE;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (fd, (struct sockaddr *)&address, len) != 0 && errno != EINPROGRESS)
    so_error = errno;
  else if (!wait_fd (fd, POLLOUT, deadline, error))
    return FALSE;
  else
    getsockopt (fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len);
  if (so_error != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (so_error), "connect %s:%u: %s", host,
                   port, g_strerror (so_error));
      return FALSE;
    }
  return TRUE;
}

/* A TLS client over a copy of the connected fd (so poll() and close() keep working on
 * the fd itself), verifying the server's certificate for host. */
static gboolean
start_tls (ChatTestLine *line, const char *host, guint16 port, GTlsDatabase *database,
           guint handshake_ms, GError **error)
{
  g_autoptr (GSocketConnectable) identity = g_network_address_new (host, port);
  g_autoptr (GSocketConnection) base = NULL;
  g_autoptr (GSocket) socket = NULL;
  int copy = dup (line->fd);

  if (copy < 0)
    return set_errno_error (error, errno, "dup");
  socket = g_socket_new_from_fd (copy, error);
  if (socket == NULL)
    {
      close (copy);
      return FALSE;
    }
  g_socket_set_timeout (socket, MAX (1, (handshake_ms + 999) / 1000));
  base = g_socket_connection_factory_create_connection (socket);
  line->tls = g_tls_client_connection_new (G_IO_STREAM (base), identity, error);
  if (line->tls == NULL)
    return FALSE;
  g_tls_connection_set_database (G_TLS_CONNECTION (line->tls), database);
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (line->tls), NULL, error))
    return FALSE;
  g_socket_set_timeout (socket, 0);
  return TRUE;
}

ChatTestLine *
chat_test_line_connect (const char *host, guint16 port, const ChatTestLineOptions *options,
                        guint timeout_ms, GError **error)
{
  static const ChatTestLineOptions defaults = { 0 };
  const ChatTestLineOptions *o = options != NULL ? options : &defaults;
  g_autoptr (ChatTestLine) line = g_new0 (ChatTestLine, 1);

  line->buffer = g_string_new (NULL);
  line->fd = new_socket (o, error);
  if (line->fd < 0 || !bind_source (line->fd, o->source, error)
      || !connect_within (line->fd, host, port, deadline_in (timeout_ms), error))
    return NULL;
  if (o->tls != NULL
      && !start_tls (line, host, port, o->tls, o->handshake_ms ? o->handshake_ms : timeout_ms,
                     error))
    return NULL;
  return g_steal_pointer (&line);
}

void
chat_test_line_free (ChatTestLine *line)
{
  if (line == NULL)
    return;
  g_clear_object (&line->tls);
  if (line->fd >= 0)
    close (line->fd);
  g_string_free (line->buffer, TRUE);
  g_free (line);
}

int
chat_test_line_steal_fd (ChatTestLine *line, GIOStream **tls, GString **pending)
{
  int fd = line->fd;

  line->fd = -1;
  *tls = g_steal_pointer (&line->tls);
  *pending = g_steal_pointer (&line->buffer);
  line->buffer = g_string_new (NULL);
  return fd;
}

gboolean
chat_test_line_is_closed (ChatTestLine *line)
{
  return line->closed;
}

/* --- reading and writing --------------------------------------------------------------- */

/* One non-blocking write through TLS or to the fd: bytes written, or -1 with errno
 * (EAGAIN: try again once the fd is writable). */
static gssize
write_some (ChatTestLine *line, const char *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  GOutputStream *out = NULL;
  gssize n = 0;

  if (line->tls == NULL)
    return send (line->fd, data, len, MSG_NOSIGNAL);
  out = g_io_stream_get_output_stream (line->tls);
  n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out), data, len, NULL,
                                                  &error);
  if (n < 0)
    errno = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ? EAGAIN : EPIPE;
  return n;
}

gboolean
chat_test_line_send (ChatTestLine *line, const void *data, gsize len, guint timeout_ms,
                     GError **error)
{
  gint64 deadline = deadline_in (timeout_ms);
  const char *bytes = data;

  while (len > 0)
    {
      gssize n = write_some (line, bytes, len);

      if (n > 0)
        {
          bytes += n;
          len -= (gsize)n;
        }
      else if (n < 0 && (errno == EAGAIN || errno == EINTR))
        {
          if (!wait_fd (line->fd, POLLOUT, deadline, error))
            return FALSE;
        }
      else
        return set_errno_error (error, n < 0 ? errno : EPIPE, "send");
    }
  return TRUE;
}

gboolean
chat_test_line_send_line (ChatTestLine *line, const char *text, guint timeout_ms, GError **error)
{
  g_autofree char *data = g_strconcat (text, "\n", NULL);

  return chat_test_line_send (line, data, strlen (data), timeout_ms, error);
}

/* One non-blocking read through TLS or from the fd: bytes read, 0 at the end, or -1 with
 * errno (EAGAIN: nothing yet). TLS may hold decrypted bytes the fd no longer shows, so
 * the caller reads before it polls. */
static gssize
read_some (ChatTestLine *line, char *buffer, gsize size)
{
  g_autoptr (GError) error = NULL;
  GInputStream *in = NULL;
  gssize n = 0;

  if (line->tls == NULL)
    return recv (line->fd, buffer, size, 0);
  in = g_io_stream_get_input_stream (line->tls);
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), buffer, size, NULL,
                                                &error);
  if (n < 0)
    errno = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ? EAGAIN : EIO;
  return n;
}

/* Takes one complete line out of the buffer, or returns NULL. */
static char *
take_line (ChatTestLine *line)
{
  char *newline = memchr (line->buffer->str, '\n', line->buffer->len);
  gsize len = 0;
  char *text = NULL;

  if (newline == NULL)
    return NULL;
  len = (gsize)(newline - line->buffer->str);
  text = g_strndup (line->buffer->str, len);
  g_string_erase (line->buffer, 0, (gssize)len + 1);
  return text;
}

char *
chat_test_line_read_line (ChatTestLine *line, guint timeout_ms, GError **error)
{
  gint64 deadline = deadline_in (timeout_ms);

  for (;;)
    {
      char chunk[65536];
      char *text = take_line (line);
      gssize n = 0;

      if (text != NULL)
        return text;
      n = line->closed ? 0 : read_some (line, chunk, sizeof chunk);
      if (n > 0)
        g_string_append_len (line->buffer, chunk, n);
      else if (n < 0 && (errno == EAGAIN || errno == EINTR))
        {
          if (!wait_fd (line->fd, POLLIN, deadline, error))
            return NULL;
        }
      else
        {
          line->closed = TRUE;
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                               "Connection closed by the server");
          return NULL;
        }
    }
}

JsonObject *
chat_test_line_read_object (ChatTestLine *line, guint timeout_ms, GError **error)
{
  g_autofree char *text = chat_test_line_read_line (line, timeout_ms, error);
  g_autoptr (JsonNode) node = NULL;

  if (text == NULL)
    return NULL;
  node = json_from_string (text, error);
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "Not an object: %s", text);
      return NULL;
    }
  return json_object_ref (json_node_get_object (node));
}

JsonObject *
chat_test_line_read_response (ChatTestLine *line, guint timeout_ms, GPtrArray *events,
                              GError **error)
{
  gint64 deadline = deadline_in (timeout_ms);

  for (;;)
    {
      gint64 left_ms = MAX ((deadline - g_get_monotonic_time ()) / 1000, 0);
      g_autoptr (JsonObject) object = chat_test_line_read_object (line, (guint)left_ms, error);

      if (object == NULL)
        return NULL;
      if (!json_object_has_member (object, "event"))
        return g_steal_pointer (&object);
      if (events != NULL)
        g_ptr_array_add (events, g_steal_pointer (&object));
    }
}

JsonObject *
chat_test_line_request (ChatTestLine *line, const char *text, guint timeout_ms, GPtrArray *events,
                        GError **error)
{
  gint64 deadline = deadline_in (timeout_ms);
  gint64 left_ms = 0;

  if (!chat_test_line_send_line (line, text, timeout_ms, error))
    return NULL;
  left_ms = MAX ((deadline - g_get_monotonic_time ()) / 1000, 0);
  return chat_test_line_read_response (line, (guint)left_ms, events, error);
}

/* --- hello ----------------------------------------------------------------------------- */

void
chat_test_line_set_client_name (const char *name)
{
  g_free (client_name);
  client_name = g_strdup (name);
}

JsonObject *
chat_test_line_hello (const char *host, guint16 port, const ChatTestLineOptions *options,
                      gboolean state_hash, guint timeout_ms)
{
  g_autoptr (ChatTestLine) line = chat_test_line_connect (host, port, options, timeout_ms, NULL);
  g_autofree char *request = g_strdup_printf (
      "{\"id\":0,\"op\":\"hello\",\"client\":\"%s\",\"proto\":1%s}",
      client_name != NULL ? client_name : "chat-test", state_hash ? ",\"state_hash\":true" : "");
  g_autoptr (JsonObject) reply = NULL;

  if (line == NULL)
    return NULL;
  reply = chat_test_line_request (line, request, timeout_ms, NULL, NULL);
  if (reply == NULL || !json_object_get_boolean_member_with_default (reply, "ok", FALSE))
    return NULL;
  return g_steal_pointer (&reply);
}
