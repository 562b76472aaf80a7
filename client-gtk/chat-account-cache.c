/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The offline cache file: where it lives, written privately and atomically, read bounded. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "chat-account-cache.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-username.h"

/* Far above what the bounds let a cache grow to (100 × 50 messages of a few KiB). */
#define MAX_CACHE_BYTES (32 * 1024 * 1024)
/* Bumped when the form changes: an older file is ignored (it is only a cache). */
#define CACHE_VERSION 2

char *
chat_account_cache_path (const char *key, const char *username)
{
  g_autofree char *lower = g_ascii_strdown (username, -1);
  g_autofree char *name = g_strconcat (key, "\n", lower, NULL);
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
  g_autofree char *file = g_strconcat (hash, ".json", NULL);

  return g_build_filename (g_get_user_cache_dir (), "chatd", "chat-gtk", file, NULL);
}

gboolean
chat_account_cache_write (const char *path, JsonObject *root, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;
  gsize length = 0;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "Cannot create %s: %s",
                   dir, g_strerror (saved));
      return FALSE;
    }
  json_node_set_object (node, root);
  text = json_to_string (node, FALSE);
  length = strlen (text);
  return g_file_set_contents_full (
      path, text, (gssize)length,
      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_ONLY_EXISTING, 0600, error);
}

JsonObject *
chat_account_cache_read (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize length = 0;
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", path,
                   g_strerror (saved));
      return NULL;
    }
  if (st.st_size > MAX_CACHE_BYTES)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_TOO_LARGE, "%s is too large", path);
      return NULL;
    }
  if (!g_file_get_contents (path, &text, &length, error))
    return NULL;
  /* The protocol's own parser: nesting depth and numbers bounded as for a request. */
  return chat_json_parse_object (text, length, error);
}

void
chat_account_cache_remove (const char *path)
{
  if (g_unlink (path) != 0 && errno != ENOENT)
    g_debug ("Cannot remove %s: %s", path, g_strerror (errno));
}

JsonObject *
chat_account_cache_build (const char *username, GListModel *conversations, GHashTable *lists)
{
  JsonObject *root = json_object_new ();
  JsonArray *array = json_array_new ();
  JsonObject *messages = json_object_new ();
  guint n = MIN (g_list_model_get_n_items (conversations), CHAT_ACCOUNT_CACHE_CONVERSATIONS);

  json_object_set_int_member (root, "version", CACHE_VERSION);
  json_object_set_string_member (root, "username", username);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ChatConversation) item = g_list_model_get_item (conversations, i);
      g_autofree char *key = chat_username_key (chat_conversation_get_user (item));
      ChatMessageList *list = g_hash_table_lookup (lists, key);

      json_array_add_object_element (array, chat_conversation_to_json (item));
      if (list != NULL && chat_message_list_get_loaded (list))
        json_object_set_array_member (
            messages, chat_conversation_get_user (item),
            chat_message_list_to_json (list, CHAT_ACCOUNT_CACHE_MESSAGES));
    }
  json_object_set_array_member (root, "conversations", array);
  json_object_set_object_member (root, "messages", messages);
  return root;
}

static ChatConversation *
conversation_from_json (JsonNode *node, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "A conversation is not an object");
      return NULL;
    }
  return chat_conversation_new_from_json (json_node_get_object (node), error);
}

static GPtrArray *
messages_from_json (JsonArray *array, GError **error)
{
  g_autoptr (GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  guint n = json_array_get_length (array);

  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      ChatMessage *message = NULL;

      if (JSON_NODE_HOLDS_OBJECT (node))
        message = chat_message_new_from_json (json_node_get_object (node), error);
      else
        g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                             "A message is not an object");
      if (message == NULL)
        return NULL;
      g_ptr_array_add (messages, message);
    }
  return g_steal_pointer (&messages);
}

static gboolean
parse_messages (JsonObject *root, GHashTable *by_peer, GError **error)
{
  JsonNode *node = json_object_get_member (root, "messages");
  JsonObject *object
      = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  g_autoptr (GList) peers = object != NULL ? json_object_get_members (object) : NULL;

  for (GList *l = peers; l != NULL; l = l->next)
    {
      JsonArray *array = NULL;
      GPtrArray *messages;

      if (!chat_json_get_array (object, l->data, TRUE, CHAT_ACCOUNT_CACHE_MESSAGES, &array, error)
          || (messages = messages_from_json (array, error)) == NULL)
        return FALSE;
      g_hash_table_insert (by_peer, chat_username_key (l->data), messages);
    }
  return TRUE;
}

gboolean
chat_account_cache_parse (JsonObject *root, GPtrArray **conversations, GHashTable **messages,
                          GError **error)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GHashTable) by_peer
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  JsonArray *array = NULL;
  guint64 version = 0;

  if (!chat_json_get_uint (root, "version", TRUE, G_MAXUINT, &version, error))
    return FALSE;
  if (version != CACHE_VERSION)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "Cache version %u is not %u",
                   (guint)version, CACHE_VERSION);
      return FALSE;
    }
  if (!chat_json_get_array (root, "conversations", TRUE, CHAT_ACCOUNT_CACHE_CONVERSATIONS, &array,
                            error))
    return FALSE;
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      ChatConversation *item = conversation_from_json (json_array_get_element (array, i), error);

      if (item == NULL)
        return FALSE;
      g_ptr_array_add (items, item);
    }
  if (!parse_messages (root, by_peer, error))
    return FALSE;
  *conversations = g_steal_pointer (&items);
  *messages = g_steal_pointer (&by_peer);
  return TRUE;
}
