/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatComposer: the message entry: Enter sends, Shift+Enter adds a line. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CHAT_TYPE_COMPOSER (chat_composer_get_type ())
G_DECLARE_FINAL_TYPE (ChatComposer, chat_composer, CHAT, COMPOSER, GtkWidget)

/* Signal "send" (const char *text): text is non-empty, trimmed; the composer is cleared. */
char *chat_composer_dup_text (ChatComposer *self);
void chat_composer_set_text (ChatComposer *self, const char *text);
/* Sends what is typed, as Enter does. */
void chat_composer_submit (ChatComposer *self);
void chat_composer_focus (ChatComposer *self);

/* The dimmed text shown while the box is empty ("Message bob"). */
void chat_composer_set_placeholder (ChatComposer *self, const char *text);
/* Opens the emoji chooser at the cursor. */
void chat_composer_insert_emoji (ChatComposer *self);

G_END_DECLS
