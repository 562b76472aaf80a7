/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local copy of what a logged-in user last saw, read back for an offline start. */
#pragma once

#include <json-glib/json-glib.h>

#include "chat-conversation.h"
#include "chat-message-list.h"

G_BEGIN_DECLS

/* Bounds of what is kept: the newest conversations and the newest messages of each. */
#define CHAT_ACCOUNT_CACHE_CONVERSATIONS 100
#define CHAT_ACCOUNT_CACHE_MESSAGES 50

/* $XDG_CACHE_HOME/chatd/chat-gtk/HASH.json, HASH naming the server list (key, as the keyring
 * entry does) and the user, so two clusters or two users never share a file. */
char *chat_account_cache_path (const char *key, const char *username);
/* Writes root atomically, the file 0600 in a 0700 folder: message bodies are private. */
gboolean chat_account_cache_write (const char *path, JsonObject *root, GError **error);
/* The object written before, or NULL with error (G_FILE_ERROR_NOENT when there is none). The
 * file is read as untrusted input: bounded in size, its shape checked by the caller. */
JsonObject *chat_account_cache_read (const char *path, GError **error);
void chat_account_cache_remove (const char *path);

/* The cache of username: conversations (ChatConversation, most recent first) and the
 * loaded lists (username key -> ChatMessageList), each list's newest messages. */
JsonObject *chat_account_cache_build (const char *username, GListModel *conversations,
                                      GHashTable *lists);
/* Back: *conversations gets ChatConversation *, *messages username key -> GPtrArray of
 * ChatMessage (ascending). FALSE with CHAT_ERROR_BAD_REQUEST on a file of another shape. */
gboolean chat_account_cache_parse (JsonObject *root, GPtrArray **conversations,
                                   GHashTable **messages, GError **error);

G_END_DECLS
