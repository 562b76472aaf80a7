/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConversationRow: one sidebar row: avatar, name, preview, time and unread badge. */
#pragma once

#include <adwaita.h>

#include "chat-conversation.h"

G_BEGIN_DECLS

#define CHAT_TYPE_CONVERSATION_ROW (chat_conversation_row_get_type ())
G_DECLARE_FINAL_TYPE (ChatConversationRow, chat_conversation_row, CHAT, CONVERSATION_ROW, GtkWidget)

ChatConversationRow *chat_conversation_row_new (void);
/* Shows item (NULL: nothing), following its changes. */
void chat_conversation_row_set_item (ChatConversationRow *self, ChatConversation *item);

G_END_DECLS
