/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Line framing for the JSON-lines protocol, kept apart from sockets so it is testable. */
#include "chat-line.h"
#include "chat-error.h"

#include <string.h>

struct _ChatLineBuffer
{
  GByteArray *bytes;
  gsize start;   /* first byte not yet returned */
  gsize scanned; /* bytes from start already known to hold no '\n' */
  gsize max_line;
};

ChatLineBuffer *
chat_line_buffer_new (gsize max_line_bytes)
{
  ChatLineBuffer *buffer = g_new0 (ChatLineBuffer, 1);
  buffer->bytes = g_byte_array_new ();
  buffer->max_line = max_line_bytes;
  return buffer;
}

void
chat_line_buffer_free (ChatLineBuffer *buffer)
{
  if (buffer == NULL)
    return;
  g_byte_array_unref (buffer->bytes);
  g_free (buffer);
}

/* Drops returned lines once they dominate the array, so memory stays bounded by
 * one line plus one read without moving bytes on every line. */
static void
compact (ChatLineBuffer *buffer)
{
  if (buffer->start == 0 || buffer->start * 2 < buffer->bytes->len)
    return;
  g_byte_array_remove_range (buffer->bytes, 0, buffer->start);
  buffer->start = 0;
}

void
chat_line_buffer_feed (ChatLineBuffer *buffer, const void *data, gsize len)
{
  compact (buffer);
  g_byte_array_append (buffer->bytes, data, len);
}

gboolean
chat_line_buffer_next (ChatLineBuffer *buffer, char **line, gsize *len, GError **error)
{
  const guint8 *base = NULL;
  gsize available = buffer->bytes->len - buffer->start;
  const guint8 *newline = NULL;
  gsize line_len = 0;

  *line = NULL;
  *len = 0;
  /* An empty array may have no storage at all (data NULL). */
  if (available == 0)
    return FALSE;
  base = buffer->bytes->data + buffer->start;
  newline = memchr (base + buffer->scanned, '\n', available - buffer->scanned);
  line_len = newline ? (gsize)(newline - base) : available;
  if (line_len > buffer->max_line)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_TOO_LARGE,
                   "A line is limited to %" G_GSIZE_FORMAT " bytes", buffer->max_line);
      return FALSE;
    }
  if (newline == NULL)
    {
      buffer->scanned = available;
      return FALSE;
    }
  *line = g_malloc (line_len + 1);
  memcpy (*line, base, line_len);
  (*line)[line_len] = '\0';
  *len = line_len;
  buffer->start += line_len + 1;
  buffer->scanned = 0;
  return TRUE;
}

gsize
chat_line_buffer_pending (const ChatLineBuffer *buffer)
{
  return buffer->bytes->len - buffer->start;
}
