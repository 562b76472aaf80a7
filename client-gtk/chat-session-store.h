/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The session token in the user's keyring (Secret Service), so a start logs in again. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* One session per server list: key is the list as the settings hold it. */
void chat_session_store_save (const char *key, const char *username, const char *session);
void chat_session_store_lookup_async (const char *key, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
/* TRUE with *username and *session set, FALSE (no error) when none is kept. */
gboolean chat_session_store_lookup_finish (GAsyncResult *result, char **username, char **session,
                                           GError **error);
void chat_session_store_clear (const char *key);

G_END_DECLS
