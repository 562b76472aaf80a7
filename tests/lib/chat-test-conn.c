/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A raw line connection to a loopback server that fails the test when something is off. */
#define G_LOG_DOMAIN "chatd-test"

#include "chat-test-conn.h"
#include "chat-test-cluster.h"

#include <string.h>

#define IO_TIMEOUT_MS 30000
#define REQUEST_TIMEOUT_MS 60000

struct _ChatTestConn
{
  ChatTestLine *line;
  GPtrArray *events;
};

ChatTestConn *
chat_test_conn_new_from (guint16 port, const char *source)
{
  ChatTestLineOptions options = { .source = source, .tls = chat_test_tls_database () };
  g_autoptr (GError) error = NULL;
  ChatTestConn *conn = g_new0 (ChatTestConn, 1);

  conn->line = chat_test_line_connect ("127.0.0.1", port, &options, IO_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  conn->events = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  return conn;
}

ChatTestConn *
chat_test_conn_new (guint16 port)
{
  return chat_test_conn_new_from (port, NULL);
}

void
chat_test_conn_free (ChatTestConn *conn)
{
  if (conn == NULL)
    return;
  chat_test_line_free (conn->line);
  g_ptr_array_unref (conn->events);
  g_free (conn);
}

void
chat_test_conn_send_raw (ChatTestConn *conn, const void *data, gsize len)
{
  g_autoptr (GError) error = NULL;

  /* The server may close first (an oversize line); the reader sees it. */
  if (!chat_test_line_send (conn->line, data, len, IO_TIMEOUT_MS, &error))
    g_debug ("send: %s", error->message);
}

void
chat_test_conn_send_line (ChatTestConn *conn, const char *line)
{
  g_autofree char *with_newline = g_strconcat (line, "\n", NULL);

  chat_test_conn_send_raw (conn, with_newline, strlen (with_newline));
}

JsonObject *
chat_test_conn_read (ChatTestConn *conn, guint timeout_ms)
{
  g_autoptr (GError) error = NULL;
  JsonObject *object = chat_test_line_read_object (conn->line, timeout_ms, &error);

  if (object == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    g_error ("Not a JSON object line: %s", error->message);
  return object;
}

JsonObject *
chat_test_conn_request (ChatTestConn *conn, const char *json_line)
{
  chat_test_conn_send_line (conn, json_line);
  for (;;)
    {
      JsonObject *object = chat_test_conn_read (conn, REQUEST_TIMEOUT_MS);

      if (object == NULL)
        g_error ("No response to a request (connection %s)",
                 chat_test_line_is_closed (conn->line) ? "closed" : "timed out");
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

  while (!chat_test_line_is_closed (conn->line))
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      g_autofree char *line = NULL;

      if (left_ms <= 0)
        return FALSE;
      line = chat_test_line_read_line (conn->line, (guint)left_ms, NULL);
      if (line == NULL && !chat_test_line_is_closed (conn->line))
        return FALSE;
    }
  return TRUE;
}
