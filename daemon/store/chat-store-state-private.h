/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the chat state's files (apply, queries, sync): how a message row is read. */
#pragma once

#include "chat-store-connection.h"

G_BEGIN_DECLS

/* Message rows: the columns and joins every message read selects, in this order. */
#define CHAT_STORE_MESSAGE_COLUMNS                                                                 \
  "m.id, fa.name, ta.name, m.body, m.sent_at, m.read "                                             \
  "FROM messages m JOIN accounts fa ON fa.key = m.from_key "                                       \
  "JOIN accounts ta ON ta.key = m.to_key "
/* A condition on "m": the message is not hidden from the user whose key is bound to
 * param (a tombstone of that user for a message that still exists: deleted "for me"). */
#define CHAT_STORE_NOT_HIDDEN(param)                                                               \
  " NOT EXISTS (SELECT 1 FROM tombstones h WHERE h.user_key = " param " AND h.id = m.id) "
/* {id, seq, from, to, body, sent_at, read} from a row selected with the columns above. */
JsonObject *chat_store_message_from_row (ChatStmt *stmt);
/* The message with this id, or NULL (error set only on a storage fault). */
JsonObject *chat_store_message_by_id (ChatStore *self, gint64 id, GError **error);
/* The message from_key sent with this client_msg_id, or NULL (error set on a fault). */
JsonObject *chat_store_find_sent_by_key (ChatStore *self, const char *from_key,
                                         const char *client_msg_id, GError **error);
/* The display name for a case-folded key, or NULL (error set only on a storage fault). */
char *chat_store_name_for_key (ChatStore *self, const char *key, GError **error);

G_END_DECLS
