/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SQLite VFS of the store's main connection: WAL frames written in batches. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Registers the VFS on first use; the name to pass to sqlite3_open_v2(). */
const char *chat_store_vfs_name (void);
/* How many batched writes reached the file so far, for the unit tests. */
guint chat_store_vfs_flushes (void);

G_END_DECLS
