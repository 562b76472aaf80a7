/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Non-blocking line reading, ordered response slots and a bounded write queue per client. */
#define G_LOG_DOMAIN "chatd-server"

#include "chat-connection.h"

#include "chat-dispatch.h"
#include "chat-slice.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-line.h"
#include "chat-line-budget.h"
#include "chat-peer.h"
#include "chat-poll-source.h"
#include "chat-request.h"
#include "chat-tls.h"
#include "chat-username.h"
#include "chat-write-queue.h"

/* Every connection reads on the main loop thread, so one scratch buffer serves all:
 * an idle connection holds no read buffer at all. */
#define READ_CHUNK (64 * 1024)
static guint8 read_scratch[READ_CHUNK];

typedef struct
{
  guint64 ticket;
  GBytes *line; /* NULL until the response is ready */
} ReplySlot;

struct _ChatConnection
{
  GObject parent_instance;

  GIOStream *stream;
  ChatDispatch *dispatch; /* not owned: outlives its connections */
  char *peer;

  ChatLineBuffer *lines; /* only while bytes of an unfinished line are buffered */
  ChatPollWatch *watch;  /* the socket, on the shared epoll source */
  guint idle_timer;
  guint resume_idle;
  guint tls_read_idle; /* TLS: a read of bytes already decrypted, not yet on the socket */
  /* The unfinished line: its first byte's time (its deadline counts from there, however
   * slowly the rest trickles in) and its bytes as charged to the shared budget. */
  gint64 line_started_us;
  gsize partial_bytes;
  guint64 lines_taken;
  guint64 lines_taken_seen;

  ChatWriteQueue writes;

  GQueue slots; /* ReplySlot, in ticket order */
  guint64 next_ticket;
  guint in_flight;
  guint barriers_in_flight;
  ChatRequest *deferred;

  char *session_hash;
  char *username;
  char *user_key;

  ChatConnectionPeerFunc peer_func;
  gpointer peer_data;

  guint32 max_line_bytes;
  guint16 idle_line_timeout_s;
  guint closed : 1;
  guint read_eof : 1;
  guint closing : 1; /* close once every response is written */
  guint processing : 1;
  guint reading : 1;       /* the watch asks for G_IO_IN */
  guint waiting_write : 1; /* the socket was full: the watch asks for G_IO_OUT */
  guint tls : 1;
};

enum
{
  SIGNAL_CLOSED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ChatConnection, chat_connection, G_TYPE_OBJECT)

static void process_lines (ChatConnection *self);
static void update_reading (ChatConnection *self);
static void flush_writes (ChatConnection *self);
static void on_socket_ready (ChatPollWatch *watch, GIOCondition ready, gpointer user_data);

static void
reply_slot_free (ReplySlot *slot)
{
  g_clear_pointer (&slot->line, g_bytes_unref);
  g_free (slot);
}

/* Asks the poll source for what the connection waits for now. */
static void
sync_watch (ChatConnection *self)
{
  GIOCondition condition = (self->reading ? G_IO_IN : 0) | (self->waiting_write ? G_IO_OUT : 0);

  if (self->watch != NULL)
    chat_poll_watch_set_condition (self->watch, condition);
}

static void
release_io (ChatConnection *self)
{
  g_clear_pointer (&self->watch, chat_poll_watch_free);
  self->reading = FALSE;
  self->waiting_write = FALSE;
  g_clear_handle_id (&self->idle_timer, g_source_remove);
  g_clear_handle_id (&self->resume_idle, g_source_remove);
  g_clear_handle_id (&self->tls_read_idle, g_source_remove);
  g_clear_pointer (&self->lines, chat_line_buffer_free);
  chat_line_budget_update (self->partial_bytes, 0);
  self->partial_bytes = 0;
  self->line_started_us = 0;
  chat_write_queue_clear (&self->writes);
  g_queue_clear_full (&self->slots, (GDestroyNotify)reply_slot_free);
  g_clear_pointer (&self->deferred, chat_request_unref);
}

static void
chat_connection_finalize (GObject *object)
{
  ChatConnection *self = CHAT_CONNECTION (object);

  release_io (self);
  g_clear_object (&self->stream);
  g_free (self->peer);
  g_free (self->session_hash);
  g_free (self->username);
  g_free (self->user_key);
  G_OBJECT_CLASS (chat_connection_parent_class)->finalize (object);
}

static void
chat_connection_class_init (ChatConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = chat_connection_finalize;
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
chat_connection_init (ChatConnection *self)
{
  chat_write_queue_init (&self->writes);
  g_queue_init (&self->slots);
}

ChatConnection *
chat_connection_new (GIOStream *stream, ChatDispatch *dispatch, gsize max_line_bytes,
                     guint idle_line_timeout_s)
{
  ChatConnection *self = NULL;

  g_return_val_if_fail (chat_tls_get_socket (stream) != NULL, NULL);
  self = g_object_new (CHAT_TYPE_CONNECTION, NULL);
  self->stream = g_object_ref (stream);
  self->tls = G_IS_TLS_CONNECTION (stream);
  self->dispatch = dispatch;
  self->max_line_bytes = (guint32)MIN (max_line_bytes, G_MAXUINT32);
  self->idle_line_timeout_s = (guint16)CLAMP (idle_line_timeout_s, 1, G_MAXUINT16);
  return self;
}

void
chat_connection_start (ChatConnection *self)
{
  GSocket *socket = chat_tls_get_socket (self->stream);

  self->watch = chat_poll_watch_new (g_socket_get_fd (socket), on_socket_ready, self);
  update_reading (self);
}

gboolean
chat_connection_is_closed (ChatConnection *self)
{
  return self->closed;
}

void
chat_connection_close (ChatConnection *self)
{
  g_autoptr (ChatConnection) keep = NULL;

  if (self->closed)
    return;
  keep = g_object_ref (self);
  self->closed = TRUE;
  release_io (self);
  g_io_stream_close (self->stream, NULL, NULL);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
}

const char *
chat_connection_get_peer (ChatConnection *self)
{
  GSocket *socket = NULL;
  g_autoptr (GSocketAddress) address = NULL;

  if (self->peer != NULL)
    return self->peer;
  socket = chat_tls_get_socket (self->stream);
  if (socket != NULL)
    address = g_socket_get_remote_address (socket, NULL);
  if (address != NULL)
    self->peer = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
  else
    self->peer = g_strdup ("unknown");
  return self->peer;
}

/* --- writing ---------------------------------------------------------------- */

static void
on_writable (ChatConnection *self)
{
  self->waiting_write = FALSE;
  sync_watch (self);
  flush_writes (self);
}

static void
wait_writable (ChatConnection *self)
{
  if (self->waiting_write)
    return;
  self->waiting_write = TRUE;
  sync_watch (self);
}

static gboolean
write_some (ChatConnection *self)
{
  g_autoptr (GError) error = NULL;
  GPollableOutputStream *out
      = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (self->stream));
  GPollableReturn ret = chat_write_queue_write (&self->writes, out, &error);

  if (ret == G_POLLABLE_RETURN_WOULD_BLOCK)
    {
      wait_writable (self);
      return FALSE;
    }
  if (ret == G_POLLABLE_RETURN_FAILED)
    {
      g_debug ("Closing %s: %s", chat_connection_get_peer (self), error->message);
      chat_connection_close (self);
      return FALSE;
    }
  return TRUE;
}

/* Every response slot released and written. A completion that readies several slots
 * releases them one by one: in_flight is already 0 while later slots wait their turn. */
static gboolean
everything_written (ChatConnection *self)
{
  return g_queue_is_empty (&self->slots) && chat_write_queue_is_empty (&self->writes);
}

static void
flush_writes (ChatConnection *self)
{
  while (!self->closed && !self->waiting_write && !chat_write_queue_is_empty (&self->writes))
    {
      if (!write_some (self))
        return;
    }
  if (self->closed)
    return;
  if (self->closing && everything_written (self))
    {
      chat_connection_close (self);
      return;
    }
  update_reading (self);
}

static void
enqueue (ChatConnection *self, GBytes *line)
{
  if (self->closed)
    return;
  chat_write_queue_push (&self->writes, line);
  if (self->writes.queued_bytes > CHAT_CONNECTION_MAX_QUEUED_BYTES)
    {
      g_message ("Closing %s: it does not read what it is sent", chat_connection_get_peer (self));
      chat_connection_close (self);
      return;
    }
  if (!self->waiting_write)
    flush_writes (self);
}

void
chat_connection_send_event (ChatConnection *self, JsonObject *event)
{
  gsize len = 0;
  char *text = NULL;
  g_autoptr (GBytes) line = NULL;

  if (self->closed)
    return;
  text = chat_json_to_line (event, &len);
  line = g_bytes_new_take (text, len);
  enqueue (self, line);
}

void
chat_connection_send_line (ChatConnection *self, GBytes *line)
{
  enqueue (self, line);
}

/* --- ordered responses --------------------------------------------------------- */

static void
release_ready_slots (ChatConnection *self)
{
  ReplySlot *slot = NULL;

  while ((slot = g_queue_peek_head (&self->slots)) != NULL && slot->line != NULL)
    {
      g_queue_pop_head (&self->slots);
      enqueue (self, slot->line);
      reply_slot_free (slot);
    }
}

static ReplySlot *
find_slot (ChatConnection *self, guint64 ticket)
{
  for (GList *l = self->slots.head; l != NULL; l = l->next)
    {
      ReplySlot *slot = l->data;
      if (slot->ticket == ticket)
        return slot;
    }
  return NULL;
}

static gboolean
on_resume (gpointer user_data)
{
  ChatConnection *self = user_data;
  g_autoptr (ChatConnection) keep G_GNUC_UNUSED = g_object_ref (self);

  self->resume_idle = 0;
  process_lines (self);
  return G_SOURCE_REMOVE;
}

/* Work left waiting for this completion continues from the main loop, after the
 * caller (a commit delivering responses and then events) has finished. */
static void
schedule_resume (ChatConnection *self)
{
  if (self->processing || self->resume_idle != 0 || self->closed)
    return;
  if (self->deferred == NULL && self->lines == NULL)
    return;
  self->resume_idle = g_idle_add_full (G_PRIORITY_DEFAULT, on_resume, self, NULL);
}

void
chat_connection_complete (ChatConnection *self, guint64 ticket, gboolean pipelined, GBytes *line)
{
  ReplySlot *slot = NULL;

  if (self->closed)
    return;
  slot = find_slot (self, ticket);
  g_return_if_fail (slot != NULL && slot->line == NULL);
  slot->line = g_bytes_ref (line);
  self->in_flight--;
  if (!pipelined)
    self->barriers_in_flight--;
  release_ready_slots (self);
  if (self->closed)
    return;
  if (self->closing && everything_written (self))
    {
      chat_connection_close (self);
      return;
    }
  schedule_resume (self);
}

static gboolean
can_start (ChatConnection *self, ChatRequest *request)
{
  if (self->in_flight >= CHAT_CONNECTION_MAX_IN_FLIGHT)
    return FALSE;
  if (chat_request_get_pipelined (request))
    return self->barriers_in_flight == 0;
  return self->in_flight == 0;
}

static void
start_request (ChatConnection *self, ChatRequest *request)
{
  ReplySlot *slot = g_new0 (ReplySlot, 1);

  slot->ticket = self->next_ticket++;
  g_queue_push_tail (&self->slots, slot);
  self->in_flight++;
  if (!chat_request_get_pipelined (request))
    self->barriers_in_flight++;
  chat_request_set_ticket (request, slot->ticket);
  chat_request_set_session (request, self->session_hash, self->username);
  chat_dispatch_run (self->dispatch, request);
}

/* A line over the limit: answer too_large after the earlier responses, then close. */
static void
refuse_oversize_line (ChatConnection *self, GError *error)
{
  g_autoptr (ChatRequest) request = chat_request_new_failed (self, NULL, error);

  g_debug ("Closing %s after an oversize line", chat_connection_get_peer (self));
  g_clear_pointer (&self->lines, chat_line_buffer_free);
  self->closing = TRUE;
  start_request (self, request);
}

/* Starts the deferred request if it may run now; FALSE if it must keep waiting. */
static gboolean
start_deferred (ChatConnection *self)
{
  g_autoptr (ChatRequest) request = NULL;

  if (self->deferred == NULL)
    return TRUE;
  if (!can_start (self, self->deferred))
    return FALSE;
  request = g_steal_pointer (&self->deferred);
  start_request (self, request);
  return TRUE;
}

void
chat_connection_set_peer_func (ChatConnection *self, ChatConnectionPeerFunc func,
                               gpointer user_data)
{
  self->peer_func = func;
  self->peer_data = user_data;
}

/* The first line opened a peer handshake: the stream now belongs to the peer links. A
 * dialling peer waits for our challenge, so nothing may follow its hello yet. */
static void
hand_over_to_peers (ChatConnection *self, const char *line, gsize len)
{
  g_autoptr (ChatConnection) keep G_GNUC_UNUSED = g_object_ref (self);
  g_autoptr (GIOStream) stream = g_object_ref (self->stream);

  if (chat_line_buffer_pending (self->lines) > 0)
    {
      chat_connection_close (self);
      return;
    }
  self->closed = TRUE;
  release_io (self);
  self->peer_func (stream, line, len, self->peer_data);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
}

static gboolean
next_request (ChatConnection *self)
{
  g_autofree char *line = NULL;
  gsize len = 0;
  GError *error = NULL;
  g_autoptr (ChatRequest) request = NULL;

  if (self->lines == NULL)
    return FALSE;
  if (!chat_line_buffer_next (self->lines, &line, &len, &error))
    {
      if (error != NULL)
        refuse_oversize_line (self, error);
      return FALSE;
    }
  self->lines_taken++;
  if (self->next_ticket == 0 && self->peer_func != NULL && chat_peers_is_hello (line, len))
    {
      hand_over_to_peers (self, line, len);
      return FALSE;
    }
  request = chat_dispatch_parse (self->dispatch, self, line, len);
  if (!can_start (self, request))
    {
      self->deferred = g_steal_pointer (&request);
      return FALSE;
    }
  start_request (self, request);
  return TRUE;
}

/* Keeps the shared budget and the line's deadline in step with the unfinished line.
 * Returns FALSE when this connection holds part of a line while all unfinished lines
 * together exceed the budget. */
static gboolean
account_partial_line (ChatConnection *self)
{
  gsize pending = self->lines != NULL ? chat_line_buffer_pending (self->lines) : 0;
  gboolean within = chat_line_budget_update (self->partial_bytes, pending);

  self->partial_bytes = pending;
  if (pending == 0)
    self->line_started_us = 0;
  else if (self->line_started_us == 0 || self->lines_taken != self->lines_taken_seen)
    self->line_started_us = g_get_monotonic_time ();
  self->lines_taken_seen = self->lines_taken;
  return within || pending == 0;
}

static void
process_lines (ChatConnection *self)
{
  g_autoptr (ChatConnection) keep G_GNUC_UNUSED = g_object_ref (self);
  gint64 start = g_get_monotonic_time ();
  guint64 taken = self->lines_taken;

  if (self->processing || self->closed)
    return;
  self->processing = TRUE;
  while (!self->closed && !self->closing && start_deferred (self) && next_request (self))
    ;
  self->processing = FALSE;
  chat_slice_note ("a client's lines", start, (guint)(self->lines_taken - taken));
  if (self->closed)
    return;
  if (self->lines != NULL && chat_line_buffer_pending (self->lines) == 0)
    g_clear_pointer (&self->lines, chat_line_buffer_free);
  account_partial_line (self);
  if (self->read_eof && self->deferred == NULL)
    self->closing = TRUE;
  flush_writes (self);
}

/* --- reading ------------------------------------------------------------------ */

static gboolean
on_idle_line_timeout (gpointer user_data)
{
  ChatConnection *self = user_data;
  gint64 limit_us = (gint64)self->idle_line_timeout_s * G_USEC_PER_SEC;
  gint64 age_us = g_get_monotonic_time () - self->line_started_us;

  self->idle_timer = 0;
  if (self->lines == NULL || chat_line_buffer_pending (self->lines) == 0)
    return G_SOURCE_REMOVE;
  /* A deadline from the line's first byte: a byte now and then does not extend it. */
  if (age_us >= limit_us && self->deferred == NULL && self->reading)
    {
      g_message ("Closing %s: a line was not complete %u s after its first byte",
                 chat_connection_get_peer (self), self->idle_line_timeout_s);
      chat_connection_close (self);
      return G_SOURCE_REMOVE;
    }
  self->idle_timer
      = g_timeout_add (MAX (limit_us - age_us, 1000) / 1000 + 1, on_idle_line_timeout, self);
  return G_SOURCE_REMOVE;
}

static void
watch_partial_line (ChatConnection *self)
{
  if (self->idle_timer != 0 || self->lines == NULL || chat_line_buffer_pending (self->lines) == 0)
    return;
  self->idle_timer = g_timeout_add_seconds (self->idle_line_timeout_s, on_idle_line_timeout, self);
}

static void
handle_eof (ChatConnection *self)
{
  self->read_eof = TRUE;
  self->reading = FALSE;
  sync_watch (self);
  process_lines (self);
}

/* One non-blocking read; FALSE when nothing more can be read now. */
static gboolean
read_once (ChatConnection *self)
{
  g_autoptr (GError) error = NULL;
  GInputStream *in = g_io_stream_get_input_stream (self->stream);
  gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), read_scratch,
                                                       READ_CHUNK, NULL, &error);

  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return FALSE;
  if (n <= 0)
    {
      if (error != NULL)
        g_debug ("Reading from %s failed: %s", chat_connection_get_peer (self), error->message);
      handle_eof (self);
      return FALSE;
    }
  if (self->lines == NULL)
    self->lines = chat_line_buffer_new (self->max_line_bytes);
  chat_line_buffer_feed (self->lines, read_scratch, (gsize)n);
  process_lines (self);
  if (!self->closed && !account_partial_line (self))
    {
      g_message ("Closing %s: unfinished lines of all clients hold %" G_GSIZE_FORMAT
                 " bytes, more than their budget",
                 chat_connection_get_peer (self), chat_line_budget_total ());
      chat_connection_close (self);
      return FALSE;
    }
  if (!self->closed)
    watch_partial_line (self);
  return TRUE;
}

/* A TLS connection may hold decrypted bytes the socket no longer signals: read until it
 * would block, or until the connection stops taking requests (update_reading resumes). */
static void
on_readable (ChatConnection *self)
{
  if (!read_once (self))
    return;
  while (self->tls && !self->closed && self->reading && read_once (self))
    ;
}

static gboolean
on_tls_read_idle (gpointer user_data)
{
  ChatConnection *self = user_data;
  g_autoptr (ChatConnection) keep G_GNUC_UNUSED = g_object_ref (self);

  self->tls_read_idle = 0;
  if (!self->closed && self->reading)
    on_readable (self);
  return G_SOURCE_REMOVE;
}

/* A hang-up or error wakes whichever side waits; the read or write then reports it. */
static void
on_socket_ready (ChatPollWatch *watch, GIOCondition ready, gpointer user_data)
{
  ChatConnection *self = user_data;
  g_autoptr (ChatConnection) keep G_GNUC_UNUSED = g_object_ref (self);
  GIOCondition trouble = ready & (G_IO_HUP | G_IO_ERR);

  if (self->waiting_write && ((ready & G_IO_OUT) || trouble))
    on_writable (self);
  if (!self->closed && self->reading && ((ready & G_IO_IN) || trouble))
    on_readable (self);
}

static gboolean
should_read (ChatConnection *self)
{
  return !self->closed && !self->closing && !self->read_eof && self->deferred == NULL
         && self->writes.queued_bytes <= CHAT_CONNECTION_PAUSE_QUEUED_BYTES;
}

/* Reads only while requests can be taken: a busy or unread connection leaves its
 * bytes in the socket, which pushes back on the client. */
static void
update_reading (ChatConnection *self)
{
  if (!should_read (self))
    {
      self->reading = FALSE;
      sync_watch (self);
      return;
    }
  if (self->reading)
    return;
  if (self->lines != NULL)
    schedule_resume (self);
  self->reading = TRUE;
  sync_watch (self);
  if (self->tls && self->tls_read_idle == 0)
    self->tls_read_idle = g_idle_add (on_tls_read_idle, self);
}

/* --- session ------------------------------------------------------------------ */

const char *
chat_connection_get_session_hash (ChatConnection *self)
{
  return self->session_hash;
}

const char *
chat_connection_get_user_key (ChatConnection *self)
{
  return self->user_key;
}

void
chat_connection_set_session (ChatConnection *self, const char *session_hash, const char *username)
{
  g_clear_pointer (&self->session_hash, g_free);
  g_clear_pointer (&self->username, g_free);
  g_clear_pointer (&self->user_key, g_free);
  if (session_hash == NULL || username == NULL)
    return;
  self->session_hash = g_strdup (session_hash);
  self->username = g_strdup (username);
  self->user_key = chat_username_key (username);
}
