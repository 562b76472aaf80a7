/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatClient failover: finding the leader, the request queue, retries, deadlines, catch-up. */
#define G_LOG_DOMAIN "libchat"

#include "chat-client-private.h"
#include "chat-json.h"

struct _ChatRequest
{
  JsonObject *args; /* "op" and fields; NULL for a connect waiter */
  GTask *task;      /* caller requests */
  ChatRequestHook on_success;
  ChatInternalHandler handler; /* internal requests */
  ChatRequestFlags flags;
  gint64 wire_id; /* 0: not sent on the current connection */
  guint attempts;
  gboolean fell_back; /* a signup retried as login */
  GSource *timeout_source;
  GSource *cancel_source;
};

static void try_candidate (ChatClient *self);
static void connection_failed (ChatClient *self, const GError *error);

static void
destroy_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static GSource *
attach_timeout (ChatClient *self, guint ms, GSourceFunc func, gpointer data)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, self->context);
  return source;
}

static void
request_free (ChatRequest *req)
{
  destroy_source (&req->timeout_source);
  destroy_source (&req->cancel_source);
  g_clear_pointer (&req->args, json_object_unref);
  g_clear_object (&req->task);
  g_free (req);
}

/* Takes a caller request out of every structure, before its task returns. */
static void
request_detach (ChatClient *self, ChatRequest *req)
{
  g_queue_remove (&self->pending, req);
  if (req->wire_id != 0)
    g_hash_table_remove (self->inflight, &req->wire_id);
  req->wire_id = 0;
  destroy_source (&req->timeout_source);
  destroy_source (&req->cancel_source);
}

static void
request_return_error (ChatClient *self, ChatRequest *req, GError *error)
{
  request_detach (self, req);
  g_task_return_error (req->task, error);
  request_free (req);
}

static void
request_return_response (ChatClient *self, ChatRequest *req, JsonObject *response)
{
  GError *error = NULL;

  request_detach (self, req);
  if (req->on_success != NULL && !req->on_success (self, response, &error))
    g_task_return_error (req->task, error);
  else
    g_task_return_pointer (req->task, json_object_ref (response),
                           (GDestroyNotify)json_object_unref);
  request_free (req);
}

static void
send_request (ChatClient *self, ChatRequest *req)
{
  g_autoptr (JsonObject) wire = NULL;
  gint64 id = self->next_wire_id++;

  req->wire_id = id;
  req->attempts++;
  g_hash_table_insert (self->inflight, g_memdup2 (&id, sizeof id), req);
  wire = chat_codec_request_with_id (req->args, id);
  chat_link_send (self->conn, wire);
}

void
chat_client_send_internal (ChatClient *self, JsonObject *args, ChatInternalHandler handler)
{
  ChatRequest *req = g_new0 (ChatRequest, 1);

  req->args = args;
  req->handler = handler;
  send_request (self, req);
}

void
chat_client_conn_init (ChatClient *self)
{
  g_queue_init (&self->pending);
  self->inflight = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->next_wire_id = 1;
}

static void
set_last_error (ChatClient *self, const GError *error)
{
  g_free (self->last_error);
  self->last_error = g_strdup (error->message);
  self->last_error_is_tls = error->domain == G_TLS_ERROR;
}

/* Closes the current connection or connection attempt; caller requests stay queued. */
static void
drop_connection (ChatClient *self)
{
  GHashTableIter iter;
  gpointer value = NULL;

  destroy_source (&self->handshake_source);
  if (self->connect_cancellable != NULL)
    g_cancellable_cancel (self->connect_cancellable);
  g_clear_object (&self->connect_cancellable);
  if (self->conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->conn, self);
      chat_link_close (self->conn);
      g_clear_object (&self->conn);
    }
  g_hash_table_iter_init (&iter, self->inflight);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      ChatRequest *req = value;
      req->wire_id = 0;
      if (req->handler != NULL)
        request_free (req);
      g_hash_table_iter_remove (&iter);
    }
  self->ready = FALSE;
  self->syncing = FALSE;
  chat_client_set_server (self, NULL);
}

static gboolean
round_start (gpointer user_data)
{
  ChatClient *self = user_data;

  destroy_source (&self->retry_source);
  g_clear_pointer (&self->candidates, g_ptr_array_unref);
  self->candidates = g_ptr_array_new_with_free_func (g_free);
  if (self->leader != NULL)
    g_ptr_array_add (self->candidates, g_strdup (self->leader));
  for (guint i = 0; self->servers[i] != NULL; i++)
    if (self->leader == NULL || !chat_codec_address_equal (self->leader, self->servers[i]))
      g_ptr_array_add (self->candidates, g_strdup (self->servers[i]));
  self->candidate_index = 0;
  self->hops = 0;
  try_candidate (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_round (ChatClient *self)
{
  guint delay = chat_backoff_delay_ms (self->backoff_attempt++, CHAT_CLIENT_BACKOFF_BASE_MS,
                                       CHAT_CLIENT_BACKOFF_MAX_MS, CHAT_CLIENT_BACKOFF_JITTER,
                                       g_random_double ());

  g_debug ("next connection attempt in %u ms", delay);
  destroy_source (&self->retry_source);
  self->retry_source = attach_timeout (self, delay, round_start, self);
}

/* The leader connection is gone: queue everything again and reconnect with backoff. */
static void
lose_connection (ChatClient *self, const GError *error)
{
  gboolean was_ready = self->ready;

  set_last_error (self, error);
  drop_connection (self);
  if (!self->want_connected)
    {
      chat_client_set_state (self, CHAT_CONNECTION_STATE_OFFLINE);
      return;
    }
  if (was_ready && self->username != NULL && !self->resync_pending)
    {
      self->resync_pending = TRUE;
      self->resync_silent = FALSE;
      self->resync_from = self->last_seq;
    }
  chat_client_set_state (self, self->ever_connected ? CHAT_CONNECTION_STATE_RECONNECTING
                                                    : CHAT_CONNECTION_STATE_CONNECTING);
  schedule_round (self);
}

/* Failure while looking for the leader: try the next address; after a ready
 * connection: reconnect. */
static void
connection_failed (ChatClient *self, const GError *error)
{
  if (self->ready)
    {
      lose_connection (self, error);
      return;
    }
  set_last_error (self, error);
  drop_connection (self);
  try_candidate (self);
}

/* Puts a reported leader next in this round, so it is tried at once. */
static void
follow_leader (ChatClient *self, const char *leader)
{
  guint max_hops = g_strv_length (self->servers) + 2;

  if (leader == NULL || self->candidates == NULL || self->hops >= max_hops)
    return;
  if (self->conn != NULL && chat_codec_address_equal (leader, chat_link_get_address (self->conn)))
    return;
  self->hops++;
  chat_client_set_leader (self, leader);
  g_ptr_array_insert (self->candidates, (gint)self->candidate_index, g_strdup (leader));
}

static void
flush_pending (ChatClient *self)
{
  g_autoptr (GPtrArray) waiters = g_ptr_array_new ();

  for (GList *l = self->pending.head; l != NULL; l = l->next)
    {
      ChatRequest *req = l->data;
      if (req->args == NULL)
        g_ptr_array_add (waiters, req);
      else if (req->wire_id == 0)
        send_request (self, req);
    }
  for (guint i = 0; i < waiters->len; i++)
    {
      ChatRequest *req = waiters->pdata[i];
      request_detach (self, req);
      g_task_return_boolean (req->task, TRUE);
      request_free (req);
    }
}

static void
become_ready (ChatClient *self)
{
  g_autoptr (ChatClient) hold G_GNUC_UNUSED = g_object_ref (self);

  destroy_source (&self->handshake_source);
  self->ready = TRUE;
  self->ever_connected = TRUE;
  self->backoff_attempt = 0;
  chat_client_set_server (self, chat_link_get_address (self->conn));
  chat_client_set_state (self, CHAT_CONNECTION_STATE_CONNECTED);
  if (!self->ready)
    return;
  chat_client_maybe_sync (self);
  flush_pending (self);
}

static void
on_resume (ChatClient *self, JsonObject *response)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *leader = NULL;

  if (chat_codec_response_ok (response, &leader, &error))
    {
      become_ready (self);
      return;
    }
  if (g_error_matches (error, CHAT_ERROR, CHAT_ERROR_NOT_LEADER)
      || g_error_matches (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE))
    {
      follow_leader (self, leader);
      connection_failed (self, error);
      return;
    }
  g_debug ("resuming the session failed: %s", error->message);
  if (g_error_matches (error, CHAT_ERROR, CHAT_ERROR_UNAUTHENTICATED))
    chat_client_end_session (self, "expired");
  if (self->conn != NULL)
    become_ready (self);
}

static void
handshake_as_leader (ChatClient *self)
{
  JsonObject *args = NULL;

  if (self->session == NULL || self->username == NULL)
    {
      become_ready (self);
      return;
    }
  args = json_object_new ();
  json_object_set_string_member (args, "op", "resume");
  json_object_set_string_member (args, "session", self->session);
  chat_client_send_internal (self, args, on_resume);
}

static void
on_hello (ChatClient *self, JsonObject *response)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatHelloInfo) info = NULL;
  const char *address = chat_link_get_address (self->conn);

  if (!chat_codec_response_ok (response, NULL, &error)
      || (info = chat_hello_info_new_from_json (response, &error)) == NULL)
    {
      connection_failed (self, error);
      return;
    }
  chat_client_set_cluster_health (self, info);
  if (g_strcmp0 (info->role, "leader") == 0)
    {
      chat_client_set_leader (self, info->leader != NULL ? info->leader : address);
      handshake_as_leader (self);
      return;
    }
  g_debug ("%s is %s; leader %s", address, info->role, info->leader ? info->leader : "unknown");
  follow_leader (self, info->leader);
  error = g_error_new (CHAT_ERROR, CHAT_ERROR_NOT_LEADER, "%s is not the leader", address);
  connection_failed (self, error);
}

static gboolean
on_handshake_timeout (gpointer user_data)
{
  ChatClient *self = user_data;
  g_autoptr (GError) error
      = g_error_new (CHAT_ERROR, CHAT_ERROR_UNAVAILABLE, "%s did not answer",
                     self->conn != NULL ? chat_link_get_address (self->conn) : "The server");

  g_clear_pointer (&self->handshake_source, g_source_unref);
  connection_failed (self, error);
  return G_SOURCE_REMOVE;
}

/* A retried request whose first attempt may have been applied: turn the answer into
 * what the caller asked for. TRUE when it was handled. */
static gboolean
handle_retry_answer (ChatClient *self, ChatRequest *req, const GError *error)
{
  g_autoptr (JsonObject) done = NULL;

  if (req->attempts < 2)
    return FALSE;
  if ((req->flags & CHAT_REQUEST_UNAUTH_MEANS_DONE)
      && g_error_matches (error, CHAT_ERROR, CHAT_ERROR_UNAUTHENTICATED))
    {
      done = json_object_new ();
      json_object_set_boolean_member (done, "ok", TRUE);
      request_return_response (self, req, done);
      return TRUE;
    }
  if ((req->flags & CHAT_REQUEST_SIGNUP) && !req->fell_back
      && g_error_matches (error, CHAT_ERROR, CHAT_ERROR_USERNAME_TAKEN))
    {
      req->fell_back = TRUE;
      json_object_set_string_member (req->args, "op", "login");
      send_request (self, req);
      return TRUE;
    }
  return FALSE;
}

static void
handle_caller_response (ChatClient *self, ChatRequest *req, JsonObject *response)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *leader = NULL;

  if (chat_codec_response_ok (response, &leader, &error))
    {
      request_return_response (self, req, response);
      return;
    }
  if (g_error_matches (error, CHAT_ERROR, CHAT_ERROR_NOT_LEADER)
      || g_error_matches (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE))
    {
      chat_client_set_leader (self, leader);
      lose_connection (self, error);
      return;
    }
  if (handle_retry_answer (self, req, error))
    return;
  if (req->fell_back)
    {
      g_clear_error (&error);
      error = g_error_new_literal (CHAT_ERROR, CHAT_ERROR_USERNAME_TAKEN, "The username is taken");
    }
  request_return_error (self, req, g_steal_pointer (&error));
}

static void
on_received (ChatLink *conn, JsonObject *object, gpointer user_data)
{
  ChatClient *self = user_data;
  g_autoptr (ChatClient) hold G_GNUC_UNUSED = g_object_ref (self);
  ChatRequest *req = NULL;
  gint64 id = -1;

  switch (chat_codec_classify (object, &id))
    {
      case CHAT_FRAME_EVENT:
        chat_client_handle_event (self, object);
        return;
      case CHAT_FRAME_RESPONSE:
        req = g_hash_table_lookup (self->inflight, &id);
        break;
      case CHAT_FRAME_INVALID:
      default:
        break;
    }
  if (req == NULL)
    {
      g_debug ("ignoring a line that answers no pending request");
      return;
    }
  g_hash_table_remove (self->inflight, &id);
  req->wire_id = 0;
  if (req->handler != NULL)
    {
      req->handler (self, object);
      request_free (req);
      return;
    }
  handle_caller_response (self, req, object);
}

static void
on_closed (ChatLink *conn, GError *error, gpointer user_data)
{
  connection_failed (CHAT_CLIENT (user_data), error);
}

static void
start_handshake (ChatClient *self, ChatLink *conn)
{
  JsonObject *args = json_object_new ();

  self->conn = conn;
  g_signal_connect (conn, "received", G_CALLBACK (on_received), self);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), self);
  self->handshake_source
      = attach_timeout (self, CHAT_CLIENT_CONNECT_TIMEOUT_MS, on_handshake_timeout, self);
  json_object_set_string_member (args, "op", "hello");
  json_object_set_string_member (args, "client", self->client_name);
  json_object_set_int_member (args, "proto", 1);
  chat_client_send_internal (self, args, on_hello);
}

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  ChatLink *conn = chat_link_new_finish (result, &error);
  ChatClient *self = NULL;

  /* Cancelled means the client dropped this attempt, and may be gone. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = CHAT_CLIENT (user_data);
  g_clear_object (&self->connect_cancellable);
  if (conn == NULL)
    {
      g_debug ("cannot connect: %s", error->message);
      set_last_error (self, error);
      try_candidate (self);
      return;
    }
  start_handshake (self, conn);
}

static void
try_candidate (ChatClient *self)
{
  const char *address = NULL;

  if (self->candidates == NULL || self->candidate_index >= self->candidates->len)
    {
      schedule_round (self);
      return;
    }
  address = self->candidates->pdata[self->candidate_index++];
  g_debug ("connecting to %s", address);
  self->connect_cancellable = g_cancellable_new ();
  chat_link_new_tls_async (address, CHAT_CLIENT_CONNECT_TIMEOUT_MS, CHAT_CLIENT_MAX_LINE_BYTES,
                           self->tls_database, self->connect_cancellable, connected_cb, self);
}

void
chat_client_ensure_connecting (ChatClient *self)
{
  self->want_connected = TRUE;
  if (self->conn != NULL || self->connect_cancellable != NULL || self->retry_source != NULL)
    return;
  chat_client_set_state (self, self->ever_connected ? CHAT_CONNECTION_STATE_RECONNECTING
                                                    : CHAT_CONNECTION_STATE_CONNECTING);
  round_start (self);
}

/* Deadlines and cancellation. */

static gboolean
on_request_deadline (gpointer user_data)
{
  ChatRequest *req = user_data;
  ChatClient *self = g_task_get_source_object (req->task);
  GError *error = NULL;

  /* A certificate that does not verify is not an outage: say so, so a client can tell
   * the user instead of asking them to try again. */
  if (self->last_error != NULL && !self->ready && self->last_error_is_tls)
    error = g_error_new (G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                         "Cannot verify the server's certificate: %s", self->last_error);
  else if (self->last_error != NULL && !self->ready)
    error = g_error_new (CHAT_ERROR, CHAT_ERROR_UNAVAILABLE,
                         "Cannot reach the cluster within %u ms: %s", self->request_timeout_ms,
                         self->last_error);
  else if (self->last_error != NULL && req->attempts > 1)
    /* Sent again after a connection failed (so last_error is not older than the
     * request): that failure is why there is no answer yet. */
    error = g_error_new (CHAT_ERROR, CHAT_ERROR_UNAVAILABLE,
                         "No answer within %u ms; the connection failed: %s",
                         self->request_timeout_ms, self->last_error);
  else
    error = g_error_new (CHAT_ERROR, CHAT_ERROR_UNAVAILABLE, "No answer within %u ms",
                         self->request_timeout_ms);
  request_return_error (self, req, error);
  return G_SOURCE_REMOVE;
}

static gboolean
on_request_cancelled (GCancellable *cancellable, gpointer user_data)
{
  ChatRequest *req = user_data;
  ChatClient *self = g_task_get_source_object (req->task);

  request_return_error (
      self, req,
      g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The operation was cancelled"));
  return G_SOURCE_REMOVE;
}

static ChatRequest *
request_new (ChatClient *self, JsonObject *args, ChatRequestFlags flags, GCancellable *cancellable,
             GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag)
{
  ChatRequest *req = g_new0 (ChatRequest, 1);

  req->args = args;
  req->flags = flags;
  req->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (req->task, source_tag);
  g_task_set_check_cancellable (req->task, FALSE);
  if (!(flags & CHAT_REQUEST_NO_DEADLINE))
    req->timeout_source = attach_timeout (self, self->request_timeout_ms, on_request_deadline, req);
  if (cancellable != NULL)
    {
      req->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (req->cancel_source, G_SOURCE_FUNC (on_request_cancelled), req, NULL);
      g_source_attach (req->cancel_source, self->context);
    }
  return req;
}

void
chat_client_request_async (ChatClient *self, JsonObject *args, ChatRequestHook on_success,
                           ChatRequestFlags flags, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag)
{
  ChatRequest *req = request_new (self, args, flags, cancellable, callback, user_data, source_tag);

  req->on_success = on_success;
  g_queue_push_tail (&self->pending, req);
  if (!self->ready)
    chat_client_ensure_connecting (self);
  else if (args != NULL)
    send_request (self, req);
  else
    flush_pending (self);
}

JsonObject *
chat_client_request_finish (ChatClient *self, GAsyncResult *result, gpointer source_tag,
                            GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
chat_client_connect_async (ChatClient *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  chat_client_request_async (self, NULL, NULL, CHAT_REQUEST_NONE, cancellable, callback, user_data,
                             chat_client_connect_async);
}

gboolean
chat_client_connect_finish (ChatClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
chat_client_conn_shutdown (ChatClient *self, const GError *error)
{
  g_autoptr (ChatClient) hold G_GNUC_UNUSED = g_object_ref (self);
  ChatRequest *req = NULL;

  self->want_connected = FALSE;
  self->ever_connected = FALSE;
  destroy_source (&self->retry_source);
  drop_connection (self);
  while ((req = g_queue_peek_head (&self->pending)) != NULL)
    request_return_error (self, req, g_error_copy (error));
  chat_client_set_state (self, CHAT_CONNECTION_STATE_OFFLINE);
}

void
chat_client_disconnect (ChatClient *self)
{
  g_autoptr (GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "Disconnected");

  g_return_if_fail (CHAT_IS_CLIENT (self));
  chat_client_conn_shutdown (self, error);
}

/* Catching up. */

static void
apply_sync_page (ChatClient *self, ChatSyncResult *page)
{
  for (guint i = 0; i < page->messages->len; i++)
    {
      ChatMessage *message = page->messages->pdata[i];
      if (self->resync_silent)
        chat_client_note_message_seen (self, message);
      else
        chat_client_deliver_message (self, message);
    }
  if (self->resync_silent)
    for (guint i = 0; i < page->deleted->len; i++)
      chat_id_set_add (self->seen_deletions, g_array_index (page->deleted, gint64, i));
  else
    chat_client_deliver_deleted (self, page->deleted);
  self->resync_from = MAX (self->resync_from, page->seq);
  chat_client_note_seq (self, self->resync_from);
}

static void
on_sync_page (ChatClient *self, JsonObject *response)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatSyncResult) page = NULL;
  g_autofree char *leader = NULL;
  gint64 from = self->resync_from;

  self->syncing = FALSE;
  if (!chat_codec_response_ok (response, &leader, &error)
      || (page = chat_sync_result_new_from_json (response, &error)) == NULL)
    {
      g_debug ("catching up failed: %s", error->message);
      if (g_error_matches (error, CHAT_ERROR, CHAT_ERROR_NOT_LEADER)
          || g_error_matches (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE))
        {
          chat_client_set_leader (self, leader);
          lose_connection (self, error);
        }
      else
        self->resync_pending = FALSE;
      return;
    }
  g_debug ("catching up%s: %u messages up to seq %" G_GINT64_FORMAT,
           self->resync_silent ? " silently" : "", page->messages->len, page->seq);
  apply_sync_page (self, page);
  if (!page->more || self->resync_from <= from)
    self->resync_pending = FALSE;
  chat_client_maybe_sync (self);
}

void
chat_client_maybe_sync (ChatClient *self)
{
  JsonObject *args = NULL;

  if (!self->ready || self->syncing || !self->resync_pending || self->username == NULL)
    return;
  args = json_object_new ();
  json_object_set_string_member (args, "op", "sync");
  json_object_set_int_member (args, "after", self->resync_from);
  json_object_set_int_member (args, "limit", CHAT_CLIENT_SYNC_PAGE);
  self->syncing = TRUE;
  chat_client_send_internal (self, args, on_sync_page);
}

void
chat_client_start_baseline (ChatClient *self)
{
  if (self->last_seq != 0 || self->resync_pending)
    return;
  self->resync_pending = TRUE;
  self->resync_silent = TRUE;
  self->resync_from = 0;
  chat_client_maybe_sync (self);
}
