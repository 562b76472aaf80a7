/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File-system helpers shared by the programs that manage server state folders. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Deletes path and everything below it, best effort; a symbolic link is removed, never
 * followed. Used for the throw-away state folders of test and benchmark clusters. */
void chat_fs_remove_tree (const char *path);

G_END_DECLS
