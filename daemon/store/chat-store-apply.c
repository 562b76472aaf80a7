/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: the one deterministic function from (state, index, op) to the next state. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-state-private.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-username.h"

#include <string.h>

/* Everything apply may look at: the op, its log index and the database. Nothing
 * here reads a clock, a random source, the configuration or the environment. */
typedef struct
{
  ChatStore *store;
  guint64 index;
  JsonObject *op;
  ChatApplyResult *result;
} Apply;

/* Handlers return FALSE only for storage faults; a refused op sets result->error_code. */
typedef gboolean (*ApplyFunc) (Apply *apply, GError **error);

/* --- small helpers ------------------------------------------------------------- */

static void G_GNUC_PRINTF (3, 4) refuse (Apply *apply, ChatErrorCode code, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  apply->result->error_code = code;
  g_free (apply->result->error_message);
  apply->result->error_message = g_strdup_vprintf (format, args);
  va_end (args);
}

static void
refuse_with (Apply *apply, ChatErrorCode code, const GError *error)
{
  refuse (apply, code, "%s", error->message);
}

/* A required non-empty string field; on failure the op is refused as bad_request. */
static gboolean
need_string (Apply *apply, const char *field, const char **out)
{
  g_autoptr (GError) local = NULL;

  if (!chat_json_get_string (apply->op, field, TRUE, G_MAXSIZE, out, &local))
    {
      refuse_with (apply, CHAT_ERROR_BAD_REQUEST, local);
      return FALSE;
    }
  if (**out == '\0' || !g_utf8_validate (*out, -1, NULL))
    {
      refuse (apply, CHAT_ERROR_BAD_REQUEST, "Field “%s” must be non-empty text", field);
      return FALSE;
    }
  return TRUE;
}

static gboolean
need_uint (Apply *apply, const char *field, guint64 *out)
{
  g_autoptr (GError) local = NULL;

  if (!chat_json_get_uint (apply->op, field, TRUE, G_MAXINT64, out, &local))
    {
      refuse_with (apply, CHAT_ERROR_BAD_REQUEST, local);
      return FALSE;
    }
  return TRUE;
}

static int
compare_ids (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

  return x < y ? -1 : (x > y ? 1 : 0);
}

/* The ids of an "ids" array, ascending and without repeats. */
static GArray *
need_ids (Apply *apply)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  JsonArray *array = NULL;

  if (!chat_json_get_array (apply->op, "ids", TRUE, G_MAXUINT, &array, &local))
    {
      refuse_with (apply, CHAT_ERROR_BAD_REQUEST, local);
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      gint64 id;
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
        {
          refuse (apply, CHAT_ERROR_BAD_REQUEST, "Field “ids” must hold whole numbers");
          return NULL;
        }
      id = json_node_get_int (node);
      g_array_append_val (ids, id);
    }
  g_array_sort (ids, compare_ids);
  for (guint i = 1; i < ids->len;)
    {
      if (g_array_index (ids, gint64, i) == g_array_index (ids, gint64, i - 1))
        g_array_remove_index (ids, i);
      else
        i++;
    }
  return g_steal_pointer (&ids);
}

/* The display name of an existing account named (any case) by the op, or NULL
 * after refusing the op with no_such_user (or on a storage fault, with error set). */
static char *
need_user (Apply *apply, const char *username, char **key_out, GError **error)
{
  g_autofree char *key = chat_username_key (username);
  char *name = chat_store_name_for_key (apply->store, key, error);

  if (name == NULL && (error == NULL || *error == NULL))
    refuse (apply, CHAT_ERROR_NO_SUCH_USER, "There is no user “%s”", username);
  if (name != NULL && key_out != NULL)
    *key_out = g_steal_pointer (&key);
  return name;
}

static ChatApplyEvent *
add_event_for (Apply *apply, const char *user_key, const char *except_session)
{
  ChatApplyEvent *item = g_new0 (ChatApplyEvent, 1);

  item->user_key = g_strdup (user_key);
  item->except_session = g_strdup (except_session);
  g_ptr_array_add (apply->result->events, item);
  return item;
}

static void
add_event (Apply *apply, const char *user_key, JsonObject *event, const char *except_session)
{
  add_event_for (apply, user_key, except_session)->event = json_object_ref (event);
}

static void
add_message_event (Apply *apply, const char *user_key, ChatStoredMessage *message,
                   const char *except_session)
{
  add_event_for (apply, user_key, except_session)->message = chat_stored_message_ref (message);
}

static JsonObject *
user_object (const char *name)
{
  JsonObject *user = json_object_new ();

  json_object_set_string_member (user, "username", name);
  return user;
}

static JsonArray *
ids_to_json (GArray *ids)
{
  JsonArray *array = json_array_sized_new (ids->len);

  for (guint i = 0; i < ids->len; i++)
    json_array_add_int_element (array, g_array_index (ids, gint64, i));
  return array;
}

static int
compare_keys (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return strcmp (a, b);
}

/* key (char *) -> GArray of gint64, iterated in key order so events are deterministic. */
static GTree *
ids_by_user_new (void)
{
  return g_tree_new_full (compare_keys, NULL, g_free, (GDestroyNotify)g_array_unref);
}

static void
ids_by_user_add (GTree *tree, const char *key, gint64 id)
{
  GArray *ids = g_tree_lookup (tree, key);

  if (ids == NULL)
    {
      ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_tree_insert (tree, g_strdup (key), ids);
    }
  if (ids->len == 0 || g_array_index (ids, gint64, ids->len - 1) != id)
    g_array_append_val (ids, id);
}

static gboolean
run_with_text (ChatStore *self, const char *sql, const char *text, GError **error)
{
  return chat_store_run (self, sql, error, CHAT_SQL_TEXT (text));
}

static gboolean
insert_session (Apply *apply, const char *session, const char *key, guint64 at, GError **error)
{
  /* OR IGNORE: a replayed signup/login carries the same session hash. */
  return chat_store_run (apply->store,
                         "INSERT OR IGNORE INTO sessions (token_hash, user_key, created_at)"
                         " VALUES (?1, ?2, ?3)",
                         error, CHAT_SQL_TEXT (session), CHAT_SQL_TEXT (key), CHAT_SQL_INT (at));
}

/* --- accounts and sessions ----------------------------------------------------- */

static gboolean
insert_account (Apply *apply, const char *key, const char *name, const char *hash, guint64 at,
                GError **error)
{
  return chat_store_run (apply->store,
                         "INSERT INTO accounts (key, name, password_hash, created_at)"
                         " VALUES (?1, ?2, ?3, ?4)",
                         error, CHAT_SQL_TEXT (key), CHAT_SQL_TEXT (name), CHAT_SQL_TEXT (hash),
                         CHAT_SQL_INT (at));
}

static gboolean
apply_signup (Apply *apply, GError **error)
{
  const char *username, *hash, *session;
  g_autofree char *key = NULL;
  g_autofree char *existing = NULL;
  g_autoptr (GError) invalid = NULL;
  guint64 at;

  if (!need_string (apply, "username", &username) || !need_string (apply, "password_hash", &hash)
      || !need_string (apply, "session", &session) || !need_uint (apply, "at", &at))
    return TRUE;
  if (!chat_username_validate (username, &invalid))
    {
      refuse_with (apply, CHAT_ERROR_INVALID_USERNAME, invalid);
      return TRUE;
    }
  key = chat_username_key (username);
  existing = chat_store_name_for_key (apply->store, key, error);
  if (existing == NULL && *error != NULL)
    return FALSE;
  if (existing != NULL)
    {
      refuse (apply, CHAT_ERROR_USERNAME_TAKEN, "The username “%s” is taken", username);
      return TRUE;
    }
  if (!insert_account (apply, key, username, hash, at, error)
      || !insert_session (apply, session, key, at, error))
    return FALSE;
  json_object_set_object_member (apply->result->reply, "user", user_object (username));
  return TRUE;
}

static gboolean
count_unread (ChatStore *self, const char *key, gint64 *count, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;

  stmt = chat_store_query (self,
                           "SELECT count (*) FROM messages m WHERE m.to_key = ?1 AND m.read = 0"
                           " AND" CHAT_STORE_NOT_HIDDEN ("?1"),
                           error, CHAT_SQL_TEXT (key));
  return stmt != NULL && chat_store_step_int (self, stmt, count, "Counting unread messages", error);
}

static gboolean
apply_login (Apply *apply, GError **error)
{
  const char *username, *session;
  g_autofree char *key = NULL;
  g_autofree char *name = NULL;
  guint64 at;
  gint64 unread = 0;

  if (!need_string (apply, "username", &username) || !need_string (apply, "session", &session)
      || !need_uint (apply, "at", &at))
    return TRUE;
  key = chat_username_key (username);
  name = chat_store_name_for_key (apply->store, key, error);
  if (name == NULL && *error != NULL)
    return FALSE;
  if (name == NULL)
    {
      /* The same answer as a wrong password: no user enumeration. */
      refuse (apply, CHAT_ERROR_BAD_CREDENTIALS, "Wrong username or password");
      return TRUE;
    }
  if (!insert_session (apply, session, key, at, error)
      || !count_unread (apply->store, key, &unread, error))
    return FALSE;
  json_object_set_object_member (apply->result->reply, "user", user_object (name));
  json_object_set_int_member (apply->result->reply, "unread", unread);
  return TRUE;
}

static gboolean
apply_logout (Apply *apply, GError **error)
{
  const char *session;

  if (!need_string (apply, "session", &session))
    return TRUE;
  if (!run_with_text (apply->store, "DELETE FROM sessions WHERE token_hash = ?1", session, error))
    return FALSE;
  if (chat_store_changes (apply->store) > 0)
    g_ptr_array_add (apply->result->ended_sessions, g_strdup (session));
  return TRUE;
}

/* --- messages ------------------------------------------------------------------ */

static gboolean
insert_message (Apply *apply, const char *from_key, const char *to_key, const char *body,
                guint64 at, const char *client_msg_id, GError **error)
{
  return chat_store_run (apply->store,
                         "INSERT INTO messages (id, from_key, to_key, body, sent_at,"
                         " client_msg_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         error, CHAT_SQL_INT (apply->index), CHAT_SQL_TEXT (from_key),
                         CHAT_SQL_TEXT (to_key), CHAT_SQL_TEXT (body), CHAT_SQL_INT (at),
                         CHAT_SQL_TEXT (client_msg_id));
}

/* The row just inserted is the result's message, as chat_store_message_from_row() would
 * read it back: kept as the values bound, which saves a joined lookup per send, and
 * written as text only where it is answered or pushed. */
static void
message_events (Apply *apply, ChatStoredMessage *message, const char *from_key, const char *to_key)
{
  const char *session = NULL;

  add_message_event (apply, to_key, message, NULL);
  if (g_strcmp0 (from_key, to_key) == 0)
    return;
  if (!chat_json_get_string (apply->op, "session", FALSE, G_MAXSIZE, &session, NULL))
    session = NULL;
  add_message_event (apply, from_key, message, session);
}

/* A message deleted for everyone leaves a tombstone under a key no user has (':' is never
 * in a username key): ":sent:" sender key ":" client_msg_id. A send applied again after
 * the deletion (replayed by a partition's losing side, or retried after a lost answer)
 * finds it and does not bring the message back. It travels in snapshots and the state
 * hash with every tombstone, and sync never reads it (no user has that key). */
#define SENT_TOMBSTONE_SQL "':sent:' || from_key || ':' || client_msg_id"

static gboolean
add_sent_tombstone (Apply *apply, gint64 id, GError **error)
{
  return chat_store_run (apply->store,
                         "INSERT OR IGNORE INTO tombstones (user_key, id, seq)"
                         " SELECT " SENT_TOMBSTONE_SQL ", id, ?2 FROM messages WHERE id = ?1",
                         error, CHAT_SQL_INT (id), CHAT_SQL_INT (apply->index));
}

/* Whether from_key's message with this client_msg_id was deleted for everyone. */
static gboolean
sent_was_deleted (Apply *apply, const char *from_key, const char *client_msg_id, gboolean *deleted,
                  GError **error)
{
  g_autofree char *key = g_strconcat (":sent:", from_key, ":", client_msg_id, NULL);
  g_autoptr (ChatStmt) stmt = chat_store_query (
      apply->store, "SELECT 1 FROM tombstones WHERE user_key = ?1", error, CHAT_SQL_TEXT (key));

  return stmt != NULL && chat_store_step_row (apply->store, stmt, deleted, error);
}

static gboolean
apply_send (Apply *apply, GError **error)
{
  const char *from, *to, *body, *client_msg_id;
  g_autofree char *from_key = NULL, *to_key = NULL, *from_name = NULL, *to_name = NULL;
  g_autoptr (JsonObject) message = NULL;
  gboolean deleted = FALSE;
  guint64 at;

  if (!need_string (apply, "from", &from) || !need_string (apply, "to", &to)
      || !need_string (apply, "body", &body)
      || !need_string (apply, "client_msg_id", &client_msg_id) || !need_uint (apply, "at", &at))
    return TRUE;
  from_key = chat_username_key (from);
  message = chat_store_find_sent_by_key (apply->store, from_key, client_msg_id, error);
  if (message == NULL && *error != NULL)
    return FALSE;
  if (message != NULL)
    {
      /* A retry: the original answer, nothing new stored, no new events. */
      json_object_set_object_member (apply->result->reply, "message", g_steal_pointer (&message));
      return TRUE;
    }
  if (!sent_was_deleted (apply, from_key, client_msg_id, &deleted, error))
    return FALSE;
  if (deleted)
    {
      refuse (apply, CHAT_ERROR_NOT_FOUND, "Message “%s” was sent and deleted since",
              client_msg_id);
      return TRUE;
    }
  g_clear_pointer (&from_key, g_free);
  if ((from_name = need_user (apply, from, &from_key, error)) == NULL)
    return *error == NULL;
  if ((to_name = need_user (apply, to, &to_key, error)) == NULL)
    return *error == NULL;
  if (!insert_message (apply, from_key, to_key, body, at, client_msg_id, error))
    return FALSE;
  apply->result->message
      = chat_stored_message_new ((gint64)apply->index, from_name, to_name, body, (gint64)at);
  message_events (apply, apply->result->message, from_key, to_key);
  return TRUE;
}

/* --- mark_read ----------------------------------------------------------------- */

static void
read_event (Apply *apply, const char *by, const char *sender_key, const char *sender_name,
            gint64 up_to, GArray *ids)
{
  g_autoptr (JsonObject) event = json_object_new ();

  json_object_set_string_member (event, "event", "read");
  json_object_set_string_member (event, "by", by);
  json_object_set_string_member (event, "with", sender_name);
  json_object_set_int_member (event, "up_to", up_to);
  json_object_set_int_member (event, "seq", (gint64)apply->index);
  if (ids != NULL)
    json_object_set_array_member (event, "ids", ids_to_json (ids));
  add_event (apply, sender_key, event, NULL);
}

/* INDEXED BY: without it SQLite walks messages_by_recipient, every message the user ever
 * received, rather than the unread index. */
static gboolean
mark_conversation (Apply *apply, const char *user_key, const char *with_key, guint64 up_to,
                   gint64 *marked, GError **error)
{
  if (!chat_store_run (apply->store,
                       "UPDATE messages INDEXED BY messages_unread SET read = 1, read_seq = ?1"
                       " WHERE to_key = ?2 AND from_key = ?3 AND id <= ?4 AND read = 0",
                       error, CHAT_SQL_INT (apply->index), CHAT_SQL_TEXT (user_key),
                       CHAT_SQL_TEXT (with_key), CHAT_SQL_INT (up_to)))
    return FALSE;
  *marked = chat_store_changes (apply->store);
  return TRUE;
}

static gboolean
apply_mark_read_with (Apply *apply, const char *user_name, const char *user_key, GError **error)
{
  const char *with;
  g_autofree char *with_key = NULL, *with_name = NULL;
  guint64 up_to;
  gint64 marked = 0;

  if (!need_string (apply, "with", &with) || !need_uint (apply, "up_to", &up_to))
    return TRUE;
  if ((with_name = need_user (apply, with, &with_key, error)) == NULL)
    return *error == NULL;
  if (!mark_conversation (apply, user_key, with_key, up_to, &marked, error))
    return FALSE;
  json_object_set_int_member (apply->result->reply, "marked", marked);
  if (marked > 0)
    read_event (apply, user_name, with_key, with_name, (gint64)up_to, NULL);
  return TRUE;
}

/* Marks one unread message to user_key; *sender_key is set when it changed. */
static gboolean
mark_one (Apply *apply, const char *user_key, gint64 id, char **sender_key, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  gboolean marked = FALSE;

  stmt = chat_store_query (apply->store,
                           "UPDATE messages SET read = 1, read_seq = ?1"
                           " WHERE id = ?2 AND to_key = ?3 AND read = 0 RETURNING from_key",
                           error, CHAT_SQL_INT (apply->index), CHAT_SQL_INT (id),
                           CHAT_SQL_TEXT (user_key));
  if (stmt == NULL || !chat_store_step_row (apply->store, stmt, &marked, error))
    return FALSE;
  if (!marked)
    return TRUE;
  *sender_key = chat_store_column_dup (stmt, 0);
  return chat_store_step_done (apply->store, stmt, error);
}

static gboolean
emit_read_by_ids (Apply *apply, const char *user_name, GTree *by_sender, GError **error)
{
  for (GTreeNode *node = g_tree_node_first (by_sender); node != NULL;
       node = g_tree_node_next (node))
    {
      const char *sender_key = g_tree_node_key (node);
      GArray *ids = g_tree_node_value (node);
      g_autofree char *sender_name = chat_store_name_for_key (apply->store, sender_key, error);
      if (sender_name == NULL)
        return *error == NULL;
      read_event (apply, user_name, sender_key, sender_name,
                  g_array_index (ids, gint64, ids->len - 1), ids);
    }
  return TRUE;
}

/* The messages named by ids that were sent to user_key, ascending (for read_unread). */
static gboolean
reply_messages (Apply *apply, const char *user_key, GArray *ids, GError **error)
{
  g_autoptr (JsonArray) messages = json_array_new ();

  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr (ChatStmt) stmt = chat_store_query (
          apply->store, "SELECT " CHAT_STORE_MESSAGE_COLUMNS "WHERE m.id = ?1 AND m.to_key = ?2",
          error, CHAT_SQL_INT (g_array_index (ids, gint64, i)), CHAT_SQL_TEXT (user_key));
      if (stmt == NULL)
        return FALSE;
      if (sqlite3_step (stmt) == SQLITE_ROW)
        json_array_add_object_element (messages, chat_store_message_from_row (stmt));
    }
  json_object_set_array_member (apply->result->reply, "messages", g_steal_pointer (&messages));
  return TRUE;
}

static gboolean
apply_mark_read_ids (Apply *apply, const char *user_name, const char *user_key, GError **error)
{
  g_autoptr (GArray) ids = need_ids (apply);
  g_autoptr (GTree) by_sender = ids_by_user_new ();
  gint64 marked = 0;

  if (ids == NULL)
    return TRUE;
  for (guint i = 0; i < ids->len; i++)
    {
      g_autofree char *sender_key = NULL;
      gint64 id = g_array_index (ids, gint64, i);
      if (!mark_one (apply, user_key, id, &sender_key, error))
        return FALSE;
      if (sender_key == NULL)
        continue;
      ids_by_user_add (by_sender, sender_key, id);
      marked++;
    }
  json_object_set_int_member (apply->result->reply, "marked", marked);
  return emit_read_by_ids (apply, user_name, by_sender, error)
         && reply_messages (apply, user_key, ids, error);
}

static gboolean
apply_mark_read (Apply *apply, GError **error)
{
  const char *user;
  g_autofree char *user_key = NULL, *user_name = NULL;

  if (!need_string (apply, "user", &user))
    return TRUE;
  if ((user_name = need_user (apply, user, &user_key, error)) == NULL)
    return *error == NULL;
  if (json_object_has_member (apply->op, "ids"))
    return apply_mark_read_ids (apply, user_name, user_key, error);
  return apply_mark_read_with (apply, user_name, user_key, error);
}

/* --- deletions ----------------------------------------------------------------- */

static gboolean
add_tombstone (Apply *apply, const char *user_key, gint64 id, GError **error)
{
  return chat_store_run (apply->store,
                         "INSERT OR REPLACE INTO tombstones (user_key, id, seq)"
                         " VALUES (?1, ?2, ?3)",
                         error, CHAT_SQL_TEXT (user_key), CHAT_SQL_INT (id),
                         CHAT_SQL_INT (apply->index));
}

/* The sender and recipient of message id when user_key took part in it; both NULL when
 * it does not exist or belongs to another conversation. */
static gboolean
lookup_participants (Apply *apply, const char *user_key, gint64 id, char **from_key, char **to_key,
                     GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  gboolean found = FALSE;

  stmt = chat_store_query (apply->store,
                           "SELECT from_key, to_key FROM messages"
                           " WHERE id = ?1 AND (from_key = ?2 OR to_key = ?2)",
                           error, CHAT_SQL_INT (id), CHAT_SQL_TEXT (user_key));
  if (stmt == NULL || !chat_store_step_row (apply->store, stmt, &found, error))
    return FALSE;
  if (found)
    {
      *from_key = chat_store_column_dup (stmt, 0);
      *to_key = chat_store_column_dup (stmt, 1);
    }
  return TRUE;
}

static gboolean
remove_message (Apply *apply, gint64 id, GError **error)
{
  return chat_store_run (apply->store, "DELETE FROM messages WHERE id = ?1", error,
                         CHAT_SQL_INT (id));
}

/* Hides message id from user_key alone: a tombstone for that user while the message
 * stays. *fresh is FALSE when it was hidden already (the tombstone keeps its seq). */
static gboolean
hide_message (Apply *apply, const char *user_key, gint64 id, gboolean *fresh, GError **error)
{
  if (!chat_store_run (apply->store,
                       "INSERT OR IGNORE INTO tombstones (user_key, id, seq)"
                       " VALUES (?1, ?2, ?3)",
                       error, CHAT_SQL_TEXT (user_key), CHAT_SQL_INT (id),
                       CHAT_SQL_INT (apply->index)))
    return FALSE;
  *fresh = chat_store_changes (apply->store) > 0;
  return TRUE;
}

typedef enum
{
  DELETE_SCOPE_DEFAULT,
  DELETE_SCOPE_EVERYONE,
  DELETE_SCOPE_ME,
} DeleteScope;

/* What one delete_messages op does: the ids gone for everyone (per participant, for the
 * events) and the ids hidden for the caller (all, and the newly hidden ones). */
typedef struct
{
  const char *user_key;
  DeleteScope scope;
  GArray *deleted;
  GArray *hidden;
  GArray *newly_hidden;
  GTree *deleted_by_user;
} Deletion;

static gboolean
need_scope (Apply *apply, DeleteScope *scope)
{
  const char *text = NULL;

  *scope = DELETE_SCOPE_DEFAULT;
  if (!json_object_has_member (apply->op, "scope"))
    return TRUE;
  if (chat_json_get_string (apply->op, "scope", TRUE, 16, &text, NULL)
      && g_str_equal (text, "everyone"))
    *scope = DELETE_SCOPE_EVERYONE;
  else if (text != NULL && g_str_equal (text, "me"))
    *scope = DELETE_SCOPE_ME;
  else
    {
      refuse (apply, CHAT_ERROR_BAD_REQUEST, "Field “scope” must be “everyone” or “me”");
      return FALSE;
    }
  return TRUE;
}

/* The whole op is refused before anything changes when one id may not be deleted for
 * everyone by the caller, so a refused op leaves no partial deletion behind. */
static gboolean
check_forbidden (Apply *apply, Deletion *deletion, GArray *ids, gboolean *allowed, GError **error)
{
  *allowed = TRUE;
  if (deletion->scope != DELETE_SCOPE_EVERYONE)
    return TRUE;
  for (guint i = 0; i < ids->len && *allowed; i++)
    {
      g_autofree char *from_key = NULL, *to_key = NULL;
      gint64 id = g_array_index (ids, gint64, i);
      if (!lookup_participants (apply, deletion->user_key, id, &from_key, &to_key, error))
        return FALSE;
      if (from_key != NULL && !g_str_equal (from_key, deletion->user_key))
        {
          refuse (apply, CHAT_ERROR_FORBIDDEN,
                  "Message %" G_GINT64_FORMAT " was sent by someone else: only its sender"
                  " can delete it for everyone",
                  id);
          *allowed = FALSE;
        }
    }
  return TRUE;
}

static gboolean
delete_for_everyone (Apply *apply, Deletion *deletion, gint64 id, const char *from_key,
                     const char *to_key, GError **error)
{
  if (!add_sent_tombstone (apply, id, error) || !remove_message (apply, id, error)
      || !add_tombstone (apply, from_key, id, error) || !add_tombstone (apply, to_key, id, error))
    return FALSE;
  ids_by_user_add (deletion->deleted_by_user, from_key, id);
  ids_by_user_add (deletion->deleted_by_user, to_key, id);
  g_array_append_val (deletion->deleted, id);
  return TRUE;
}

static gboolean
delete_one (Apply *apply, Deletion *deletion, gint64 id, GError **error)
{
  g_autofree char *from_key = NULL, *to_key = NULL;
  gboolean sender, fresh = FALSE;

  if (!lookup_participants (apply, deletion->user_key, id, &from_key, &to_key, error))
    return FALSE;
  if (from_key == NULL)
    return TRUE;
  sender = g_str_equal (from_key, deletion->user_key);
  if (deletion->scope == DELETE_SCOPE_EVERYONE
      || (deletion->scope == DELETE_SCOPE_DEFAULT && sender))
    return delete_for_everyone (apply, deletion, id, from_key, to_key, error);
  if (!hide_message (apply, deletion->user_key, id, &fresh, error))
    return FALSE;
  g_array_append_val (deletion->hidden, id);
  if (fresh)
    g_array_append_val (deletion->newly_hidden, id);
  return TRUE;
}

static void
deleted_event (Apply *apply, const char *user_key, GArray *ids, const char *scope)
{
  g_autoptr (JsonObject) event = json_object_new ();

  json_object_set_string_member (event, "event", "deleted");
  json_object_set_array_member (event, "ids", ids_to_json (ids));
  json_object_set_string_member (event, "scope", scope);
  json_object_set_int_member (event, "seq", (gint64)apply->index);
  add_event (apply, user_key, event, NULL);
}

static void
deletion_events (Apply *apply, Deletion *deletion)
{
  for (GTreeNode *node = g_tree_node_first (deletion->deleted_by_user); node != NULL;
       node = g_tree_node_next (node))
    deleted_event (apply, g_tree_node_key (node), g_tree_node_value (node), "everyone");
  if (deletion->newly_hidden->len > 0)
    deleted_event (apply, deletion->user_key, deletion->newly_hidden, "me");
}

static gboolean
apply_delete_messages (Apply *apply, GError **error)
{
  const char *user;
  g_autofree char *user_key = NULL, *user_name = NULL;
  g_autoptr (GArray) ids = NULL;
  g_autoptr (GArray) deleted = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) hidden = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) newly_hidden = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GTree) by_user = ids_by_user_new ();
  Deletion deletion = { NULL, DELETE_SCOPE_DEFAULT, deleted, hidden, newly_hidden, by_user };
  gboolean allowed = TRUE;

  if (!need_string (apply, "user", &user) || !need_scope (apply, &deletion.scope))
    return TRUE;
  if ((user_name = need_user (apply, user, &user_key, error)) == NULL)
    return *error == NULL;
  if ((ids = need_ids (apply)) == NULL)
    return TRUE;
  deletion.user_key = user_key;
  if (!check_forbidden (apply, &deletion, ids, &allowed, error))
    return FALSE;
  if (!allowed)
    return TRUE;
  for (guint i = 0; i < ids->len; i++)
    {
      if (!delete_one (apply, &deletion, g_array_index (ids, gint64, i), error))
        return FALSE;
    }
  json_object_set_array_member (apply->result->reply, "deleted", ids_to_json (deleted));
  json_object_set_array_member (apply->result->reply, "hidden", ids_to_json (hidden));
  deletion_events (apply, &deletion);
  return TRUE;
}

static gboolean
add_text (ChatStmt *stmt, gpointer texts, GError **error)
{
  g_ptr_array_add (texts, chat_store_column_dup (stmt, 0));
  return TRUE;
}

static GPtrArray *
select_texts (ChatStore *self, const char *sql, const char *key, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_query (self, sql, error, CHAT_SQL_TEXT (key));

  return chat_store_collect (self, stmt, add_text, g_free, "Reading the database", error);
}

/* Tombstones for the other participants (at this op's seq), then the messages, sessions
 * and account. */
static gboolean
delete_account_rows (Apply *apply, const char *key, GError **error)
{
  static const char *const tombstone_steps[] = {
    "INSERT OR REPLACE INTO tombstones (user_key, id, seq)"
    " SELECT to_key, id, ?2 FROM messages WHERE from_key = ?1 AND to_key != ?1",
    "INSERT OR REPLACE INTO tombstones (user_key, id, seq)"
    " SELECT from_key, id, ?2 FROM messages WHERE to_key = ?1 AND from_key != ?1",
  };
  static const char *const delete_steps[] = {
    "DELETE FROM tombstones WHERE user_key = ?1",
    "DELETE FROM tombstones WHERE user_key > ':sent:' || ?1 || ':'"
    " AND user_key < ':sent:' || ?1 || ';'",
    "DELETE FROM messages WHERE from_key = ?1",
    "DELETE FROM messages WHERE to_key = ?1",
    "DELETE FROM sessions WHERE user_key = ?1",
    "DELETE FROM accounts WHERE key = ?1",
  };

  for (guint i = 0; i < G_N_ELEMENTS (tombstone_steps); i++)
    {
      if (!chat_store_run (apply->store, tombstone_steps[i], error, CHAT_SQL_TEXT (key),
                           CHAT_SQL_INT (apply->index)))
        return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (delete_steps); i++)
    {
      if (!run_with_text (apply->store, delete_steps[i], key, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
apply_delete_account (Apply *apply, GError **error)
{
  const char *username;
  g_autofree char *key = NULL, *name = NULL;
  g_autoptr (GPtrArray) peers = NULL, sessions = NULL;

  if (!need_string (apply, "username", &username))
    return TRUE;
  if ((name = need_user (apply, username, &key, error)) == NULL)
    return *error == NULL;
  peers = select_texts (apply->store,
                        "SELECT to_key FROM messages WHERE from_key = ?1 AND to_key != ?1"
                        " UNION SELECT from_key FROM messages WHERE to_key = ?1 AND from_key != ?1"
                        " ORDER BY 1",
                        key, error);
  sessions = peers == NULL ? NULL
                           : select_texts (apply->store,
                                           "SELECT token_hash FROM sessions WHERE user_key = ?1"
                                           " ORDER BY token_hash",
                                           key, error);
  if (sessions == NULL || !delete_account_rows (apply, key, error))
    return FALSE;
  for (guint i = 0; i < sessions->len; i++)
    g_ptr_array_add (apply->result->ended_sessions, g_strdup (g_ptr_array_index (sessions, i)));
  for (guint i = 0; i < peers->len; i++)
    {
      g_autoptr (JsonObject) event = json_object_new ();
      json_object_set_string_member (event, "event", "account_deleted");
      json_object_set_string_member (event, "user", name);
      json_object_set_int_member (event, "seq", (gint64)apply->index);
      add_event (apply, g_ptr_array_index (peers, i), event, NULL);
    }
  return TRUE;
}

/* --- dispatch ------------------------------------------------------------------ */

/* actor: the member naming the account an op acts for, checked against its stamp. */
static const struct
{
  const char *name;
  ApplyFunc func;
  const char *actor;
} apply_ops[] = {
  { "signup", apply_signup, NULL },
  { "login", apply_login, "username" },
  { "logout", apply_logout, NULL },
  { "send", apply_send, "from" },
  { "mark_read", apply_mark_read, "user" },
  { "delete_messages", apply_delete_messages, "user" },
  { "delete_account", apply_delete_account, "username" },
};

/* FALSE: the op must not run (refused, or *error set by a storage fault).
 * An op stamped with `account_since` acts for the account of that name created then.
 * After a partition the losing side's ops are replayed on the winner (docs/partitions.md),
 * where the account may have been deleted and its name signed up again since: a login,
 * send or deletion of the old account must not land in the new one. Ops written before
 * the stamp existed carry none and are not checked. */
static gboolean
actor_is_current (Apply *apply, const char *actor_member, GError **error)
{
  const char *username = NULL;
  guint64 stamped = 0;
  gint64 since;

  if (actor_member == NULL || !json_object_has_member (apply->op, "account_since"))
    return TRUE;
  if (!need_uint (apply, "account_since", &stamped))
    return FALSE;
  if (!chat_json_get_string (apply->op, actor_member, TRUE, G_MAXSIZE, &username, NULL))
    return TRUE; /* the op's own check refuses it */
  since = chat_store_account_since (apply->store, username, error);
  if (since >= 0 && (guint64)since == stamped)
    return TRUE;
  if (*error == NULL)
    refuse (apply, CHAT_ERROR_NO_SUCH_USER,
            "The account “%s” this request was made for no longer exists", username);
  return FALSE;
}

static gboolean
dispatch (Apply *apply, GError **error)
{
  const char *name = NULL;

  if (apply->op == NULL)
    return TRUE; /* an entry without a chat operation: only the applied index moves */
  if (!chat_json_get_string (apply->op, "op", TRUE, 64, &name, NULL))
    {
      refuse (apply, CHAT_ERROR_BAD_REQUEST, "The operation has no “op”");
      return TRUE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (apply_ops); i++)
    {
      if (!g_str_equal (name, apply_ops[i].name))
        continue;
      if (!actor_is_current (apply, apply_ops[i].actor, error))
        return *error == NULL;
      return apply_ops[i].func (apply, error);
    }
  refuse (apply, CHAT_ERROR_BAD_REQUEST, "Unknown operation “%s”", name);
  return TRUE;
}

static gboolean
dispatch_work (ChatStore *self, gpointer data, GError **error)
{
  return dispatch (data, error);
}

/* One op inside the open batch, in a savepoint so a storage fault undoes it whole. */
static ChatApplyResult *
apply_in_batch (ChatStore *self, guint64 index, JsonObject *op, GError **error)
{
  g_autoptr (ChatApplyResult) result = chat_apply_result_new ();
  Apply apply = { self, index, op, result };

  /* Handlers test *error: chat_store_savepoint always gives them a real one. */
  if (!chat_store_savepoint (self, dispatch_work, &apply, error))
    {
      g_prefix_error (error, "Applying entry %" G_GUINT64_FORMAT ": ", index);
      return NULL;
    }
  self->applied_index = index;
  return g_steal_pointer (&result);
}

ChatApplyResult *
chat_store_apply (ChatStore *self, guint64 index, JsonObject *op, GError **error)
{
  g_autoptr (ChatApplyResult) result = NULL;
  g_autoptr (GError) local = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (index > self->applied_index, NULL);
  g_return_val_if_fail (index <= G_MAXINT64, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->in_apply)
    return apply_in_batch (self, index, op, error);
  /* No batch open: a batch of one. */
  if (!chat_store_begin_apply (self, error))
    return NULL;
  result = apply_in_batch (self, index, op, &local);
  if (result == NULL)
    {
      chat_store_rollback_apply (self);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (!chat_store_commit_apply (self, error))
    return NULL;
  return g_steal_pointer (&result);
}

/* --- apply batches --------------------------------------------------------------- */

/* One transaction from chat_store_begin_apply to chat_store_commit_apply (or
 * chat_store_rollback_apply), open across the caller's calls to chat_store_apply. */
gboolean
chat_store_begin_apply (ChatStore *self, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  /* The log is the durable record; applied state may lag it after a power cut
   * and is replayed from the log (see docs/storage.md). */
  if (!chat_store_begin (self, CHAT_STORE_WRITE_UNSYNCED, error))
    {
      g_prefix_error (error, "Starting an apply batch: ");
      return FALSE;
    }
  self->in_apply = TRUE;
  self->applied_at_begin = self->applied_index;
  return TRUE;
}

static void
forget_batch (ChatStore *self)
{
  self->applied_index = self->applied_at_begin;
  self->in_apply = FALSE;
}

gboolean
chat_store_commit_apply (ChatStore *self, GError **error)
{
  gboolean stored;

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (self->in_apply, FALSE);

  stored = chat_store_put_meta_uint (self, CHAT_STORE_META_APPLIED, self->applied_index, error);
  if (!chat_store_end (self, stored, error))
    {
      forget_batch (self);
      g_prefix_error (error, "Committing applied operations: ");
      return FALSE;
    }
  self->in_apply = FALSE;
  return TRUE;
}

void
chat_store_rollback_apply (ChatStore *self)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (CHAT_IS_STORE (self));

  if (!self->in_apply)
    return;
  if (!chat_store_end (self, FALSE, &error) && error != NULL)
    g_warning ("Rolling back an apply batch: %s", error->message);
  forget_batch (self);
}

guint64
chat_store_applied_index (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->applied_index;
}

/* --- results ------------------------------------------------------------------- */

static void
apply_event_free (ChatApplyEvent *event)
{
  g_free (event->user_key);
  g_clear_pointer (&event->event, json_object_unref);
  g_clear_pointer (&event->message, chat_stored_message_unref);
  g_free (event->except_session);
  g_free (event);
}

ChatApplyResult *
chat_apply_result_new (void)
{
  ChatApplyResult *result = g_new0 (ChatApplyResult, 1);

  result->reply = json_object_new ();
  result->error_code = -1;
  result->events = g_ptr_array_new_with_free_func ((GDestroyNotify)apply_event_free);
  result->ended_sessions = g_ptr_array_new_with_free_func (g_free);
  return result;
}

void
chat_apply_result_free (ChatApplyResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->reply, json_object_unref);
  g_clear_pointer (&result->message, chat_stored_message_unref);
  g_free (result->error_message);
  g_ptr_array_unref (result->events);
  g_ptr_array_unref (result->ended_sessions);
  g_free (result);
}
