/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The write queue over a socket pair whose buffers are small: partial writes, a full
 * socket, and every byte arriving once and in order. */
#include "chat-write-queue.h"

#include <string.h>
#include <sys/socket.h>

#define N_LINES 300
#define LINE_BYTES 7001 /* not a divisor of any buffer size: lines end mid-write */

typedef struct
{
  GSocket *reader;
  GIOStream *writer;
} Pair;

static void
pair_init (Pair *pair)
{
  int fds[2];
  int small = 4096;
  g_autoptr (GSocket) socket = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  g_assert_cmpint (setsockopt (fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), ==, 0);
  g_assert_cmpint (setsockopt (fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small), ==, 0);
  socket = g_socket_new_from_fd (fds[0], NULL);
  g_assert_nonnull (socket);
  g_socket_set_blocking (socket, FALSE);
  pair->writer = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
  pair->reader = g_socket_new_from_fd (fds[1], NULL);
  g_assert_nonnull (pair->reader);
  g_socket_set_blocking (pair->reader, FALSE);
}

static void
pair_clear (Pair *pair)
{
  g_clear_object (&pair->writer);
  g_clear_object (&pair->reader);
}

/* Line i is LINE_BYTES copies of the byte 'a' + i % 26. */
static GBytes *
line_new (guint i)
{
  guint8 *data = g_malloc (LINE_BYTES);

  memset (data, 'a' + i % 26, LINE_BYTES);
  return g_bytes_new_take (data, LINE_BYTES);
}

static gsize
drain (Pair *pair, GByteArray *received)
{
  guint8 buf[3000]; /* less than the socket holds: the writer stays behind */
  gssize n = g_socket_receive (pair->reader, (char *)buf, sizeof buf, NULL, NULL);

  if (n <= 0)
    return 0;
  g_byte_array_append (received, buf, (guint)n);
  return (gsize)n;
}

static void
test_partial_writes (void)
{
  Pair pair;
  ChatWriteQueue queue;
  g_autoptr (GByteArray) received = g_byte_array_new ();
  GPollableOutputStream *out = NULL;
  guint would_block = 0, rounds = 0;

  pair_init (&pair);
  out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (pair.writer));
  chat_write_queue_init (&queue);
  for (guint i = 0; i < N_LINES; i++)
    {
      g_autoptr (GBytes) line = line_new (i);

      chat_write_queue_push (&queue, line);
    }
  g_assert_cmpuint (queue.queued_bytes, ==, (gsize)N_LINES * LINE_BYTES);
  while (!chat_write_queue_is_empty (&queue) && rounds++ < 100000)
    {
      g_autoptr (GError) error = NULL;
      gsize before = queue.queued_bytes;
      GPollableReturn ret = chat_write_queue_write (&queue, out, &error);

      g_assert_no_error (error);
      g_assert_cmpint (ret, !=, G_POLLABLE_RETURN_FAILED);
      if (ret == G_POLLABLE_RETURN_WOULD_BLOCK)
        {
          would_block++;
          g_assert_cmpuint (queue.queued_bytes, ==, before);
        }
      g_assert_cmpuint (queue.queued_bytes + received->len, <=, (gsize)N_LINES * LINE_BYTES);
      drain (&pair, received);
    }
  while (drain (&pair, received) > 0)
    ;
  g_assert_true (chat_write_queue_is_empty (&queue));
  g_assert_cmpuint (queue.queued_bytes, ==, 0);
  g_assert_cmpuint (queue.head_offset, ==, 0);
  g_assert_cmpuint (would_block, >, 0);
  g_assert_cmpuint (received->len, ==, (gsize)N_LINES * LINE_BYTES);
  for (guint i = 0; i < N_LINES; i++)
    for (guint j = 0; j < LINE_BYTES; j += 1000)
      g_assert_cmpint (received->data[(gsize)i * LINE_BYTES + j], ==, 'a' + i % 26);
  chat_write_queue_clear (&queue);
  pair_clear (&pair);
}

/* Clearing drops what is left, a line cut in the middle included. */
static void
test_clear (void)
{
  Pair pair;
  ChatWriteQueue queue;
  GPollableOutputStream *out = NULL;
  g_autoptr (GBytes) line = line_new (0);
  GPollableReturn ret = G_POLLABLE_RETURN_OK;

  pair_init (&pair);
  out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (pair.writer));
  chat_write_queue_init (&queue);
  for (guint i = 0; i < 100; i++)
    chat_write_queue_push (&queue, line);
  while (ret == G_POLLABLE_RETURN_OK && !chat_write_queue_is_empty (&queue))
    ret = chat_write_queue_write (&queue, out, NULL);
  g_assert_cmpint (ret, ==, G_POLLABLE_RETURN_WOULD_BLOCK);
  g_assert_false (chat_write_queue_is_empty (&queue));
  g_assert_cmpuint (queue.queued_bytes, <, (gsize)100 * LINE_BYTES);
  chat_write_queue_clear (&queue);
  g_assert_true (chat_write_queue_is_empty (&queue));
  g_assert_cmpuint (queue.queued_bytes, ==, 0);
  g_assert_cmpuint (queue.head_offset, ==, 0);
  pair_clear (&pair);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/write-queue/partial-writes", test_partial_writes);
  g_test_add_func ("/write-queue/clear", test_clear);
  return g_test_run ();
}
