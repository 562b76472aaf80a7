/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A client's end of a socket pair (or of TLS over one) for the tests of the daemon's
 * connection objects. */
#pragma once

#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "chat-json.h"
#include "chat-test-loop.h"

#define CHAT_TEST_WIRE_TIMEOUT_S 5

/* The client's end: a stream (a socket, or TLS over one) and the bytes read from it. */
typedef struct
{
  GIOStream *stream;
  GSource *reader; /* reads into inbox from the default main context, while set */
  GString *inbox;
  gboolean eof;
} ChatTestWire;

static void chat_test_wire_start_reading (ChatTestWire *wire);
static void chat_test_wire_stop_reading (ChatTestWire *wire);

static GIOStream *
chat_test_wire_stream_for_fd (int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

/* Two connected GSocketConnections, as accept and connect give them. */
static G_GNUC_UNUSED void
chat_test_wire_socket_pair (GIOStream **server, GIOStream **client)
{
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  *server = chat_test_wire_stream_for_fd (fds[0]);
  *client = chat_test_wire_stream_for_fd (fds[1]);
}

/* The client's end over stream (taken), read from the main loop from now on. */
static G_GNUC_UNUSED void
chat_test_wire_open_stream (ChatTestWire *wire, GIOStream *stream)
{
  wire->stream = stream;
  wire->inbox = g_string_new (NULL);
  wire->eof = FALSE;
  wire->reader = NULL;
  chat_test_wire_start_reading (wire);
}

/* A connected pair: *server is a GSocketConnection (what the daemon gets from accept),
 * wire is the client's end. */
static G_GNUC_UNUSED void
chat_test_wire_open (ChatTestWire *wire, GIOStream **server)
{
  GIOStream *client = NULL;

  chat_test_wire_socket_pair (server, &client);
  chat_test_wire_open_stream (wire, client);
}

static G_GNUC_UNUSED void
chat_test_wire_clear (ChatTestWire *wire)
{
  chat_test_wire_stop_reading (wire);
  g_clear_object (&wire->stream);
  if (wire->inbox != NULL)
    g_string_free (g_steal_pointer (&wire->inbox), TRUE);
}

static G_GNUC_UNUSED void
chat_test_wire_write (ChatTestWire *wire, const char *bytes, gsize len)
{
  g_autoptr (GError) error = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (wire->stream);

  g_output_stream_write_all (out, bytes, len, NULL, NULL, &error);
  g_assert_no_error (error);
}

static G_GNUC_UNUSED void
chat_test_wire_send (ChatTestWire *wire, const char *text)
{
  chat_test_wire_write (wire, text, strlen (text));
}

/* Half-closes: the server reads end of file but may still answer. */
static G_GNUC_UNUSED void
chat_test_wire_shutdown_write (ChatTestWire *wire)
{
  g_autoptr (GError) error = NULL;
  GSocket *socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (wire->stream));

  g_assert_true (g_socket_shutdown (socket, FALSE, TRUE, &error));
  g_assert_no_error (error);
}

/* Reads what is there now without blocking; FALSE once the server closed its end. */
static gboolean
chat_test_wire_pump (ChatTestWire *wire)
{
  GPollableInputStream *in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (wire->stream));
  char buffer[65536];
  gssize n = 0;

  while (!wire->eof)
    {
      g_autoptr (GError) error = NULL;

      n = g_pollable_input_stream_read_nonblocking (in, buffer, sizeof buffer, NULL, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return TRUE;
      if (n <= 0)
        wire->eof = TRUE;
      else
        g_string_append_len (wire->inbox, buffer, n);
    }
  return FALSE;
}

static gboolean
chat_test_wire_on_readable (GObject *stream, gpointer user_data)
{
  ChatTestWire *wire = user_data;

  if (chat_test_wire_pump (wire))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&wire->reader, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* The client reads what the server writes as the main loop runs ... */
static void
chat_test_wire_start_reading (ChatTestWire *wire)
{
  if (wire->reader != NULL || wire->eof)
    return;
  wire->reader = g_pollable_input_stream_create_source (
      G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (wire->stream)), NULL);
  g_source_set_callback (wire->reader, G_SOURCE_FUNC (chat_test_wire_on_readable), wire, NULL);
  g_source_attach (wire->reader, NULL);
}

/* ... or, after this, reads nothing (a client that does not read). */
static void
chat_test_wire_stop_reading (ChatTestWire *wire)
{
  if (wire->reader == NULL)
    return;
  g_source_destroy (wire->reader);
  g_clear_pointer (&wire->reader, g_source_unref);
}

/* The client vanishes: its socket closes at once. */
static G_GNUC_UNUSED void
chat_test_wire_hang_up (ChatTestWire *wire)
{
  chat_test_wire_stop_reading (wire);
  g_io_stream_close (wire->stream, NULL, NULL);
}

static G_GNUC_UNUSED gboolean
chat_test_wire_has_line (ChatTestWire *wire)
{
  return memchr (wire->inbox->str, '\n', wire->inbox->len) != NULL;
}

static gboolean
chat_test_wire_line_or_eof (gpointer data)
{
  ChatTestWire *wire = data;

  return chat_test_wire_has_line (wire) || wire->eof;
}

/* The next line the server wrote, without its newline; fails the test if none comes. */
static G_GNUC_UNUSED char *
chat_test_wire_read_line (ChatTestWire *wire)
{
  char *newline = NULL;
  char *line = NULL;
  gsize len = 0;

  chat_test_loop_until (chat_test_wire_line_or_eof, wire, CHAT_TEST_WIRE_TIMEOUT_S * 1000);
  newline = memchr (wire->inbox->str, '\n', wire->inbox->len);
  if (newline == NULL)
    g_error ("no line from the server (%s); it sent \"%s\"", wire->eof ? "it closed" : "timed out",
             wire->inbox->str);
  len = (gsize)(newline - wire->inbox->str);
  line = g_strndup (wire->inbox->str, len);
  g_string_erase (wire->inbox, 0, (gssize)len + 1);
  return line;
}

/* The next line the server wrote, as a JSON object. */
static G_GNUC_UNUSED JsonObject *
chat_test_wire_read_object (ChatTestWire *wire)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = chat_test_wire_read_line (wire);
  JsonObject *object = chat_json_parse_object (line, strlen (line), &error);

  g_assert_no_error (error);
  return object;
}

static gboolean
chat_test_wire_is_eof (gpointer data)
{
  return ((ChatTestWire *)data)->eof;
}

/* The server closed its end, and wrote nothing more before it did. */
static G_GNUC_UNUSED void
chat_test_wire_expect_eof (ChatTestWire *wire)
{
  g_assert_true (
      chat_test_loop_until (chat_test_wire_is_eof, wire, CHAT_TEST_WIRE_TIMEOUT_S * 1000));
  g_assert_cmpstr (wire->inbox->str, ==, "");
}
