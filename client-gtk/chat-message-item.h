/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessageItem: one row of a conversation: a message, or an own message still on its way. */
#pragma once

#include "chat-message.h"

G_BEGIN_DECLS

typedef enum
{
  CHAT_DELIVERY_PENDING, /* typed, not yet committed by the cluster (queued while reconnecting) */
  CHAT_DELIVERY_SENT,    /* committed by the cluster */
  CHAT_DELIVERY_READ,    /* the recipient has read it */
  CHAT_DELIVERY_FAILED,  /* the cluster refused it */
} ChatDeliveryState;

#define CHAT_TYPE_MESSAGE_ITEM (chat_message_item_get_type ())
G_DECLARE_FINAL_TYPE (ChatMessageItem, chat_message_item, CHAT, MESSAGE_ITEM, GObject)

/*
 * Properties:
 *   "message"   ChatMessage        the committed message, or NULL while pending
 *   "body"      string             the text (read-only)
 *   "outgoing"  gboolean           sent by the account's user (read-only)
 *   "state"     ChatDeliveryState  as an int; notifies on change
 *   "show-day"  gboolean           first message of its day: draw a day separator above it
 *   "first-unread" gboolean        the oldest unread message: a "New messages" divider above it
 *   "group-end" gboolean           last of a run from one sender: it shows the time
 */
ChatMessageItem *chat_message_item_new (ChatMessage *message, gboolean outgoing);
ChatMessageItem *chat_message_item_new_pending (const char *to, const char *body,
                                                const char *client_msg_id);

ChatMessage *chat_message_item_get_message (ChatMessageItem *self);
/* Turns a pending item into the committed message. */
void chat_message_item_set_message (ChatMessageItem *self, ChatMessage *message);
const char *chat_message_item_get_body (ChatMessageItem *self);
const char *chat_message_item_get_to (ChatMessageItem *self);
const char *chat_message_item_get_client_msg_id (ChatMessageItem *self);
gboolean chat_message_item_get_outgoing (ChatMessageItem *self);
/* 0 while pending. */
gint64 chat_message_item_get_id (ChatMessageItem *self);
gint64 chat_message_item_get_seq (ChatMessageItem *self);
/* A new reference: the local time it was sent (or typed, while pending). */
GDateTime *chat_message_item_dup_time (ChatMessageItem *self);
ChatDeliveryState chat_message_item_get_state (ChatMessageItem *self);
void chat_message_item_set_state (ChatMessageItem *self, ChatDeliveryState state);
gboolean chat_message_item_get_show_day (ChatMessageItem *self);
void chat_message_item_set_show_day (ChatMessageItem *self, gboolean show_day);
gboolean chat_message_item_get_first_unread (ChatMessageItem *self);
void chat_message_item_set_first_unread (ChatMessageItem *self, gboolean first_unread);
gboolean chat_message_item_get_group_end (ChatMessageItem *self);
void chat_message_item_set_group_end (ChatMessageItem *self, gboolean group_end);
/* An incoming message the server had as read when it reached this client. */
gboolean chat_message_item_get_read (ChatMessageItem *self);

G_END_DECLS
