/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Malformed and hostile input on a real chatd: clear errors, no crash, limits that hold. */
#include "chat-test-util.h"

#include <string.h>

#define PASSWORD "correct horse"

static ChatTestCluster *cluster;

static ChatTestConn *
connect_leader (void)
{
  return chat_test_conn_new (chat_test_cluster_port (cluster, 1));
}

/* The connection still answers after bad input. */
static void
assert_usable (ChatTestConn *conn)
{
  g_autoptr (JsonObject) reply = chat_test_ok (conn, "{'id':'alive','op':'hello'}");

  g_assert_cmpstr (json_object_get_string_member (reply, "id"), ==, "alive");
}

static void
assert_raw_fails (ChatTestConn *conn, const void *data, gsize len, const char *code,
                  gboolean null_id)
{
  g_autoptr (JsonObject) reply = NULL;

  chat_test_conn_send_raw (conn, data, len);
  chat_test_conn_send_raw (conn, "\n", 1);
  reply = chat_test_conn_read (conn, 10000);
  g_assert_nonnull (reply);
  chat_test_assert_error (reply, code);
  if (null_id)
    g_assert_true (json_node_is_null (json_object_get_member (reply, "id")));
}

static void
test_invalid_json (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  const char *lines[] = { "{",  "not json", "{\"id\":1,\"op\":}",          "[1,2]", "\"text\"",
                          "42", "null",     "{\"id\":1 \"op\":\"hello\"}", "" };

  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    assert_raw_fails (conn, lines[i], strlen (lines[i]), "bad_request", TRUE);
  assert_usable (conn);
}

static void
test_wrong_types (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  g_autoptr (JsonObject) reply = NULL;

  chat_test_fails (conn, "bad_request", "{'id':1,'op':'hello','proto':'one'}");
  chat_test_fails (conn, "bad_request", "{'id':1,'op':42}");
  chat_test_fails (conn, "bad_request", "{'id':1}");
  chat_test_fails (conn, "bad_request", "{'id':1,'op':'fly_to_the_moon'}");
  chat_test_fails (conn, "bad_request", "{'id':1,'op':'signup','username':'abcdef'}");
  chat_test_fails (conn, "bad_request", "{'id':1,'op':'signup','username':5,'password':'x'}");
  chat_test_fails (conn, "bad_request", "{'id':1,'op':'login','username':'abc','password':[]}");
  reply = chat_test_rq (conn, "{'id':1.5,'op':'hello'}");
  chat_test_assert_error (reply, "bad_request");
  g_assert_true (json_node_is_null (json_object_get_member (reply, "id")));
  g_clear_pointer (&reply, json_object_unref);
  reply = chat_test_rq (conn, "{'id':-1,'op':'hello'}");
  chat_test_assert_error (reply, "bad_request");
  g_clear_pointer (&reply, json_object_unref);
  reply = chat_test_rq (conn, "{'id':'%065d','op':'hello'}", 0);
  chat_test_assert_error (reply, "bad_request");
  g_clear_pointer (&reply, json_object_unref);
  /* No id: the answer has "id": null. Unknown fields are ignored. */
  reply = chat_test_rq (conn, "{'op':'hello','future_field':{'x':[1,2]}}");
  g_assert_true (json_object_get_boolean_member (reply, "ok"));
  g_assert_true (json_node_is_null (json_object_get_member (reply, "id")));
  assert_usable (conn);
}

static void
test_bad_bytes (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  const char bad_utf8[] = "{\"id\":1,\"op\":\"hello\",\"client\":\"\xff\xfe\"}";
  const char nul[] = "{\"id\":1,\"op\":\"hello\",\"client\":\"a\0b\"}";
  g_autoptr (GString) deep = g_string_new ("{\"id\":1,\"op\":\"hello\",\"x\":");
  g_autoptr (GString) fine = NULL;
  g_autoptr (JsonObject) reply = NULL;

  assert_raw_fails (conn, bad_utf8, sizeof bad_utf8 - 1, "bad_request", TRUE);
  assert_raw_fails (conn, nul, sizeof nul - 1, "bad_request", TRUE);
  for (guint i = 0; i < 1000; i++)
    g_string_append_c (deep, '[');
  assert_raw_fails (conn, deep->str, deep->len, "bad_request", TRUE);
  /* Nesting up to the documented limit (16 levels, the object included) is fine. */
  fine = g_string_new ("{\"id\":2,\"op\":\"hello\",\"x\":");
  for (guint i = 0; i < 15; i++)
    g_string_append_c (fine, '[');
  for (guint i = 0; i < 15; i++)
    g_string_append_c (fine, ']');
  g_string_append (fine, "}");
  reply = chat_test_conn_request (conn, fine->str);
  g_assert_true (json_object_get_boolean_member (reply, "ok"));
  assert_usable (conn);
}

static void
test_oversize_line (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  gsize len = 70 * 1024;
  g_autofree char *line = g_malloc (len);
  g_autoptr (JsonObject) reply = NULL;

  memset (line, 'a', len);
  memcpy (line, "{\"id\":1,\"op\":\"hello\",\"client\":\"", 31);
  chat_test_conn_send_raw (conn, line, len);
  reply = chat_test_conn_read (conn, 10000);
  g_assert_nonnull (reply);
  chat_test_assert_error (reply, "too_large");
  g_assert_true (chat_test_conn_wait_closed (conn, 10000));
}

static void
test_bad_usernames (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  const char *names[] = {
    "ab", "a b", "-abc", ".abc", "abc!", "abcdefghijklmnopqrstuvwxyz0123456", "\\u00e9t\\u00e9", ""
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    chat_test_fails (conn, "invalid_username",
                     "{'id':1,'op':'signup','username':'%s','password':'" PASSWORD "'}", names[i]);
  chat_test_fails (conn, "bad_request",
                   "{'id':2,'op':'signup','username':'shortpw','password':'1234567'}");
  assert_usable (conn);
}

static void
test_bodies (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  g_autofree char *name = chat_test_unique_name ("body");
  g_autofree char *big = g_strnfill (16 * 1024 + 1, 'x');
  g_autofree char *max = g_strnfill (16 * 1024, 'y');
  g_autoptr (JsonObject) reply = NULL;

  g_free (chat_test_signup (conn, name, PASSWORD));
  chat_test_fails (conn, "bad_request",
                   "{'id':1,'op':'send','to':'%s','body':'','client_msg_id':'e'}", name);
  chat_test_fails (conn, "too_large",
                   "{'id':2,'op':'send','to':'%s','body':'%s','client_msg_id':'b'}", name, big);
  chat_test_fails (conn, "bad_request",
                   "{'id':3,'op':'send','to':'%s','body':7,'client_msg_id':'n'}", name);
  reply = chat_test_ok (conn, "{'id':4,'op':'send','to':'%s','body':'%s','client_msg_id':'m'}",
                        name, max);
  g_assert_cmpuint (strlen (json_object_get_string_member (
                        json_object_get_object_member (reply, "message"), "body")),
                    ==, 16 * 1024);
  chat_test_fails (conn, "bad_request", "{'id':5,'op':'read_unread','limit':0}");
  chat_test_fails (conn, "bad_request", "{'id':6,'op':'read_unread','limit':501}");
  chat_test_fails (conn, "too_large", "{'id':7,'op':'list_users','pattern':'%065d'}", 0);
}

static void
assert_fails_naming (ChatTestConn *conn, const char *field, const char *what, JsonObject *reply)
{
  g_autofree char *quoted = g_strdup_printf ("“%s”", field);
  const char *message = NULL;

  chat_test_assert_error (reply, "bad_request");
  message
      = json_object_get_string_member (json_object_get_object_member (reply, "error"), "message");
  g_assert_nonnull (strstr (message, quoted));
  g_assert_nonnull (strstr (message, what));
}

/* json-glib read "\u12" followed by "é" as one escape and stored invalid UTF-8, which the
 * server then wrote back to every reader of the conversation. */
static void
test_short_unicode_escape (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  g_autofree char *name = chat_test_unique_name ("short");
  g_autoptr (JsonObject) refused = NULL, history = NULL;

  g_free (chat_test_signup (conn, name, PASSWORD));
  refused = chat_test_rq (
      conn, "{'id':1,'op':'send','to':'%s','body':'\\u12\xc3\xa9','client_msg_id':'u'}", name);
  assert_fails_naming (conn, "body", "four hex digits", refused);
  history = chat_test_ok (conn, "{'id':2,'op':'history','with':'%s'}", name);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (history, "messages")), ==,
                    0);
}

/* Cases 1 and 4: escaped NULs, lone surrogates and numbers beyond 64 bits are refused
 * naming the field; nothing is stored, no account is made around the username rules. */
static void
test_escapes_and_ranges (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  g_autoptr (ChatTestConn) other = connect_leader ();
  g_autofree char *name = chat_test_unique_name ("esc");
  g_autoptr (JsonObject) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL, r5 = NULL, r6 = NULL;
  g_autoptr (JsonObject) r7 = NULL, r8 = NULL, history = NULL, login = NULL;

  g_free (chat_test_signup (conn, name, PASSWORD));
  r1 = chat_test_rq (
      conn, "{'id':1,'op':'send','to':'%s','body':'abc\\u0000def','client_msg_id':'n'}", name);
  assert_fails_naming (conn, "body", "NUL", r1);
  r2 = chat_test_rq (other,
                     "{'id':2,'op':'signup','username':'zed\\u0000abc','password':'" PASSWORD "'}");
  assert_fails_naming (other, "username", "NUL", r2);
  login = chat_test_rq (other, "{'id':3,'op':'login','username':'zed','password':'" PASSWORD "'}");
  chat_test_assert_error (login, "bad_credentials");
  r3 = chat_test_rq (
      conn, "{'id':4,'op':'send','to':'%s\\u0000zzz','body':'x','client_msg_id':'t'}", name);
  assert_fails_naming (conn, "to", "NUL", r3);
  r4 = chat_test_rq (conn, "{'id':5,'op':'send','to':'%s','body':'\\ud800','client_msg_id':'s'}",
                     name);
  assert_fails_naming (conn, "body", "surrogate", r4);
  r5 = chat_test_rq (conn, "{'id':6,'op':'history','with':'%s','before':-9223372036854775809}",
                     name);
  assert_fails_naming (conn, "before", "64 bits", r5);
  r6 = chat_test_rq (conn, "{'id':7,'op':'mark_read','with':'%s','up_to':-9223372036854775809}",
                     name);
  assert_fails_naming (conn, "up_to", "64 bits", r6);
  r7 = chat_test_rq (conn, "{'id':8,'op':'sync','after':-9223372036854775809}");
  assert_fails_naming (conn, "after", "64 bits", r7);
  r8 = chat_test_rq (conn, "{'id':9,'op':'read_unread','limit':0}");
  assert_fails_naming (conn, "limit", "from 1 to 500", r8);
  history = chat_test_ok (conn, "{'id':10,'op':'history','with':'%s'}", name);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (history, "messages")), ==,
                    0);
  assert_usable (conn);
}

static void
test_unauthenticated (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  const char *ops[] = { "logout",          "list_users",     "send",      "read_unread",
                        "history",         "conversations",  "mark_read", "unread_count",
                        "delete_messages", "delete_account", "sync" };

  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    chat_test_fails (conn, "unauthenticated", "{'id':%u,'op':'%s'}", i, ops[i]);
  chat_test_fails (conn, "unauthenticated", "{'id':1,'op':'resume','session':'nothex'}");
  assert_usable (conn);
}

static const char *
error_message (JsonObject *reply)
{
  return json_object_get_string_member (json_object_get_object_member (reply, "error"), "message");
}

static void
test_credentials_and_rate_limit (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  g_autofree char *name = chat_test_unique_name ("victim");
  g_autoptr (JsonObject) missing = NULL, wrong = NULL, limited = NULL;
  JsonObject *error = NULL;

  g_free (chat_test_signup (conn, name, PASSWORD));
  missing = chat_test_rq (
      conn, "{'id':1,'op':'login','username':'ghost%s','password':'" PASSWORD "'}", name);
  wrong = chat_test_rq (conn, "{'id':2,'op':'login','username':'%s','password':'badbadbad'}", name);
  chat_test_assert_error (missing, "bad_credentials");
  chat_test_assert_error (wrong, "bad_credentials");
  g_assert_cmpstr (error_message (missing), ==, error_message (wrong));
  /* The guesser backs off: a few more failures, then rate_limited for a time that
   * doubles. Waiting out the 1 s and 2 s periods leaves 4 s in which even the right
   * password is refused without being checked. */
  while (limited == NULL)
    {
      g_autoptr (JsonObject) reply = chat_test_rq (
          conn, "{'id':3,'op':'login','username':'%s','password':'badbadbad'}", name);
      gint64 retry = 0;
      g_assert_false (json_object_get_boolean_member (reply, "ok"));
      error = json_object_get_object_member (reply, "error");
      if (g_str_equal (json_object_get_string_member (error, "code"), "bad_credentials"))
        continue;
      chat_test_assert_error (reply, "rate_limited");
      retry = json_object_get_int_member (error, "retry_after_ms");
      g_assert_cmpint (retry, >, 0);
      g_assert_cmpint (retry, <=, 4000);
      if (retry > 2000)
        limited = g_steal_pointer (&reply);
      else
        g_usleep ((gulong)retry * 1000);
    }
  g_clear_pointer (&limited, json_object_unref);
  limited = chat_test_rq (conn, "{'id':4,'op':'login','username':'%s','password':'" PASSWORD "'}",
                          name);
  chat_test_assert_error (limited, "rate_limited");
  assert_usable (conn);
}

/* Case 2: five wrong logins from anyone made the owner's right password answer
 * rate_limited for a minute, in any letter case. The guesser now slows only itself. */
static void
test_guesser_does_not_lock_out_owner (void)
{
  g_autoptr (ChatTestConn) guesser = connect_leader ();
  g_autoptr (ChatTestConn) owner = NULL;
  g_autofree char *name = chat_test_unique_name ("owner");
  g_autofree char *upper = NULL;
  g_autoptr (JsonObject) login = NULL;
  guint limited = 0;

  g_free (chat_test_signup (guesser, name, PASSWORD));
  upper = g_ascii_strup (name, -1);
  for (guint i = 0; i < 8; i++)
    {
      g_autoptr (JsonObject) reply = chat_test_rq (
          guesser, "{'id':1,'op':'login','username':'%s','password':'badbadbad'}", upper);
      g_assert_false (json_object_get_boolean_member (reply, "ok"));
      if (g_str_equal (json_object_get_string_member (
                           json_object_get_object_member (reply, "error"), "code"),
                       "rate_limited"))
        limited++;
    }
  /* The guesser was slowed down... */
  g_assert_cmpuint (limited, >, 0);
  /* ...the owner, from another address, logs in at once in any letter case. */
  owner = chat_test_conn_new_from (chat_test_cluster_port (cluster, 1), "127.0.0.2");
  login = chat_test_ok (owner, "{'id':2,'op':'login','username':'%s','password':'" PASSWORD "'}",
                        upper);
  g_assert_true (json_object_has_member (login, "session"));
}

static void
test_partial_line_timeout (void)
{
  g_autoptr (ChatTestConn) idle = connect_leader ();
  g_autoptr (ChatTestConn) stalled = connect_leader ();
  const char half[] = "{\"id\":1,\"op\":\"hel";

  chat_test_conn_send_raw (stalled, half, sizeof half - 1);
  g_assert_true (chat_test_conn_wait_closed (stalled, 10000));
  /* A connection without a partial line may stay idle. */
  assert_usable (idle);
}

/* Case 3: a line growing by a byte at a time was never closed, each byte restarting
 * the timer. The deadline (1 s here) now counts from the line's first byte. */
static void
test_slowloris_deadline (void)
{
  g_autoptr (ChatTestConn) slow = connect_leader ();
  const char text[] = "{\"id\":1,\"op\":\"hello\",\"client\":\"slowly\"}";
  gint64 start = g_get_monotonic_time ();
  gboolean closed = FALSE;

  for (guint i = 0; i < sizeof text - 1 && !closed; i++)
    {
      chat_test_conn_send_raw (slow, text + i, 1);
      closed = chat_test_conn_wait_closed (slow, 200);
    }
  g_assert_true (closed);
  /* 1 s plus the timer's own slack; a byte every 200 ms would have lasted 9 s. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 4 * G_USEC_PER_SEC);
}

/* Case 3: unfinished lines of all connections share one budget; a connection whose
 * part of a line takes the total over it is closed, the others keep working. */
static void
test_partial_lines_budget (void)
{
  g_autoptr (ChatTestCluster) small = chat_test_cluster_new (1, NULL);
  g_autoptr (ChatTestConn) first = NULL, second = NULL, third = NULL;
  g_autofree char *part = g_strnfill (30 * 1024, 'a');
  const char head[] = "{\"id\":1,\"op\":\"hello\",\"padding\":\"";
  g_autoptr (JsonObject) reply = NULL;
  guint16 port = 0;

  chat_test_cluster_set_option (small, "limits", "partial_lines_budget_bytes", "65536");
  chat_test_cluster_start_all (small);
  port = chat_test_cluster_port (small, 1);
  first = chat_test_conn_new (port);
  second = chat_test_conn_new (port);
  third = chat_test_conn_new (port);
  chat_test_conn_send_raw (first, head, sizeof head - 1);
  chat_test_conn_send_raw (first, part, strlen (part));
  g_assert_false (chat_test_conn_wait_closed (first, 300));
  chat_test_conn_send_raw (second, head, sizeof head - 1);
  chat_test_conn_send_raw (second, part, strlen (part));
  g_assert_false (chat_test_conn_wait_closed (second, 300));
  /* 90 KiB would be held: the third goes. */
  chat_test_conn_send_raw (third, head, sizeof head - 1);
  chat_test_conn_send_raw (third, part, strlen (part));
  g_assert_true (chat_test_conn_wait_closed (third, 5000));
  /* The first finishes its line and is answered. */
  chat_test_conn_send_raw (first, "\"}\n", 3);
  reply = chat_test_conn_read (first, 10000);
  g_assert_nonnull (reply);
  g_assert_true (json_object_get_boolean_member (reply, "ok"));
}

static void
test_connection_limit (void)
{
  g_autoptr (ChatTestCluster) small = chat_test_cluster_new (1, NULL);
  g_autoptr (GPtrArray) conns
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_test_conn_free);
  guint16 port = 0;
  ChatTestConn *extra = NULL;

  chat_test_cluster_set_option (small, "limits", "max_connections", "5");
  chat_test_cluster_start_all (small);
  port = chat_test_cluster_port (small, 1);
  /* start_all's own hello connections are closed by now; let the server notice. */
  g_usleep (200 * 1000);
  for (guint i = 0; i < 5; i++)
    {
      g_ptr_array_add (conns, chat_test_conn_new (port));
      assert_usable (g_ptr_array_index (conns, i));
    }
  extra = chat_test_conn_new (port);
  g_assert_true (chat_test_conn_wait_closed (extra, 5000));
  chat_test_conn_free (extra);
  g_ptr_array_remove_index (conns, 0);
  g_usleep (200 * 1000);
  extra = chat_test_conn_new (port);
  assert_usable (extra);
  chat_test_conn_free (extra);
}

int
main (int argc, char **argv)
{
  int status = 0;

  g_test_init (&argc, &argv, NULL);
  cluster = chat_test_cluster_new (1, NULL);
  chat_test_cluster_set_option (cluster, "limits", "idle_line_timeout_s", "1");
  chat_test_cluster_start_all (cluster);
  g_test_add_func ("/bad-input/invalid-json", test_invalid_json);
  g_test_add_func ("/bad-input/wrong-types", test_wrong_types);
  g_test_add_func ("/bad-input/bad-bytes", test_bad_bytes);
  g_test_add_func ("/bad-input/oversize-line", test_oversize_line);
  g_test_add_func ("/bad-input/bad-usernames", test_bad_usernames);
  g_test_add_func ("/bad-input/bodies", test_bodies);
  g_test_add_func ("/bad-input/unauthenticated", test_unauthenticated);
  g_test_add_func ("/bad-input/escapes-and-ranges", test_escapes_and_ranges);
  g_test_add_func ("/bad-input/short-unicode-escape", test_short_unicode_escape);
  g_test_add_func ("/bad-input/credentials-rate-limit", test_credentials_and_rate_limit);
  g_test_add_func ("/bad-input/guesser-does-not-lock-out-owner",
                   test_guesser_does_not_lock_out_owner);
  g_test_add_func ("/bad-input/partial-line-timeout", test_partial_line_timeout);
  g_test_add_func ("/bad-input/slowloris-deadline", test_slowloris_deadline);
  g_test_add_func ("/bad-input/partial-lines-budget", test_partial_lines_budget);
  g_test_add_func ("/bad-input/connection-limit", test_connection_limit);
  status = g_test_run ();
  chat_test_cluster_free (cluster);
  return status;
}
