/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every operation of the client protocol end to end, on a real chatd, over raw sockets. */
#include "chat-test-util.h"

#include <string.h>

#define PASSWORD "correct horse"
#define EVENT_TIMEOUT_MS 5000

static ChatTestCluster *cluster;

static ChatTestConn *
connect_leader (void)
{
  return chat_test_conn_new (chat_test_cluster_port (cluster, 1));
}

/* A new connection with a new user signed up on it; *name gets the name. */
static ChatTestConn *
new_user (const char *prefix, char **name, char **token)
{
  ChatTestConn *conn = connect_leader ();
  g_autofree char *username = chat_test_unique_name (prefix);
  g_autofree char *session = chat_test_signup (conn, username, PASSWORD);

  if (name != NULL)
    *name = g_steal_pointer (&username);
  if (token != NULL)
    *token = g_steal_pointer (&session);
  return conn;
}

static ChatTestConn *
login (const char *name)
{
  ChatTestConn *conn = connect_leader ();
  g_autoptr (JsonObject) reply G_GNUC_UNUSED = chat_test_ok (
      conn, "{'id':1,'op':'login','username':'%s','password':'" PASSWORD "'}", name);

  return conn;
}

static JsonObject *
send_message (ChatTestConn *conn, const char *to, const char *body)
{
  g_autofree char *cmid = chat_test_unique_name ("m");
  g_autoptr (JsonObject) reply = chat_test_ok (
      conn, "{'id':'s','op':'send','to':'%s','body':'%s','client_msg_id':'%s'}", to, body, cmid);

  return json_object_ref (json_object_get_object_member (reply, "message"));
}

static gint64
seq_of (JsonObject *message)
{
  return json_object_get_int_member (message, "seq");
}

static void
test_hello (void)
{
  g_autoptr (ChatTestConn) conn = connect_leader ();
  g_autoptr (JsonObject) reply
      = chat_test_ok (conn, "{'id':7,'op':'hello','client':'test','proto':1}");
  g_autofree char *node = g_strdup_printf ("127.0.0.1:%u", chat_test_cluster_port (cluster, 1));
  JsonArray *servers = json_object_get_array_member (reply, "servers");
  JsonObject *me = json_array_get_object_element (servers, 0);

  g_assert_cmpint (json_object_get_int_member (reply, "id"), ==, 7);
  g_assert_cmpint (json_object_get_int_member (reply, "proto"), ==, 1);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (reply, "server"), "chatd "));
  g_assert_cmpstr (json_object_get_string_member (reply, "node"), ==, node);
  g_assert_cmpstr (json_object_get_string_member (reply, "role"), ==, "leader");
  g_assert_cmpstr (json_object_get_string_member (reply, "leader"), ==, node);
  g_assert_cmpint (json_object_get_int_member (reply, "term"), >=, 1);
  g_assert_cmpuint (json_array_get_length (servers), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (me, "address"), ==, node);
  g_assert_cmpstr (json_object_get_string_member (me, "state"), ==, "leader");
  g_assert_true (json_object_get_boolean_member (me, "in_sync"));
}

/* Seed: account creation and authentication. */
static void
test_signup_login (void)
{
  g_autofree char *name = NULL;
  g_autoptr (ChatTestConn) first G_GNUC_UNUSED = new_user ("auth", &name, NULL);
  g_autoptr (ChatTestConn) second = connect_leader ();
  g_autoptr (JsonObject) reply = NULL;
  g_autofree char *upper = g_ascii_strup (name, -1);

  chat_test_fails (second, "username_taken",
                   "{'id':1,'op':'signup','username':'%s','password':'" PASSWORD "'}", upper);
  chat_test_fails (second, "bad_credentials",
                   "{'id':2,'op':'login','username':'%s','password':'wrong password'}", name);
  chat_test_fails (second, "bad_credentials",
                   "{'id':3,'op':'login','username':'nobody%s','password':'" PASSWORD "'}", name);
  chat_test_fails (second, "unauthenticated", "{'id':4,'op':'unread_count'}");
  reply = chat_test_ok (second, "{'id':5,'op':'login','username':'%s','password':'" PASSWORD "'}",
                        upper);
  g_assert_cmpuint (strlen (json_object_get_string_member (reply, "session")), ==, 64);
  g_assert_cmpstr (
      json_object_get_string_member (json_object_get_object_member (reply, "user"), "username"), ==,
      name);
  g_assert_cmpint (json_object_get_int_member (reply, "unread"), ==, 0);
  g_clear_pointer (&reply, json_object_unref);
  reply = chat_test_ok (second, "{'id':6,'op':'unread_count'}");
  g_assert_cmpint (json_object_get_int_member (reply, "total"), ==, 0);
}

static void
test_resume_logout (void)
{
  g_autofree char *name = NULL, *token = NULL;
  g_autoptr (ChatTestConn) first = new_user ("resume", &name, &token);
  g_autoptr (ChatTestConn) second = connect_leader ();
  g_autoptr (JsonObject) reply = NULL;
  g_autoptr (JsonObject) ended = NULL;

  reply = chat_test_ok (second, "{'id':1,'op':'resume','session':'%s'}", token);
  g_assert_cmpstr (
      json_object_get_string_member (json_object_get_object_member (reply, "user"), "username"), ==,
      name);
  g_assert_true (json_object_has_member (reply, "unread"));
  chat_test_fails (second, "unauthenticated", "{'id':2,'op':'resume','session':'%064d'}", 0);
  json_object_unref (chat_test_ok (second, "{'id':3,'op':'unread_count'}"));

  json_object_unref (chat_test_ok (first, "{'id':4,'op':'logout'}"));
  ended = chat_test_wait_event (first, "session_ended", EVENT_TIMEOUT_MS);
  g_assert_nonnull (ended);
  g_assert_cmpstr (json_object_get_string_member (ended, "reason"), ==, "logout");
  g_clear_pointer (&ended, json_object_unref);
  ended = chat_test_wait_event (second, "session_ended", EVENT_TIMEOUT_MS);
  g_assert_nonnull (ended);
  chat_test_fails (first, "unauthenticated", "{'id':5,'op':'unread_count'}");
  chat_test_fails (second, "unauthenticated", "{'id':6,'op':'conversations'}");
  chat_test_fails (second, "unauthenticated", "{'id':7,'op':'resume','session':'%s'}", token);
}

static void
assert_users (JsonObject *reply, const char *const *expected, gboolean more)
{
  JsonArray *users = json_object_get_array_member (reply, "users");

  g_assert_cmpuint (json_array_get_length (users), ==, g_strv_length ((GStrv)expected));
  for (guint i = 0; expected[i] != NULL; i++)
    {
      JsonObject *user = json_array_get_object_element (users, i);
      g_assert_cmpstr (json_object_get_string_member (user, "username"), ==, expected[i]);
    }
  g_assert_cmpint (json_object_get_boolean_member (reply, "more"), ==, more);
}

static JsonObject *
list (ChatTestConn *conn, const char *pattern, const char *extra)
{
  return chat_test_ok (conn, "{'id':1,'op':'list_users','pattern':'%s'%s}", pattern, extra);
}

/* Seed: account search. */
static void
test_list_users (void)
{
  g_autofree char *p = chat_test_unique_name ("zq");
  g_autofree char *albert = g_strconcat (p, "Albert", NULL);
  g_autofree char *alice = g_strconcat (p, "alice", NULL);
  g_autofree char *anne = g_strconcat (p, "anne", NULL);
  g_autofree char *bob = g_strconcat (p, "bob", NULL);
  const char *everyone[] = { albert, alice, anne, bob, NULL };
  const char *a_names[] = { albert, alice, anne, NULL };
  const char *only_alice[] = { alice, NULL };
  const char *page1[] = { albert, alice, NULL }, *page2[] = { anne, bob, NULL };
  g_autoptr (ChatTestConn) conn = connect_leader ();
  g_autofree char *pattern = NULL, *after = NULL, *searcher = NULL;
  JsonObject *reply = NULL;

  for (guint i = 0; everyone[i] != NULL; i++)
    {
      g_autoptr (ChatTestConn) other = connect_leader ();
      g_free (chat_test_signup (other, everyone[i], PASSWORD));
    }
  searcher = chat_test_unique_name ("searcher");
  g_free (chat_test_signup (conn, searcher, PASSWORD));
  reply = list (conn, p, ""); /* no wildcard: a substring */
  assert_users (reply, everyone, FALSE);
  json_object_unref (reply);
  pattern = g_strconcat ("*", p, "A*", NULL);
  reply = list (conn, pattern, "");
  assert_users (reply, a_names, FALSE);
  json_object_unref (reply);
  g_free (pattern);
  pattern = g_strconcat (p, "A?ICE", NULL);
  reply = list (conn, pattern, "");
  assert_users (reply, only_alice, FALSE);
  json_object_unref (reply);
  reply = list (conn, p, ",'limit':2");
  assert_users (reply, page1, TRUE);
  json_object_unref (reply);
  after = g_strdup_printf (",'limit':2,'after':'%s'", alice);
  reply = list (conn, p, after);
  assert_users (reply, page2, FALSE);
  json_object_unref (reply);
  reply = list (conn, "*", ",'limit':500");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (reply, "users")), >=, 5);
  json_object_unref (reply);
}

static void
assert_message (JsonObject *message, const char *from, const char *to, const char *body)
{
  g_assert_cmpstr (json_object_get_string_member (message, "from"), ==, from);
  g_assert_cmpstr (json_object_get_string_member (message, "to"), ==, to);
  g_assert_cmpstr (json_object_get_string_member (message, "body"), ==, body);
  g_assert_cmpint (json_object_get_int_member (message, "id"), ==, seq_of (message));
  g_assert_cmpint (json_object_get_int_member (message, "sent_at"), >, 1600000000000);
  g_assert_true (json_object_has_member (message, "read"));
}

static void
assert_message_event (ChatTestConn *conn, gint64 id)
{
  g_autoptr (JsonObject) event = chat_test_wait_event (conn, "message", EVENT_TIMEOUT_MS);

  g_assert_nonnull (event);
  g_assert_cmpint (
      json_object_get_int_member (json_object_get_object_member (event, "message"), "id"), ==, id);
}

/* Seed: message delivery and viewing. */
static void
test_send_events (void)
{
  g_autofree char *alice = NULL, *bob = NULL;
  g_autoptr (ChatTestConn) a1 = new_user ("sa", &alice, NULL);
  g_autoptr (ChatTestConn) b1 = new_user ("sb", &bob, NULL);
  g_autoptr (ChatTestConn) b2 = login (bob);
  g_autoptr (ChatTestConn) a2 = login (alice);
  g_autoptr (JsonObject) message = send_message (a1, bob, "hello bob");
  g_autoptr (JsonObject) stray = NULL;
  g_autoptr (JsonObject) history = NULL;

  assert_message (message, alice, bob, "hello bob");
  g_assert_false (json_object_get_boolean_member (message, "read"));
  assert_message_event (b1, seq_of (message));
  assert_message_event (b2, seq_of (message));
  assert_message_event (a2, seq_of (message));
  /* The sending connection has its response; it gets no event. */
  stray = chat_test_conn_read (a1, 300);
  g_assert_null (stray);
  history = chat_test_ok (b1, "{'id':2,'op':'history','with':'%s'}", alice);
  assert_message (
      json_array_get_object_element (json_object_get_array_member (history, "messages"), 0), alice,
      bob, "hello bob");
}

static void
test_send_errors (void)
{
  g_autofree char *name = NULL;
  g_autoptr (ChatTestConn) conn = new_user ("se", &name, NULL);

  chat_test_fails (conn, "no_such_user",
                   "{'id':1,'op':'send','to':'ghost%s','body':'x','client_msg_id':'c1'}", name);
  chat_test_fails (conn, "bad_request",
                   "{'id':2,'op':'send','to':'%s','body':'','client_msg_id':'c2'}", name);
  chat_test_fails (conn, "bad_request",
                   "{'id':3,'op':'send','to':'%s','body':'x','client_msg_id':''}", name);
  chat_test_fails (conn, "too_large",
                   "{'id':4,'op':'send','to':'%s','body':'x','client_msg_id':'%065d'}", name, 1);
}

static void
test_idempotent_send (void)
{
  g_autofree char *alice = NULL, *bob = NULL;
  g_autoptr (ChatTestConn) a = new_user ("ia", &alice, NULL);
  g_autoptr (ChatTestConn) b = new_user ("ib", &bob, NULL);
  g_autoptr (JsonObject) first = chat_test_ok (
      a, "{'id':1,'op':'send','to':'%s','body':'once','client_msg_id':'retry-1'}", bob);
  g_autoptr (JsonObject) again = chat_test_ok (
      a, "{'id':2,'op':'send','to':'%s','body':'changed','client_msg_id':'retry-1'}", bob);
  g_autoptr (JsonObject) history = NULL;
  JsonObject *m1 = json_object_get_object_member (first, "message");
  JsonObject *m2 = json_object_get_object_member (again, "message");

  g_assert_cmpint (seq_of (m1), ==, seq_of (m2));
  g_assert_cmpstr (json_object_get_string_member (m2, "body"), ==, "once");
  history = chat_test_ok (b, "{'id':3,'op':'history','with':'%s'}", alice);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (history, "messages")), ==,
                    1);
}

static JsonArray *
messages_of (JsonObject *reply)
{
  return json_object_get_array_member (reply, "messages");
}

static void
test_read_unread (void)
{
  g_autofree char *alice = NULL, *bob = NULL;
  g_autoptr (ChatTestConn) a = new_user ("ra", &alice, NULL);
  g_autoptr (ChatTestConn) b = new_user ("rb", &bob, NULL);
  g_autoptr (JsonObject) m1 = send_message (a, bob, "one");
  g_autoptr (JsonObject) m2 = send_message (a, bob, "two");
  g_autoptr (JsonObject) m3 = send_message (a, bob, "three");
  g_autoptr (JsonObject) first = chat_test_ok (b, "{'id':1,'op':'read_unread','limit':2}");
  g_autoptr (JsonObject) count = chat_test_ok (b, "{'id':2,'op':'unread_count'}");
  g_autoptr (JsonObject) rest = chat_test_ok (b, "{'id':3,'op':'read_unread'}");
  g_autoptr (JsonObject) none = chat_test_ok (b, "{'id':4,'op':'read_unread'}");
  JsonObject *oldest = json_array_get_object_element (messages_of (first), 0);

  g_assert_cmpuint (json_array_get_length (messages_of (first)), ==, 2);
  g_assert_cmpint (seq_of (oldest), ==, seq_of (m1));
  g_assert_true (json_object_get_boolean_member (oldest, "read"));
  g_assert_cmpint (seq_of (json_array_get_object_element (messages_of (first), 1)), ==,
                   seq_of (m2));
  g_assert_cmpint (json_object_get_int_member (count, "total"), ==, 1);
  g_assert_cmpuint (json_array_get_length (messages_of (rest)), ==, 1);
  g_assert_cmpint (seq_of (json_array_get_object_element (messages_of (rest), 0)), ==, seq_of (m3));
  g_assert_cmpuint (json_array_get_length (messages_of (none)), ==, 0);
}

static void
test_history_paging (void)
{
  g_autofree char *alice = NULL, *bob = NULL;
  g_autoptr (ChatTestConn) a = new_user ("ha", &alice, NULL);
  g_autoptr (ChatTestConn) b = new_user ("hb", &bob, NULL);
  gint64 seqs[5];
  g_autoptr (JsonObject) page1 = NULL;
  g_autoptr (JsonObject) page2 = NULL;
  g_autoptr (JsonObject) page3 = NULL;

  for (guint i = 0; i < 5; i++)
    {
      g_autoptr (JsonObject) m = send_message (i % 2 ? b : a, i % 2 ? alice : bob, "hi");
      seqs[i] = seq_of (m);
    }
  page1 = chat_test_ok (a, "{'id':1,'op':'history','with':'%s','limit':2}", bob);
  g_assert_cmpuint (json_array_get_length (messages_of (page1)), ==, 2);
  g_assert_cmpint (seq_of (json_array_get_object_element (messages_of (page1), 0)), ==, seqs[3]);
  g_assert_cmpint (seq_of (json_array_get_object_element (messages_of (page1), 1)), ==, seqs[4]);
  g_assert_true (json_object_get_boolean_member (page1, "more"));
  page2 = chat_test_ok (
      a, "{'id':2,'op':'history','with':'%s','limit':2,'before':%" G_GINT64_FORMAT "}", bob,
      seqs[3]);
  g_assert_cmpint (seq_of (json_array_get_object_element (messages_of (page2), 0)), ==, seqs[1]);
  g_assert_true (json_object_get_boolean_member (page2, "more"));
  page3 = chat_test_ok (
      a, "{'id':3,'op':'history','with':'%s','limit':2,'before':%" G_GINT64_FORMAT "}", bob,
      seqs[1]);
  g_assert_cmpuint (json_array_get_length (messages_of (page3)), ==, 1);
  g_assert_cmpint (seq_of (json_array_get_object_element (messages_of (page3), 0)), ==, seqs[0]);
  g_assert_false (json_object_get_boolean_member (page3, "more"));
  chat_test_fails (a, "no_such_user", "{'id':4,'op':'history','with':'nobody%s'}", bob);
}

static void
test_conversations (void)
{
  g_autofree char *carol = NULL, *dave = NULL, *erin = NULL;
  g_autoptr (ChatTestConn) c = new_user ("ca", &carol, NULL);
  g_autoptr (ChatTestConn) d = new_user ("cd", &dave, NULL);
  g_autoptr (ChatTestConn) e = new_user ("ce", &erin, NULL);
  g_autoptr (JsonObject) m1 G_GNUC_UNUSED = send_message (d, carol, "from dave");
  g_autoptr (JsonObject) m2 = send_message (d, carol, "again dave");
  g_autoptr (JsonObject) m3 = send_message (e, carol, "from erin");
  g_autoptr (JsonObject) reply = chat_test_ok (c, "{'id':1,'op':'conversations'}");
  JsonArray *list = json_object_get_array_member (reply, "conversations");
  JsonObject *newest = json_array_get_object_element (list, 0);
  JsonObject *older = json_array_get_object_element (list, 1);

  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (newest, "user"), ==, erin);
  g_assert_cmpint (json_object_get_int_member (newest, "unread"), ==, 1);
  g_assert_cmpint (seq_of (json_object_get_object_member (newest, "last_message")), ==,
                   seq_of (m3));
  g_assert_cmpstr (json_object_get_string_member (older, "user"), ==, dave);
  g_assert_cmpint (json_object_get_int_member (older, "unread"), ==, 2);
  g_assert_cmpint (seq_of (json_object_get_object_member (older, "last_message")), ==, seq_of (m2));
}

static void
test_mark_read (void)
{
  g_autofree char *erin = NULL, *frank = NULL;
  g_autoptr (ChatTestConn) e = new_user ("me", &erin, NULL);
  g_autoptr (ChatTestConn) f = new_user ("mf", &frank, NULL);
  g_autoptr (JsonObject) m1 G_GNUC_UNUSED = send_message (e, frank, "1");
  g_autoptr (JsonObject) m2 = send_message (e, frank, "2");
  g_autoptr (JsonObject) m3 = send_message (e, frank, "3");
  g_autoptr (JsonObject) reply = NULL;
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (JsonObject) count = NULL;
  JsonObject *by_user = NULL;

  reply = chat_test_ok (f, "{'id':1,'op':'mark_read','with':'%s','up_to':%" G_GINT64_FORMAT "}",
                        erin, seq_of (m2));
  g_assert_cmpint (json_object_get_int_member (reply, "marked"), ==, 2);
  event = chat_test_wait_event (e, "read", EVENT_TIMEOUT_MS);
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "by"), ==, frank);
  g_assert_cmpstr (json_object_get_string_member (event, "with"), ==, erin);
  g_assert_cmpint (json_object_get_int_member (event, "up_to"), ==, seq_of (m2));
  g_assert_cmpint (json_object_get_int_member (event, "seq"), >, seq_of (m3));
  count = chat_test_ok (f, "{'id':2,'op':'unread_count'}");
  g_assert_cmpint (json_object_get_int_member (count, "total"), ==, 1);
  by_user = json_object_get_object_member (count, "by_user");
  g_assert_cmpint (json_object_get_int_member (by_user, erin), ==, 1);
  chat_test_fails (f, "no_such_user", "{'id':3,'op':'mark_read','with':'x%s','up_to':1}", erin);
  chat_test_fails (f, "bad_request", "{'id':4,'op':'mark_read','with':'%s'}", erin);
}

/* Seed: message deletion. */
static void
test_delete_messages (void)
{
  g_autofree char *gail = NULL, *hugo = NULL, *ivy = NULL;
  g_autoptr (ChatTestConn) g = new_user ("dg", &gail, NULL);
  g_autoptr (ChatTestConn) h = new_user ("dh", &hugo, NULL);
  g_autoptr (ChatTestConn) i = new_user ("di", &ivy, NULL);
  g_autoptr (JsonObject) m1 = send_message (g, hugo, "keep");
  g_autoptr (JsonObject) m2 = send_message (h, gail, "delete me");
  g_autoptr (JsonObject) other = send_message (i, hugo, "not yours");
  g_autoptr (JsonObject) reply = NULL;
  g_autoptr (JsonObject) event_g = NULL;
  g_autoptr (JsonObject) event_h = NULL;
  g_autoptr (JsonObject) history = NULL;
  JsonArray *deleted = NULL, *hidden = NULL;

  /* gail received m2: she may hide it for herself, not delete it for hugo. */
  chat_test_fails (g, "forbidden",
                   "{'id':1,'op':'delete_messages','scope':'everyone','ids':[%" G_GINT64_FORMAT
                   "]}",
                   seq_of (m2));
  reply = chat_test_ok (g,
                        "{'id':1,'op':'delete_messages','ids':[%" G_GINT64_FORMAT
                        ",%" G_GINT64_FORMAT ",999999999]}",
                        seq_of (m2), seq_of (other));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (reply, "deleted")), ==, 0);
  hidden = json_object_get_array_member (reply, "hidden");
  g_assert_cmpuint (json_array_get_length (hidden), ==, 1);
  g_assert_cmpint (json_array_get_int_element (hidden, 0), ==, seq_of (m2));
  event_g = chat_test_wait_event (g, "deleted", EVENT_TIMEOUT_MS);
  g_assert_nonnull (event_g);
  g_assert_cmpstr (json_object_get_string_member (event_g, "scope"), ==, "me");
  history = chat_test_ok (h, "{'id':2,'op':'history','with':'%s'}", gail);
  g_assert_cmpuint (json_array_get_length (messages_of (history)), ==, 2);
  g_clear_pointer (&history, json_object_unref);
  history = chat_test_ok (g, "{'id':2,'op':'history','with':'%s'}", hugo);
  g_assert_cmpuint (json_array_get_length (messages_of (history)), ==, 1);
  g_clear_pointer (&history, json_object_unref);
  g_clear_pointer (&reply, json_object_unref);

  /* hugo sent m2: he deletes it for everyone, and both hear of it. */
  reply = chat_test_ok (h, "{'id':3,'op':'delete_messages','ids':[%" G_GINT64_FORMAT "]}",
                        seq_of (m2));
  deleted = json_object_get_array_member (reply, "deleted");
  g_assert_cmpuint (json_array_get_length (deleted), ==, 1);
  g_assert_cmpint (json_array_get_int_element (deleted, 0), ==, seq_of (m2));
  event_h = chat_test_wait_event (h, "deleted", EVENT_TIMEOUT_MS);
  g_assert_nonnull (event_h);
  g_assert_cmpstr (json_object_get_string_member (event_h, "scope"), ==, "everyone");
  g_assert_cmpint (json_array_get_int_element (json_object_get_array_member (event_h, "ids"), 0),
                   ==, seq_of (m2));
  history = chat_test_ok (h, "{'id':4,'op':'history','with':'%s'}", gail);
  g_assert_cmpuint (json_array_get_length (messages_of (history)), ==, 1);
  g_assert_cmpint (seq_of (json_array_get_object_element (messages_of (history), 0)), ==,
                   seq_of (m1));
  chat_test_fails (g, "bad_request", "{'id':3,'op':'delete_messages','ids':['x']}");
  chat_test_fails (g, "bad_request", "{'id':4,'op':'delete_messages'}");
  chat_test_fails (g, "bad_request", "{'id':5,'op':'delete_messages','ids':[1],'scope':'all'}");
}

/* Seed: account deletion. */
static void
test_delete_account (void)
{
  g_autofree char *gina = NULL, *hank = NULL;
  g_autoptr (ChatTestConn) g1 = new_user ("xg", &gina, NULL);
  g_autoptr (ChatTestConn) h = new_user ("xh", &hank, NULL);
  g_autoptr (ChatTestConn) g2 = login (gina);
  g_autoptr (JsonObject) m1 G_GNUC_UNUSED = send_message (g1, hank, "from gina");
  g_autoptr (JsonObject) m2 G_GNUC_UNUSED = send_message (h, gina, "to gina");
  g_autoptr (JsonObject) ended1 = NULL, ended2 = NULL, gone = NULL, count = NULL;
  g_autoptr (ChatTestConn) again = connect_leader ();

  chat_test_fails (g1, "bad_credentials", "{'id':1,'op':'delete_account','password':'not it!'}");
  json_object_unref (chat_test_ok (g1, "{'id':2,'op':'delete_account','password':'" PASSWORD "'}"));
  ended1 = chat_test_wait_event (g1, "session_ended", EVENT_TIMEOUT_MS);
  ended2 = chat_test_wait_event (g2, "session_ended", EVENT_TIMEOUT_MS);
  g_assert_nonnull (ended1);
  g_assert_nonnull (ended2);
  g_assert_cmpstr (json_object_get_string_member (ended1, "reason"), ==, "account_deleted");
  gone = chat_test_wait_event (h, "account_deleted", EVENT_TIMEOUT_MS);
  g_assert_nonnull (gone);
  g_assert_cmpstr (json_object_get_string_member (gone, "user"), ==, gina);
  chat_test_fails (g2, "unauthenticated", "{'id':3,'op':'unread_count'}");
  chat_test_fails (again, "bad_credentials",
                   "{'id':4,'op':'login','username':'%s','password':'" PASSWORD "'}", gina);
  count = chat_test_ok (h, "{'id':5,'op':'unread_count'}");
  g_assert_cmpint (json_object_get_int_member (count, "total"), ==, 0);
  chat_test_fails (h, "no_such_user", "{'id':6,'op':'history','with':'%s'}", gina);
  /* The name is free again. */
  g_free (chat_test_signup (again, gina, PASSWORD));
}

static void
test_sync (void)
{
  g_autofree char *jo = NULL, *kim = NULL;
  g_autoptr (ChatTestConn) j = new_user ("yj", &jo, NULL);
  g_autoptr (ChatTestConn) k = new_user ("yk", &kim, NULL);
  g_autoptr (JsonObject) first = send_message (j, kim, "0");
  gint64 after = seq_of (first) - 1;
  guint total = 0, pages = 0;
  gboolean more = TRUE;

  for (guint i = 1; i < 5; i++)
    json_object_unref (send_message (i % 2 ? k : j, i % 2 ? jo : kim, "n"));
  while (more)
    {
      g_autoptr (JsonObject) page
          = chat_test_ok (k, "{'id':1,'op':'sync','after':%" G_GINT64_FORMAT ",'limit':2}", after);

      total += json_array_get_length (messages_of (page));
      more = json_object_get_boolean_member (page, "more");
      g_assert_true (json_object_has_member (page, "deleted"));
      g_assert_true (json_object_has_member (page, "read"));
      g_assert_cmpint (json_object_get_int_member (page, "seq"), >=, after);
      after = json_object_get_int_member (page, "seq");
      g_assert_cmpuint (++pages, <=, 4);
    }
  g_assert_cmpuint (total, ==, 5);
  json_object_unref (chat_test_ok (
      j, "{'id':2,'op':'delete_messages','ids':[%" G_GINT64_FORMAT "]}", seq_of (first)));
  {
    g_autoptr (JsonObject) page
        = chat_test_ok (k, "{'id':3,'op':'sync','after':%" G_GINT64_FORMAT "}", after);
    JsonArray *deleted = json_object_get_array_member (page, "deleted");

    g_assert_cmpuint (json_array_get_length (deleted), ==, 1);
    g_assert_cmpint (json_array_get_int_element (deleted, 0), ==, seq_of (first));
  }
}

/* Many requests in one write: the answers come back in request order. */
static void
test_pipelining (void)
{
  g_autofree char *name = NULL;
  g_autoptr (ChatTestConn) conn = new_user ("pl", &name, NULL);
  g_autoptr (GString) batch = g_string_new (NULL);

  for (guint i = 0; i < 60; i++)
    {
      if (i % 3 == 0)
        g_string_append_printf (batch, "{\"id\":%u,\"op\":\"unread_count\"}\n", i);
      else if (i % 3 == 1)
        g_string_append_printf (batch,
                                "{\"id\":%u,\"op\":\"send\",\"to\":\"%s\",\"body\":\"b%u\","
                                "\"client_msg_id\":\"p%u\"}\n",
                                i, name, i, i);
      else
        g_string_append_printf (batch, "{\"id\":%u,\"op\":\"nonsense\"}\n", i);
    }
  chat_test_conn_send_raw (conn, batch->str, batch->len);
  for (guint i = 0; i < 60;)
    {
      g_autoptr (JsonObject) reply = chat_test_conn_read (conn, 30000);

      g_assert_nonnull (reply);
      if (json_object_has_member (reply, "event"))
        continue;
      g_assert_cmpint (json_object_get_int_member (reply, "id"), ==, i);
      g_assert_cmpint (json_object_get_boolean_member (reply, "ok"), ==, i % 3 != 2);
      if (i % 3 == 0)
        g_assert_cmpint (json_object_get_int_member (reply, "total"), ==, i / 3);
      i++;
    }
}

int
main (int argc, char **argv)
{
  int status = 0;

  g_test_init (&argc, &argv, NULL);
  cluster = chat_test_cluster_new (1, NULL);
  chat_test_cluster_start_all (cluster);
  g_test_add_func ("/protocol/hello", test_hello);
  g_test_add_func ("/protocol/signup-login", test_signup_login);
  g_test_add_func ("/protocol/resume-logout", test_resume_logout);
  g_test_add_func ("/protocol/list-users", test_list_users);
  g_test_add_func ("/protocol/send-events", test_send_events);
  g_test_add_func ("/protocol/send-errors", test_send_errors);
  g_test_add_func ("/protocol/idempotent-send", test_idempotent_send);
  g_test_add_func ("/protocol/read-unread", test_read_unread);
  g_test_add_func ("/protocol/history-paging", test_history_paging);
  g_test_add_func ("/protocol/conversations", test_conversations);
  g_test_add_func ("/protocol/mark-read", test_mark_read);
  g_test_add_func ("/protocol/delete-messages", test_delete_messages);
  g_test_add_func ("/protocol/delete-account", test_delete_account);
  g_test_add_func ("/protocol/sync", test_sync);
  g_test_add_func ("/protocol/pipelining", test_pipelining);
  status = g_test_run ();
  chat_test_cluster_free (cluster);
  return status;
}
