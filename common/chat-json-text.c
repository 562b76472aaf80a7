/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes JSON strings and numbers as json-glib's generator prints them, without a tree. */
#include "chat-json.h"

#include <string.h>

/* A reply or an event built as a JsonObject only to be printed cost more than the work it
 * answers (docs/benchmarks.md, "JSON on the send path"): those are written as text. The
 * text must be the generator's to the byte, escapes included (tests/unit/test-chat-json.c
 * compares every ASCII character), so clients see the same lines as before. */

/* The generator escapes ", \ and the control characters 0x01 to 0x1e (0x1f passes as it
 * is), and DEL; the rest of UTF-8 passes as it is. */
static gboolean
needs_escape (guchar c)
{
  return (c < 0x1f) || c == '"' || c == '\\' || c == 0x7f;
}

static void
append_escape (GString *out, guchar c)
{
  static const char hex[] = "0123456789abcdef";

  switch (c)
    {
      case '"':
        g_string_append (out, "\\\"");
        break;
      case '\\':
        g_string_append (out, "\\\\");
        break;
      case '\b':
        g_string_append (out, "\\b");
        break;
      case '\f':
        g_string_append (out, "\\f");
        break;
      case '\n':
        g_string_append (out, "\\n");
        break;
      case '\r':
        g_string_append (out, "\\r");
        break;
      case '\t':
        g_string_append (out, "\\t");
        break;
      default:
        g_string_append (out, "\\u00");
        g_string_append_c (out, hex[c >> 4]);
        g_string_append_c (out, hex[c & 0xf]);
        break;
    }
}

void
chat_json_append_string (GString *out, const char *value)
{
  const char *run = value;
  const char *p = value;

  g_string_append_c (out, '"');
  for (; *p != '\0'; p++)
    {
      if (!needs_escape ((guchar)*p))
        continue;
      g_string_append_len (out, run, p - run);
      append_escape (out, (guchar)*p);
      run = p + 1;
    }
  g_string_append_len (out, run, p - run);
  g_string_append_c (out, '"');
}

void
chat_json_append_int (GString *out, gint64 value)
{
  char digits[24];
  guint64 magnitude = value < 0 ? (guint64)0 - (guint64)value : (guint64)value;
  guint n = sizeof digits;

  do
    {
      digits[--n] = (char)('0' + magnitude % 10);
      magnitude /= 10;
    }
  while (magnitude > 0);
  if (value < 0)
    digits[--n] = '-';
  g_string_append_len (out, digits + n, (gssize)(sizeof digits - n));
}

void
chat_json_append_member (GString *out, const char *name)
{
  if (out->len > 0 && out->str[out->len - 1] != '{')
    g_string_append_c (out, ',');
  chat_json_append_string (out, name);
  g_string_append_c (out, ':');
}

static gboolean append_node (GString *out, JsonNode *node);

/* Members in the order they were set, as the generator prints them. */
static gboolean
append_object (GString *out, JsonObject *object)
{
  JsonObjectIter iter;
  const char *name = NULL;
  JsonNode *node = NULL;

  g_string_append_c (out, '{');
  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &node))
    {
      chat_json_append_member (out, name);
      if (!append_node (out, node))
        return FALSE;
    }
  g_string_append_c (out, '}');
  return TRUE;
}

static gboolean
append_array (GString *out, JsonArray *array)
{
  guint n = json_array_get_length (array);

  g_string_append_c (out, '[');
  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      if (!append_node (out, json_array_get_element (array, i)))
        return FALSE;
    }
  g_string_append_c (out, ']');
  return TRUE;
}

/* FALSE for a value this writer leaves to the generator: a fraction (its digits are the
 * generator's choice), or a value of a type JSON has no text for. */
static gboolean
append_value (GString *out, JsonNode *node)
{
  switch (json_node_get_value_type (node))
    {
      case G_TYPE_INT64:
        chat_json_append_int (out, json_node_get_int (node));
        return TRUE;
      case G_TYPE_BOOLEAN:
        g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
        return TRUE;
      case G_TYPE_STRING:
        chat_json_append_string (out, json_node_get_string (node));
        return TRUE;
      default:
        return FALSE;
    }
}

static gboolean
append_node (GString *out, JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
      case JSON_NODE_OBJECT:
        return append_object (out, json_node_get_object (node));
      case JSON_NODE_ARRAY:
        return append_array (out, json_node_get_array (node));
      case JSON_NODE_NULL:
        g_string_append (out, "null");
        return TRUE;
      case JSON_NODE_VALUE:
        return append_value (out, node);
      default:
        return FALSE;
    }
}

static char *
generator_line (JsonObject *object, gsize *len)
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

char *
chat_json_to_line (JsonObject *object, gsize *len)
{
  GString *out = g_string_sized_new (256);

  if (!append_object (out, object))
    {
      g_string_free (out, TRUE);
      return generator_line (object, len);
    }
  g_string_append_c (out, '\n');
  if (len != NULL)
    *len = out->len;
  return g_string_free (out, FALSE);
}
