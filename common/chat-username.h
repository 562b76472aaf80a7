/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rules for usernames, passwords and message bodies, shared by server and clients. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CHAT_USERNAME_MIN_CHARS 3
#define CHAT_USERNAME_MAX_CHARS 32
#define CHAT_PASSWORD_MIN_BYTES 8
#define CHAT_PASSWORD_MAX_BYTES 1024

/* 3–32 ASCII letters, digits, '_', '-' or '.', starting with a letter or digit.
 * Case is kept for display; uniqueness and lookups ignore it. */
gboolean chat_username_validate (const char *username, GError **error);
/* The case-folded key a username is stored and compared under. */
char *chat_username_key (const char *username);
gboolean chat_password_validate (const char *password, GError **error);
/* Non-empty valid UTF-8 of at most max_bytes bytes. */
gboolean chat_body_validate (const char *body, gsize max_bytes, GError **error);

G_END_DECLS
