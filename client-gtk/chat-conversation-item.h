/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConversationItem: a sidebar entry (peer, last message preview, time, unread count). */
#pragma once

#include "chat-conversation.h"

G_BEGIN_DECLS

#define CHAT_TYPE_CONVERSATION_ITEM (chat_conversation_item_get_type ())
G_DECLARE_FINAL_TYPE (ChatConversationItem, chat_conversation_item, CHAT, CONVERSATION_ITEM,
                      GObject)

/*
 * Properties (notify on change):
 *   "user"      string   the other participant (construct-only)
 *   "preview"   string   the last message's text, or NULL
 *   "time"      gint64   the last message's "sent-at" (ms since the epoch), 0 when none
 *   "unread"    guint    unread messages from "user"
 */
ChatConversationItem *chat_conversation_item_new (const char *user);
ChatConversationItem *chat_conversation_item_new_from_conversation (ChatConversation *conv);

const char *chat_conversation_item_get_user (ChatConversationItem *self);
const char *chat_conversation_item_get_preview (ChatConversationItem *self);
gint64 chat_conversation_item_get_time (ChatConversationItem *self);
guint chat_conversation_item_get_unread (ChatConversationItem *self);
void chat_conversation_item_set_unread (ChatConversationItem *self, guint unread);
/* Shows message (may be NULL) as the last one. */
void chat_conversation_item_set_last (ChatConversationItem *self, const char *body, gint64 time);
/* The time as a short label: "14:05" today, "Mon" this week, "3 Mar" otherwise. */
char *chat_conversation_item_format_time (ChatConversationItem *self);

G_END_DECLS
