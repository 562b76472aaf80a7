/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cluster key: where chatd finds the peers' shared secret, and what it refuses. */
#pragma once

#include "chat-config.h"

G_BEGIN_DECLS

/* The name of the file, the systemd credential and the file beside config.ini. */
#define CHAT_CLUSTER_KEY_NAME "cluster.key"
#define CHAT_CLUSTER_KEY_MIN_BYTES 32

/* Where the key is read from: $CREDENTIALS_DIRECTORY/cluster.key (systemd's
 * LoadCredential=), else the file $CHATD_CLUSTER_KEY names, else cluster.key beside
 * config.ini (the current directory on the built-in defaults). */
char *chat_cluster_key_find (const ChatConfig *config);

/* FALSE, with a message that says what to do, for a key shorter than
 * CHAT_CLUSTER_KEY_MIN_BYTES, holding a NUL byte, or equal to a published example. */
gboolean chat_cluster_key_check (const char *key, gsize length, GError **error);

/* Reads and checks the key, then stores it in config->secret. */
gboolean chat_cluster_key_load (ChatConfig *config, GError **error);

G_END_DECLS
