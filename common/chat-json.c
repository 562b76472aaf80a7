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

/* json-glib turns an escaped NUL ("\u0000") into a C string that silently ends there,
 * and reports a lone UTF-16 surrogate as an unrelated syntax error; an integer outside
 * 64 bits becomes a clamped value. None of that can be told apart after parsing, so one
 * scan of the raw line finds them first and names the field they belong to. */

#define SCAN_MAX_DEPTH (CHAT_JSON_MAX_DEPTH + 1)

typedef struct
{
  const char *text;
  gsize len;
  gsize pos;
  /* The key of the member being read at each depth (offset and length in text). */
  gsize key_at[SCAN_MAX_DEPTH + 1];
  gsize key_len[SCAN_MAX_DEPTH + 1];
  guint depth;
  gsize last_string_at, last_string_len;
} Scan;

static gboolean
scan_fail (Scan *scan, gboolean in_key, const char *what, GError **error)
{
  if (in_key || scan->key_len[scan->depth] == 0)
    g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "A field name %s", what);
  else
    g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "Field “%.*s” %s",
                 (int)scan->key_len[scan->depth], scan->text + scan->key_at[scan->depth], what);
  return FALSE;
}

/* The value of the four hex digits of a \u escape at text[at], or -1. */
static gint
hex4 (Scan *scan, gsize at)
{
  gint value = 0;

  if (at + 4 > scan->len)
    return -1;
  for (gsize i = at; i < at + 4; i++)
    {
      gint digit = g_ascii_xdigit_value (scan->text[i]);
      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  return value;
}

typedef enum
{
  ESCAPE_OK,
  ESCAPE_NUL,
  ESCAPE_SURROGATE,
  ESCAPE_MALFORMED,
} EscapeKind;

/* Reads the escape after a backslash at scan->pos; leaves pos on its last character. */
static EscapeKind
scan_escape (Scan *scan)
{
  gint unit, low;

  scan->pos++;
  if (scan->pos >= scan->len || scan->text[scan->pos] != 'u')
    return ESCAPE_OK;
  unit = hex4 (scan, scan->pos + 1);
  if (unit < 0)
    return ESCAPE_MALFORMED; /* json-glib would take the bytes after it as digits */
  scan->pos += 4;
  if (unit == 0)
    return ESCAPE_NUL;
  if (unit >= 0xdc00 && unit <= 0xdfff)
    return ESCAPE_SURROGATE;
  if (unit < 0xd800 || unit > 0xdbff)
    return ESCAPE_OK;
  /* A high surrogate must be followed at once by an escaped low one. */
  if (scan->pos + 2 >= scan->len || scan->text[scan->pos + 1] != '\\'
      || scan->text[scan->pos + 2] != 'u')
    return ESCAPE_SURROGATE;
  low = hex4 (scan, scan->pos + 3);
  if (low < 0xdc00 || low > 0xdfff)
    return ESCAPE_SURROGATE;
  scan->pos += 6;
  return ESCAPE_OK;
}

static gboolean
next_is_colon (Scan *scan)
{
  for (gsize i = scan->pos + 1; i < scan->len; i++)
    {
      if (!g_ascii_isspace (scan->text[i]))
        return scan->text[i] == ':';
    }
  return FALSE;
}

/* A string from its opening quote at scan->pos to its closing quote (pos ends there). */
static gboolean
scan_string (Scan *scan, GError **error)
{
  gsize start = scan->pos + 1;
  EscapeKind bad = ESCAPE_OK;

  for (scan->pos = start; scan->pos < scan->len && scan->text[scan->pos] != '"'; scan->pos++)
    {
      if (scan->text[scan->pos] == '\\')
        {
          EscapeKind kind = scan_escape (scan);
          bad = bad == ESCAPE_OK ? kind : bad;
        }
    }
  scan->last_string_at = start;
  scan->last_string_len = MIN (scan->pos, scan->len) - start;
  if (bad == ESCAPE_NUL)
    return scan_fail (scan, next_is_colon (scan), "contains a NUL character (\\u0000)", error);
  if (bad == ESCAPE_SURROGATE)
    return scan_fail (scan, next_is_colon (scan),
                      "contains a lone UTF-16 surrogate (an unpaired \\uD800-\\uDFFF)", error);
  if (bad == ESCAPE_MALFORMED)
    return scan_fail (scan, next_is_colon (scan), "contains a \\u escape without four hex digits",
                      error);
  return TRUE;
}

/* An integer literal must fit in 64 bits (json-glib would clamp it); fractions and
 * exponents are doubles, which typed field access refuses where a whole number is due. */
static gboolean
scan_number (Scan *scan, GError **error)
{
  gsize start = scan->pos, end = scan->pos;
  gboolean integer = TRUE;
  g_autofree char *literal = NULL;
  gint64 value = 0;

  while (end < scan->len
         && (g_ascii_isdigit (scan->text[end]) || strchr ("+-.eE", scan->text[end])))
    {
      if (strchr (".eE", scan->text[end]) != NULL)
        integer = FALSE;
      end++;
    }
  scan->pos = end - 1;
  if (!integer)
    return TRUE;
  literal = g_strndup (scan->text + start, end - start);
  if (g_ascii_string_to_signed (literal, 10, G_MININT64, G_MAXINT64, &value, NULL))
    return TRUE;
  if (strspn (literal + (literal[0] == '-'), "0123456789")
      != strlen (literal + (literal[0] == '-')))
    return TRUE; /* not a number at all: json-glib reports the syntax error */
  return scan_fail (scan, FALSE, "is a whole number outside 64 bits", error);
}

static void
scan_open (Scan *scan, char c)
{
  if (scan->depth < SCAN_MAX_DEPTH)
    scan->depth++;
  /* An array's elements carry the key of the array; an object's members their own. */
  scan->key_at[scan->depth] = c == '[' ? scan->key_at[scan->depth - 1] : 0;
  scan->key_len[scan->depth] = c == '[' ? scan->key_len[scan->depth - 1] : 0;
}

static gboolean
scan_values (const char *text, gsize len, GError **error)
{
  Scan scan = { text, len };

  for (scan.pos = 0; scan.pos < len; scan.pos++)
    {
      char c = text[scan.pos];
      if (c == '"' && !scan_string (&scan, error))
        return FALSE;
      else if (c == ':')
        {
          scan.key_at[scan.depth] = scan.last_string_at;
          scan.key_len[scan.depth] = scan.last_string_len;
        }
      else if (c == '{' || c == '[')
        scan_open (&scan, c);
      else if ((c == '}' || c == ']') && scan.depth > 0)
        scan.depth--;
      else if ((c == '-' || g_ascii_isdigit (c)) && !scan_number (&scan, error))
        return FALSE;
    }
  return TRUE;
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
  return scan_values (line, len, error);
}

JsonObject *
chat_json_parse_object (const char *line, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) parse_error = NULL;
  JsonNode *root = NULL;

  if (!check_line (line, len, error))
    return NULL;
  if (!json_parser_load_from_data (parser, line, (gssize)len, &parse_error))
    {
      /* json-glib's message may quote one byte of a multi-byte character. */
      g_autofree char *reason = g_utf8_make_valid (parse_error->message, -1);

      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "The request is not valid JSON: %s",
                   reason);
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
  g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "Field “%s” must be %s", field, expected);
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
chat_json_get_uint_range (JsonObject *object, const char *field, gboolean required, guint64 min,
                          guint64 max, guint64 *out, GError **error)
{
  JsonNode *node = lookup (object, field);
  gint64 value = 0;

  if (node == NULL)
    return missing (field, required, error);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return wrong_type (field, "a whole number", error);
  value = json_node_get_int (node);
  if (value < 0 || (guint64)value < min || (guint64)value > max)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                   "Field “%s” must be from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT, field,
                   min, max);
      return FALSE;
    }
  *out = (guint64)value;
  return TRUE;
}

gboolean
chat_json_get_uint (JsonObject *object, const char *field, gboolean required, guint64 max,
                    guint64 *out, GError **error)
{
  return chat_json_get_uint_range (object, field, required, 0, max, out, error);
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
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_TOO_LARGE, "Field “%s” holds more than %u items",
                   field, max_items);
      return FALSE;
    }
  *out = array;
  return TRUE;
}
