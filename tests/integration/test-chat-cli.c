/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chat-cli end to end against a real chatd: every command, --json, passwords, exit codes. */
#include "chat-test-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#define PASSWORD "correct horse"

static ChatTestCluster *cluster;
static char *tmp_dir;
static char *password_file;
static char *server_arg;
static char *alice, *bob;

static char *
cli_path (void)
{
  return g_build_filename (g_getenv ("CHATD_BUILD_ROOT"), "cli", "chat-cli", NULL);
}

static GSubprocessLauncher *
launcher_new (gboolean with_password, GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", tmp_dir, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "CHAT_USER");
  if (with_password)
    g_subprocess_launcher_setenv (launcher, "CHAT_PASSWORD", PASSWORD, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "CHAT_PASSWORD");
  return launcher;
}

/* Runs chat-cli --server S ARGS... with input on stdin; env password if asked. */
static ChatTestRun *
run_cli_full (gboolean with_password, const char *input, const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher
      = launcher_new (with_password, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                         | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  ChatTestRun *run = NULL;

  g_ptr_array_add (argv, cli_path ());
  /* The test cluster, unless the test names servers itself. */
  if (g_strcmp0 (args[0], "--server") != 0)
    g_ptr_array_add (argv, g_strdup (server_arg));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  run = chat_test_run (launcher, (const char *const *)argv->pdata, input);
  if (run->status != 0)
    g_test_message ("chat-cli exited %d: %s", run->status, run->err);
  return run;
}

#define RUN(...) run_cli_full (FALSE, NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define RUN_ENV(...) run_cli_full (TRUE, NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define RUN_IN(input, ...) run_cli_full (FALSE, input, (const char *const[]){ __VA_ARGS__, NULL })

static JsonObject *
json_line (const char *text, guint index)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (g_strv_length (lines), >, index);
  json_parser_load_from_data (parser, lines[index], -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static guint
count_lines (const char *text)
{
  guint n = 0;

  for (const char *p = text; *p != '\0'; p++)
    if (*p == '\n')
      n++;
  return n;
}

static void
assert_ok (ChatTestRun *run)
{
  g_assert_cmpint (run->status, ==, 0);
}

static void
test_signup (void)
{
  g_autoptr (ChatTestRun) a = RUN ("--user", alice, "--password-file", password_file, "signup");
  g_autoptr (ChatTestRun) b = RUN_ENV ("--user", bob, "signup", "--json");
  g_autoptr (ChatTestRun) none = RUN ("--user", "nopassword", "signup");
  g_autoptr (JsonObject) object = NULL;
  g_autofree char *key = g_ascii_strdown (alice, -1);
  g_autofree char *name = g_strdup_printf ("cli-session-%s", key);
  g_autofree char *session = g_build_filename (tmp_dir, "chatd", name, NULL);
  GStatBuf st;

  assert_ok (a);
  g_assert_nonnull (strstr (a->out, "Signed up as"));
  assert_ok (b);
  object = json_line (b->out, 0);
  g_assert_cmpstr (json_object_get_string_member (object, "user"), ==, bob);
  /* No password file, no variable, no terminal: a usage error. */
  g_assert_cmpint (none->status, ==, 2);
  g_assert_cmpint (g_stat (session, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

static void
test_status (void)
{
  g_autoptr (ChatTestRun) human = RUN ("status");
  g_autoptr (ChatTestRun) json = RUN ("status", "--json");
  g_autoptr (JsonObject) object = NULL;

  assert_ok (human);
  g_assert_nonnull (strstr (human->out, "leader"));
  g_assert_nonnull (strstr (human->out, "servers up"));
  assert_ok (json);
  object = json_line (json->out, 0);
  g_assert_cmpstr (json_object_get_string_member (object, "role"), ==, "leader");
}

static void
test_send_and_read (void)
{
  /* The stored sessions make passwords unnecessary from here on. */
  g_autoptr (ChatTestRun) send = RUN ("--user", alice, "send", bob, "hello", "there");
  g_autoptr (ChatTestRun) piped
      = RUN_IN ("from stdin\n", "--user", alice, "--json", "send", bob, "-");
  g_autoptr (ChatTestRun) count = RUN ("--user", bob, "--json", "count");
  g_autoptr (ChatTestRun) unread = RUN ("--user", bob, "unread", "--json");
  g_autoptr (ChatTestRun) after = RUN ("--user", bob, "count");
  g_autoptr (JsonObject) message = NULL;
  g_autoptr (JsonObject) counted = NULL;
  g_autoptr (JsonObject) first = NULL;

  assert_ok (send);
  g_assert_nonnull (strstr (send->out, "hello there"));
  assert_ok (piped);
  message = json_line (piped->out, 0);
  g_assert_cmpstr (json_object_get_string_member (message, "body"), ==, "from stdin");
  assert_ok (count);
  counted = json_line (count->out, 0);
  g_assert_cmpint (json_object_get_int_member (counted, "total"), ==, 2);
  assert_ok (unread);
  g_assert_cmpuint (count_lines (unread->out), ==, 2);
  first = json_line (unread->out, 0);
  g_assert_cmpstr (json_object_get_string_member (first, "body"), ==, "hello there");
  assert_ok (after);
  g_assert_nonnull (strstr (after->out, "0 unread"));
}

static void
test_history_and_lists (void)
{
  g_autoptr (ChatTestRun) history = RUN ("--user", alice, "--json", "history", bob, "--limit", "1");
  g_autoptr (ChatTestRun) full = RUN ("--user", alice, "history", bob);
  g_autoptr (ChatTestRun) conversations = RUN ("--user", bob, "--json", "conversations");
  g_autoptr (ChatTestRun) users = RUN ("--user", bob, "--json", "users", alice);
  g_autoptr (ChatTestRun) sync = RUN ("--user", bob, "--json", "sync");
  g_autoptr (JsonObject) more = NULL;
  g_autoptr (JsonObject) conversation = NULL;
  g_autoptr (JsonObject) user = NULL;

  assert_ok (history);
  g_assert_cmpuint (count_lines (history->out), ==, 2);
  more = json_line (history->out, 1);
  g_assert_true (json_object_get_boolean_member (more, "more"));
  assert_ok (full);
  g_assert_cmpuint (count_lines (full->out), ==, 2);
  assert_ok (conversations);
  conversation = json_line (conversations->out, 0);
  g_assert_cmpstr (json_object_get_string_member (conversation, "user"), ==, alice);
  assert_ok (users);
  user = json_line (users->out, 0);
  g_assert_cmpstr (json_object_get_string_member (user, "username"), ==, alice);
  assert_ok (sync);
  g_assert_cmpuint (count_lines (sync->out), >=, 3);
}

static gint64
send_id (const char *from, const char *to, const char *body)
{
  g_autoptr (ChatTestRun) send = RUN ("--user", from, "--json", "send", to, body);
  g_autoptr (JsonObject) message = NULL;

  assert_ok (send);
  message = json_line (send->out, 0);
  return json_object_get_int_member (message, "id");
}

static void
test_mark_read_and_delete (void)
{
  gint64 id = send_id (alice, bob, "mark me");
  g_autofree char *up_to = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autofree char *hash_id = g_strdup_printf ("#%" G_GINT64_FORMAT, id);
  g_autoptr (ChatTestRun) mark = RUN ("--user", bob, "--json", "mark-read", alice, up_to);
  g_autoptr (ChatTestRun) forbidden = RUN ("--user", bob, "delete", "--for-everyone", hash_id);
  g_autoptr (ChatTestRun) both
      = RUN ("--user", bob, "delete", "--for-me", "--for-everyone", hash_id);
  g_autoptr (ChatTestRun) del = RUN ("--user", bob, "--json", "delete", hash_id);
  g_autoptr (ChatTestRun) mine
      = RUN ("--user", alice, "--json", "delete", "--for-everyone", hash_id);
  g_autoptr (ChatTestRun) bad_id = RUN ("--user", bob, "delete", "abc");
  g_autoptr (JsonObject) marked = NULL;
  g_autoptr (JsonObject) hidden = NULL, deleted = NULL;

  assert_ok (mark);
  marked = json_line (mark->out, 0);
  g_assert_cmpint (json_object_get_int_member (marked, "marked"), ==, 1);
  /* bob received it: not his to delete for both. */
  g_assert_cmpint (forbidden->status, ==, 1);
  g_assert_nonnull (strstr (forbidden->err, "forbidden"));
  g_assert_cmpint (both->status, ==, 2);
  assert_ok (del);
  hidden = json_line (del->out, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (hidden, "deleted")), ==,
                    0);
  g_assert_cmpint (json_array_get_int_element (json_object_get_array_member (hidden, "hidden"), 0),
                   ==, id);
  assert_ok (mine);
  deleted = json_line (mine->out, 0);
  g_assert_cmpint (
      json_array_get_int_element (json_object_get_array_member (deleted, "deleted"), 0), ==, id);
  g_assert_cmpint (bad_id->status, ==, 2);
}

static void
test_watch (void)
{
  g_autoptr (GSubprocessLauncher) launcher = launcher_new (FALSE, G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *out_path = g_build_filename (tmp_dir, "watch.out", NULL);
  g_autofree char *cli = cli_path ();
  g_autoptr (GSubprocess) watch = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;

  g_subprocess_launcher_set_stdout_file_path (launcher, out_path);
  watch = g_subprocess_launcher_spawn (launcher, &error, cli, server_arg, "--user", bob, "--json",
                                       "watch", NULL);
  g_assert_no_error (error);
  /* Send until the watcher, once logged in, prints one. */
  while (g_get_monotonic_time () < deadline)
    {
      send_id (alice, bob, "live ping");
      g_usleep (300 * 1000);
      g_clear_pointer (&contents, g_free);
      if (g_file_get_contents (out_path, &contents, NULL, NULL)
          && strstr (contents, "live ping") != NULL)
        break;
    }
  g_assert_nonnull (contents);
  g_assert_nonnull (strstr (contents, "\"event\":\"message\""));
  g_subprocess_send_signal (watch, SIGTERM);
  g_subprocess_wait (watch, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (watch));
  g_assert_cmpint (g_subprocess_get_exit_status (watch), ==, 0);
}

static void
test_exit_codes (void)
{
  g_autoptr (ChatTestRun) no_user = RUN ("--user", alice, "send", "nobody-here", "x");
  g_autofree char *wrong_file = g_build_filename (tmp_dir, "wrong", NULL);
  g_autoptr (ChatTestRun) wrong = NULL;
  g_autoptr (ChatTestRun) unknown = RUN ("frobnicate");
  g_autoptr (ChatTestRun) missing = RUN ("--user", alice, "history");
  g_autoptr (ChatTestRun) help = RUN ("send", "--help");
  g_autoptr (ChatTestRun) down = run_cli_full (
      FALSE, NULL,
      (const char *const[]){ "--server", "127.0.0.1:1", "--timeout", "1", "status", NULL });

  g_assert_true (g_file_set_contents (wrong_file, "not the password", -1, NULL));
  wrong = RUN ("--user", alice, "--password-file", wrong_file, "login");
  g_assert_cmpint (no_user->status, ==, 1);
  g_assert_nonnull (strstr (no_user->err, "chat-cli: no_such_user: "));
  g_assert_cmpint (wrong->status, ==, 1);
  g_assert_nonnull (strstr (wrong->err, "chat-cli: bad_credentials: "));
  g_assert_cmpint (unknown->status, ==, 2);
  g_assert_cmpint (missing->status, ==, 2);
  assert_ok (help);
  g_assert_nonnull (strstr (help->out, "send USER"));
  g_assert_cmpint (down->status, ==, 3);
  g_assert_nonnull (strstr (down->err, "chat-cli: unavailable: "));
}

static void
test_logout_and_delete_account (void)
{
  g_autoptr (ChatTestRun) logout = RUN ("--user", bob, "logout");
  g_autoptr (ChatTestRun) again = RUN ("--user", bob, "count");
  g_autoptr (ChatTestRun) login = RUN_ENV ("--user", bob, "login");
  g_autoptr (ChatTestRun) refuse = RUN_IN ("", "--user", bob, "delete-account");
  g_autoptr (ChatTestRun) gone
      = RUN ("--user", bob, "--password-file", password_file, "delete-account");
  g_autoptr (ChatTestRun) after = RUN_ENV ("--user", bob, "login");

  assert_ok (logout);
  /* The session file is gone and there is no password: usage error. */
  g_assert_cmpint (again->status, ==, 2);
  assert_ok (login);
  g_assert_nonnull (strstr (login->out, "Logged in as"));
  g_assert_cmpint (refuse->status, ==, 2);
  assert_ok (gone);
  g_assert_cmpint (after->status, ==, 1);
  g_assert_nonnull (strstr (after->err, "bad_credentials"));
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status = 0;

  g_test_init (&argc, &argv, NULL);
  cluster = chat_test_cluster_new (1, NULL);
  chat_test_cluster_start_all (cluster);
  tmp_dir = g_dir_make_tmp ("chat-cli-XXXXXX", &error);
  g_assert_no_error (error);
  password_file = g_build_filename (tmp_dir, "password", NULL);
  g_file_set_contents (password_file, PASSWORD "\n", -1, &error);
  g_assert_no_error (error);
  server_arg = g_strdup_printf ("--server=127.0.0.1:%u", chat_test_cluster_port (cluster, 1));
  alice = g_strdup_printf ("alice%u", (guint)getpid () % 100000);
  bob = g_strdup_printf ("Bob%u", (guint)getpid () % 100000);

  g_test_add_func ("/chat-cli/signup", test_signup);
  g_test_add_func ("/chat-cli/status", test_status);
  g_test_add_func ("/chat-cli/send-and-read", test_send_and_read);
  g_test_add_func ("/chat-cli/history-and-lists", test_history_and_lists);
  g_test_add_func ("/chat-cli/mark-read-and-delete", test_mark_read_and_delete);
  g_test_add_func ("/chat-cli/watch", test_watch);
  g_test_add_func ("/chat-cli/exit-codes", test_exit_codes);
  g_test_add_func ("/chat-cli/logout-and-delete-account", test_logout_and_delete_account);
  status = g_test_run ();

  chat_test_cluster_free (cluster);
  {
    g_autofree char *command = g_strdup_printf ("rm -rf '%s'", tmp_dir);
    g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL);
  }
  g_free (tmp_dir);
  g_free (password_file);
  g_free (server_arg);
  g_free (alice);
  g_free (bob);
  return status;
}
