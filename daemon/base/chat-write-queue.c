/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The write queue of client connections and peer links. */
#include "chat-write-queue.h"

/* Lines per system call: a leader's batch of answers, or of peer messages, goes in one. */
#define MAX_WRITE_VECTORS 32

void
chat_write_queue_init (ChatWriteQueue *queue)
{
  g_queue_init (&queue->lines);
  queue->head_offset = 0;
  queue->queued_bytes = 0;
}

void
chat_write_queue_clear (ChatWriteQueue *queue)
{
  g_queue_clear_full (&queue->lines, (GDestroyNotify)g_bytes_unref);
  queue->head_offset = 0;
  queue->queued_bytes = 0;
}

void
chat_write_queue_push (ChatWriteQueue *queue, GBytes *bytes)
{
  g_queue_push_tail (&queue->lines, g_bytes_ref (bytes));
  queue->queued_bytes += g_bytes_get_size (bytes);
}

gboolean
chat_write_queue_is_empty (ChatWriteQueue *queue)
{
  return g_queue_is_empty (&queue->lines);
}

static gsize
gather_vectors (ChatWriteQueue *queue, GOutputVector *vectors)
{
  gsize n = 0;

  for (GList *l = queue->lines.head; l != NULL && n < MAX_WRITE_VECTORS; l = l->next, n++)
    {
      gsize size = 0;
      const guint8 *data = g_bytes_get_data (l->data, &size);
      gsize skip = n == 0 ? queue->head_offset : 0;

      vectors[n].buffer = data + skip;
      vectors[n].size = size - skip;
    }
  return n;
}

static void
consume_written (ChatWriteQueue *queue, gsize written)
{
  queue->queued_bytes -= written;
  while (written > 0)
    {
      GBytes *head = g_queue_peek_head (&queue->lines);
      gsize left = g_bytes_get_size (head) - queue->head_offset;

      if (written < left)
        {
          queue->head_offset += written;
          return;
        }
      written -= left;
      queue->head_offset = 0;
      g_bytes_unref (g_queue_pop_head (&queue->lines));
    }
}

GPollableReturn
chat_write_queue_write (ChatWriteQueue *queue, GPollableOutputStream *out, GError **error)
{
  GOutputVector vectors[MAX_WRITE_VECTORS];
  gsize n = gather_vectors (queue, vectors);
  gsize written = 0;
  GPollableReturn ret = G_POLLABLE_RETURN_OK;

  if (n == 0)
    return G_POLLABLE_RETURN_OK;
  ret = g_pollable_output_stream_writev_nonblocking (out, vectors, n, &written, NULL, error);
  if (ret == G_POLLABLE_RETURN_OK)
    consume_written (queue, written);
  return ret;
}
