/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A client's end of a socket pair for the tests of the daemon's connection objects. */
#pragma once

#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "chat-json.h"

#define CHAT_TEST_WIRE_TIMEOUT_S 5

/* The client's end: a non-blocking socket and the bytes read from it so far. */
typedef struct
{
  GSocket *socket;
  GString *inbox;
  gboolean eof;
} ChatTestWire;

/* A connected pair: *server is a GSocketConnection (what the daemon gets from accept),
 * wire is the client's end. */
static G_GNUC_UNUSED void
chat_test_wire_open (ChatTestWire *wire, GIOStream **server)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) server_socket = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  server_socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  *server = G_IO_STREAM (g_socket_connection_factory_create_connection (server_socket));
  wire->socket = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  g_socket_set_blocking (wire->socket, FALSE);
  wire->inbox = g_string_new (NULL);
  wire->eof = FALSE;
}

static G_GNUC_UNUSED void
chat_test_wire_clear (ChatTestWire *wire)
{
  g_clear_object (&wire->socket);
  if (wire->inbox != NULL)
    g_string_free (g_steal_pointer (&wire->inbox), TRUE);
}

static G_GNUC_UNUSED void
chat_test_wire_write (ChatTestWire *wire, const char *bytes, gsize len)
{
  g_autoptr (GError) error = NULL;

  g_socket_set_blocking (wire->socket, TRUE);
  while (len > 0)
    {
      gssize n = g_socket_send (wire->socket, bytes, len, NULL, &error);

      g_assert_no_error (error);
      bytes += n;
      len -= (gsize)n;
    }
  g_socket_set_blocking (wire->socket, FALSE);
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

  g_assert_true (g_socket_shutdown (wire->socket, FALSE, TRUE, &error));
  g_assert_no_error (error);
}

/* Reads what is there now without blocking; TRUE if anything (or end of file) came. */
static G_GNUC_UNUSED gboolean
chat_test_wire_pump (ChatTestWire *wire)
{
  char buffer[65536];
  gssize n = 0;
  g_autoptr (GError) error = NULL;

  if (wire->eof)
    return FALSE;
  n = g_socket_receive (wire->socket, buffer, sizeof buffer, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return FALSE;
  if (n <= 0)
    {
      wire->eof = TRUE;
      return TRUE;
    }
  g_string_append_len (wire->inbox, buffer, n);
  return TRUE;
}

static G_GNUC_UNUSED gboolean
chat_test_wire_has_line (ChatTestWire *wire)
{
  return memchr (wire->inbox->str, '\n', wire->inbox->len) != NULL;
}

/* Runs the default main context (the daemon's side) and reads the wire until done()
 * holds or the timeout passes; returns done()'s last value. */
static G_GNUC_UNUSED gboolean
chat_test_wire_run_until (ChatTestWire *wire, gboolean (*done) (gpointer), gpointer data,
                          guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  while (!done (data) && g_get_monotonic_time () < deadline)
    {
      gboolean progress = g_main_context_iteration (NULL, FALSE);

      progress |= chat_test_wire_pump (wire);
      if (!progress)
        g_usleep (1000);
    }
  return done (data);
}

/* Runs the loop for a while, so that what should not happen has had its chance. */
static G_GNUC_UNUSED void
chat_test_wire_settle (ChatTestWire *wire, guint ms)
{
  gint64 until = g_get_monotonic_time () + (gint64)ms * 1000;

  while (g_get_monotonic_time () < until)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
      chat_test_wire_pump (wire);
    }
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

  chat_test_wire_run_until (wire, chat_test_wire_line_or_eof, wire,
                            CHAT_TEST_WIRE_TIMEOUT_S * 1000);
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
  g_assert_true (chat_test_wire_run_until (wire, chat_test_wire_is_eof, wire,
                                           CHAT_TEST_WIRE_TIMEOUT_S * 1000));
  g_assert_cmpstr (wire->inbox->str, ==, "");
}
