/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finds, reads and checks the cluster key, which lives in a file of its own (never config.ini). */
#define G_LOG_DOMAIN "chatd"

#include "config.h"

#include "chat-cluster-key.h"
#include "chat-error.h"

#include <glib/gstdio.h>
#include <string.h>

/* Keys that were printed in this project's files: anyone could prove themselves with them. */
static const char *const published_keys[] = {
  "change-me-chatd-cluster-secret",
};

char *
chat_cluster_key_find (const ChatConfig *config)
{
  const char *credentials = g_getenv ("CREDENTIALS_DIRECTORY");
  const char *named = g_getenv ("CHATD_CLUSTER_KEY");
  g_autofree char *config_dir = NULL;

  if (credentials != NULL && *credentials != '\0')
    {
      g_autofree char *path = g_build_filename (credentials, CHAT_CLUSTER_KEY_NAME, NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&path);
    }
  if (named != NULL && *named != '\0')
    return g_strdup (named);
  config_dir = config->path != NULL ? g_path_get_dirname (config->path) : g_strdup (".");
  return g_build_filename (config_dir, CHAT_CLUSTER_KEY_NAME, NULL);
}

gboolean
chat_cluster_key_check (const char *key, gsize length, GError **error)
{
  if (memchr (key, '\0', length) != NULL)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "the cluster key holds a NUL byte: write it as text, for example "
                           "“head -c 32 /dev/urandom | base64”");
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (published_keys); i++)
    {
      if (strlen (published_keys[i]) == length && memcmp (key, published_keys[i], length) == 0)
        {
          g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                               "the cluster key is an example printed in chatd's documentation; "
                               "make a key of your own with “head -c 32 /dev/urandom | base64”");
          return FALSE;
        }
    }
  if (length < CHAT_CLUSTER_KEY_MIN_BYTES)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                   "the cluster key is %" G_GSIZE_FORMAT " bytes long; it needs at least %d "
                   "(make one with “head -c 32 /dev/urandom | base64”)",
                   length, CHAT_CLUSTER_KEY_MIN_BYTES);
      return FALSE;
    }
  return TRUE;
}

/* Anyone who reads the key can join the cluster as a server: say so when others may. */
static void
warn_if_world_readable (const char *path)
{
  GStatBuf info;

  if (g_stat (path, &info) == 0 && (info.st_mode & S_IROTH) != 0)
    g_warning ("%s is readable by every user of this machine: chmod o-r it", path);
}

gboolean
chat_cluster_key_load (ChatConfig *config, GError **error)
{
  g_autofree char *path = chat_cluster_key_find (config);
  g_autofree char *data = NULL;
  gsize length = 0;

  if (config->has_stale_secret)
    g_warning ("%s: [cluster] secret is ignored: the cluster key is read from %s; "
               "delete the line",
               config->path ? config->path : "config.ini", path);
  if (!g_file_get_contents (path, &data, &length, error))
    {
      g_prefix_error (error, "cannot read the cluster key (see “man chatd”, FILES): ");
      return FALSE;
    }
  /* A trailing newline (echo, an editor) is not part of the key. */
  while (length > 0 && g_ascii_isspace (data[length - 1]))
    data[--length] = '\0';
  if (!chat_cluster_key_check (data, length, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  warn_if_world_readable (path);
  g_free (config->secret);
  config->secret = g_steal_pointer (&data);
  return TRUE;
}
