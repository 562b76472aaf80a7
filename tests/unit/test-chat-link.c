/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of ChatLink, libchat's JSON-lines connection, over a local socket pair. */
#include <string.h>
#include <sys/socket.h>

#include "chat-test-loop.h"
#include "chat-test-net.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-link.h"

typedef struct
{
  GPtrArray *received; /* JsonObject * */
  GError *closed;
} Sink;

static void
on_received (ChatLink *link, JsonObject *object, gpointer user_data)
{
  Sink *sink = user_data;

  g_ptr_array_add (sink->received, json_object_ref (object));
}

static void
on_closed (ChatLink *link, GError *error, gpointer user_data)
{
  Sink *sink = user_data;

  g_assert_null (sink->closed);
  sink->closed = g_error_copy (error);
}

static GIOStream *
stream_for_fd (int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

static void
make_pair (GIOStream **a, GIOStream **b)
{
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  *a = stream_for_fd (fds[0]);
  *b = stream_for_fd (fds[1]);
}

static void
wait_until (ChatTestCondition done, Sink *sink)
{
  g_assert_true (chat_test_loop_until (done, sink, 5000));
}

static gboolean
has_three (gpointer data)
{
  Sink *sink = data;

  return sink->received->len >= 3;
}

static gboolean
is_closed (gpointer data)
{
  Sink *sink = data;

  return sink->closed != NULL;
}

static void
sink_clear (Sink *sink)
{
  g_ptr_array_unref (sink->received);
  g_clear_error (&sink->closed);
}

static void
test_link_round_trip (void)
{
  g_autoptr (GIOStream) a = NULL, b = NULL;
  g_autoptr (ChatLink) left = NULL, right = NULL;
  Sink sink = { g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref), NULL };

  make_pair (&a, &b);
  left = chat_link_new_for_stream (a, "left", 1024);
  right = chat_link_new_for_stream (b, "right", 1024);
  g_signal_connect (right, "received", G_CALLBACK (on_received), &sink);
  for (gint64 i = 1; i <= 3; i++)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_int_member (object, "id", i);
      chat_link_send (left, object);
    }
  wait_until (has_three, &sink);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (json_object_get_int_member (sink.received->pdata[i], "id"), ==, i + 1);
  g_assert_cmpstr (chat_link_get_address (left), ==, "left");
  chat_link_close (left);
  chat_link_close (right);
  sink_clear (&sink);
}

/* A line that is not JSON: the stream is not the protocol, the link fails. */
static void
test_link_garbage (void)
{
  g_autoptr (GIOStream) a = NULL, b = NULL;
  g_autoptr (ChatLink) link = NULL;
  Sink sink = { g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref), NULL };
  const char *garbage = "{\"ok\":true}\r\nnot json\n{\"ok\":true}\n";
  g_autoptr (GError) error = NULL;

  make_pair (&a, &b);
  link = chat_link_new_for_stream (b, "peer", 100);
  g_signal_connect (link, "received", G_CALLBACK (on_received), &sink);
  g_signal_connect (link, "closed", G_CALLBACK (on_closed), &sink);
  g_output_stream_write_all (g_io_stream_get_output_stream (a), garbage, strlen (garbage), NULL,
                             NULL, &error);
  g_assert_no_error (error);
  wait_until (is_closed, &sink);
  g_assert_cmpuint (sink.received->len, ==, 1);
  g_assert_error (sink.closed, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpstr (sink.closed->message, ==, "peer sent a line that is not a JSON object");
  g_assert_true (chat_link_is_closed (link));
  sink_clear (&sink);
}

static void
test_link_limit (void)
{
  g_autoptr (GIOStream) a = NULL, b = NULL;
  g_autoptr (ChatLink) link = NULL;
  Sink sink = { g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref), NULL };
  GOutputStream *out = NULL;
  g_autofree char *huge = g_strnfill (200, 'x');
  const char *first = "{\"ok\":true}\r\n";
  g_autoptr (GError) error = NULL;

  make_pair (&a, &b);
  link = chat_link_new_for_stream (b, "peer", 100);
  g_signal_connect (link, "received", G_CALLBACK (on_received), &sink);
  g_signal_connect (link, "closed", G_CALLBACK (on_closed), &sink);
  out = g_io_stream_get_output_stream (a);
  g_output_stream_write_all (out, first, strlen (first), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (out, huge, 200, NULL, NULL, &error);
  g_assert_no_error (error);
  wait_until (is_closed, &sink);
  g_assert_cmpuint (sink.received->len, ==, 1);
  g_assert_error (sink.closed, CHAT_ERROR, CHAT_ERROR_TOO_LARGE);
  g_assert_true (chat_link_is_closed (link));
  sink_clear (&sink);
}

static void
test_link_peer_closes (void)
{
  g_autoptr (GIOStream) a = NULL, b = NULL;
  g_autoptr (ChatLink) link = NULL;
  Sink sink = { g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref), NULL };

  make_pair (&a, &b);
  link = chat_link_new_for_stream (b, "peer", 100);
  g_signal_connect (link, "closed", G_CALLBACK (on_closed), &sink);
  g_io_stream_close (a, NULL, NULL);
  wait_until (is_closed, &sink);
  g_assert_error (sink.closed, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  sink_clear (&sink);
}

static void
connect_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError **error = user_data;
  g_autoptr (ChatLink) link = chat_link_new_finish (result, error);

  g_assert_null (link);
}

static void
test_link_connect_refused (void)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *address = NULL;
  guint16 port = chat_test_listen_loopback (listener);

  /* Nothing listens any more on that port. */
  g_socket_listener_close (listener);
  address = g_strdup_printf ("127.0.0.1:%u", port);
  chat_link_new_async (address, 1000, 1024, NULL, connect_done, &error);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (error->domain == G_IO_ERROR);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/link/round-trip", test_link_round_trip);
  g_test_add_func ("/link/garbage", test_link_garbage);
  g_test_add_func ("/link/limit", test_link_limit);
  g_test_add_func ("/link/peer-closes", test_link_peer_closes);
  g_test_add_func ("/link/connect-refused", test_link_connect_refused);
  return g_test_run ();
}
