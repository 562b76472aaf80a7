/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessageRow: a message bubble (sent: right, accent; received: left) with its day header. */
#pragma once

#include <adwaita.h>

#include "chat-message-list.h"

G_BEGIN_DECLS

#define CHAT_TYPE_MESSAGE_ROW (chat_message_row_get_type ())
G_DECLARE_FINAL_TYPE (ChatMessageRow, chat_message_row, CHAT, MESSAGE_ROW, GtkWidget)

ChatMessageRow *chat_message_row_new (void);
/* Shows message of list (NULL: nothing), following its delivery state and the flags the
 * list keeps for it. */
void chat_message_row_set_message (ChatMessageRow *self, ChatMessageList *list,
                                   ChatMessage *message);
ChatMessage *chat_message_row_get_message (ChatMessageRow *self);

G_END_DECLS
