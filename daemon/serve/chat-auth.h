/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatAuth: Argon2id password work off the main loop, session tokens, failed-login limits. */
#pragma once

#include <gio/gio.h>

#include "chat-daemon-types.h"
#include "chat-throttle.h"

G_BEGIN_DECLS

#define CHAT_TYPE_AUTH (chat_auth_get_type ())
G_DECLARE_FINAL_TYPE (ChatAuth, chat_auth, CHAT, AUTH, GObject)

ChatAuth *chat_auth_new (void);
/* Argon2id limits for new hashes (default: libsodium's interactive limits). Lower
 * ones are for tests and fuzzing only; the dummy check follows them. */
void chat_auth_set_cost (ChatAuth *self, guint64 opslimit, gsize memlimit);

/* An Argon2id hash string (libsodium crypto_pwhash_str, interactive limits),
 * computed on a worker thread. */
void chat_auth_hash_password_async (ChatAuth *self, const char *password, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
char *chat_auth_hash_password_finish (ChatAuth *self, GAsyncResult *result, GError **error);

/* Checks password against hash on a worker thread. hash NULL (no such user) checks
 * against a fixed hash instead and always fails, after the same work. Returns
 * whether it matched; error is set only for a fault. */
void chat_auth_verify_password_async (ChatAuth *self, const char *hash, const char *password,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean chat_auth_verify_password_finish (ChatAuth *self, GAsyncResult *result, GError **error);

/* Failed-login throttling (chat-throttle.h) by username key and client address. */
ChatThrottle *chat_auth_get_throttle (ChatAuth *self);

/* A new session: the token for the client (64 hex characters from 32 random
 * bytes) and the SHA-256 hex the servers store. */
void chat_auth_new_session (char **token, char **session_hash);
/* The SHA-256 hex of a token, or NULL when it is not 64 hex characters. */
char *chat_auth_session_hash (const char *token);

G_END_DECLS
