/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessage: one chat message as the protocol describes it, a GObject for list models. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CHAT_TYPE_MESSAGE (chat_message_get_type ())
G_DECLARE_FINAL_TYPE (ChatMessage, chat_message, CHAT, MESSAGE, GObject)

/* Properties (all read-only except "read"):
 *   "id"       gint64   unique in the cluster, never reused
 *   "seq"      gint64   the log index that committed it; only grows
 *   "from"     string   sender's username
 *   "to"       string   recipient's username
 *   "body"     string   the text
 *   "sent-at"  gint64   milliseconds since the Unix epoch, set by the leader
 *   "read"     gboolean whether the recipient has read it (notifies on change)
 */
ChatMessage *chat_message_new (gint64 id, gint64 seq, const char *from, const char *to,
                               const char *body, gint64 sent_at, gboolean read);
/* Builds a message from its protocol object; untrusted input fails with
 * CHAT_ERROR_BAD_REQUEST naming the bad field. */
ChatMessage *chat_message_new_from_json (JsonObject *object, GError **error);
/* The protocol object of the message (a new reference). */
JsonObject *chat_message_to_json (ChatMessage *self);

gint64 chat_message_get_id (ChatMessage *self);
gint64 chat_message_get_seq (ChatMessage *self);
const char *chat_message_get_from (ChatMessage *self);
const char *chat_message_get_to (ChatMessage *self);
const char *chat_message_get_body (ChatMessage *self);
gint64 chat_message_get_sent_at (ChatMessage *self);
/* "sent-at" as a local date and time (a new reference). */
GDateTime *chat_message_dup_sent_at_local (ChatMessage *self);
gboolean chat_message_get_read (ChatMessage *self);
void chat_message_set_read (ChatMessage *self, gboolean read);
/* The other participant as seen by @me (compared case-insensitively): "to" when
 * @me sent it, else "from". */
const char *chat_message_get_peer (ChatMessage *self, const char *me);

G_END_DECLS
