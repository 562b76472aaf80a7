/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Watches the free space of the state directory's file system against a reserve. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How often the free space is read while no write asks: space coming back is noticed
 * (and logged) within this time. */
#define CHAT_DISK_GUARD_INTERVAL_MS 1000

typedef struct _ChatDiskGuard ChatDiskGuard;

/* Called on the main loop when the space falls below the reserve (full = TRUE) and when
 * it is back at twice the reserve (full = FALSE). */
typedef void (*ChatDiskGuardFunc) (gboolean full, guint64 available_bytes, gpointer user_data);

ChatDiskGuard *chat_disk_guard_new (const char *path, guint64 reserve_bytes, ChatDiskGuardFunc func,
                                    gpointer user_data);
void chat_disk_guard_free (ChatDiskGuard *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatDiskGuard, chat_disk_guard_free)

/* Whether writes should be refused now; reads the space again on every call. */
gboolean chat_disk_guard_is_full (ChatDiskGuard *self);

/* Bytes an unprivileged writer may still use on the file system holding path, or
 * G_MAXUINT64 when it cannot be read. */
guint64 chat_disk_space_available (const char *path);

G_END_DECLS
