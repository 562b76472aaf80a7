/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A leader whose disk fills refuses writes with "unavailable", serves reads, resumes. */
#include "chat-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define PASSWORD "correct horse"

/* Writes zeros to path until the file system has no room left. */
static void
fill (const char *path)
{
  static char chunk[64 * 1024];
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  while (write (fd, chunk, sizeof chunk) > 0)
    ;
  /* The last partial chunk, a byte at a time. */
  while (write (fd, chunk, 1) > 0)
    ;
  g_assert_cmpint (errno, ==, ENOSPC);
  close (fd);
}

static JsonObject *
send_body (ChatTestConn *conn, const char *to, const char *body, guint n)
{
  return chat_test_rq (conn, "{'id':%u,'op':'send','to':'%s','body':'%s','client_msg_id':'m%u'}", n,
                       to, body, n);
}

static guint
history_length (ChatTestConn *conn, const char *with)
{
  g_autoptr (JsonObject) history
      = chat_test_ok (conn, "{'id':0,'op':'history','with':'%s','limit':500}", with);

  return json_array_get_length (json_object_get_array_member (history, "messages"));
}

/* Case 5: the leader ended with "database or disk is full; stopping", closing every
 * connection instead of answering. */
static void
test_disk_full (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (1, NULL);
  g_autoptr (ChatTestConn) conn = NULL;
  const char *state = chat_test_cluster_state_dir (cluster, 1);
  g_autofree char *filler = g_build_filename (state, "filler", NULL);
  g_autoptr (JsonObject) refused = NULL;
  guint acknowledged = 0, n = 0;
  gint64 deadline = 0;

  g_assert_cmpint (g_mkdir_with_parents (state, 0700), ==, 0);
  g_assert_cmpint (mount ("chatd-test", state, "tmpfs", 0, "size=8m,mode=0700"), ==, 0);
  chat_test_cluster_set_option (cluster, "limits", "disk_reserve_bytes", "1048576");
  chat_test_cluster_start_all (cluster);
  conn = chat_test_conn_new (chat_test_cluster_port (cluster, 1));
  g_free (chat_test_signup (conn, "filler", PASSWORD));
  for (n = 1; n <= 20; n++)
    {
      g_autoptr (JsonObject) reply = send_body (conn, "filler", "before the disk filled", n);
      g_assert_true (json_object_get_boolean_member (reply, "ok"));
      acknowledged++;
    }
  fill (filler);
  refused = send_body (conn, "filler", "while full", n++);
  g_assert_nonnull (refused);
  chat_test_assert_error (refused, "unavailable");
  /* Reads are still served, with everything acknowledged. */
  g_assert_cmpuint (history_length (conn, "filler"), ==, acknowledged);
  g_assert_true (chat_test_cluster_is_running (cluster, 1));

  g_assert_cmpint (g_unlink (filler), ==, 0);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr (JsonObject) reply = send_body (conn, "filler", "space is back", n++);
      if (json_object_get_boolean_member (reply, "ok"))
        break;
      chat_test_assert_error (reply, "unavailable");
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (200 * 1000);
    }
  acknowledged++;
  g_assert_cmpuint (history_length (conn, "filler"), ==, acknowledged);
  chat_test_cluster_stop (cluster, 1);
  g_assert_cmpint (umount (state), ==, 0);
}

static void
mount_tmpfs (const char *dir)
{
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_cmpint (mount ("chatd-test", dir, "tmpfs", 0, "size=16m,mode=0700"), ==, 0);
}

/* The tests fill a disk of their own: a small tmpfs, which only root may mount. They mount
 * it in a mount namespace of their own, so that every tmpfs goes with the process, also when
 * a failed assertion aborts it before its umount (such mounts outlived it before). Why not,
 * when it cannot, or NULL. */
static char *
tmpfs_unavailable (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  char *reason = NULL;

  if (unshare (CLONE_NEWNS) != 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return g_strdup_printf ("cannot enter a mount namespace of its own (needs root): %s",
                            g_strerror (errno));
  dir = g_dir_make_tmp ("chatd-tmpfs-probe-XXXXXX", &error);
  g_assert_no_error (error);
  if (mount ("chatd-test", dir, "tmpfs", 0, "size=1m") != 0)
    reason = g_strdup_printf ("cannot mount a tmpfs (needs root): %s", g_strerror (errno));
  else
    g_assert_cmpint (umount (dir), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  return reason;
}

static const char *
error_code (JsonObject *reply)
{
  if (json_object_get_boolean_member (reply, "ok"))
    return "";
  return json_object_get_string_member (json_object_get_object_member (reply, "error"), "code");
}

/* Sends on the server that leads now until it takes the write (a new leader may
 * still be settling its in-sync set). */
static void
send_until_taken (ChatTestCluster *cluster, guint *leader, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr (ChatTestConn) conn = NULL;
      g_autoptr (JsonObject) login = NULL, reply = NULL;
      *leader = chat_test_cluster_wait_leader (cluster, 5000);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (*leader == 0)
        continue;
      conn = chat_test_conn_new (chat_test_cluster_port (cluster, *leader));
      login = chat_test_rq (conn,
                            "{'id':1,'op':'login','username':'filler','password':'" PASSWORD "'}");
      if (json_object_get_boolean_member (login, "ok"))
        {
          reply = send_body (conn, "filler", "after the hand-over", n);
          if (json_object_get_boolean_member (reply, "ok"))
            return;
        }
      g_usleep (200 * 1000);
    }
}

/* The leader, once its hello says every server is in sync. */
static guint
wait_all_in_sync (ChatTestCluster *cluster)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      guint leader = chat_test_cluster_wait_leader (cluster, 10000);
      g_autoptr (ChatTestConn) conn = chat_test_conn_new (chat_test_cluster_port (cluster, leader));
      g_autoptr (JsonObject) hello = chat_test_ok (conn, "{'id':1,'op':'hello'}");
      JsonArray *servers = json_object_get_array_member (hello, "servers");
      guint in_sync = 0;

      for (guint i = 0; i < json_array_get_length (servers); i++)
        in_sync += json_object_get_boolean_member (json_array_get_object_element (servers, i),
                                                   "in_sync");
      if (in_sync == 3)
        return leader;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (200 * 1000);
    }
}

/* With an in-sync follower, a leader whose disk fills hands leadership over; the
 * cluster keeps taking writes and loses nothing acknowledged. */
static void
test_disk_full_hands_over (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (3, NULL);
  g_autoptr (ChatTestConn) conn = NULL;
  g_autofree char *filler = NULL;
  g_autoptr (JsonObject) refused = NULL;
  guint leader = 0, old_leader = 0, acknowledged = 0, n = 0;
  gint64 deadline = 0;

  for (guint node = 1; node <= 3; node++)
    mount_tmpfs (chat_test_cluster_state_dir (cluster, node));
  chat_test_cluster_set_option (cluster, "limits", "disk_reserve_bytes", "1048576");
  chat_test_cluster_start_all (cluster);
  old_leader = wait_all_in_sync (cluster);
  conn = chat_test_conn_new (chat_test_cluster_port (cluster, old_leader));
  g_free (chat_test_signup (conn, "filler", PASSWORD));
  for (n = 1; n <= 10; n++)
    {
      g_autoptr (JsonObject) reply = send_body (conn, "filler", "before the disk filled", n);
      g_assert_true (json_object_get_boolean_member (reply, "ok"));
      acknowledged++;
    }
  filler = g_build_filename (chat_test_cluster_state_dir (cluster, old_leader), "filler", NULL);
  fill (filler);
  refused = send_body (conn, "filler", "while full", n++);
  g_assert_true (g_str_equal (error_code (refused), "unavailable")
                 || g_str_equal (error_code (refused), "not_leader"));
  deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while ((leader = chat_test_cluster_wait_leader (cluster, 2000)) == old_leader || leader == 0)
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
  send_until_taken (cluster, &leader, n++);
  acknowledged++;
  {
    g_autoptr (ChatTestConn) reader = chat_test_conn_new (chat_test_cluster_port (cluster, leader));
    g_autoptr (JsonObject) login = chat_test_ok (
        reader, "{'id':1,'op':'login','username':'filler','password':'" PASSWORD "'}");
    g_assert_cmpuint (history_length (reader, "filler"), ==, acknowledged);
  }
  for (guint node = 1; node <= 3; node++)
    {
      chat_test_cluster_kill (cluster, node);
      g_assert_cmpint (umount (chat_test_cluster_state_dir (cluster, node)), ==, 0);
    }
}

int
main (int argc, char **argv)
{
  g_autofree char *unavailable = NULL;

  g_test_init (&argc, &argv, NULL);
  unavailable = tmpfs_unavailable ();
  if (unavailable != NULL)
    return chat_test_skip_all (unavailable);
  g_test_add_func ("/disk-full/refuse-serve-resume", test_disk_full);
  g_test_add_func ("/disk-full/hands-over", test_disk_full_hands_over);
  return g_test_run ();
}
