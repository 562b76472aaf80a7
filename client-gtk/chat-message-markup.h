/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A message body as GtkLabel markup: everything escaped, web addresses made links. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Pango markup of body with each http://, https:// or www. address as a link, or NULL when
 * the body has none (show it as plain text then: no markup is parsed at all). */
char *chat_message_markup_new (const char *body);

/* The longest run of characters without a space (or other break) that is still wrapped at
 * word boundaries; a longer one is wrapped at any character (see below). */
#define CHAT_MESSAGE_LONG_WORD 200
/* TRUE when text holds a run longer than CHAT_MESSAGE_LONG_WORD: Pango's word-or-character
 * wrapping (PANGO_WRAP_WORD_CHAR) takes time quadratic in such a run (seconds for 5,000
 * characters), its character wrapping does not, so such a text is wrapped by character. */
gboolean chat_message_markup_has_long_word (const char *text);

G_END_DECLS
