/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatLink: reads and writes newline-delimited JSON objects on a GIOStream. */
#define G_LOG_DOMAIN "libchat"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "chat-link.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-line.h"

#define READ_CHUNK 65536

struct _ChatLink
{
  GObject parent_instance;
  GIOStream *stream;
  char *address;
  ChatLineBuffer *lines;
  GCancellable *cancellable;
  GString *outbuf; /* lines waiting for the current write to finish */
  GBytes *writing; /* the write in progress, or NULL */
  guint8 *readbuf;
  gboolean closed;
};

G_DEFINE_FINAL_TYPE (ChatLink, chat_link, G_TYPE_OBJECT)

enum
{
  SIGNAL_RECEIVED,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void start_read (ChatLink *self);
static void start_write (ChatLink *self);

static void
chat_link_dispose (GObject *object)
{
  ChatLink *self = CHAT_LINK (object);

  chat_link_close (self);
  g_clear_object (&self->stream);
  G_OBJECT_CLASS (chat_link_parent_class)->dispose (object);
}

static void
chat_link_finalize (GObject *object)
{
  ChatLink *self = CHAT_LINK (object);

  g_free (self->address);
  g_clear_pointer (&self->lines, chat_line_buffer_free);
  g_clear_object (&self->cancellable);
  g_string_free (self->outbuf, TRUE);
  g_clear_pointer (&self->writing, g_bytes_unref);
  g_free (self->readbuf);
  G_OBJECT_CLASS (chat_link_parent_class)->finalize (object);
}

static void
chat_link_class_init (ChatLinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = chat_link_dispose;
  object_class->finalize = chat_link_finalize;

  signals[SIGNAL_RECEIVED] = g_signal_new ("received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
chat_link_init (ChatLink *self)
{
  self->cancellable = g_cancellable_new ();
  self->outbuf = g_string_new (NULL);
  self->readbuf = g_malloc (READ_CHUNK);
}

/* Fails the connection: closes it and tells the owner, once. */
static void
fail (ChatLink *self, const GError *error)
{
  g_autoptr (ChatLink) hold G_GNUC_UNUSED = g_object_ref (self);

  if (self->closed)
    return;
  chat_link_close (self);
  g_debug ("connection to %s lost: %s", self->address, error->message);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
}

ChatLink *
chat_link_new_for_stream (GIOStream *stream, const char *address, gsize max_line_bytes)
{
  ChatLink *self = g_object_new (CHAT_TYPE_LINK, NULL);

  self->stream = g_object_ref (stream);
  self->address = g_strdup (address);
  self->lines = chat_line_buffer_new (max_line_bytes);
  start_read (self);
  return self;
}

/* The connect timeout must not apply to the connection's reads: a quiet chat is fine. */
static void
configure_socket (GSocketConnection *connection)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr (GError) error = NULL;

  g_socket_set_timeout (socket, 0);
  if (g_socket_get_family (socket) == G_SOCKET_FAMILY_UNIX)
    return;
  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, &error))
    g_debug ("TCP_NODELAY: %s", error->message);
}

typedef struct
{
  char *address;
  gsize max_line_bytes;
  GTlsDatabase *database; /* NULL: plaintext */
} ConnectData;

static void
connect_data_free (ConnectData *data)
{
  g_free (data->address);
  g_clear_object (&data->database);
  g_free (data);
}

/* GSocketClient makes the TLS client connection (its identity is the host we dial);
 * it must trust the configured CA, not only the system store. */
static void
on_client_event (GSocketClient *client, GSocketClientEvent event, GSocketConnectable *connectable,
                 GIOStream *connection, gpointer user_data)
{
  GTlsDatabase *database = user_data;

  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING && G_IS_TLS_CONNECTION (connection))
    g_tls_connection_set_database (G_TLS_CONNECTION (connection), database);
}

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  ConnectData *data = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection = NULL;

  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  configure_socket (connection);
  g_task_return_pointer (
      task,
      chat_link_new_for_stream (G_IO_STREAM (connection), data->address, data->max_line_bytes),
      g_object_unref);
}

void
chat_link_new_async (const char *address, guint timeout_ms, gsize max_line_bytes,
                     GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  chat_link_new_tls_async (address, timeout_ms, max_line_bytes, NULL, cancellable, callback,
                           user_data);
}

void
chat_link_new_tls_async (const char *address, guint timeout_ms, gsize max_line_bytes,
                         GTlsDatabase *database, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  ConnectData *data = g_new0 (ConnectData, 1);

  /* chatd speaks JSON lines over plain TCP or TLS, never through an HTTP proxy. */
  g_socket_client_set_enable_proxy (client, FALSE);
  data->address = g_strdup (address);
  data->max_line_bytes = max_line_bytes;
  data->database = database != NULL ? g_object_ref (database) : NULL;
  g_task_set_task_data (task, data, (GDestroyNotify)connect_data_free);
  g_task_set_source_tag (task, chat_link_new_async);
  if (database != NULL)
    {
      g_socket_client_set_tls (client, TRUE);
      /* The task holds data, and so the database, until the connection is made. */
      g_signal_connect (client, "event", G_CALLBACK (on_client_event), data->database);
    }
  g_socket_client_set_timeout (client, MAX (1, (timeout_ms + 999) / 1000));
  g_socket_client_connect_to_host_async (client, address, 0, cancellable, connected_cb, task);
}

ChatLink *
chat_link_new_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

const char *
chat_link_get_address (ChatLink *self)
{
  return self->address;
}

gboolean
chat_link_is_closed (ChatLink *self)
{
  return self->closed;
}

void
chat_link_close (ChatLink *self)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  g_cancellable_cancel (self->cancellable);
  if (self->stream != NULL)
    g_io_stream_close (self->stream, NULL, NULL);
}

/* Every line a server writes is a JSON object: anything else means the stream is not
 * (or no longer) the protocol, and an answer in it may be lost. The connection fails, so
 * the client tries elsewhere instead of waiting for that answer until its deadline. */
static void
fail_not_json (ChatLink *self, const GError *parse_error)
{
  g_autoptr (GError) error = NULL;

  g_debug ("a line from %s: %s", self->address, parse_error->message);
  error = g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s sent a line that is not a JSON object", self->address);
  fail (self, error);
}

/* Parses and emits every complete line; FALSE once the connection failed. */
static gboolean
drain_lines (ChatLink *self)
{
  for (;;)
    {
      g_autofree char *line = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonObject) object = NULL;
      gsize len = 0;

      if (!chat_line_buffer_next (self->lines, &line, &len, &error))
        {
          if (error == NULL)
            return TRUE;
          fail (self, error);
          return FALSE;
        }
      object = chat_json_parse_object (line, len, &error);
      if (object == NULL)
        {
          fail_not_json (self, error);
          return FALSE;
        }
      g_signal_emit (self, signals[SIGNAL_RECEIVED], 0, object);
      if (self->closed)
        return FALSE;
    }
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatLink) self = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (self->closed)
    return;
  if (n <= 0)
    {
      if (error == NULL)
        error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                     "The server closed the connection");
      fail (self, error);
      return;
    }
  chat_line_buffer_feed (self->lines, self->readbuf, (gsize)n);
  if (drain_lines (self))
    start_read (self);
}

static void
start_read (ChatLink *self)
{
  GInputStream *input = g_io_stream_get_input_stream (self->stream);

  g_input_stream_read_async (input, self->readbuf, READ_CHUNK, G_PRIORITY_DEFAULT,
                             self->cancellable, read_cb, g_object_ref (self));
}

static void
write_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatLink) self = user_data;
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&self->writing, g_bytes_unref);
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      fail (self, error);
      return;
    }
  if (!self->closed && self->outbuf->len > 0)
    start_write (self);
}

static void
start_write (ChatLink *self)
{
  GOutputStream *output = g_io_stream_get_output_stream (self->stream);
  gsize len = self->outbuf->len;

  self->writing = g_bytes_new_take (g_string_free (self->outbuf, FALSE), len);
  self->outbuf = g_string_new (NULL);
  g_output_stream_write_all_async (output, g_bytes_get_data (self->writing, NULL), len,
                                   G_PRIORITY_DEFAULT, self->cancellable, write_cb,
                                   g_object_ref (self));
}

void
chat_link_send (ChatLink *self, JsonObject *object)
{
  g_autofree char *line = NULL;
  gsize len = 0;

  if (self->closed)
    return;
  line = chat_json_to_line (object, &len);
  g_string_append_len (self->outbuf, line, (gssize)len);
  if (self->writing == NULL)
    start_write (self);
}
