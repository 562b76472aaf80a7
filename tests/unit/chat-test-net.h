/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the unit tests that open sockets: a loopback listener, peer accepts. */
#pragma once

#include <gio/gio.h>

/* Adds a listening socket on 127.0.0.1 with a port the kernel picks and returns that port.
 * Tests listen on loopback only, never on every interface. */
static G_GNUC_UNUSED guint16
chat_test_listen_loopback (GSocketListener *listener)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_socket_listener_add_address (listener, any_port, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* --- accepting peer connections: the first line is read a byte at a time, so that
 * nothing after it is consumed before the connection is handed over ----------------- */

typedef void (*ChatTestHandOver) (gpointer target, GIOStream *stream, const char *line, gsize len);

typedef struct
{
  ChatTestHandOver hand_over;
  gpointer target;
  GIOStream *stream;
  GString *line;
  char byte;
} ChatTestAccept;

static void chat_test_accept_read_byte (ChatTestAccept *accept);

static void
chat_test_accept_free (ChatTestAccept *accept)
{
  g_object_unref (accept->stream);
  g_string_free (accept->line, TRUE);
  g_free (accept);
}

static void
chat_test_accept_on_byte (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChatTestAccept *accept = user_data;

  if (g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL) <= 0)
    {
      chat_test_accept_free (accept);
      return;
    }
  if (accept->byte != '\n')
    {
      g_string_append_c (accept->line, accept->byte);
      chat_test_accept_read_byte (accept);
      return;
    }
  accept->hand_over (accept->target, accept->stream, accept->line->str, accept->line->len);
  chat_test_accept_free (accept);
}

static void
chat_test_accept_read_byte (ChatTestAccept *accept)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (accept->stream), &accept->byte, 1,
                             G_PRIORITY_DEFAULT, NULL, chat_test_accept_on_byte, accept);
}

static gboolean
chat_test_accept_on_incoming (GSocketService *service, GSocketConnection *connection,
                              GObject *source, gpointer user_data)
{
  ChatTestAccept *accept = g_new0 (ChatTestAccept, 1);

  *accept = *(ChatTestAccept *)user_data;
  accept->stream = g_object_ref (G_IO_STREAM (connection));
  accept->line = g_string_new (NULL);
  chat_test_accept_read_byte (accept);
  return TRUE;
}

static void
chat_test_accept_free_model (gpointer model, GClosure *closure)
{
  g_free (model);
}

/* Starts service; each accepted connection goes to hand_over (with target) once its
 * first line is read. */
static G_GNUC_UNUSED void
chat_test_serve_first_line (GSocketService *service, ChatTestHandOver hand_over, gpointer target)
{
  ChatTestAccept *model = g_new0 (ChatTestAccept, 1);

  model->hand_over = hand_over;
  model->target = target;
  g_signal_connect_data (service, "incoming", G_CALLBACK (chat_test_accept_on_incoming), model,
                         chat_test_accept_free_model, 0);
  g_socket_service_start (service);
}
