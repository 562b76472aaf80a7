/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: reads that answer client requests (users, history, conversations, unread). */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-state-private.h"
#include "chat-error.h"
#include "chat-username.h"

#include <string.h>

/* SQLite takes at most G_MAXINT64; clients send up to 2^53, the core up to its index. */
static sqlite3_int64
clamp_index (guint64 value)
{
  return (sqlite3_int64)MIN (value, (guint64)G_MAXINT64);
}

/* --- single rows --------------------------------------------------------------- */

JsonObject *
chat_store_message_from_row (ChatStmt *stmt)
{
  JsonObject *message = json_object_new ();

  json_object_set_int_member (message, "id", sqlite3_column_int64 (stmt, 0));
  json_object_set_int_member (message, "seq", sqlite3_column_int64 (stmt, 0));
  json_object_set_string_member (message, "from", (const char *)sqlite3_column_text (stmt, 1));
  json_object_set_string_member (message, "to", (const char *)sqlite3_column_text (stmt, 2));
  json_object_set_string_member (message, "body", (const char *)sqlite3_column_text (stmt, 3));
  json_object_set_int_member (message, "sent_at", sqlite3_column_int64 (stmt, 4));
  json_object_set_boolean_member (message, "read", sqlite3_column_int (stmt, 5) != 0);
  return message;
}

/* Steps a statement expected to return zero or one message row. */
static JsonObject *
one_message (ChatStore *self, ChatStmt *stmt, GError **error)
{
  switch (sqlite3_step (stmt))
    {
      case SQLITE_ROW:
        return chat_store_message_from_row (stmt);
      case SQLITE_DONE:
        return NULL;
      default:
        chat_store_fail (self, error, "Reading a message");
        return NULL;
    }
}

JsonObject *
chat_store_message_by_id (ChatStore *self, gint64 id, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;

  stmt = chat_store_prepare (self, "SELECT " CHAT_STORE_MESSAGE_COLUMNS "WHERE m.id = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  return one_message (self, stmt, error);
}

JsonObject *
chat_store_find_sent_by_key (ChatStore *self, const char *from_key, const char *client_msg_id,
                             GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;

  stmt = chat_store_prepare (
      self, "SELECT " CHAT_STORE_MESSAGE_COLUMNS "WHERE m.from_key = ?1 AND m.client_msg_id = ?2",
      error);
  if (stmt == NULL)
    return NULL;
  chat_store_bind_text (stmt, 1, from_key);
  chat_store_bind_text (stmt, 2, client_msg_id);
  return one_message (self, stmt, error);
}

/* A single text value selected by one text parameter, or NULL. */
static char *
text_by_text (ChatStore *self, const char *sql, const char *param, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, sql, error);

  if (stmt == NULL)
    return NULL;
  chat_store_bind_text (stmt, 1, param);
  switch (sqlite3_step (stmt))
    {
      case SQLITE_ROW:
        return chat_store_column_dup (stmt, 0);
      case SQLITE_DONE:
        return NULL;
      default:
        chat_store_fail (self, error, "Reading the database");
        return NULL;
    }
}

char *
chat_store_name_for_key (ChatStore *self, const char *key, GError **error)
{
  return text_by_text (self, "SELECT name FROM accounts WHERE key = ?1", key, error);
}

static guint64
count_rows (ChatStore *self, const char *sql)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, sql, NULL);
  gint64 count = 0;

  if (stmt == NULL || !chat_store_step_int (self, stmt, &count, "Counting rows", NULL))
    return 0;
  return (guint64)count;
}

/* --- public lookups ------------------------------------------------------------ */

char *
chat_store_session_user (ChatStore *self, const char *session_hash)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (session_hash != NULL, NULL);

  return text_by_text (self,
                       "SELECT a.name FROM sessions s JOIN accounts a ON a.key = s.user_key"
                       " WHERE s.token_hash = ?1",
                       session_hash, NULL);
}

/* A text column of the account named (any case) username, or NULL. */
static char *
text_by_username (ChatStore *self, const char *sql, const char *username)
{
  g_autofree char *key = chat_username_key (username);

  return text_by_text (self, sql, key, NULL);
}

char *
chat_store_user_name (ChatStore *self, const char *username)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (username != NULL, NULL);

  return text_by_username (self, "SELECT name FROM accounts WHERE key = ?1", username);
}

char *
chat_store_password_hash (ChatStore *self, const char *username)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (username != NULL, NULL);

  return text_by_username (self, "SELECT password_hash FROM accounts WHERE key = ?1", username);
}

gint64
chat_store_account_since (ChatStore *self, const char *username, GError **error)
{
  g_autofree char *key = NULL;
  g_autoptr (ChatStmt) stmt = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), -1);
  g_return_val_if_fail (username != NULL, -1);

  key = chat_username_key (username);
  stmt = chat_store_prepare (self, "SELECT created_at FROM accounts WHERE key = ?1", error);
  if (stmt == NULL)
    return -1;
  chat_store_bind_text (stmt, 1, key);
  switch (sqlite3_step (stmt))
    {
      case SQLITE_ROW:
        return sqlite3_column_int64 (stmt, 0);
      case SQLITE_DONE:
        return -1;
      default:
        chat_store_fail (self, error, "Reading the database");
        return -1;
    }
}

JsonObject *
chat_store_find_sent (ChatStore *self, const char *from, const char *client_msg_id)
{
  g_autofree char *key = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (from != NULL && client_msg_id != NULL, NULL);

  key = chat_username_key (from);
  return chat_store_find_sent_by_key (self, key, client_msg_id, NULL);
}

guint64
chat_store_count_accounts (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return count_rows (self, "SELECT count (*) FROM accounts");
}

guint64
chat_store_count_messages (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return count_rows (self, "SELECT count (*) FROM messages");
}

/* --- list_users ---------------------------------------------------------------- */

/* The protocol pattern as a GLOB over case-folded keys. GLOB's own specials are
 * bracketed; SQL LIKE characters ('%', '_') and quotes have no meaning in GLOB,
 * and the pattern is a bound parameter, never part of the SQL text. */
static char *
pattern_to_glob (const char *pattern)
{
  g_autofree char *folded = g_ascii_strdown (pattern != NULL ? pattern : "", -1);
  gboolean wildcards = strpbrk (folded, "*?") != NULL;
  GString *glob = g_string_new (wildcards ? NULL : "*");

  for (const char *p = folded; *p != '\0'; p++)
    {
      if (*p == '[')
        g_string_append (glob, "[[]");
      else if (*p == ']')
        g_string_append (glob, "[]]");
      else
        g_string_append_c (glob, *p);
    }
  if (!wildcards)
    g_string_append_c (glob, '*');
  return g_string_free (glob, FALSE);
}

static gboolean
add_message (ChatStmt *stmt, gpointer messages, GError **error)
{
  json_array_add_object_element (messages, chat_store_message_from_row (stmt));
  return TRUE;
}

/* Runs a statement whose rows are messages. */
static JsonArray *
collect_messages (ChatStore *self, ChatStmt *stmt, GError **error)
{
  g_autoptr (JsonArray) messages = json_array_new ();

  if (!chat_store_each_row (self, stmt, add_message, messages, "Reading messages", error))
    return NULL;
  return g_steal_pointer (&messages);
}

static gboolean
add_user (ChatStmt *stmt, gpointer users, GError **error)
{
  JsonObject *user = json_object_new ();

  json_object_set_string_member (user, "username", (const char *)sqlite3_column_text (stmt, 0));
  json_array_add_object_element (users, user);
  return TRUE;
}

JsonArray *
chat_store_list_users (ChatStore *self, const char *pattern, const char *after, guint limit,
                       gboolean *more, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  g_autoptr (JsonArray) users = json_array_new ();
  g_autofree char *glob = pattern_to_glob (pattern);
  g_autofree char *after_key = g_ascii_strdown (after != NULL ? after : "", -1);

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);

  limit = MAX (limit, 1);
  stmt = chat_store_query (self,
                           "SELECT name FROM accounts WHERE key GLOB ?1 AND key > ?2"
                           " ORDER BY key LIMIT ?3",
                           error, CHAT_SQL_TEXT (glob), CHAT_SQL_TEXT (after_key),
                           CHAT_SQL_INT ((gint64)limit + 1));
  if (stmt == NULL || !chat_store_each_row (self, stmt, add_user, users, "Listing users", error))
    return NULL;
  if (more != NULL)
    *more = json_array_get_length (users) > limit;
  if (json_array_get_length (users) > limit)
    json_array_remove_element (users, limit);
  return g_steal_pointer (&users);
}

/* --- history ------------------------------------------------------------------- */

static char *
need_user_key (ChatStore *self, const char *username, GError **error)
{
  g_autofree char *key = chat_username_key (username);
  g_autofree char *name = NULL;
  g_autoptr (GError) local = NULL;

  name = chat_store_name_for_key (self, key, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (name == NULL)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_NO_SUCH_USER, "There is no user “%s”", username);
      return NULL;
    }
  return g_steal_pointer (&key);
}

static JsonArray *
reversed (JsonArray *array)
{
  JsonArray *out = json_array_sized_new (json_array_get_length (array));

  for (guint i = json_array_get_length (array); i > 0; i--)
    json_array_add_element (out, json_node_copy (json_array_get_element (array, i - 1)));
  return out;
}

JsonArray *
chat_store_history (ChatStore *self, const char *user, const char *with, guint64 before,
                    guint limit, gboolean *more, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  g_autoptr (JsonArray) newest_first = NULL;
  g_autofree char *user_key = NULL, *with_key = NULL;
  gboolean user_first;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (user != NULL && with != NULL, NULL);

  if ((user_key = need_user_key (self, user, error)) == NULL
      || (with_key = need_user_key (self, with, error)) == NULL)
    return NULL;
  limit = MAX (limit, 1);
  stmt = chat_store_prepare (self,
                             "SELECT " CHAT_STORE_MESSAGE_COLUMNS
                             "WHERE min (m.from_key, m.to_key) = ?1"
                             " AND max (m.from_key, m.to_key) = ?2 AND m.id < ?3"
                             " AND" CHAT_STORE_NOT_HIDDEN ("?5") "ORDER BY m.id DESC LIMIT ?4",
                             error);
  if (stmt == NULL)
    return NULL;
  /* The conversation index orders each pair as (lesser key, greater key). */
  user_first = strcmp (user_key, with_key) <= 0;
  chat_store_bind_text (stmt, 1, user_first ? user_key : with_key);
  chat_store_bind_text (stmt, 2, user_first ? with_key : user_key);
  sqlite3_bind_int64 (stmt, 3, before == 0 ? G_MAXINT64 : clamp_index (before));
  sqlite3_bind_int64 (stmt, 4, (sqlite3_int64)limit + 1);
  chat_store_bind_text (stmt, 5, user_key);
  if ((newest_first = collect_messages (self, stmt, error)) == NULL)
    return NULL;
  if (more != NULL)
    *more = json_array_get_length (newest_first) > limit;
  if (json_array_get_length (newest_first) > limit)
    json_array_remove_element (newest_first, limit);
  return reversed (newest_first);
}

/* --- conversations ------------------------------------------------------------- */

/* The unread queries name their index: SQLite would otherwise pick messages_by_recipient
 * for some of them, every message the user ever received. */
static gint64
unread_from (ChatStore *self, const char *user_key, const char *peer_key, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  gint64 count = -1;

  stmt = chat_store_query (self,
                           "SELECT count (*) FROM messages m INDEXED BY messages_unread"
                           " WHERE m.to_key = ?1 AND m.from_key = ?2 AND m.read = 0"
                           " AND" CHAT_STORE_NOT_HIDDEN ("?1"),
                           error, CHAT_SQL_TEXT (user_key), CHAT_SQL_TEXT (peer_key));
  if (stmt == NULL || !chat_store_step_int (self, stmt, &count, "Counting unread messages", error))
    return -1;
  return count;
}

static JsonObject *
conversation_object (ChatStore *self, const char *user_key, const char *peer_key, gint64 last,
                     GError **error)
{
  g_autoptr (JsonObject) conversation = json_object_new ();
  g_autoptr (JsonObject) message = NULL;
  g_autofree char *peer_name = NULL;
  gint64 unread;

  if ((peer_name = chat_store_name_for_key (self, peer_key, error)) == NULL
      || (message = chat_store_message_by_id (self, last, error)) == NULL
      || (unread = unread_from (self, user_key, peer_key, error)) < 0)
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "Inconsistent conversation");
      return NULL;
    }
  json_object_set_string_member (conversation, "user", peer_name);
  json_object_set_object_member (conversation, "last_message", g_steal_pointer (&message));
  json_object_set_int_member (conversation, "unread", unread);
  return g_steal_pointer (&conversation);
}

typedef struct
{
  ChatStore *store;
  const char *user_key;
  JsonArray *conversations;
} Conversations;

static gboolean
add_conversation (ChatStmt *stmt, gpointer data, GError **error)
{
  Conversations *c = data;
  JsonObject *conversation
      = conversation_object (c->store, c->user_key, (const char *)sqlite3_column_text (stmt, 0),
                             sqlite3_column_int64 (stmt, 1), error);

  if (conversation == NULL)
    return FALSE;
  json_array_add_object_element (c->conversations, conversation);
  return TRUE;
}

JsonArray *
chat_store_conversations (ChatStore *self, const char *user, GError **error)
{
  g_autoptr (JsonArray) conversations = json_array_new ();
  Conversations found = { self, NULL, conversations };
  g_autofree char *key = NULL;
  g_autoptr (ChatStmt) stmt = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  found.user_key = key = chat_username_key (user);
  stmt = chat_store_query (self,
                           "SELECT peer, max (last) AS newest FROM ("
                           " SELECT m.to_key AS peer, max (m.id) AS last FROM messages m"
                           "  WHERE m.from_key = ?1 AND" CHAT_STORE_NOT_HIDDEN (
                               "?1") "  GROUP BY m.to_key"
                                     " UNION ALL"
                                     " SELECT m.from_key, max (m.id) FROM messages m"
                                     "  WHERE m.to_key = ?1 AND" CHAT_STORE_NOT_HIDDEN (
                                         "?1") "  GROUP BY m.from_key)"
                                               " GROUP BY peer ORDER BY newest DESC",
                           error, CHAT_SQL_TEXT (key));
  if (stmt == NULL
      || !chat_store_each_row (self, stmt, add_conversation, &found, "Listing conversations",
                               error))
    return NULL;
  return g_steal_pointer (&conversations);
}

/* --- unread -------------------------------------------------------------------- */

JsonArray *
chat_store_unread (ChatStore *self, const char *user, guint limit, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  g_autofree char *key = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  key = chat_username_key (user);
  stmt = chat_store_prepare (self,
                             "SELECT " CHAT_STORE_MESSAGE_COLUMNS
                             "WHERE m.to_key = ?1 AND m.read = 0 AND" CHAT_STORE_NOT_HIDDEN (
                                 "?1") "ORDER BY m.id LIMIT ?2",
                             error);
  if (stmt == NULL)
    return NULL;
  chat_store_bind_text (stmt, 1, key);
  sqlite3_bind_int64 (stmt, 2, MAX (limit, 1));
  return collect_messages (self, stmt, error);
}

static gboolean
add_unread_count (ChatStmt *stmt, gpointer by_user, GError **error)
{
  json_object_set_int_member (by_user, (const char *)sqlite3_column_text (stmt, 0),
                              sqlite3_column_int64 (stmt, 1));
  return TRUE;
}

static gint64
sum_members (JsonObject *object)
{
  g_autoptr (GList) values = json_object_get_values (object);
  gint64 sum = 0;

  for (GList *l = values; l != NULL; l = l->next)
    sum += json_node_get_int (l->data);
  return sum;
}

JsonObject *
chat_store_unread_count (ChatStore *self, const char *user, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  g_autoptr (JsonObject) by_user = json_object_new ();
  g_autofree char *key = NULL;
  JsonObject *counts = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  key = chat_username_key (user);
  stmt = chat_store_query (self,
                           "SELECT a.name, count (*) FROM messages m INDEXED BY messages_unread"
                           " JOIN accounts a ON a.key = m.from_key"
                           " WHERE m.to_key = ?1 AND m.read = 0 AND" CHAT_STORE_NOT_HIDDEN (
                               "?1") " GROUP BY m.from_key ORDER BY m.from_key",
                           error, CHAT_SQL_TEXT (key));
  if (stmt == NULL
      || !chat_store_each_row (self, stmt, add_unread_count, by_user, "Counting unread messages",
                               error))
    return NULL;
  counts = json_object_new ();
  json_object_set_int_member (counts, "total", sum_members (by_user));
  json_object_set_object_member (counts, "by_user", g_steal_pointer (&by_user));
  return counts;
}
