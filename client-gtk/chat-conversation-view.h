/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConversationView: the messages of one conversation and the composer. */
#pragma once

#include <adwaita.h>

#include "chat-account.h"
#include "chat-composer.h"

G_BEGIN_DECLS

#define CHAT_TYPE_CONVERSATION_VIEW (chat_conversation_view_get_type ())
G_DECLARE_FINAL_TYPE (ChatConversationView, chat_conversation_view, CHAT, CONVERSATION_VIEW,
                      GtkWidget)

/*
 * Properties:
 *   "peer"      string           the conversation shown, or NULL (read-only)
 *   "selected"  ChatMessage      the selected message, or NULL (read-only)
 */
void chat_conversation_view_set_account (ChatConversationView *self, ChatAccount *account);
void chat_conversation_view_set_peer (ChatConversationView *self, const char *peer);
const char *chat_conversation_view_get_peer (ChatConversationView *self);
ChatMessage *chat_conversation_view_get_selected (ChatConversationView *self);
/* Selects the message at position in the list (GTK_INVALID_LIST_POSITION: none). */
void chat_conversation_view_select (ChatConversationView *self, guint position);
/* The list shown, or NULL. */
ChatMessageList *chat_conversation_view_get_messages (ChatConversationView *self);
ChatComposer *chat_conversation_view_get_composer (ChatConversationView *self);
GtkScrolledWindow *chat_conversation_view_get_scrolled_window (ChatConversationView *self);
/* Read-only: the composer is insensitive and says it waits for the servers (offline start). */
void chat_conversation_view_set_read_only (ChatConversationView *self, gboolean read_only);
/* Sends what the composer holds. */
void chat_conversation_view_send (ChatConversationView *self);
void chat_conversation_view_focus_composer (ChatConversationView *self);

G_END_DECLS
