/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A message body as GtkLabel markup: everything escaped, web addresses made links. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Pango markup of body with each http://, https:// or www. address as a link, or NULL when
 * the body has none (show it as plain text then: no markup is parsed at all). */
char *chat_message_markup_new (const char *body);

G_END_DECLS
