/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatClient operations: one thin wrapper per protocol op over the shared request queue. */
#define G_LOG_DOMAIN "libchat"

#include "chat-client-private.h"
#include "chat-json.h"

#define MAX_NAME_BYTES 256
#define MAX_TOKEN_BYTES 1024
#define MAX_ITEMS 100000

static JsonObject *
op_args (const char *op)
{
  JsonObject *args = json_object_new ();

  json_object_set_string_member (args, "op", op);
  return args;
}

static void
set_optional_limit (JsonObject *args, guint limit)
{
  if (limit > 0)
    json_object_set_int_member (args, "limit", limit);
}

/* A server answer that does not have the promised shape. */
static gboolean
malformed (GError **error)
{
  g_prefix_error (error, "Malformed answer from the server: ");
  if (error != NULL && *error != NULL)
    (*error)->code = CHAT_ERROR_INTERNAL;
  return FALSE;
}

/* Notes every message of response[field] as seen without building objects. */
static void
note_messages (ChatClient *self, JsonObject *response, const char *field)
{
  JsonNode *node = json_object_get_member (response, field);
  JsonArray *array = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return;
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *message = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      message = json_node_get_object (element);
      if (json_object_has_member (message, "id"))
        chat_id_set_add (self->seen_messages, json_object_get_int_member (message, "id"));
      if (json_object_has_member (message, "seq"))
        chat_client_note_seq (self, json_object_get_int_member (message, "seq"));
    }
}

static GPtrArray *
parse_messages (JsonObject *response, GError **error)
{
  g_autoptr (GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  JsonArray *array = NULL;

  if (!chat_json_get_array (response, "messages", FALSE, MAX_ITEMS, &array, error))
    return NULL;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      ChatMessage *message = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                               "“messages” must hold objects");
          return NULL;
        }
      message = chat_message_new_from_json (json_node_get_object (node), error);
      if (message == NULL)
        return NULL;
      g_ptr_array_add (messages, message);
    }
  return g_steal_pointer (&messages);
}

/* hello */

static gboolean
hello_hook (ChatClient *self, JsonObject *response, GError **error)
{
  g_autoptr (ChatHelloInfo) info = chat_hello_info_new_from_json (response, error);

  if (info == NULL)
    return malformed (error);
  chat_client_set_cluster_health (self, info);
  chat_client_set_leader (self, info->leader);
  return TRUE;
}

void
chat_client_hello_async (ChatClient *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  JsonObject *args = op_args ("hello");

  g_return_if_fail (CHAT_IS_CLIENT (self));
  json_object_set_string_member (args, "client", self->client_name);
  json_object_set_int_member (args, "proto", 1);
  chat_client_request_async (self, args, hello_hook, CHAT_REQUEST_NONE, cancellable, callback,
                             user_data, chat_client_hello_async);
}

ChatHelloInfo *
chat_client_hello_finish (ChatClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_hello_async, error);

  if (response == NULL)
    return NULL;
  return chat_hello_info_new_from_json (response, error);
}

/* signup, login, resume, logout */

static gboolean
session_hook (ChatClient *self, JsonObject *response, GError **error)
{
  const char *session = NULL, *username = NULL;
  JsonNode *user = json_object_get_member (response, "user");

  if (user == NULL || !JSON_NODE_HOLDS_OBJECT (user))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "Missing field “user”");
      return malformed (error);
    }
  if (!chat_json_get_string (json_node_get_object (user), "username", TRUE, MAX_NAME_BYTES,
                             &username, error)
      || !chat_json_get_string (response, "session", FALSE, MAX_TOKEN_BYTES, &session, error))
    return malformed (error);
  chat_client_set_user (self, username, session != NULL ? session : self->session);
  chat_client_start_baseline (self);
  return TRUE;
}

static void
credentials_request (ChatClient *self, const char *op, const char *username, const char *password,
                     ChatRequestFlags flags, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data, gpointer tag)
{
  JsonObject *args = op_args (op);

  json_object_set_string_member (args, "username", username);
  json_object_set_string_member (args, "password", password);
  chat_client_request_async (self, args, session_hook, flags, cancellable, callback, user_data,
                             tag);
}

void
chat_client_signup_async (ChatClient *self, const char *username, const char *password,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_return_if_fail (username != NULL && password != NULL);
  credentials_request (self, "signup", username, password, CHAT_REQUEST_SIGNUP, cancellable,
                       callback, user_data, chat_client_signup_async);
}

gboolean
chat_client_signup_finish (ChatClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_signup_async, error);
  return response != NULL;
}

void
chat_client_login_async (ChatClient *self, const char *username, const char *password,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_return_if_fail (username != NULL && password != NULL);
  credentials_request (self, "login", username, password, CHAT_REQUEST_NONE, cancellable, callback,
                       user_data, chat_client_login_async);
}

static gboolean
finish_unread (JsonObject *response, guint *unread, GError **error)
{
  guint64 value = 0;

  if (response == NULL)
    return FALSE;
  if (!chat_json_get_uint (response, "unread", FALSE, G_MAXUINT, &value, error))
    return malformed (error);
  if (unread != NULL)
    *unread = (guint)value;
  return TRUE;
}

gboolean
chat_client_login_finish (ChatClient *self, GAsyncResult *result, guint *unread, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_login_async, error);
  return finish_unread (response, unread, error);
}

static void
resume_request (ChatClient *self, const char *session, ChatRequestFlags flags,
                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  JsonObject *args = op_args ("resume");

  if (session != NULL)
    chat_client_set_session (self, session);
  json_object_set_string_member (args, "session", self->session);
  chat_client_request_async (self, args, session_hook, flags, cancellable, callback, user_data,
                             chat_client_resume_async);
}

void
chat_client_resume_async (ChatClient *self, const char *session, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_return_if_fail (session != NULL || self->session != NULL);
  resume_request (self, session, CHAT_REQUEST_NONE, cancellable, callback, user_data);
}

void
chat_client_resume_queued_async (ChatClient *self, const char *session, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_return_if_fail (session != NULL || self->session != NULL);
  resume_request (self, session, CHAT_REQUEST_NO_DEADLINE, cancellable, callback, user_data);
}

gboolean
chat_client_resume_finish (ChatClient *self, GAsyncResult *result, guint *unread, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_resume_async, error);
  return finish_unread (response, unread, error);
}

static gboolean
logout_hook (ChatClient *self, JsonObject *response, GError **error)
{
  chat_client_end_session (self, "logout");
  return TRUE;
}

void
chat_client_logout_async (ChatClient *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  chat_client_request_async (self, op_args ("logout"), logout_hook, CHAT_REQUEST_UNAUTH_MEANS_DONE,
                             cancellable, callback, user_data, chat_client_logout_async);
}

gboolean
chat_client_logout_finish (ChatClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_logout_async, error);
  return response != NULL;
}

/* list_users */

void
chat_client_list_users_async (ChatClient *self, const char *pattern, guint limit, const char *after,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  JsonObject *args = op_args ("list_users");

  g_return_if_fail (CHAT_IS_CLIENT (self));
  json_object_set_string_member (args, "pattern", pattern != NULL ? pattern : "");
  set_optional_limit (args, limit);
  if (after != NULL)
    json_object_set_string_member (args, "after", after);
  chat_client_request_async (self, args, NULL, CHAT_REQUEST_NONE, cancellable, callback, user_data,
                             chat_client_list_users_async);
}

static GStrv
parse_users (JsonObject *response, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array = NULL;

  if (!chat_json_get_array (response, "users", TRUE, MAX_ITEMS, &array, error))
    return NULL;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *name = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                               "“users” must hold objects");
          return NULL;
        }
      if (!chat_json_get_string (json_node_get_object (node), "username", TRUE, MAX_NAME_BYTES,
                                 &name, error))
        return NULL;
      g_strv_builder_add (builder, name);
    }
  return g_strv_builder_end (builder);
}

GStrv
chat_client_list_users_finish (ChatClient *self, GAsyncResult *result, gboolean *more,
                               GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_list_users_async, error);
  g_auto (GStrv) users = NULL;
  gboolean has_more = FALSE;

  if (response == NULL)
    return NULL;
  users = parse_users (response, error);
  if (users == NULL || !chat_json_get_bool (response, "more", FALSE, &has_more, error))
    {
      malformed (error);
      return NULL;
    }
  if (more != NULL)
    *more = has_more;
  return g_steal_pointer (&users);
}

/* send */

static gboolean
send_hook (ChatClient *self, JsonObject *response, GError **error)
{
  JsonNode *node = json_object_get_member (response, "message");
  g_autoptr (ChatMessage) message = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "Missing field “message”");
      return malformed (error);
    }
  message = chat_message_new_from_json (json_node_get_object (node), error);
  if (message == NULL)
    return malformed (error);
  chat_client_note_message_seen (self, message);
  return TRUE;
}

static void
send_request (ChatClient *self, const char *to, const char *body, const char *client_msg_id,
              ChatRequestFlags flags, GCancellable *cancellable, GAsyncReadyCallback callback,
              gpointer user_data)
{
  JsonObject *args = op_args ("send");

  json_object_set_string_member (args, "to", to);
  json_object_set_string_member (args, "body", body);
  json_object_set_string_member (args, "client_msg_id", client_msg_id);
  chat_client_request_async (self, args, send_hook, flags, cancellable, callback, user_data,
                             chat_client_send_async);
}

void
chat_client_send_with_id_async (ChatClient *self, const char *to, const char *body,
                                const char *client_msg_id, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_return_if_fail (to != NULL && body != NULL && client_msg_id != NULL);
  send_request (self, to, body, client_msg_id, CHAT_REQUEST_NONE, cancellable, callback, user_data);
}

void
chat_client_send_queued_async (ChatClient *self, const char *to, const char *body,
                               const char *client_msg_id, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_return_if_fail (to != NULL && body != NULL && client_msg_id != NULL);
  send_request (self, to, body, client_msg_id, CHAT_REQUEST_NO_DEADLINE, cancellable, callback,
                user_data);
}

void
chat_client_send_async (ChatClient *self, const char *to, const char *body,
                        GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autofree char *client_msg_id = NULL;

  g_return_if_fail (CHAT_IS_CLIENT (self));
  client_msg_id = chat_client_new_client_msg_id (self);
  chat_client_send_with_id_async (self, to, body, client_msg_id, cancellable, callback, user_data);
}

ChatMessage *
chat_client_send_finish (ChatClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_send_async, error);

  if (response == NULL)
    return NULL;
  return chat_message_new_from_json (json_object_get_object_member (response, "message"), error);
}

/* read_unread, history */

static gboolean
messages_hook (ChatClient *self, JsonObject *response, GError **error)
{
  note_messages (self, response, "messages");
  return TRUE;
}

void
chat_client_read_unread_async (ChatClient *self, guint limit, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  JsonObject *args = op_args ("read_unread");

  g_return_if_fail (CHAT_IS_CLIENT (self));
  set_optional_limit (args, limit);
  chat_client_request_async (self, args, messages_hook, CHAT_REQUEST_NONE, cancellable, callback,
                             user_data, chat_client_read_unread_async);
}

GPtrArray *
chat_client_read_unread_finish (ChatClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_read_unread_async, error);
  GPtrArray *messages = NULL;

  if (response == NULL)
    return NULL;
  messages = parse_messages (response, error);
  if (messages == NULL)
    malformed (error);
  return messages;
}

void
chat_client_history_async (ChatClient *self, const char *with, gint64 before, guint limit,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  JsonObject *args = op_args ("history");

  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_return_if_fail (with != NULL);
  json_object_set_string_member (args, "with", with);
  if (before > 0)
    json_object_set_int_member (args, "before", before);
  set_optional_limit (args, limit);
  chat_client_request_async (self, args, messages_hook, CHAT_REQUEST_NONE, cancellable, callback,
                             user_data, chat_client_history_async);
}

GPtrArray *
chat_client_history_finish (ChatClient *self, GAsyncResult *result, gboolean *more, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_history_async, error);
  g_autoptr (GPtrArray) messages = NULL;
  gboolean has_more = FALSE;

  if (response == NULL)
    return NULL;
  messages = parse_messages (response, error);
  if (messages == NULL || !chat_json_get_bool (response, "more", FALSE, &has_more, error))
    {
      malformed (error);
      return NULL;
    }
  if (more != NULL)
    *more = has_more;
  return g_steal_pointer (&messages);
}

/* conversations */

void
chat_client_conversations_async (ChatClient *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  chat_client_request_async (self, op_args ("conversations"), NULL, CHAT_REQUEST_NONE, cancellable,
                             callback, user_data, chat_client_conversations_async);
}

static GPtrArray *
parse_conversations (JsonObject *response, GError **error)
{
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (g_object_unref);
  JsonArray *array = NULL;

  if (!chat_json_get_array (response, "conversations", TRUE, MAX_ITEMS, &array, error))
    return NULL;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      ChatConversation *conversation = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                               "“conversations” must hold objects");
          return NULL;
        }
      conversation = chat_conversation_new_from_json (json_node_get_object (node), error);
      if (conversation == NULL)
        return NULL;
      g_ptr_array_add (list, conversation);
    }
  return g_steal_pointer (&list);
}

GPtrArray *
chat_client_conversations_finish (ChatClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_conversations_async, error);
  GPtrArray *list = NULL;

  if (response == NULL)
    return NULL;
  list = parse_conversations (response, error);
  if (list == NULL)
    malformed (error);
  return list;
}

/* mark_read, unread_count */

void
chat_client_mark_read_async (ChatClient *self, const char *with, gint64 up_to,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  JsonObject *args = op_args ("mark_read");

  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_return_if_fail (with != NULL && up_to >= 0);
  json_object_set_string_member (args, "with", with);
  json_object_set_int_member (args, "up_to", up_to);
  chat_client_request_async (self, args, NULL, CHAT_REQUEST_NONE, cancellable, callback, user_data,
                             chat_client_mark_read_async);
}

gboolean
chat_client_mark_read_finish (ChatClient *self, GAsyncResult *result, guint *marked, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_mark_read_async, error);
  guint64 value = 0;

  if (response == NULL)
    return FALSE;
  if (!chat_json_get_uint (response, "marked", FALSE, G_MAXUINT, &value, error))
    return malformed (error);
  if (marked != NULL)
    *marked = (guint)value;
  return TRUE;
}

void
chat_client_unread_count_async (ChatClient *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  chat_client_request_async (self, op_args ("unread_count"), NULL, CHAT_REQUEST_NONE, cancellable,
                             callback, user_data, chat_client_unread_count_async);
}

static GHashTable *
parse_by_user (JsonObject *response, GError **error)
{
  g_autoptr (GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  JsonNode *node = json_object_get_member (response, "by_user");
  JsonObjectIter iter;
  const char *name = NULL;
  JsonNode *value = NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_steal_pointer (&table);
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "“by_user” is not an object");
      return NULL;
    }
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &name, &value))
    {
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_INT64)
        {
          g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                               "“by_user” must hold numbers");
          return NULL;
        }
      g_hash_table_insert (
          table, g_strdup (name),
          GUINT_TO_POINTER ((guint)CLAMP (json_node_get_int (value), 0, G_MAXUINT)));
    }
  return g_steal_pointer (&table);
}

gboolean
chat_client_unread_count_finish (ChatClient *self, GAsyncResult *result, guint *total,
                                 GHashTable **by_user, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_unread_count_async, error);
  g_autoptr (GHashTable) table = NULL;
  guint64 value = 0;

  if (response == NULL)
    return FALSE;
  if (!chat_json_get_uint (response, "total", TRUE, G_MAXUINT, &value, error)
      || (table = parse_by_user (response, error)) == NULL)
    return malformed (error);
  if (total != NULL)
    *total = (guint)value;
  if (by_user != NULL)
    *by_user = g_steal_pointer (&table);
  return TRUE;
}

/* delete_messages, delete_account */

static const char *
scope_slug (ChatDeleteScope scope)
{
  switch (scope)
    {
      case CHAT_DELETE_SCOPE_EVERYONE:
        return "everyone";
      case CHAT_DELETE_SCOPE_ME:
        return "me";
      case CHAT_DELETE_SCOPE_DEFAULT:
      default:
        return NULL;
    }
}

void
chat_client_delete_messages_async (ChatClient *self, const gint64 *ids, guint n_ids,
                                   ChatDeleteScope scope, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  JsonObject *args = op_args ("delete_messages");
  JsonArray *array = json_array_sized_new (n_ids);

  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_return_if_fail (ids != NULL || n_ids == 0);
  for (guint i = 0; i < n_ids; i++)
    json_array_add_int_element (array, ids[i]);
  json_object_set_array_member (args, "ids", array);
  if (scope_slug (scope) != NULL)
    json_object_set_string_member (args, "scope", scope_slug (scope));
  chat_client_request_async (self, args, NULL, CHAT_REQUEST_NONE, cancellable, callback, user_data,
                             chat_client_delete_messages_async);
}

gboolean
chat_client_delete_messages_finish (ChatClient *self, GAsyncResult *result, GArray **deleted,
                                    GArray **hidden, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_delete_messages_async, error);
  g_autoptr (GArray) gone = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) mine = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (response == NULL)
    return FALSE;
  /* An older server answers without "hidden": everything it deleted is in "deleted". */
  if (!chat_json_parse_ids (response, "deleted", gone, error)
      || !chat_json_parse_ids (response, "hidden", mine, error))
    return malformed (error);
  if (deleted != NULL)
    *deleted = g_steal_pointer (&gone);
  if (hidden != NULL)
    *hidden = g_steal_pointer (&mine);
  return TRUE;
}

static gboolean
delete_account_hook (ChatClient *self, JsonObject *response, GError **error)
{
  chat_client_end_session (self, "account_deleted");
  return TRUE;
}

void
chat_client_delete_account_async (ChatClient *self, const char *password, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  JsonObject *args = op_args ("delete_account");

  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_return_if_fail (password != NULL);
  json_object_set_string_member (args, "password", password);
  chat_client_request_async (self, args, delete_account_hook, CHAT_REQUEST_UNAUTH_MEANS_DONE,
                             cancellable, callback, user_data, chat_client_delete_account_async);
}

gboolean
chat_client_delete_account_finish (ChatClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_delete_account_async, error);
  return response != NULL;
}

/* sync */

void
chat_client_sync_async (ChatClient *self, gint64 after, guint limit, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  JsonObject *args = op_args ("sync");

  g_return_if_fail (CHAT_IS_CLIENT (self));
  json_object_set_int_member (args, "after", MAX (after, 0));
  set_optional_limit (args, limit);
  chat_client_request_async (self, args, messages_hook, CHAT_REQUEST_NONE, cancellable, callback,
                             user_data, chat_client_sync_async);
}

ChatSyncResult *
chat_client_sync_finish (ChatClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonObject) response
      = chat_client_request_finish (self, result, chat_client_sync_async, error);
  ChatSyncResult *page = NULL;

  if (response == NULL)
    return NULL;
  page = chat_sync_result_new_from_json (response, error);
  if (page == NULL)
    malformed (error);
  return page;
}
