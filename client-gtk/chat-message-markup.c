/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A message body as GtkLabel markup: everything escaped, web addresses made links. */
#define G_LOG_DOMAIN "chat-gtk"

#include <string.h>

#include "chat-message-markup.h"

/* An address runs to the next space or character that cannot end it in running text. */
#define LINK_PATTERN "\\b(?:https?://|www\\.)[^\\s<>\"]+[^\\s<>\".,;:!?)\\]}'’]"

static GRegex *
link_regex (void)
{
  static gsize regex;

  if (g_once_init_enter (&regex))
    g_once_init_leave (&regex, (gsize)g_regex_new (LINK_PATTERN, G_REGEX_OPTIMIZE, 0, NULL));
  return (GRegex *)regex;
}

static void
append_escaped (GString *markup, const char *text, gssize len)
{
  g_autofree char *escaped = g_markup_escape_text (text, len);

  g_string_append (markup, escaped);
}

/* The href is escaped too: a quote or an ampersand in it cannot leave the attribute. */
static void
append_link (GString *markup, const char *address, gssize len)
{
  g_autofree char *text = g_markup_escape_text (address, len);
  g_autofree char *href = NULL;

  if (g_ascii_strncasecmp (address, "www.", 4) == 0)
    {
      g_autofree char *full = g_strconcat ("https://", text, NULL);

      href = g_steal_pointer (&full);
    }
  else
    href = g_strdup (text);
  g_string_append_printf (markup, "<a href=\"%s\">%s</a>", href, text);
}

char *
chat_message_markup_new (const char *body)
{
  g_autoptr (GMatchInfo) match = NULL;
  GString *markup;
  gsize done = 0;

  g_return_val_if_fail (body != NULL, NULL);

  /* The common case costs one scan: most messages hold no address. */
  if (strstr (body, "://") == NULL && strstr (body, "www.") == NULL)
    return NULL;
  if (!g_regex_match (link_regex (), body, 0, &match))
    return NULL;
  markup = g_string_new (NULL);
  do
    {
      int start = 0, end = 0;

      g_match_info_fetch_pos (match, 0, &start, &end);
      append_escaped (markup, body + done, start - done);
      append_link (markup, body + start, end - start);
      done = end;
    }
  while (g_match_info_next (match, NULL));
  append_escaped (markup, body + done, -1);
  return g_string_free (markup, FALSE);
}

gboolean
chat_message_markup_has_long_word (const char *text)
{
  guint run = 0;

  for (const char *p = text; p != NULL && *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      run = g_unichar_isspace (c) ? 0 : run + 1;
      if (run > CHAT_MESSAGE_LONG_WORD)
        return TRUE;
    }
  return FALSE;
}
