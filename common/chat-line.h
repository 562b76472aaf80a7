/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatLineBuffer: splits a byte stream into '\n'-terminated lines with a length limit. No I/O. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ChatLineBuffer ChatLineBuffer;

ChatLineBuffer *chat_line_buffer_new (gsize max_line_bytes);
void chat_line_buffer_free (ChatLineBuffer *buffer);

/* Appends bytes read from a stream. */
void chat_line_buffer_feed (ChatLineBuffer *buffer, const void *data, gsize len);

/* Takes the next complete line, without its '\n' (a trailing '\r' is kept: JSON
 * parsing tolerates it as white space). Returns FALSE with *line = NULL when no
 * whole line is buffered yet. Fails with CHAT_ERROR_TOO_LARGE once the line being
 * assembled (complete or not) is longer than the limit; the buffer is then
 * unusable, as the protocol closes the connection. The returned line is
 * NUL-terminated; it may contain NUL bytes, which *len reveals. */
gboolean chat_line_buffer_next (ChatLineBuffer *buffer, char **line, gsize *len, GError **error);

/* Bytes of an incomplete line waiting for its '\n'. */
gsize chat_line_buffer_pending (const ChatLineBuffer *buffer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatLineBuffer, chat_line_buffer_free)

G_END_DECLS
