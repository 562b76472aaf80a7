/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessage: one chat message as the protocol describes it, a GObject for list models. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Where a message stands, as its sender sees it. */
typedef enum
{
  CHAT_DELIVERY_PENDING, /* typed, not yet committed by the cluster (queued while reconnecting) */
  CHAT_DELIVERY_SENT,    /* committed: stored by every in-sync server */
  CHAT_DELIVERY_READ,    /* the recipient has read it */
  CHAT_DELIVERY_FAILED,  /* the cluster refused it */
} ChatDeliveryState;

#define CHAT_TYPE_DELIVERY_STATE (chat_delivery_state_get_type ())
GType chat_delivery_state_get_type (void);

#define CHAT_TYPE_MESSAGE (chat_message_get_type ())
G_DECLARE_FINAL_TYPE (ChatMessage, chat_message, CHAT, MESSAGE, GObject)

/* Properties (read-only unless said; every one that can change notifies):
 *   "id"       gint64   unique in the cluster, never reused; 0 while pending
 *   "seq"      gint64   the log index that committed it; only grows; 0 while pending
 *   "from"     string   sender's username
 *   "to"       string   recipient's username
 *   "body"     string   the text
 *   "sent-at"  gint64   milliseconds since the Unix epoch, set by the leader (while
 *                       pending: when it was typed)
 *   "read"     gboolean whether the recipient has read it (writable)
 *   "state"    ChatDeliveryState  pending, sent (committed), read or failed (writable)
 *   "client-msg-id" string  the sender's idempotency key of a pending message, or NULL
 */
ChatMessage *chat_message_new (gint64 id, gint64 seq, const char *from, const char *to,
                               const char *body, gint64 sent_at, gboolean read);
/* An own message not committed yet: id and seq 0, "sent-at" now, state PENDING. */
ChatMessage *chat_message_new_pending (const char *from, const char *to, const char *body,
                                       const char *client_msg_id);
/* The cluster committed this pending message as committed: takes its id, seq, sent-at and
 * read flag, and becomes SENT (or READ); each change notifies. */
void chat_message_commit (ChatMessage *self, ChatMessage *committed);
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
/* TRUE also makes a SENT message READ. */
void chat_message_set_read (ChatMessage *self, gboolean read);
ChatDeliveryState chat_message_get_state (ChatMessage *self);
void chat_message_set_state (ChatMessage *self, ChatDeliveryState state);
const char *chat_message_get_client_msg_id (ChatMessage *self);
/* The other participant as seen by @me (compared case-insensitively): "to" when
 * @me sent it, else "from". */
const char *chat_message_get_peer (ChatMessage *self, const char *me);

G_END_DECLS
