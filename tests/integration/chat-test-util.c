/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shorthands for integration tests. */
#include "chat-test-util.h"

#include <string.h>

static JsonObject *
rq_valist (ChatTestConn *conn, const char *format, va_list args)
{
  g_autofree char *line = g_strdup_vprintf (format, args);

  g_strdelimit (line, "'", '"');
  return chat_test_conn_request (conn, line);
}

JsonObject *
chat_test_rq (ChatTestConn *conn, const char *format, ...)
{
  va_list args;
  JsonObject *reply = NULL;

  va_start (args, format);
  reply = rq_valist (conn, format, args);
  va_end (args);
  return reply;
}

static void
assert_ok (JsonObject *reply)
{
  if (!json_object_get_boolean_member_with_default (reply, "ok", FALSE))
    {
      JsonObject *error = json_object_get_object_member (reply, "error");
      g_error ("Request failed: %s: %s", json_object_get_string_member (error, "code"),
               json_object_get_string_member (error, "message"));
    }
}

JsonObject *
chat_test_ok (ChatTestConn *conn, const char *format, ...)
{
  va_list args;
  JsonObject *reply = NULL;

  va_start (args, format);
  reply = rq_valist (conn, format, args);
  va_end (args);
  assert_ok (reply);
  return reply;
}

void
chat_test_assert_error (JsonObject *reply, const char *code)
{
  JsonObject *error = NULL;

  g_assert_false (json_object_get_boolean_member_with_default (reply, "ok", TRUE));
  error = json_object_get_object_member (reply, "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, code);
  g_assert_nonnull (json_object_get_string_member (error, "message"));
}

void
chat_test_fails (ChatTestConn *conn, const char *code, const char *format, ...)
{
  va_list args;
  g_autoptr (JsonObject) reply = NULL;

  va_start (args, format);
  reply = rq_valist (conn, format, args);
  va_end (args);
  chat_test_assert_error (reply, code);
}

char *
chat_test_signup (ChatTestConn *conn, const char *username, const char *password)
{
  g_autoptr (JsonObject) reply = chat_test_ok (
      conn, "{'id':'signup','op':'signup','username':'%s','password':'%s'}", username, password);
  const char *token = json_object_get_string_member (reply, "session");

  g_assert_cmpuint (strlen (token), ==, 64);
  g_assert_cmpstr (
      json_object_get_string_member (json_object_get_object_member (reply, "user"), "username"), ==,
      username);
  return g_strdup (token);
}

static JsonObject *
take_event (GPtrArray *events, const char *name)
{
  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (events, i);
      if (g_strcmp0 (json_object_get_string_member_with_default (event, "event", ""), name) == 0)
        return json_object_ref (event);
    }
  return NULL;
}

JsonObject *
chat_test_wait_event (ChatTestConn *conn, const char *name, guint timeout_ms)
{
  g_autoptr (GPtrArray) seen = chat_test_conn_take_events (conn);
  JsonObject *event = take_event (seen, name);
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  while (event == NULL && g_get_monotonic_time () < deadline)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      g_autoptr (JsonObject) next = chat_test_conn_read (conn, (guint)MAX (left_ms, 1));

      if (next == NULL)
        break;
      if (g_strcmp0 (json_object_get_string_member_with_default (next, "event", ""), name) == 0)
        event = g_steal_pointer (&next);
    }
  return event;
}

char *
chat_test_unique_name (const char *prefix)
{
  static guint counter;

  return g_strdup_printf ("%s%u", prefix, ++counter);
}

int
chat_test_skip_all (const char *reason)
{
  g_print ("1..0 # SKIP %s\n", reason);
  return 0;
}

void
chat_test_run_free (ChatTestRun *run)
{
  g_free (run->out);
  g_free (run->err);
  g_free (run);
}

ChatTestRun *
chat_test_run (GSubprocessLauncher *launcher, const char *const *argv, const char *input)
{
  g_autoptr (GSubprocessLauncher) own = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  ChatTestRun *run = g_new0 (ChatTestRun, 1);

  if (launcher == NULL)
    launcher = own
        = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                     | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, input != NULL ? input : "", NULL, &run->out, &run->err,
                                 &error);
  g_assert_no_error (error);
  run->status = g_subprocess_get_exit_status (process);
  return run;
}
