/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatPreferences: the servers to connect to, and notifications. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CHAT_TYPE_PREFERENCES (chat_preferences_get_type ())
G_DECLARE_FINAL_TYPE (ChatPreferences, chat_preferences, CHAT, PREFERENCES, AdwPreferencesWindow)

ChatPreferences *chat_preferences_new (GSettings *settings);
/* Parses a comma or space separated "host:port" list; NULL with error on a bad entry. */
GStrv chat_preferences_parse_servers (const char *text, GError **error);

G_END_DECLS
