/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatLoginPage: log in or create an account, with inline validation and errors. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CHAT_TYPE_LOGIN_PAGE (chat_login_page_get_type ())
G_DECLARE_FINAL_TYPE (ChatLoginPage, chat_login_page, CHAT, LOGIN_PAGE, AdwBin)

/*
 * Actions: "login.log-in" and "login.sign-up" (enabled when the fields are valid).
 * Signals: "log-in" and "sign-up" (const char *username, const char *password).
 */
void chat_login_page_set_busy (ChatLoginPage *self, gboolean busy);
/* Shows error under the fields (NULL clears it). */
void chat_login_page_set_error (ChatLoginPage *self, const GError *error);
/* Clears the password and the error. */
/* Clears the password and errors, and puts the focus in the username field. */
void chat_login_page_reset (ChatLoginPage *self);
void chat_login_page_focus (ChatLoginPage *self);
GtkWidget *chat_login_page_get_username_row (ChatLoginPage *self);
void chat_login_page_set_credentials (ChatLoginPage *self, const char *username,
                                      const char *password);
const char *chat_login_page_get_error_text (ChatLoginPage *self);

G_END_DECLS
