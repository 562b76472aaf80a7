/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A real chatd keeps its state private whatever the umask, and refuses a shared folder. */
#include "chat-test-util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#define PASSWORD "correct horse"

static guint
mode_of (const char *path)
{
  struct stat info;

  g_assert_cmpint (g_stat (path, &info), ==, 0);
  return info.st_mode & 07777;
}

/* Case 6: started with umask 022, chatd made its database and WAL world-readable. */
static void
test_private_files (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (1, NULL);
  g_autoptr (ChatTestConn) conn = NULL;
  g_autoptr (GDir) dir = NULL;
  const char *state_dir = NULL, *name = NULL;
  guint files = 0;

  umask (022);
  chat_test_cluster_start_all (cluster);
  state_dir = chat_test_cluster_state_dir (cluster, 1);
  conn = chat_test_conn_new (chat_test_cluster_port (cluster, 1));
  g_free (chat_test_signup (conn, "private", PASSWORD));
  g_assert_cmpuint (mode_of (state_dir), ==, 0700);
  dir = g_dir_open (state_dir, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (state_dir, name, NULL);
      g_test_message ("%s: %04o", name, mode_of (path));
      g_assert_cmpuint (mode_of (path) & 077, ==, 0);
      files++;
    }
  /* chatd.db, chatd.db-wal and chatd.db-shm at least. */
  g_assert_cmpuint (files, >=, 3);
}

static char *
run_chatd (ChatTestCluster *cluster, const char *state_dir, int *status)
{
  g_autofree char *chatd
      = g_build_filename (g_getenv ("CHATD_BUILD_ROOT"), "daemon", "chatd", NULL);
  g_autofree char *port = g_strdup_printf ("%u", chat_test_cluster_port (cluster, 1));
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = NULL;
  char *err = NULL;

  process
      = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                          &error, chatd, "--host", "127.0.0.1", "--port", port, "--config",
                          chat_test_cluster_config_path (cluster), "--state-dir", state_dir, NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &err, &error));
  g_assert_no_error (error);
  *status = g_subprocess_get_exit_status (process);
  return err;
}

/* A state folder others may write to could have its database replaced: chatd refuses it
 * with a message naming it, and changes nothing there. */
static void
test_refuses_shared_dir (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (1, NULL);
  g_autofree char *shared
      = g_build_filename (chat_test_cluster_state_dir (cluster, 1), "..", "shared", NULL);
  g_autofree char *db = g_build_filename (shared, "chatd.db", NULL);
  g_autofree char *err = NULL;
  int status = 0;

  g_assert_cmpint (g_mkdir_with_parents (shared, 0700), ==, 0);
  g_assert_cmpint (g_chmod (shared, 0777), ==, 0);
  err = run_chatd (cluster, shared, &status);
  g_test_message ("chatd said: %s", err);
  g_assert_cmpint (status, !=, 0);
  g_assert_nonnull (strstr (err, shared));
  g_assert_nonnull (strstr (err, "writable by other users"));
  g_assert_false (g_file_test (db, G_FILE_TEST_EXISTS));
  g_rmdir (shared);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/state-dir/private-files", test_private_files);
  g_test_add_func ("/state-dir/refuses-shared-dir", test_refuses_shared_dir);
  return g_test_run ();
}
