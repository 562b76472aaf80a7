/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessageRow: a message bubble (sent: right, accent; received: left) with its day header. */
#pragma once

#include <adwaita.h>

#include "chat-message-item.h"

G_BEGIN_DECLS

#define CHAT_TYPE_MESSAGE_ROW (chat_message_row_get_type ())
G_DECLARE_FINAL_TYPE (ChatMessageRow, chat_message_row, CHAT, MESSAGE_ROW, GtkWidget)

ChatMessageRow *chat_message_row_new (void);
/* Shows item (NULL: nothing) and follows its delivery state. */
void chat_message_row_set_item (ChatMessageRow *self, ChatMessageItem *item);
ChatMessageItem *chat_message_row_get_item (ChatMessageRow *self);
/* "Sending…", "Sent", "Read" or "Not sent" for own messages, "" otherwise. */
const char *chat_message_row_describe_state (ChatMessageItem *item);

G_END_DECLS
