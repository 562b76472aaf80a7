/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lines waiting for a non-blocking stream: written with one writev per turn, in order. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  GQueue lines;       /* GBytes */
  gsize head_offset;  /* bytes of the first line already written */
  gsize queued_bytes; /* what is left to write */
} ChatWriteQueue;

void chat_write_queue_init (ChatWriteQueue *queue);
void chat_write_queue_clear (ChatWriteQueue *queue);
void chat_write_queue_push (ChatWriteQueue *queue, GBytes *bytes);
gboolean chat_write_queue_is_empty (ChatWriteQueue *queue);

/* One writev_nonblocking of what is queued (none when it is empty), and the written
 * bytes leave the queue.
 * G_POLLABLE_RETURN_WOULD_BLOCK: the stream is full, nothing was written. */
GPollableReturn chat_write_queue_write (ChatWriteQueue *queue, GPollableOutputStream *out,
                                        GError **error);

G_END_DECLS
