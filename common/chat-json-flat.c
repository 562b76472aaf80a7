/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reads a flat JSON object of plain strings, integers and booleans without json-glib's parser. */
#include "chat-json.h"

#include <string.h>

/* A follower parses every log entry it applies; for the small flat objects the leader writes
 * (an operation's members), json-glib's parser cost more than building the object itself
 * (docs/benchmarks.md). Anything outside the plain subset below gives NULL, and the caller
 * parses with chat_json_parse_object, which decides about it: so what this accepts it must
 * read exactly as that would (tests/unit/test-chat-json.c compares them). */

typedef struct
{
  const char *p;
  const char *end;
  /* The name and the value being read: json-glib copies both when it takes them, so
   * they are read into buffers kept for the whole object rather than copied twice. */
  GString *name;
  GString *value;
} Reader;

static gboolean
take (Reader *r, char c)
{
  if (r->p >= r->end || *r->p != c)
    return FALSE;
  r->p++;
  return TRUE;
}

/* A string without escapes or control characters, in valid UTF-8, into buffer. */
static gboolean
read_string (Reader *r, GString *buffer)
{
  const char *start;
  guchar seen = 0; /* every byte or'ed: ASCII alone needs no UTF-8 check */

  if (!take (r, '"'))
    return FALSE;
  start = r->p;
  while (r->p < r->end && *r->p != '"')
    {
      guchar c = (guchar)*r->p;

      if (c < 0x20 || c == '\\')
        return FALSE;
      seen |= c;
      r->p++;
    }
  if (r->p >= r->end)
    return FALSE;
  if ((seen & 0x80) != 0 && !g_utf8_validate_len (start, (gsize)(r->p - start), NULL))
    return FALSE;
  r->p++;
  g_string_truncate (buffer, 0);
  g_string_append_len (buffer, start, r->p - 1 - start);
  return TRUE;
}

/* An integer of at most 18 digits (well inside 64 bits), no leading zero, no "-0". */
static gboolean
read_int (Reader *r, gint64 *out)
{
  gboolean negative = take (r, '-');
  gint64 v = 0;
  guint digits = 0;

  while (r->p < r->end && g_ascii_isdigit (*r->p))
    {
      if (++digits > 18 || (digits == 2 && v == 0))
        return FALSE;
      v = v * 10 + (*r->p - '0');
      r->p++;
    }
  if (digits == 0 || (negative && v == 0))
    return FALSE;
  if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E'))
    return FALSE;
  *out = negative ? -v : v;
  return TRUE;
}

static gboolean
read_word (Reader *r, const char *word)
{
  gsize n = strlen (word);

  if ((gsize)(r->end - r->p) < n || memcmp (r->p, word, n) != 0)
    return FALSE;
  r->p += n;
  return TRUE;
}

static gboolean
read_member (Reader *r, JsonObject *object)
{
  const char *name = NULL;
  gint64 number = 0;

  if (!read_string (r, r->name))
    return FALSE;
  name = r->name->str;
  if (name[0] == '\0' || !take (r, ':') || json_object_has_member (object, name))
    return FALSE;
  if (r->p < r->end && *r->p == '"')
    {
      if (!read_string (r, r->value))
        return FALSE;
      json_object_set_string_member (object, name, r->value->str);
    }
  else if (read_word (r, "true"))
    json_object_set_boolean_member (object, name, TRUE);
  else if (read_word (r, "false"))
    json_object_set_boolean_member (object, name, FALSE);
  else if (read_int (r, &number))
    json_object_set_int_member (object, name, number);
  else
    return FALSE;
  return TRUE;
}

JsonObject *
chat_json_parse_flat_object (const char *text, gsize len)
{
  g_autoptr (JsonObject) object = json_object_new ();
  g_autoptr (GString) name = g_string_sized_new (32);
  g_autoptr (GString) value = g_string_sized_new (len);
  Reader r = { text, text + len, name, value };

  if (!take (&r, '{'))
    return NULL;
  if (!take (&r, '}'))
    {
      do
        {
          if (!read_member (&r, object))
            return NULL;
        }
      while (take (&r, ','));
      if (!take (&r, '}'))
        return NULL;
    }
  if (r.p != r.end)
    return NULL;
  json_object_seal (object);
  return g_steal_pointer (&object);
}
