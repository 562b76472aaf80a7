/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of ChatRequest: the response lines it builds, answered once, on a connection. */
#include "chat-test-dispatch.h"
#include "chat-test-wire.h"

typedef struct
{
  ChatTestWire wire;
  ChatConnection *conn;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GIOStream) stream = NULL;
  ChatDispatch *dispatch = chat_test_dispatch_reset ();

  chat_test_wire_open (&fixture->wire, &stream);
  fixture->conn = chat_connection_new (stream, dispatch, 4096, 30);
  chat_connection_start (fixture->conn);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  if (fixture->conn != NULL)
    chat_connection_close (fixture->conn);
  g_clear_object (&fixture->conn);
  chat_test_wire_clear (&fixture->wire);
  chat_test_dispatch_clear ();
}

static gboolean
has_held (gpointer data)
{
  return chat_test_dispatch.held->len > 0;
}

/* Sends one request line that the scripted dispatcher holds, and returns it. */
static ChatRequest *
hold (Fixture *fixture, const char *line)
{
  chat_test_wire_send (&fixture->wire, line);
  g_assert_true (chat_test_loop_until (has_held, NULL, 5000));
  return g_ptr_array_index (chat_test_dispatch.held, 0);
}

static JsonObject *
error_of (JsonObject *response)
{
  g_assert_true (json_object_has_member (response, "ok"));
  g_assert_false (json_object_get_boolean_member (response, "ok"));
  return json_object_get_object_member (response, "error");
}

static void
test_accessors (Fixture *fixture, gconstpointer data)
{
  ChatRequest *request = hold (fixture, "{\"id\":\"abc\",\"op\":\"hold\",\"to\":\"bob\"}\n");

  g_assert_cmpstr (chat_request_get_op (request), ==, "hold");
  g_assert_cmpstr (json_object_get_string_member (chat_request_get_params (request), "to"), ==,
                   "bob");
  g_assert_cmpstr (json_node_get_string (chat_request_get_id (request)), ==, "abc");
  g_assert_null (chat_request_get_error (request));
  g_assert_true (chat_request_get_connection (request) == fixture->conn);
  g_assert_true (chat_request_get_pipelined (request));
  /* The connection had no session when the request started. */
  g_assert_null (chat_request_get_session_hash (request));
  chat_request_set_session (request, "s1", "alice");
  g_assert_cmpstr (chat_request_get_session_hash (request), ==, "s1");
  g_assert_cmpstr (chat_request_get_username (request), ==, "alice");
  chat_request_reply (request, NULL);
}

/* The session a request carries is the connection's when it started. */
static void
test_session_of_the_connection (Fixture *fixture, gconstpointer data)
{
  ChatRequest *request = NULL;

  chat_connection_set_session (fixture->conn, "s9", "Carol");
  request = hold (fixture, "{\"id\":1,\"op\":\"hold\"}\n");
  g_assert_cmpstr (chat_request_get_session_hash (request), ==, "s9");
  g_assert_cmpstr (chat_request_get_username (request), ==, "Carol");
  chat_request_reply (request, NULL);
}

static void
test_reply_echoes_id_and_fields (Fixture *fixture, gconstpointer data)
{
  ChatRequest *request = hold (fixture, "{\"id\":\"req-7\",\"op\":\"hold\"}\n");
  g_autoptr (JsonObject) fields = json_object_new ();
  g_autoptr (JsonObject) response = NULL;

  json_object_set_int_member (fields, "unread", 3);
  json_object_set_string_member (fields, "session", "s1");
  chat_request_reply (request, fields);
  response = chat_test_wire_read_object (&fixture->wire);
  g_assert_cmpstr (json_object_get_string_member (response, "id"), ==, "req-7");
  g_assert_true (json_object_get_boolean_member (response, "ok"));
  g_assert_cmpint (json_object_get_int_member (response, "unread"), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (response, "session"), ==, "s1");
  g_assert_cmpuint (json_object_get_size (response), ==, 4);
}

static void
test_reply_without_id (Fixture *fixture, gconstpointer data)
{
  ChatRequest *request = hold (fixture, "{\"op\":\"hold\"}\n");
  g_autoptr (JsonObject) response = NULL;

  chat_request_reply (request, NULL);
  response = chat_test_wire_read_object (&fixture->wire);
  g_assert_true (json_object_has_member (response, "id"));
  g_assert_true (json_object_get_null_member (response, "id"));
  g_assert_true (json_object_get_boolean_member (response, "ok"));
}

/* The first answer counts; later ones are dropped, and the next request is answered. */
static void
test_answered_once (Fixture *fixture, gconstpointer data)
{
  ChatRequest *request = hold (fixture, "{\"id\":1,\"op\":\"hold\"}\n");
  g_autoptr (JsonObject) first = NULL;
  g_autoptr (JsonObject) next = NULL;

  chat_request_fail_literal (request, CHAT_ERROR_NOT_FOUND, "No such thing");
  chat_request_reply (request, NULL);
  chat_request_fail_literal (request, CHAT_ERROR_BAD_REQUEST, "again");
  first = chat_test_wire_read_object (&fixture->wire);
  g_assert_cmpstr (json_object_get_string_member (error_of (first), "code"), ==, "not_found");
  chat_test_wire_send (&fixture->wire, "{\"id\":2,\"op\":\"echo\",\"text\":\"next\"}\n");
  next = chat_test_wire_read_object (&fixture->wire);
  g_assert_cmpint (json_object_get_int_member (next, "id"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (next, "text"), ==, "next");
}

static void
test_fail_with_extra (Fixture *fixture, gconstpointer data)
{
  ChatRequest *request = hold (fixture, "{\"id\":5,\"op\":\"hold\"}\n");
  g_autoptr (GError) error
      = g_error_new_literal (CHAT_ERROR, CHAT_ERROR_NOT_LEADER, "Ask the leader");
  g_autoptr (JsonObject) extra = json_object_new ();
  g_autoptr (JsonObject) response = NULL;
  JsonObject *error_object = NULL;

  json_object_set_string_member (extra, "leader", "127.0.0.1:7001");
  chat_request_fail_with (request, error, extra);
  response = chat_test_wire_read_object (&fixture->wire);
  g_assert_cmpint (json_object_get_int_member (response, "id"), ==, 5);
  error_object = error_of (response);
  g_assert_cmpstr (json_object_get_string_member (error_object, "code"), ==, "not_leader");
  g_assert_cmpstr (json_object_get_string_member (error_object, "message"), ==, "Ask the leader");
  g_assert_cmpstr (json_object_get_string_member (error_object, "leader"), ==, "127.0.0.1:7001");
}

/* An error from outside CHAT_ERROR (a disk, a library) is not shown to the client. */
static void
test_internal_error_is_not_shown (Fixture *fixture, gconstpointer data)
{
  ChatRequest *request = hold (fixture, "{\"id\":6,\"op\":\"hold\"}\n");
  g_autoptr (GError) error
      = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NO_SPACE, "/var/lib/chatd/chatd.db: full");
  g_autoptr (JsonObject) response = NULL;
  JsonObject *error_object = NULL;

  chat_request_fail (request, error);
  response = chat_test_wire_read_object (&fixture->wire);
  error_object = error_of (response);
  g_assert_cmpstr (json_object_get_string_member (error_object, "code"), ==, "internal");
  g_assert_cmpstr (json_object_get_string_member (error_object, "message"), ==,
                   "The server failed");
}

/* A message quoting invalid UTF-8 from the request still makes a valid UTF-8 line. */
static void
test_error_message_made_valid (Fixture *fixture, gconstpointer data)
{
  ChatRequest *request = hold (fixture, "{\"id\":8,\"op\":\"hold\"}\n");
  g_autoptr (JsonObject) response = NULL;
  const char *message = NULL;

  chat_request_fail_literal (request, CHAT_ERROR_BAD_REQUEST, "bad byte \xff here");
  response = chat_test_wire_read_object (&fixture->wire);
  message = json_object_get_string_member (error_of (response), "message");
  g_assert_true (g_utf8_validate (message, -1, NULL));
  g_assert_true (g_str_has_prefix (message, "bad byte "));
  g_assert_true (g_str_has_suffix (message, " here"));
}

static void
test_failed_request (Fixture *fixture, gconstpointer data)
{
  GError *error = g_error_new_literal (CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "Unknown operation");
  g_autoptr (ChatRequest) request = chat_request_new_failed (fixture->conn, NULL, error);

  g_assert_true (chat_request_get_error (request) == error);
  g_assert_null (chat_request_get_op (request));
  g_assert_null (chat_request_get_id (request));
  g_assert_nonnull (chat_request_get_params (request));
}

/* A request answered after its connection closed and was dropped: nothing is written,
 * nothing breaks (the request holds the connection). */
static void
test_answer_after_connection_is_gone (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ChatRequest) request
      = chat_request_ref (hold (fixture, "{\"id\":1,\"op\":\"hold\"}\n"));
  GWeakRef weak;
  GObject *conn = NULL;

  g_weak_ref_init (&weak, fixture->conn);
  chat_connection_close (fixture->conn);
  g_clear_object (&fixture->conn);
  g_ptr_array_set_size (chat_test_dispatch.held, 0);
  chat_request_reply (request, NULL);
  chat_test_wire_expect_eof (&fixture->wire);
  /* The last reference to the connection went with the request. */
  g_clear_pointer (&request, chat_request_unref);
  conn = g_weak_ref_get (&weak);
  g_assert_null (conn);
  g_weak_ref_clear (&weak);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/request/accessors", test_accessors);
  ADD ("/request/session-of-the-connection", test_session_of_the_connection);
  ADD ("/request/reply/echoes-id-and-fields", test_reply_echoes_id_and_fields);
  ADD ("/request/reply/without-id", test_reply_without_id);
  ADD ("/request/answered-once", test_answered_once);
  ADD ("/request/fail/with-extra", test_fail_with_extra);
  ADD ("/request/fail/internal-error-is-not-shown", test_internal_error_is_not_shown);
  ADD ("/request/fail/message-made-valid", test_error_message_made_valid);
  ADD ("/request/failed-request", test_failed_request);
  ADD ("/request/answer-after-connection-is-gone", test_answer_after_connection_is_gone);
#undef ADD
  return g_test_run ();
}
