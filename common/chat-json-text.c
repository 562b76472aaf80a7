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
