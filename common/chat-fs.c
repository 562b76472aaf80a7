/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File-system helpers shared by the programs that manage server state folders. */

#include "chat-fs.h"

#include <glib/gstdio.h>

void
chat_fs_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name = NULL;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        chat_fs_remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}
