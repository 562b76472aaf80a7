/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A test process that dies of abort() leaves no chatd behind: every server tests/lib
 * starts dies with the process that started it, also when a thread that has ended
 * started it. */
#define G_LOG_DOMAIN "chatd-test"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <gio/gio.h>

#include "chat-fs.h"

#define GONE_WITHIN_MS 5000

/* Runs the helper to its abort(); its stdout. */
static char *
run_helper (const char *option)
{
  const char *helper = g_getenv ("CHATD_TEST_ABORT_HELPER");
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  char *out = NULL;

  g_assert_nonnull (helper);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, helper, option, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_signaled (process));
  g_assert_cmpint (g_subprocess_get_term_sig (process), ==, SIGABRT);
  return out;
}

static GArray *
parse_pids (const char *out)
{
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));

  for (guint i = 0; lines[i] != NULL; i++)
    {
      pid_t pid = 0;

      if (!g_str_has_prefix (lines[i], "pid "))
        continue;
      pid = (pid_t)atoi (lines[i] + 4);
      g_assert_cmpint (pid, >, 1);
      g_array_append_val (pids, pid);
    }
  return pids;
}

/* The orphaned servers are reparented to this process (a child subreaper), which reaps
 * them, so a dead one cannot linger as a zombie that kill(pid, 0) still finds. */
static gboolean
all_gone (GArray *pids)
{
  gboolean gone = TRUE;

  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
  for (guint i = 0; i < pids->len; i++)
    gone &= kill (g_array_index (pids, pid_t, i), 0) == -1 && errno == ESRCH;
  return gone;
}

/* Kills what is left (servers of this test, reparented to it) so a failure leaks nothing. */
static void
kill_left (GArray *pids)
{
  for (guint i = 0; i < pids->len; i++)
    {
      pid_t pid = g_array_index (pids, pid_t, i);

      if (kill (pid, SIGKILL) == 0)
        {
          g_test_message ("server %d outlived its test process", (int)pid);
          waitpid (pid, NULL, 0);
        }
    }
}

static void
check_no_server_left (const char *out)
{
  g_autoptr (GArray) pids = parse_pids (out);
  gint64 deadline = g_get_monotonic_time () + GONE_WITHIN_MS * 1000;
  gboolean gone = FALSE;

  g_assert_cmpuint (pids->len, ==, 3);
  while (!(gone = all_gone (pids)) && g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  if (!gone)
    kill_left (pids);
  g_assert_true (gone);
}

/* The helper's cluster directory, which its abort() left behind: removed once its
 * servers are gone. */
static void
remove_helper_dir (const char *out)
{
  const char *line = strstr (out, "\ndir ");
  g_autofree char *dir = NULL;

  g_assert_nonnull (line);
  dir = g_strndup (line + 5, strcspn (line + 5, "\n"));
  g_assert_true (g_str_has_prefix (dir, g_get_tmp_dir ()));
  chat_fs_remove_tree (dir);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

static void
test_abort (void)
{
  g_autofree char *out = run_helper (NULL);

  check_no_server_left (out);
  remove_helper_dir (out);
}

/* Started from a thread that ended (the chaos nemesis does that): the servers outlive the
 * thread, and still die with the process. */
static void
test_abort_after_thread (void)
{
  g_autofree char *out = run_helper ("--from-thread");

  g_assert_nonnull (strstr (out, "answer-after-thread yes\n"));
  check_no_server_left (out);
  remove_helper_dir (out);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 1), ==, 0);
  g_test_add_func ("/no-server-left/abort", test_abort);
  g_test_add_func ("/no-server-left/abort-after-thread", test_abort_after_thread);
  return g_test_run ();
}
