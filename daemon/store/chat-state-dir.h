/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The server's state directory: created private, refused when others can write to it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Creates path (and missing parents) mode 0700; an existing directory is narrowed to
 * 0700. Fails with a message naming the directory when it is not a directory, or when
 * its group or others may write to it (they could replace the database). */
gboolean chat_state_dir_prepare (const char *path, GError **error);

/* Narrows every regular file directly in path to 0600: the database, its WAL and
 * shared-memory index hold password hashes and every message body. */
gboolean chat_state_dir_protect_files (const char *path, GError **error);

G_END_DECLS
