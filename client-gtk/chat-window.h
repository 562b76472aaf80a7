/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatWindow: the main window: login page, then sidebar and conversation in a leaflet. */
#pragma once

#include <adwaita.h>

#include "chat-account.h"
#include "chat-application.h"

G_BEGIN_DECLS

#define CHAT_TYPE_WINDOW (chat_window_get_type ())
G_DECLARE_FINAL_TYPE (ChatWindow, chat_window, CHAT, WINDOW, AdwApplicationWindow)

/*
 * Properties (read-only):
 *   "account"       ChatAccount  the logged-in account, or NULL on the login page
 *   "reconnecting"  gboolean     the connection to the cluster is being re-established
 */
ChatWindow *chat_window_new (ChatApplication *app);
ChatAccount *chat_window_get_account (ChatWindow *self);
gboolean chat_window_get_reconnecting (ChatWindow *self);
/* The conversations kept on disk are shown, read-only, while the kept session waits for a
 * server (an offline start); FALSE once live. */
gboolean chat_window_get_offline (ChatWindow *self);
/* Shows the conversation with peer (creating an empty one). */
void chat_window_open_conversation (ChatWindow *self, const char *peer);
/* e.g. "2 of 3 servers up · leader 127.0.0.1:5555" */
char *chat_window_dup_health_text (ChatWindow *self);
void chat_window_show_toast (ChatWindow *self, const char *text);

G_END_DECLS
