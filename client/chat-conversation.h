/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConversation: one entry of the conversations list, a GObject for list models. */
#pragma once

#include "chat-message.h"

G_BEGIN_DECLS

#define CHAT_TYPE_CONVERSATION (chat_conversation_get_type ())
G_DECLARE_FINAL_TYPE (ChatConversation, chat_conversation, CHAT, CONVERSATION, GObject)

/* Properties (notify on change; an application's list model binds them):
 *   "user"          string       the other participant (read-only)
 *   "last-message"  ChatMessage  the most recent message either way, or NULL
 *   "unread"        guint        unread messages from "user"
 */
ChatConversation *chat_conversation_new (const char *user, ChatMessage *last_message, guint unread);
ChatConversation *chat_conversation_new_from_json (JsonObject *object, GError **error);

const char *chat_conversation_get_user (ChatConversation *self);
ChatMessage *chat_conversation_get_last_message (ChatConversation *self);
guint chat_conversation_get_unread (ChatConversation *self);
void chat_conversation_set_last_message (ChatConversation *self, ChatMessage *last_message);
void chat_conversation_set_unread (ChatConversation *self, guint unread);
/* The protocol object of the conversation (a new reference). */
JsonObject *chat_conversation_to_json (ChatConversation *self);

G_END_DECLS
