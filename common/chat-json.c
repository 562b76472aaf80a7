/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON from the network is untrusted: bound it before json-glib builds a tree from it. */
#include "chat-json.h"
#include "chat-error.h"

#include <string.h>

/* Nesting depth of the deepest container, counting brackets outside strings. A
 * cheap scan that keeps json-glib from recursing on hostile input. */
static guint
max_nesting (const char *text, gsize len)
{
  guint depth = 0, deepest = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];
      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          depth++;
          deepest = MAX (deepest, depth);
        }
      else if ((c == '}' || c == ']') && depth > 0)
        depth--;
    }
  return deepest;
}

static gboolean
check_line (const char *line, gsize len, GError **error)
{
  if (memchr (line, '\0', len) != NULL)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "The request contains a NUL byte");
      return FALSE;
    }
  if (!g_utf8_validate (line, len, NULL))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "The request is not valid UTF-8");
      return FALSE;
    }
  if (max_nesting (line, len) > CHAT_JSON_MAX_DEPTH)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                   "The request nests deeper than %d levels", CHAT_JSON_MAX_DEPTH);
      return FALSE;
    }
  return TRUE;
}

JsonObject *
chat_json_parse_object (const char *line, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) parse_error = NULL;
  JsonNode *root = NULL;

  if (!check_line (line, len, error))
    return NULL;
  if (!json_parser_load_from_data (parser, line, (gssize) len, &parse_error))
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "The request is not valid JSON: %s",
                   parse_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "The request must be a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

char *
chat_json_to_line (JsonObject *object, gsize *len)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), object);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;
  gsize text_len = 0;
  char *line = NULL;

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, &text_len);
  line = g_realloc (g_steal_pointer (&text), text_len + 2);
  line[text_len] = '\n';
  line[text_len + 1] = '\0';
  if (len != NULL)
    *len = text_len + 1;
  return line;
}

/* Looks a field up; FALSE means absent or null, which callers treat as missing. */
static JsonNode *
lookup (JsonObject *object, const char *field)
{
  JsonNode *node = json_object_get_member (object, field);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

static gboolean
missing (const char *field, gboolean required, GError **error)
{
  if (!required)
    return TRUE;
  g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "Missing field “%s”", field);
  return FALSE;
}

static gboolean
wrong_type (const char *field, const char *expected, GError **error)
{
  g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "Field “%s” must be %s", field,
               expected);
  return FALSE;
}

gboolean
chat_json_get_string (JsonObject *object, const char *field, gboolean required, gsize max_bytes,
                      const char **out, GError **error)
{
  JsonNode *node = lookup (object, field);
  const char *value = NULL;

  if (node == NULL)
    return missing (field, required, error);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return wrong_type (field, "a string", error);
  value = json_node_get_string (node);
  if (strlen (value) > max_bytes)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_TOO_LARGE,
                   "Field “%s” is longer than %" G_GSIZE_FORMAT " bytes", field, max_bytes);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

gboolean
chat_json_get_uint (JsonObject *object, const char *field, gboolean required, guint64 max,
                    guint64 *out, GError **error)
{
  JsonNode *node = lookup (object, field);
  gint64 value = 0;

  if (node == NULL)
    return missing (field, required, error);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return wrong_type (field, "a whole number", error);
  value = json_node_get_int (node);
  if (value < 0 || (guint64) value > max)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                   "Field “%s” must be from 0 to %" G_GUINT64_FORMAT, field, max);
      return FALSE;
    }
  *out = (guint64) value;
  return TRUE;
}

gboolean
chat_json_get_bool (JsonObject *object, const char *field, gboolean required, gboolean *out,
                    GError **error)
{
  JsonNode *node = lookup (object, field);

  if (node == NULL)
    return missing (field, required, error);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return wrong_type (field, "true or false", error);
  *out = json_node_get_boolean (node);
  return TRUE;
}

gboolean
chat_json_get_array (JsonObject *object, const char *field, gboolean required, guint max_items,
                     JsonArray **out, GError **error)
{
  JsonNode *node = lookup (object, field);
  JsonArray *array = NULL;

  if (node == NULL)
    return missing (field, required, error);
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return wrong_type (field, "an array", error);
  array = json_node_get_array (node);
  if (json_array_get_length (array) > max_items)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_TOO_LARGE,
                   "Field “%s” holds more than %u items", field, max_items);
      return FALSE;
    }
  *out = array;
  return TRUE;
}
