/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConversationList: the sidebar: a user search field over the list of conversations. */
#pragma once

#include <adwaita.h>

#include "chat-account.h"
#include "chat-search-results.h"

G_BEGIN_DECLS

#define CHAT_TYPE_CONVERSATION_LIST (chat_conversation_list_get_type ())
G_DECLARE_FINAL_TYPE (ChatConversationList, chat_conversation_list, CHAT, CONVERSATION_LIST,
                      GtkWidget)

/* Signal "conversation-activated" (const char *peer): a conversation or a found user. */
void chat_conversation_list_set_account (ChatConversationList *self, ChatAccount *account);
/* Highlights peer's conversation. */
void chat_conversation_list_select (ChatConversationList *self, const char *peer);
/* Focuses the search field. */
void chat_conversation_list_start_search (ChatConversationList *self);
/* Puts the keyboard focus on the conversations (the selected row). */
void chat_conversation_list_focus (ChatConversationList *self);
/* Searches users as if typed (empty: back to the conversations). */
GtkWidget *chat_conversation_list_get_search_entry (ChatConversationList *self);
void chat_conversation_list_set_search_text (ChatConversationList *self, const char *text);
ChatSearchResults *chat_conversation_list_get_search_results (ChatConversationList *self);
/* Whether the search has an answer for the current text. */
gboolean chat_conversation_list_get_search_done (ChatConversationList *self);

G_END_DECLS
