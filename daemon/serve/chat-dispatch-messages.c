/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Message handlers: send, read_unread, history, conversations, mark_read, unread_count,
 * delete_messages and sync. */
#define G_LOG_DOMAIN "chatd-dispatch"

#include "chat-dispatch-private.h"

#include "chat-error.h"
#include "chat-json.h"
#include "chat-username.h"

#define MAX_NAME_FIELD_BYTES 4096
#define MAX_SEQ ((guint64)G_MAXINT64)
#define SYNC_DEFAULT_LIMIT 500

/* Answers a reply with one member, or the error of a failed read. */
static void
reply_member (ChatRequest *request, const char *name, JsonNode *value, const GError *error)
{
  g_autoptr (JsonObject) reply = json_object_new ();

  if (value == NULL)
    {
      chat_dispatch_fail (request, error);
      return;
    }
  json_object_set_member (reply, name, value);
  chat_request_reply (request, reply);
}

static JsonNode *
array_node (JsonArray *array)
{
  return array ? json_node_init_array (json_node_alloc (), array) : NULL;
}

/* --- send -------------------------------------------------------------------- */

static gboolean
read_send (ChatDispatch *self, JsonObject *params, const char **to, const char **body,
           const char **client_msg_id, GError **error)
{
  if (!chat_json_get_string (params, "to", TRUE, MAX_NAME_FIELD_BYTES, to, error)
      || !chat_json_get_string (params, "body", TRUE, G_MAXSIZE, body, error)
      || !chat_json_get_string (params, "client_msg_id", TRUE,
                                CHAT_DISPATCH_MAX_CLIENT_MSG_ID_BYTES, client_msg_id, error))
    return FALSE;
  if (**client_msg_id == '\0')
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                   "Field “client_msg_id” must have 1 to %d bytes",
                   CHAT_DISPATCH_MAX_CLIENT_MSG_ID_BYTES);
      return FALSE;
    }
  return TRUE;
}

void
chat_dispatch_send (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  const char *username = chat_request_get_username (request);
  const char *to = NULL, *body = NULL, *client_msg_id = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) existing = NULL;
  g_autoptr (JsonObject) op = NULL;
  g_autofree char *recipient = NULL;

  if (!read_send (self, params, &to, &body, &client_msg_id, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  existing = chat_store_find_sent (self->store, username, client_msg_id);
  if (existing != NULL)
    {
      reply_member (request, "message", json_node_init_object (json_node_alloc (), existing), NULL);
      return;
    }
  if (!chat_body_validate (body, self->config->max_body_bytes, &error)
      || !chat_dispatch_get_user (self, params, "to", &recipient, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  op = chat_dispatch_new_op (self, request, "send");
  json_object_set_string_member (op, "from", username);
  json_object_set_string_member (op, "to", recipient);
  json_object_set_string_member (op, "body", body);
  json_object_set_string_member (op, "client_msg_id", client_msg_id);
  json_object_set_int_member (op, "at", chat_dispatch_now_ms ());
  json_object_set_string_member (op, "session", chat_request_get_session_hash (request));
  chat_dispatch_propose (self, request, op, NULL, NULL, NULL);
}

/* --- read_unread ---------------------------------------------------------------- */

static void
on_unread_marked (ChatDispatch *self, ChatRequest *request, ChatApplyResult *result, gpointer data)
{
  JsonArray *messages = data;
  guint n = json_array_get_length (messages);

  /* The store answers with the messages as now marked; else mark our copies. */
  if (json_object_has_member (result->reply, "messages"))
    {
      reply_member (request, "messages",
                    json_node_copy (json_object_get_member (result->reply, "messages")), NULL);
      return;
    }
  for (guint i = 0; i < n; i++)
    {
      JsonObject *message = json_array_get_object_element (messages, i);
      if (message != NULL)
        json_object_set_boolean_member (message, "read", TRUE);
    }
  reply_member (request, "messages", array_node (messages), NULL);
}

void
chat_dispatch_read_unread (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  const char *username = chat_request_get_username (request);
  guint limit = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonArray) messages = NULL;
  g_autoptr (JsonObject) op = NULL;
  JsonArray *ids = NULL;

  if (!chat_dispatch_get_limit (params, CHAT_DISPATCH_DEFAULT_LIMIT, &limit, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  messages = chat_store_unread (self->store, username, limit, &error);
  if (messages == NULL || json_array_get_length (messages) == 0)
    {
      reply_member (request, "messages", array_node (messages), error);
      return;
    }
  ids = json_array_new ();
  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonObject *message = json_array_get_object_element (messages, i);
      json_array_add_int_element (ids, json_object_get_int_member (message, "id"));
    }
  op = chat_dispatch_new_op (self, request, "mark_read");
  json_object_set_string_member (op, "user", username);
  json_object_set_array_member (op, "ids", ids);
  chat_dispatch_propose (self, request, op, on_unread_marked, g_steal_pointer (&messages),
                         (GDestroyNotify)json_array_unref);
}

/* --- reads -------------------------------------------------------------------------- */

void
chat_dispatch_history (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  guint64 before = 0;
  guint limit = 0;
  gboolean more = FALSE;
  g_autoptr (GError) error = NULL;
  g_autofree char *with = NULL;
  g_autoptr (JsonArray) messages = NULL;
  g_autoptr (JsonObject) reply = json_object_new ();

  if (!chat_json_get_uint (params, "before", FALSE, MAX_SEQ, &before, &error)
      || !chat_dispatch_get_limit (params, CHAT_DISPATCH_DEFAULT_LIMIT, &limit, &error)
      || !chat_dispatch_get_user (self, params, "with", &with, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  messages = chat_store_history (self->store, chat_request_get_username (request), with, before,
                                 limit, &more, &error);
  if (messages == NULL)
    {
      chat_dispatch_fail (request, error);
      return;
    }
  json_object_set_array_member (reply, "messages", g_steal_pointer (&messages));
  json_object_set_boolean_member (reply, "more", more);
  chat_request_reply (request, reply);
}

void
chat_dispatch_conversations (ChatDispatch *self, ChatRequest *request)
{
  g_autoptr (GError) error = NULL;
  JsonArray *conversations
      = chat_store_conversations (self->store, chat_request_get_username (request), &error);

  reply_member (request, "conversations", array_node (conversations), error);
  g_clear_pointer (&conversations, json_array_unref);
}

void
chat_dispatch_unread_count (ChatDispatch *self, ChatRequest *request)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) counts
      = chat_store_unread_count (self->store, chat_request_get_username (request), &error);

  if (counts == NULL)
    {
      chat_dispatch_fail (request, error);
      return;
    }
  chat_request_reply (request, counts);
}

void
chat_dispatch_sync (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  guint64 after = 0;
  guint limit = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) answer = NULL;

  if (!chat_json_get_uint (params, "after", TRUE, MAX_SEQ, &after, &error)
      || !chat_dispatch_get_limit (params, SYNC_DEFAULT_LIMIT, &limit, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  answer = chat_store_sync (self->store, chat_request_get_username (request), after, limit, &error);
  if (answer == NULL)
    {
      chat_dispatch_fail (request, error);
      return;
    }
  chat_request_reply (request, answer);
}

/* --- mark_read and delete_messages ------------------------------------------------- */

void
chat_dispatch_mark_read (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  guint64 up_to = 0;
  g_autoptr (GError) error = NULL;
  g_autofree char *with = NULL;
  g_autoptr (JsonObject) op = NULL;

  if (!chat_json_get_uint (params, "up_to", TRUE, MAX_SEQ, &up_to, &error)
      || !chat_dispatch_get_user (self, params, "with", &with, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  op = chat_dispatch_new_op (self, request, "mark_read");
  json_object_set_string_member (op, "user", chat_request_get_username (request));
  json_object_set_string_member (op, "with", with);
  json_object_set_int_member (op, "up_to", (gint64)up_to);
  chat_dispatch_propose (self, request, op, NULL, NULL, NULL);
}

static JsonArray *
read_ids (JsonObject *params, GError **error)
{
  JsonArray *ids = NULL;
  g_autoptr (JsonArray) copy = json_array_new ();

  if (!chat_json_get_array (params, "ids", TRUE, CHAT_DISPATCH_MAX_IDS, &ids, error))
    return NULL;
  for (guint i = 0; i < json_array_get_length (ids); i++)
    {
      JsonNode *node = json_array_get_element (ids, i);
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64
          || json_node_get_int (node) < 0)
        {
          g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                               "Field “ids” must hold message ids (whole numbers)");
          return NULL;
        }
      json_array_add_int_element (copy, json_node_get_int (node));
    }
  return g_steal_pointer (&copy);
}

/* The optional "scope": "everyone" or "me"; NULL (the default by sender) when absent. */
static gboolean
read_scope (JsonObject *params, const char **scope, GError **error)
{
  if (!chat_json_get_string (params, "scope", FALSE, 16, scope, error))
    return FALSE;
  if (*scope == NULL || g_str_equal (*scope, "everyone") || g_str_equal (*scope, "me"))
    return TRUE;
  g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                       "Field “scope” must be “everyone” or “me”");
  return FALSE;
}

void
chat_dispatch_delete_messages (ChatDispatch *self, ChatRequest *request)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) op = NULL;
  JsonObject *params = chat_request_get_params (request);
  const char *scope = NULL;
  JsonArray *ids = NULL;

  if (!read_scope (params, &scope, &error) || (ids = read_ids (params, &error)) == NULL)
    {
      chat_request_fail (request, error);
      return;
    }
  op = chat_dispatch_new_op (self, request, "delete_messages");
  json_object_set_string_member (op, "user", chat_request_get_username (request));
  json_object_set_array_member (op, "ids", ids);
  if (scope != NULL)
    json_object_set_string_member (op, "scope", scope);
  chat_dispatch_propose (self, request, op, NULL, NULL, NULL);
}
