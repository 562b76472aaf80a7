/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing and copying of the hello answer (cluster health) and of a sync page. */
#define G_LOG_DOMAIN "libchat"

#include "chat-cluster-info.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-message.h"

#define MAX_FIELD_BYTES 256
#define MAX_SERVERS 64
#define MAX_ITEMS 100000

G_DEFINE_BOXED_TYPE (ChatServerStatus, chat_server_status, chat_server_status_copy,
                     chat_server_status_free)
G_DEFINE_BOXED_TYPE (ChatHelloInfo, chat_hello_info, chat_hello_info_copy, chat_hello_info_free)
G_DEFINE_BOXED_TYPE (ChatSyncResult, chat_sync_result, chat_sync_result_copy, chat_sync_result_free)

ChatServerStatus *
chat_server_status_copy (const ChatServerStatus *status)
{
  ChatServerStatus *copy = g_new0 (ChatServerStatus, 1);

  copy->address = g_strdup (status->address);
  copy->state = g_strdup (status->state);
  copy->in_sync = status->in_sync;
  return copy;
}

void
chat_server_status_free (ChatServerStatus *status)
{
  if (status == NULL)
    return;
  g_free (status->address);
  g_free (status->state);
  g_free (status);
}

gboolean
chat_server_status_is_up (const ChatServerStatus *status)
{
  return g_strcmp0 (status->state, "down") != 0 && g_strcmp0 (status->state, "unknown") != 0;
}

static ChatServerStatus *
server_status_from_json (JsonNode *node, GError **error)
{
  g_autoptr (ChatServerStatus) status = g_new0 (ChatServerStatus, 1);
  JsonObject *object = NULL;
  const char *address = NULL, *state = "unknown";

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "Field “servers” must hold objects");
      return NULL;
    }
  object = json_node_get_object (node);
  if (!chat_json_get_string (object, "address", TRUE, MAX_FIELD_BYTES, &address, error)
      || !chat_json_get_string (object, "state", FALSE, MAX_FIELD_BYTES, &state, error)
      || !chat_json_get_bool (object, "in_sync", FALSE, &status->in_sync, error))
    return NULL;
  status->address = g_strdup (address);
  status->state = g_strdup (state);
  return g_steal_pointer (&status);
}

static gboolean
parse_servers (JsonObject *object, GPtrArray *servers, GError **error)
{
  JsonArray *array = NULL;

  if (!chat_json_get_array (object, "servers", FALSE, MAX_SERVERS, &array, error))
    return FALSE;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      ChatServerStatus *status = server_status_from_json (json_array_get_element (array, i), error);
      if (status == NULL)
        return FALSE;
      g_ptr_array_add (servers, status);
    }
  return TRUE;
}

ChatHelloInfo *
chat_hello_info_new_from_json (JsonObject *object, GError **error)
{
  g_autoptr (ChatHelloInfo) info = g_new0 (ChatHelloInfo, 1);
  const char *server = NULL, *node = NULL, *role = "leader", *leader = NULL;
  guint64 proto = 0, term = 0;

  info->servers = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_server_status_free);
  if (!chat_json_get_string (object, "server", FALSE, MAX_FIELD_BYTES, &server, error)
      || !chat_json_get_uint (object, "proto", FALSE, G_MAXUINT, &proto, error)
      || !chat_json_get_string (object, "node", FALSE, MAX_FIELD_BYTES, &node, error)
      || !chat_json_get_string (object, "role", FALSE, MAX_FIELD_BYTES, &role, error)
      || !chat_json_get_string (object, "leader", FALSE, MAX_FIELD_BYTES, &leader, error)
      || !chat_json_get_uint (object, "term", FALSE, G_MAXUINT64, &term, error)
      || !parse_servers (object, info->servers, error))
    return NULL;
  info->server = g_strdup (server);
  info->proto = (guint)proto;
  info->node = g_strdup (node);
  info->role = g_strdup (role);
  info->leader = g_strdup (leader);
  info->term = term;
  return g_steal_pointer (&info);
}

ChatHelloInfo *
chat_hello_info_copy (const ChatHelloInfo *info)
{
  ChatHelloInfo *copy = g_new0 (ChatHelloInfo, 1);

  copy->server = g_strdup (info->server);
  copy->proto = info->proto;
  copy->node = g_strdup (info->node);
  copy->role = g_strdup (info->role);
  copy->leader = g_strdup (info->leader);
  copy->term = info->term;
  copy->servers = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_server_status_free);
  for (guint i = 0; info->servers != NULL && i < info->servers->len; i++)
    g_ptr_array_add (copy->servers, chat_server_status_copy (info->servers->pdata[i]));
  return copy;
}

void
chat_hello_info_free (ChatHelloInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->server);
  g_free (info->node);
  g_free (info->role);
  g_free (info->leader);
  g_clear_pointer (&info->servers, g_ptr_array_unref);
  g_free (info);
}

guint
chat_hello_info_count_up (const ChatHelloInfo *info, guint *n_total)
{
  guint up = 0;

  for (guint i = 0; info->servers != NULL && i < info->servers->len; i++)
    if (chat_server_status_is_up (info->servers->pdata[i]))
      up++;
  if (n_total != NULL)
    *n_total = info->servers != NULL ? info->servers->len : 0;
  return up;
}

gboolean
chat_json_parse_ids (JsonObject *object, const char *field, GArray *ids, GError **error)
{
  JsonArray *array = NULL;

  if (!chat_json_get_array (object, field, FALSE, MAX_ITEMS, &array, error))
    return FALSE;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      gint64 id = 0;

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
        {
          g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                       "Field “%s” must hold whole numbers", field);
          return FALSE;
        }
      id = json_node_get_int (node);
      g_array_append_val (ids, id);
    }
  return TRUE;
}

static gboolean
parse_messages (JsonObject *object, GPtrArray *messages, GError **error)
{
  JsonArray *array = NULL;

  if (!chat_json_get_array (object, "messages", FALSE, MAX_ITEMS, &array, error))
    return FALSE;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      ChatMessage *message = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                               "Field “messages” must hold objects");
          return FALSE;
        }
      message = chat_message_new_from_json (json_node_get_object (node), error);
      if (message == NULL)
        return FALSE;
      g_ptr_array_add (messages, message);
    }
  return TRUE;
}

static ChatSyncResult *
sync_result_new (void)
{
  ChatSyncResult *result = g_new0 (ChatSyncResult, 1);

  result->messages = g_ptr_array_new_with_free_func (g_object_unref);
  result->deleted = g_array_new (FALSE, FALSE, sizeof (gint64));
  result->read = g_array_new (FALSE, FALSE, sizeof (gint64));
  return result;
}

ChatSyncResult *
chat_sync_result_new_from_json (JsonObject *object, GError **error)
{
  g_autoptr (ChatSyncResult) result = sync_result_new ();
  guint64 seq = 0;

  if (!parse_messages (object, result->messages, error)
      || !chat_json_parse_ids (object, "deleted", result->deleted, error)
      || !chat_json_parse_ids (object, "read", result->read, error)
      || !chat_json_get_uint (object, "seq", FALSE, G_MAXINT64, &seq, error)
      || !chat_json_get_bool (object, "more", FALSE, &result->more, error))
    return NULL;
  result->seq = (gint64)seq;
  /* An older server without "seq": the highest message seq is complete. */
  for (guint i = 0; i < result->messages->len; i++)
    result->seq = MAX (result->seq, chat_message_get_seq (result->messages->pdata[i]));
  return g_steal_pointer (&result);
}

ChatSyncResult *
chat_sync_result_copy (const ChatSyncResult *result)
{
  ChatSyncResult *copy = sync_result_new ();

  for (guint i = 0; i < result->messages->len; i++)
    g_ptr_array_add (copy->messages, g_object_ref (result->messages->pdata[i]));
  g_array_append_vals (copy->deleted, result->deleted->data, result->deleted->len);
  g_array_append_vals (copy->read, result->read->data, result->read->len);
  copy->seq = result->seq;
  copy->more = result->more;
  return copy;
}

void
chat_sync_result_free (ChatSyncResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->messages, g_ptr_array_unref);
  g_clear_pointer (&result->deleted, g_array_unref);
  g_clear_pointer (&result->read, g_array_unref);
  g_free (result);
}
