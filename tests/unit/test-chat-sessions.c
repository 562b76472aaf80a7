/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of ChatSessions: which connections a push reaches, logins, logouts, closes. */
#include "chat-test-wire.h"

#include "chat-connection.h"
#include "chat-sessions.h"

/* One client: the daemon's ChatConnection and the client's end of its socket. The
 * connections are never started: they only write, and no line is ever dispatched. */
typedef struct
{
  ChatTestWire wire;
  ChatConnection *conn;
} Client;

enum
{
  ALICE_1, /* alice, session s1 */
  ALICE_2, /* alice, session s2 */
  BOB,     /* bob, session s3 */
  NOBODY,  /* not logged in */
  N_CLIENTS
};

typedef struct
{
  ChatSessions *sessions;
  Client clients[N_CLIENTS];
} Fixture;

/* What ChatServer does: a connection that closes leaves the index. */
static void
on_closed (ChatConnection *conn, gpointer user_data)
{
  chat_sessions_detach (CHAT_SESSIONS (user_data), conn);
}

static void
client_open (Fixture *fixture, Client *client)
{
  g_autoptr (GIOStream) stream = NULL;

  chat_test_wire_open (&client->wire, &stream);
  client->conn = chat_connection_new (stream, NULL, 1024, 30);
  g_signal_connect (client->conn, "closed", G_CALLBACK (on_closed), fixture->sessions);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  fixture->sessions = chat_sessions_new ();
  for (guint i = 0; i < N_CLIENTS; i++)
    client_open (fixture, &fixture->clients[i]);
  chat_sessions_attach (fixture->sessions, fixture->clients[ALICE_1].conn, "s1", "alice");
  chat_sessions_attach (fixture->sessions, fixture->clients[ALICE_2].conn, "s2", "alice");
  chat_sessions_attach (fixture->sessions, fixture->clients[BOB].conn, "s3", "bob");
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      chat_connection_close (fixture->clients[i].conn);
      g_clear_object (&fixture->clients[i].conn);
      chat_test_wire_clear (&fixture->clients[i].wire);
    }
  g_clear_object (&fixture->sessions);
}

static void
push (Fixture *fixture, const char *user_key, const char *except_session, const char *text)
{
  g_autoptr (JsonObject) event = json_object_new ();
  ChatApplyEvent apply_event
      = { .user_key = (char *)user_key, .event = event, .except_session = (char *)except_session };

  json_object_set_string_member (event, "event", "message");
  json_object_set_string_member (event, "text", text);
  chat_sessions_deliver (fixture->sessions, &apply_event);
}

/* The events a client got, each as "event:detail", joined by spaces; "" for none. */
static char *
received (Client *client)
{
  g_autoptr (GString) seen = g_string_new (NULL);

  chat_test_loop_for (20);
  while (chat_test_wire_has_line (&client->wire))
    {
      g_autoptr (JsonObject) event = chat_test_wire_read_object (&client->wire);
      const char *detail = json_object_has_member (event, "text")
                               ? json_object_get_string_member (event, "text")
                               : json_object_get_string_member (event, "reason");

      g_string_append_printf (seen, "%s%s:%s", seen->len > 0 ? " " : "",
                              json_object_get_string_member (event, "event"), detail);
    }
  return g_string_free (g_steal_pointer (&seen), FALSE);
}

static void
assert_received (Fixture *fixture, guint client, const char *expected)
{
  g_autofree char *seen = received (&fixture->clients[client]);

  g_assert_cmpstr (seen, ==, expected);
}

static void
test_push_reaches_every_connection_of_the_user (Fixture *fixture, gconstpointer data)
{
  push (fixture, "alice", NULL, "hi");
  assert_received (fixture, ALICE_1, "message:hi");
  assert_received (fixture, ALICE_2, "message:hi");
  assert_received (fixture, BOB, "");
  assert_received (fixture, NOBODY, "");
  push (fixture, "carol", NULL, "nobody home");
  for (guint i = 0; i < N_CLIENTS; i++)
    assert_received (fixture, i, "");
}

/* The session that caused an event (the sender's own) does not get it pushed. */
static void
test_push_skips_the_excepted_session (Fixture *fixture, gconstpointer data)
{
  push (fixture, "alice", "s1", "from s1");
  assert_received (fixture, ALICE_1, "");
  assert_received (fixture, ALICE_2, "message:from s1");
}

/* Users are indexed by their case-folded name. */
static void
test_user_key_is_case_folded (Fixture *fixture, gconstpointer data)
{
  ChatConnection *conn = fixture->clients[NOBODY].conn;

  chat_sessions_attach (fixture->sessions, conn, "s4", "Alice");
  g_assert_cmpstr (chat_connection_get_user_key (conn), ==, "alice");
  g_assert_cmpstr (chat_connection_get_session_hash (conn), ==, "s4");
  push (fixture, "alice", NULL, "any case");
  assert_received (fixture, NOBODY, "message:any case");
  assert_received (fixture, ALICE_1, "message:any case");
}

/* Ending a session tells each of its connections and logs them out; the user's other
 * sessions stay. */
static void
test_end_session (Fixture *fixture, gconstpointer data)
{
  ChatConnection *second = fixture->clients[NOBODY].conn;

  chat_sessions_attach (fixture->sessions, second, "s1", "alice");
  chat_sessions_end (fixture->sessions, "s1", "logout");
  assert_received (fixture, ALICE_1, "session_ended:logout");
  assert_received (fixture, NOBODY, "session_ended:logout");
  assert_received (fixture, ALICE_2, "");
  g_assert_null (chat_connection_get_session_hash (fixture->clients[ALICE_1].conn));
  g_assert_null (chat_connection_get_user_key (second));
  push (fixture, "alice", NULL, "after");
  assert_received (fixture, ALICE_1, "");
  assert_received (fixture, NOBODY, "");
  assert_received (fixture, ALICE_2, "message:after");
  /* Ending it again reaches nobody. */
  chat_sessions_end (fixture->sessions, "s1", "logout");
  assert_received (fixture, ALICE_1, "");
}

/* A connection that logs in again leaves its earlier session and user. */
static void
test_login_again_moves_the_connection (Fixture *fixture, gconstpointer data)
{
  ChatConnection *conn = fixture->clients[ALICE_1].conn;

  chat_sessions_attach (fixture->sessions, conn, "s5", "bob");
  push (fixture, "alice", NULL, "for alice");
  push (fixture, "bob", NULL, "for bob");
  assert_received (fixture, ALICE_1, "message:for bob");
  assert_received (fixture, ALICE_2, "message:for alice");
  assert_received (fixture, BOB, "message:for bob");
  chat_sessions_end (fixture->sessions, "s1", "logout");
  assert_received (fixture, ALICE_1, "");
  g_assert_cmpstr (chat_connection_get_session_hash (conn), ==, "s5");
}

static void
test_detach (Fixture *fixture, gconstpointer data)
{
  ChatConnection *conn = fixture->clients[ALICE_1].conn;

  chat_sessions_detach (fixture->sessions, conn);
  chat_sessions_detach (fixture->sessions, conn);
  g_assert_null (chat_connection_get_session_hash (conn));
  push (fixture, "alice", NULL, "x");
  assert_received (fixture, ALICE_1, "");
  assert_received (fixture, ALICE_2, "message:x");
  /* A connection never logged in may be detached too. */
  chat_sessions_detach (fixture->sessions, fixture->clients[NOBODY].conn);
}

/* A closed connection leaves the index and cannot log in again. */
static void
test_closed_connection_leaves (Fixture *fixture, gconstpointer data)
{
  ChatConnection *conn = fixture->clients[ALICE_1].conn;

  chat_connection_close (conn);
  g_assert_null (chat_connection_get_session_hash (conn));
  chat_sessions_attach (fixture->sessions, conn, "s1", "alice");
  g_assert_null (chat_connection_get_session_hash (conn));
  push (fixture, "alice", NULL, "y");
  assert_received (fixture, ALICE_2, "message:y");
  chat_test_wire_expect_eof (&fixture->clients[ALICE_1].wire);
}

/* A client that went away is found out by the push itself; the push goes on to the
 * user's other connections. */
static void
test_push_past_a_vanished_client (Fixture *fixture, gconstpointer data)
{
  ChatConnection *gone = fixture->clients[ALICE_1].conn;

  chat_sessions_attach (fixture->sessions, fixture->clients[NOBODY].conn, "s6", "alice");
  chat_test_wire_hang_up (&fixture->clients[ALICE_1].wire);
  push (fixture, "alice", NULL, "still delivered");
  g_assert_true (chat_connection_is_closed (gone));
  g_assert_null (chat_connection_get_session_hash (gone));
  assert_received (fixture, ALICE_2, "message:still delivered");
  assert_received (fixture, NOBODY, "message:still delivered");
}

static void
add_event (ChatApplyResult *result, const char *user_key, const char *except, const char *text)
{
  ChatApplyEvent *event = g_new0 (ChatApplyEvent, 1);

  event->user_key = g_strdup (user_key);
  event->event = json_object_new ();
  json_object_set_string_member (event->event, "event", "message");
  json_object_set_string_member (event->event, "text", text);
  event->except_session = g_strdup (except);
  g_ptr_array_add (result->events, event);
}

/* What one applied operation produced: its events, then the sessions it ended. */
static void
test_deliver_result (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ChatApplyResult) result = chat_apply_result_new ();
  g_autoptr (JsonObject) op = json_object_new ();

  json_object_set_string_member (op, "op", "delete_account");
  add_event (result, "bob", NULL, "alice left");
  add_event (result, "alice", "s2", "bye");
  g_ptr_array_add (result->ended_sessions, g_strdup ("s1"));
  g_ptr_array_add (result->ended_sessions, g_strdup ("s2"));
  chat_sessions_deliver_result (fixture->sessions, op, result);
  assert_received (fixture, BOB, "message:alice left");
  assert_received (fixture, ALICE_1, "message:bye session_ended:account_deleted");
  assert_received (fixture, ALICE_2, "session_ended:account_deleted");
  assert_received (fixture, NOBODY, "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/sessions/push/every-connection-of-the-user",
       test_push_reaches_every_connection_of_the_user);
  ADD ("/sessions/push/skips-the-excepted-session", test_push_skips_the_excepted_session);
  ADD ("/sessions/push/past-a-vanished-client", test_push_past_a_vanished_client);
  ADD ("/sessions/user-key-is-case-folded", test_user_key_is_case_folded);
  ADD ("/sessions/end-session", test_end_session);
  ADD ("/sessions/login-again-moves-the-connection", test_login_again_moves_the_connection);
  ADD ("/sessions/detach", test_detach);
  ADD ("/sessions/closed-connection-leaves", test_closed_connection_leaves);
  ADD ("/sessions/deliver-result", test_deliver_result);
#undef ADD
  return g_test_run ();
}
