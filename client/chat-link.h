/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatLink: one TCP connection to a server, speaking JSON lines (private to libchat). */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CHAT_TYPE_LINK (chat_link_get_type ())
G_DECLARE_FINAL_TYPE (ChatLink, chat_link, CHAT, LINK, GObject)

/* Signals:
 *   "received" (JsonObject *object)  every line, parsed
 *   "closed"   (GError *error)       once, when the peer closes, I/O fails, a line is
 *                                    over the limit (CHAT_ERROR_TOO_LARGE) or is not a
 *                                    JSON object (G_IO_ERROR_INVALID_DATA); not emitted
 *                                    by chat_link_close()
 */

/* Connects to "host:port" within timeout_ms. */
void chat_link_new_async (const char *address, guint timeout_ms, gsize max_line_bytes,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
/* The same over TLS: the server's certificate must verify against database for the
 * host of address (a DNS name or IP address in its subjectAltName). */
void chat_link_new_tls_async (const char *address, guint timeout_ms, gsize max_line_bytes,
                              GTlsDatabase *database, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
ChatLink *chat_link_new_finish (GAsyncResult *result, GError **error);
/* Wraps an already connected stream (for tests: one end of a socket pair). */
ChatLink *chat_link_new_for_stream (GIOStream *stream, const char *address, gsize max_line_bytes);

const char *chat_link_get_address (ChatLink *self);
/* Queues one object as a line; writes are batched. */
void chat_link_send (ChatLink *self, JsonObject *object);
gboolean chat_link_is_closed (ChatLink *self);
/* Closes without emitting "closed". */
void chat_link_close (ChatLink *self);

G_END_DECLS
