/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure helpers of libchat: request framing, response errors, backoff, ids, dedup. No I/O. */
#define G_LOG_DOMAIN "libchat"

#include "chat-client-codec.h"
#include "chat-error.h"
#include "chat-json.h"

#define MAX_ERROR_TEXT 4096

ChatFrameKind
chat_codec_classify (JsonObject *object, gint64 *id)
{
  JsonNode *node = NULL;

  *id = -1;
  if (json_object_has_member (object, "event"))
    {
      node = json_object_get_member (object, "event");
      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        return CHAT_FRAME_EVENT;
      return CHAT_FRAME_INVALID;
    }
  if (!json_object_has_member (object, "ok"))
    return CHAT_FRAME_INVALID;
  node = json_object_get_member (object, "id");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_INT64)
    *id = json_node_get_int (node);
  return CHAT_FRAME_RESPONSE;
}

JsonObject *
chat_codec_request_new (gint64 id, const char *op)
{
  JsonObject *object = json_object_new ();

  json_object_set_int_member (object, "id", id);
  json_object_set_string_member (object, "op", op);
  return object;
}

JsonObject *
chat_codec_request_with_id (JsonObject *args, gint64 id)
{
  JsonObject *object = json_object_new ();
  JsonObjectIter iter;
  const char *name = NULL;
  JsonNode *node = NULL;

  json_object_set_int_member (object, "id", id);
  json_object_iter_init (&iter, args);
  while (json_object_iter_next (&iter, &name, &node))
    {
      if (g_strcmp0 (name, "id") != 0)
        json_object_set_member (object, name, json_node_copy (node));
    }
  return object;
}

static void
set_response_error (JsonObject *error_object, GError **error)
{
  const char *slug = NULL, *message = NULL;
  ChatErrorCode code = CHAT_ERROR_INTERNAL;
  g_autoptr (GError) ignored = NULL;

  chat_json_get_string (error_object, "code", FALSE, MAX_ERROR_TEXT, &slug, &ignored);
  g_clear_error (&ignored);
  chat_json_get_string (error_object, "message", FALSE, MAX_ERROR_TEXT, &message, &ignored);
  chat_error_from_slug (slug, &code);
  g_set_error_literal (error, CHAT_ERROR, code,
                       message != NULL ? message : (slug != NULL ? slug : "Request failed"));
}

gboolean
chat_codec_response_ok (JsonObject *response, char **leader, GError **error)
{
  JsonNode *ok = json_object_get_member (response, "ok");
  JsonNode *err = json_object_get_member (response, "error");
  JsonObject *error_object = NULL;
  JsonNode *leader_node = NULL;

  if (leader != NULL)
    *leader = NULL;
  if (ok != NULL && JSON_NODE_HOLDS_VALUE (ok) && json_node_get_value_type (ok) == G_TYPE_BOOLEAN
      && json_node_get_boolean (ok))
    return TRUE;
  if (err == NULL || !JSON_NODE_HOLDS_OBJECT (err))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                           "The server refused the request without saying why");
      return FALSE;
    }
  error_object = json_node_get_object (err);
  set_response_error (error_object, error);
  leader_node = json_object_get_member (error_object, "leader");
  if (leader != NULL && leader_node != NULL && JSON_NODE_HOLDS_VALUE (leader_node)
      && json_node_get_value_type (leader_node) == G_TYPE_STRING)
    *leader = g_strndup (json_node_get_string (leader_node), 256);
  return FALSE;
}

guint
chat_backoff_delay_ms (guint attempt, guint base_ms, guint max_ms, double jitter, double random)
{
  double delay = base_ms;
  double scale = 1.0 - jitter / 2.0 + jitter * CLAMP (random, 0.0, 1.0);

  for (guint i = 0; i < attempt && delay < max_ms; i++)
    delay *= 2;
  delay = MIN (delay, (double)max_ms) * scale;
  return (guint)CLAMP (delay, 0.0, (double)max_ms);
}

char *
chat_client_msg_id_prefix_new (void)
{
  return g_strdup_printf ("%06x%06x", (guint)g_random_int_range (0, 0x1000000),
                          (guint)g_random_int_range (0, 0x1000000));
}

char *
chat_client_msg_id_format (const char *prefix, guint64 counter)
{
  return g_strdup_printf ("%.40s-%" G_GUINT64_FORMAT, prefix, counter);
}

struct _ChatIdSet
{
  GHashTable *ids; /* gint64 * -> NULL, keys owned by order */
  GQueue order;    /* gint64 *, oldest first */
  guint capacity;
};

ChatIdSet *
chat_id_set_new (guint capacity)
{
  ChatIdSet *set = g_new0 (ChatIdSet, 1);

  set->ids = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_queue_init (&set->order);
  set->capacity = MAX (capacity, 1);
  return set;
}

void
chat_id_set_free (ChatIdSet *set)
{
  if (set == NULL)
    return;
  g_hash_table_unref (set->ids);
  g_queue_clear_full (&set->order, g_free);
  g_free (set);
}

gboolean
chat_id_set_contains (ChatIdSet *set, gint64 id)
{
  return g_hash_table_contains (set->ids, &id);
}

gboolean
chat_id_set_add (ChatIdSet *set, gint64 id)
{
  gint64 *key = NULL;

  if (chat_id_set_contains (set, id))
    return FALSE;
  if (set->order.length >= set->capacity)
    {
      g_autofree gint64 *oldest = g_queue_pop_head (&set->order);
      g_hash_table_remove (set->ids, oldest);
    }
  key = g_memdup2 (&id, sizeof id);
  g_queue_push_tail (&set->order, key);
  g_hash_table_add (set->ids, key);
  return TRUE;
}

guint
chat_id_set_size (ChatIdSet *set)
{
  return g_hash_table_size (set->ids);
}

gboolean
chat_codec_address_equal (const char *a, const char *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_ascii_strcasecmp (a, b) == 0;
}
