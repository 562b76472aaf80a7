/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatAccount: what the window shows of a logged-in user, kept live from libchat's signals. */
#pragma once

#include <json-glib/json-glib.h>

#include "chat-client.h"
#include "chat-message-list.h"

G_BEGIN_DECLS

#define CHAT_TYPE_ACCOUNT (chat_account_get_type ())
G_DECLARE_FINAL_TYPE (ChatAccount, chat_account, CHAT, ACCOUNT, GObject)

/*
 * Properties:
 *   "client"        ChatClient   logged in (construct-only)
 *   "username"      string       (read-only)
 *   "unread"        guint        unread messages in every conversation (read-only)
 *   "n-pending"     guint        own messages not yet committed (read-only)
 *   "active-peer"   string       the conversation on screen while the window has focus:
 *                                its incoming messages are marked read at once
 *   "offline"       gboolean     built from the cache while no server answers: read-only,
 *                                it sends and fetches nothing (read-only)
 * Signals:
 *   "message-arrived"    (ChatMessage *message)  a message from someone else, left unread
 *   "conversation-read"  (const char *peer)      nothing unread from peer any more
 *   "peer-deleted"       (const char *peer)      peer deleted their account
 *   "send-failed"        (const char *peer, const GError *error)
 *   "session-ended"      (const char *reason)
 */
ChatAccount *chat_account_new (ChatClient *client);
/* What username saw last time, from the cache file's object (chat-account-cache.h), shown
 * while client resumes the session. NULL with an error when the object has another shape. */
ChatAccount *chat_account_new_from_cache (ChatClient *client, const char *username,
                                          JsonObject *cache, GError **error);
gboolean chat_account_get_offline (ChatAccount *self);
/* Keeps the conversations and the newest messages of the loaded lists at path (NULL: not at
 * all), written a moment after each change and when the account goes. */
void chat_account_set_cache_path (ChatAccount *self, const char *path);
/* Writes the cache now (nothing offline or without a path). */
void chat_account_save_cache (ChatAccount *self);

ChatClient *chat_account_get_client (ChatAccount *self);
const char *chat_account_get_username (ChatAccount *self);
guint chat_account_get_unread (ChatAccount *self);
/* ChatConversation, most recent first. */
GListModel *chat_account_get_conversations (ChatAccount *self);
ChatConversation *chat_account_find_conversation (ChatAccount *self, const char *peer);
/* Adds an empty conversation with peer if there is none; returns it (transfer none). */
ChatConversation *chat_account_ensure_conversation (ChatAccount *self, const char *peer);
/* The message list of peer, created (and its newest page requested) on first use. */
ChatMessageList *chat_account_get_messages (ChatAccount *self, const char *peer);
/* The size of the newest page requested for lists created from now on: what fits on screen
 * (see chat_message_list_set_first_page_size()). */
void chat_account_set_first_page_size (ChatAccount *self, guint size);
void chat_account_set_active_peer (ChatAccount *self, const char *peer);

/* Reloads the conversation list (previews and unread counts). */
void chat_account_refresh (ChatAccount *self);
/* Queues body for peer: shown at once as pending, sent (and retried after reconnects with
 * the same client_msg_id) until the cluster commits it. */
ChatMessage *chat_account_send (ChatAccount *self, const char *peer, const char *body);
/* Marks peer's messages read on the server when the sidebar counts some unread. */
void chat_account_mark_read (ChatAccount *self, const char *peer);
/* Marks peer's messages read on the server up to the last one seen, whatever the count. */
void chat_account_read_conversation (ChatAccount *self, const char *peer);
void chat_account_mark_all_read (ChatAccount *self);
/* Deletes item for everyone or only from the user's own view (scope as libchat's). */
void chat_account_delete_item (ChatAccount *self, ChatMessage *item, ChatDeleteScope scope,
                               GAsyncReadyCallback callback, gpointer user_data);
gboolean chat_account_delete_item_finish (ChatAccount *self, GAsyncResult *result, GError **error);
/* The oldest unread message (at most one ChatMessage *), marked read. */
void chat_account_read_unread (ChatAccount *self, GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *chat_account_read_unread_finish (ChatAccount *self, GAsyncResult *result,
                                            GError **error);

G_END_DECLS
