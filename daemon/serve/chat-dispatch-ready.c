/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatDispatch: requests that reach a leader elected a moment ago wait until it serves. */
#define G_LOG_DOMAIN "chatd-dispatch"

#include "chat-dispatch-private.h"

#include "chat-error.h"

/* A new leader serves once an entry of its own term is applied: a round of appends and
 * fsyncs, tens of milliseconds. A client that asked it in between (a cluster just started,
 * a failover) is answered then instead of being told to try again; past this wait the
 * answer is "unavailable" after all. */
#define READY_WAIT_US (2 * G_USEC_PER_SEC)
#define READY_CHECK_MS 100

typedef struct
{
  ChatRequest *request;
  gint64 deadline_us;
} WaitingRequest;

static void
waiting_request_free (WaitingRequest *waiting)
{
  chat_request_unref (waiting->request);
  g_free (waiting);
}

/* Runs every waiting request again once this server serves or stops leading (then they
 * are told who leads). */
static void
on_status_changed (ChatReplica *replica, gpointer user_data)
{
  ChatDispatch *self = user_data;
  g_autoptr (GPtrArray) ready = NULL;

  if (g_queue_is_empty (&self->waiting) || chat_replica_is_electing (self->replica))
    return;
  ready = g_ptr_array_new_with_free_func ((GDestroyNotify)waiting_request_free);
  while (!g_queue_is_empty (&self->waiting))
    g_ptr_array_add (ready, g_queue_pop_head (&self->waiting));
  for (guint i = 0; i < ready->len; i++)
    chat_dispatch_run (self, ((WaitingRequest *)g_ptr_array_index (ready, i))->request);
}

static gboolean
on_check (gpointer user_data)
{
  ChatDispatch *self = user_data;
  gint64 now = g_get_monotonic_time ();

  while (!g_queue_is_empty (&self->waiting))
    {
      WaitingRequest *waiting = g_queue_peek_head (&self->waiting);

      if (waiting->deadline_us > now)
        break;
      g_queue_pop_head (&self->waiting);
      chat_request_fail_literal (waiting->request, CHAT_ERROR_UNAVAILABLE,
                                 "The new leader is not ready yet; try again");
      waiting_request_free (waiting);
    }
  if (!g_queue_is_empty (&self->waiting))
    return G_SOURCE_CONTINUE;
  self->ready_check = 0;
  return G_SOURCE_REMOVE;
}

void
chat_dispatch_wait_until_ready (ChatDispatch *self, ChatRequest *request)
{
  WaitingRequest *waiting = g_new0 (WaitingRequest, 1);

  waiting->request = chat_request_ref (request);
  waiting->deadline_us = g_get_monotonic_time () + READY_WAIT_US;
  g_queue_push_tail (&self->waiting, waiting);
  if (self->ready_check == 0)
    self->ready_check = g_timeout_add (READY_CHECK_MS, on_check, self);
}

void
chat_dispatch_ready_start (ChatDispatch *self)
{
  g_queue_init (&self->waiting);
  self->status_handler
      = g_signal_connect (self->replica, "status-changed", G_CALLBACK (on_status_changed), self);
}

/* Whatever still waits is answered: the server is going away. */
void
chat_dispatch_ready_stop (ChatDispatch *self)
{
  g_clear_signal_handler (&self->status_handler, self->replica);
  g_clear_handle_id (&self->ready_check, g_source_remove);
  while (!g_queue_is_empty (&self->waiting))
    {
      WaitingRequest *waiting = g_queue_pop_head (&self->waiting);

      chat_request_fail_literal (waiting->request, CHAT_ERROR_UNAVAILABLE,
                                 "The server is shutting down");
      waiting_request_free (waiting);
    }
}
