/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The server's state directory: created private, refused when others can write to it. */
#define G_LOG_DOMAIN "chatd"

#include "config.h"

#include "chat-state-dir.h"
#include "chat-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#define STATE_DIR_MODE 0700
#define STATE_FILE_MODE 0600

static gboolean
fail_errno (GError **error, const char *what, const char *path, int saved_errno)
{
  g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "%s %s: %s", what, path,
               g_strerror (saved_errno));
  return FALSE;
}

gboolean
chat_state_dir_prepare (const char *path, GError **error)
{
  struct stat info;

  g_return_val_if_fail (path != NULL, FALSE);

  if (g_mkdir_with_parents (path, STATE_DIR_MODE) != 0)
    return fail_errno (error, "Cannot create the state directory", path, errno);
  if (g_lstat (path, &info) != 0)
    return fail_errno (error, "Cannot read the state directory", path, errno);
  if (!S_ISDIR (info.st_mode))
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                   "The state directory %s is not a directory", path);
      return FALSE;
    }
  /* Refused, not repaired: someone else may already have put files there. */
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                   "The state directory %s is writable by other users (mode %04o); "
                   "make it private (chmod 700) or choose another one",
                   path, (guint)(info.st_mode & 07777));
      return FALSE;
    }
  if ((info.st_mode & 07777) != STATE_DIR_MODE && g_chmod (path, STATE_DIR_MODE) != 0)
    return fail_errno (error, "Cannot make the state directory private:", path, errno);
  return TRUE;
}

static gboolean
protect_file (const char *dir, const char *name, GError **error)
{
  g_autofree char *file = g_build_filename (dir, name, NULL);
  struct stat info;

  if (g_lstat (file, &info) != 0)
    return errno == ENOENT || fail_errno (error, "Cannot read", file, errno);
  if (!S_ISREG (info.st_mode) || (info.st_mode & 07777) == STATE_FILE_MODE)
    return TRUE;
  if (g_chmod (file, STATE_FILE_MODE) != 0)
    return fail_errno (error, "Cannot make private:", file, errno);
  return TRUE;
}

gboolean
chat_state_dir_protect_files (const char *path, GError **error)
{
  g_autoptr (GDir) dir = NULL;
  const char *name = NULL;
  GError *local = NULL;

  g_return_val_if_fail (path != NULL, FALSE);

  dir = g_dir_open (path, 0, &local);
  if (dir == NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (!protect_file (path, name, error))
        return FALSE;
    }
  return TRUE;
}
