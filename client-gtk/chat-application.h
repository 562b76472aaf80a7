/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatApplication: the chat-gtk application (io.github.chatd.Chat). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CHAT_APPLICATION_ID "io.github.chatd.Chat"

#define CHAT_TYPE_APPLICATION (chat_application_get_type ())
G_DECLARE_FINAL_TYPE (ChatApplication, chat_application, CHAT, APPLICATION, AdwApplication)

ChatApplication *chat_application_new (void);
/* The io.github.chatd.Chat settings. */
GSettings *chat_application_get_settings (ChatApplication *self);
/* The servers to connect to: the "servers" setting, or when it is empty the [server]
 * list of the system (or bundled) config.ini. A new strv. */
GStrv chat_application_dup_servers (ChatApplication *self);
/* Trust for TLS when config.ini has [tls]; NULL: plaintext. */
GTlsDatabase *chat_application_get_tls_database (ChatApplication *self);

G_END_DECLS
