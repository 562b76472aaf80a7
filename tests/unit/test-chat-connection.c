/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of ChatConnection over a socket pair, with a scripted dispatcher behind it. */
#include "chat-test-dispatch.h"
#include "chat-test-wire.h"

#include "chat-defaults.h"
#include "chat-line-budget.h"

#define MAX_LINE 1024

typedef struct
{
  ChatTestWire wire;
  ChatConnection *conn;
  guint closed;
} Client;

typedef struct
{
  ChatDispatch *dispatch;
  Client client;
} Fixture;

static void
on_closed (ChatConnection *conn, gpointer user_data)
{
  ((Client *)user_data)->closed++;
}

static void
client_open (Client *client, ChatDispatch *dispatch, guint idle_line_timeout_s)
{
  g_autoptr (GIOStream) stream = NULL;

  chat_test_wire_open (&client->wire, &stream);
  client->conn = chat_connection_new (stream, dispatch, MAX_LINE, idle_line_timeout_s);
  client->closed = 0;
  g_signal_connect (client->conn, "closed", G_CALLBACK (on_closed), client);
  chat_connection_start (client->conn);
}

static void
client_clear (Client *client)
{
  if (client->conn != NULL)
    {
      chat_connection_close (client->conn);
      g_signal_handlers_disconnect_by_data (client->conn, client);
    }
  g_clear_object (&client->conn);
  chat_test_wire_clear (&client->wire);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  fixture->dispatch = chat_test_dispatch_reset ();
  client_open (&fixture->client, fixture->dispatch, 30);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  client_clear (&fixture->client);
  chat_test_dispatch_clear ();
  /* Every unfinished line was released with its connection. */
  g_assert_cmpuint (chat_line_budget_total (), ==, 0);
}

static gboolean
has_held (gpointer data)
{
  return chat_test_dispatch.held->len >= GPOINTER_TO_UINT (data);
}

static void
wait_held (Fixture *fixture, guint count)
{
  g_assert_true (chat_test_loop_until (has_held, GUINT_TO_POINTER (count), 5000));
}

static void
assert_ok (JsonObject *reply, gint64 id)
{
  g_assert_cmpint (json_object_get_int_member (reply, "id"), ==, id);
  g_assert_true (json_object_get_boolean_member (reply, "ok"));
}

static void
assert_error (JsonObject *reply, const char *code)
{
  JsonObject *error = json_object_get_object_member (reply, "error");

  g_assert_false (json_object_get_boolean_member (reply, "ok"));
  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, code);
  g_assert_cmpstr (json_object_get_string_member (error, "message"), !=, "");
}

static void
expect_echo (ChatTestWire *wire, gint64 id, const char *text)
{
  g_autoptr (JsonObject) reply = chat_test_wire_read_object (wire);

  assert_ok (reply, id);
  g_assert_cmpstr (json_object_get_string_member (reply, "text"), ==, text);
}

/* --- framing --------------------------------------------------------------------- */

static void
test_lines_in_one_read (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;

  /* Three lines in one write, the last ended by CR LF. */
  chat_test_wire_send (wire, "{\"id\":1,\"op\":\"echo\",\"text\":\"a\"}\n"
                             "{\"id\":2,\"op\":\"echo\",\"text\":\"b\"}\n"
                             "{\"id\":3,\"op\":\"echo\",\"text\":\"c\"}\r\n");
  expect_echo (wire, 1, "a");
  expect_echo (wire, 2, "b");
  expect_echo (wire, 3, "c");
  g_assert_cmpuint (chat_test_dispatch.parsed, ==, 3);
}

static void
test_line_in_pieces (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;
  const char *pieces[] = { "{\"id\":7,\"op\"", ":\"echo\",\"te", "xt\":\"whole\"}", "\n" };

  for (guint i = 0; i < G_N_ELEMENTS (pieces); i++)
    {
      chat_test_wire_send (wire, pieces[i]);
      chat_test_loop_for (20);
      /* Nothing is parsed before the newline. */
      g_assert_cmpuint (chat_test_dispatch.parsed, ==, i + 1 == G_N_ELEMENTS (pieces) ? 1 : 0);
    }
  expect_echo (wire, 7, "whole");
  g_assert_cmpuint (chat_line_budget_total (), ==, 0);
}

static void
test_invalid_lines (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;
  static const char nul_line[] = "{\"id\":1,\"op\":\"echo\",\"text\":\"a\0b\"}\n";
  g_autoptr (JsonObject) not_json = NULL;
  g_autoptr (JsonObject) bad_utf8 = NULL;
  g_autoptr (JsonObject) with_nul = NULL;

  chat_test_wire_send (wire, "this is not json\n");
  not_json = chat_test_wire_read_object (wire);
  assert_error (not_json, "bad_request");
  g_assert_true (json_object_get_null_member (not_json, "id"));
  /* Invalid UTF-8 in the request: the answer is still valid UTF-8 (read_object checks). */
  chat_test_wire_send (wire, "{\"id\":2,\"op\":\"echo\",\"text\":\"\xff\xfe\"}\n");
  bad_utf8 = chat_test_wire_read_object (wire);
  assert_error (bad_utf8, "bad_request");
  chat_test_wire_write (wire, nul_line, sizeof nul_line - 1);
  with_nul = chat_test_wire_read_object (wire);
  assert_error (with_nul, "bad_request");
  /* The connection goes on serving. */
  chat_test_wire_send (wire, "{\"id\":3,\"op\":\"echo\",\"text\":\"still here\"}\n");
  expect_echo (wire, 3, "still here");
  g_assert_cmpuint (fixture->client.closed, ==, 0);
}

/* A line over the limit is answered too_large after the responses before it, then the
 * connection closes. */
static void
test_oversize_line (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;
  g_autofree char *huge = g_strnfill (MAX_LINE * 3, 'x');
  g_autoptr (JsonObject) too_large = NULL;
  g_autoptr (JsonObject) held = NULL;

  chat_test_wire_send (wire, "{\"id\":1,\"op\":\"hold\"}\n");
  wait_held (fixture, 1);
  chat_test_wire_send (wire, huge);
  chat_test_loop_for (100);
  g_assert_cmpstr (wire->inbox->str, ==, "");
  g_assert_false (wire->eof);
  chat_test_dispatch_answer_held (0);
  held = chat_test_wire_read_object (wire);
  assert_ok (held, 1);
  too_large = chat_test_wire_read_object (wire);
  assert_error (too_large, "too_large");
  chat_test_wire_expect_eof (wire);
  g_assert_cmpuint (fixture->client.closed, ==, 1);
  g_assert_true (chat_connection_is_closed (fixture->client.conn));
  g_assert_cmpuint (chat_line_budget_total (), ==, 0);
}

/* A complete line over the limit, newline and all, in one read. */
static void
test_oversize_complete_line (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;
  g_autofree char *text = g_strnfill (MAX_LINE, 'y');
  g_autofree char *line = g_strdup_printf ("{\"id\":1,\"op\":\"echo\",\"text\":\"%s\"}\n", text);
  g_autoptr (JsonObject) reply = NULL;

  chat_test_wire_send (wire, line);
  reply = chat_test_wire_read_object (wire);
  assert_error (reply, "too_large");
  chat_test_wire_expect_eof (wire);
  g_assert_cmpuint (chat_test_dispatch.parsed, ==, 0);
  g_assert_cmpuint (fixture->client.closed, ==, 1);
}

/* --- ordered responses ------------------------------------------------------------- */

static void
test_replies_in_request_order (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;

  chat_test_wire_send (wire, "{\"id\":1,\"op\":\"hold\"}\n{\"id\":2,\"op\":\"hold\"}\n"
                             "{\"id\":3,\"op\":\"hold\"}\n");
  /* Pipelined: all three run at once. */
  wait_held (fixture, 3);
  chat_test_dispatch_answer_held (2);
  chat_test_dispatch_answer_held (1);
  chat_test_loop_for (100);
  g_assert_cmpstr (wire->inbox->str, ==, "");
  chat_test_dispatch_answer_held (0);
  for (gint64 id = 1; id <= 3; id++)
    {
      g_autoptr (JsonObject) reply = chat_test_wire_read_object (wire);

      assert_ok (reply, id);
      g_assert_cmpint (json_object_get_int_member (reply, "n"), ==, id - 1);
    }
}

/* A request that is not pipelined waits for every earlier one and holds back later ones. */
static void
test_barrier (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;
  g_autoptr (JsonObject) first = NULL;
  g_autoptr (JsonObject) second = NULL;

  chat_test_wire_send (wire, "{\"id\":1,\"op\":\"hold\"}\n"
                             "{\"id\":2,\"op\":\"hold\",\"barrier\":true}\n"
                             "{\"id\":3,\"op\":\"echo\",\"text\":\"after\"}\n");
  wait_held (fixture, 1);
  chat_test_loop_for (100);
  g_assert_cmpuint (chat_test_dispatch.ops->len, ==, 1);
  chat_test_dispatch_answer_held (0);
  first = chat_test_wire_read_object (wire);
  assert_ok (first, 1);
  wait_held (fixture, 2);
  chat_test_loop_for (100);
  g_assert_cmpuint (chat_test_dispatch.ops->len, ==, 2);
  g_assert_cmpstr (wire->inbox->str, ==, "");
  chat_test_dispatch_answer_held (1);
  second = chat_test_wire_read_object (wire);
  assert_ok (second, 2);
  expect_echo (wire, 3, "after");
}

static void
test_event_between_responses (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;
  g_autoptr (JsonObject) event = json_object_new ();
  g_autoptr (JsonObject) pushed = NULL;
  g_autoptr (JsonObject) reply = NULL;

  chat_test_wire_send (wire, "{\"id\":1,\"op\":\"hold\"}\n");
  wait_held (fixture, 1);
  json_object_set_string_member (event, "event", "message");
  chat_connection_send_event (fixture->client.conn, event);
  pushed = chat_test_wire_read_object (wire);
  g_assert_cmpstr (json_object_get_string_member (pushed, "event"), ==, "message");
  g_assert_false (json_object_has_member (pushed, "id"));
  chat_test_dispatch_answer_held (0);
  reply = chat_test_wire_read_object (wire);
  assert_ok (reply, 1);
}

/* --- closing ------------------------------------------------------------------------ */

/* A client that stops writing still gets every answer, then the connection closes. */
static void
test_half_close_answers_then_closes (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;

  chat_test_wire_send (wire, "{\"id\":1,\"op\":\"hold\"}\n{\"id\":2,\"op\":\"hold\"}\n");
  wait_held (fixture, 2);
  chat_test_wire_shutdown_write (wire);
  chat_test_loop_for (100);
  g_assert_cmpuint (fixture->client.closed, ==, 0);
  g_assert_false (wire->eof);
  /* Answered out of order: the first answer releases both. */
  chat_test_dispatch_answer_held (1);
  chat_test_dispatch_answer_held (0);
  for (gint64 id = 1; id <= 2; id++)
    {
      g_autoptr (JsonObject) each = chat_test_wire_read_object (wire);

      assert_ok (each, id);
    }
  chat_test_wire_expect_eof (wire);
  g_assert_cmpuint (fixture->client.closed, ==, 1);
}

/* End of file while requests wait behind a barrier: they all run and are answered. */
static void
test_half_close_behind_a_barrier (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;

  chat_test_wire_send (wire, "{\"id\":1,\"op\":\"hold\"}\n"
                             "{\"id\":2,\"op\":\"hold\",\"barrier\":true}\n"
                             "{\"id\":3,\"op\":\"echo\",\"text\":\"last\"}\n");
  chat_test_wire_shutdown_write (wire);
  wait_held (fixture, 1);
  chat_test_dispatch_answer_held (0);
  wait_held (fixture, 2);
  chat_test_dispatch_answer_held (1);
  for (gint64 id = 1; id <= 2; id++)
    {
      g_autoptr (JsonObject) each = chat_test_wire_read_object (wire);

      assert_ok (each, id);
    }
  expect_echo (wire, 3, "last");
  chat_test_wire_expect_eof (wire);
  g_assert_cmpuint (fixture->client.closed, ==, 1);
}

/* A partial line at end of file is dropped, not parsed. */
static void
test_partial_line_at_eof (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;

  chat_test_wire_send (wire, "{\"id\":1,\"op\":\"echo\",\"text\":\"a\"}\n{\"id\":2,\"op\"");
  chat_test_wire_shutdown_write (wire);
  expect_echo (wire, 1, "a");
  chat_test_wire_expect_eof (wire);
  g_assert_cmpuint (chat_test_dispatch.parsed, ==, 1);
  g_assert_cmpuint (fixture->client.closed, ==, 1);
}

static gboolean
client_closed (gpointer data)
{
  return ((Client *)data)->closed > 0;
}

/* The client vanishes while its request is in flight: the late answer goes nowhere. */
static void
test_client_gone_mid_request (Fixture *fixture, gconstpointer data)
{
  Client *client = &fixture->client;

  chat_test_wire_send (&client->wire, "{\"id\":1,\"op\":\"hold\"}\n");
  wait_held (fixture, 1);
  chat_test_wire_hang_up (&client->wire);
  chat_test_dispatch_answer_held (0);
  g_assert_true (chat_test_loop_until (client_closed, client, 5000));
  g_assert_cmpuint (client->closed, ==, 1);
}

/* Closed by the server: "closed" once, and answers that arrive later are dropped. */
static void
test_close_drops_late_answers (Fixture *fixture, gconstpointer data)
{
  Client *client = &fixture->client;

  chat_test_wire_send (&client->wire, "{\"id\":1,\"op\":\"hold\"}\n");
  wait_held (fixture, 1);
  chat_connection_close (client->conn);
  chat_connection_close (client->conn);
  g_assert_cmpuint (client->closed, ==, 1);
  g_assert_true (chat_connection_is_closed (client->conn));
  chat_test_dispatch_answer_held (0);
  chat_test_wire_expect_eof (&client->wire);
  g_assert_cmpuint (client->closed, ==, 1);
}

/* --- requests in flight ---------------------------------------------------------------- */

/* At most CHAT_CONNECTION_MAX_IN_FLIGHT requests of one connection run at once; the
 * next starts when one is answered. */
static void
test_in_flight_bound (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;
  guint total = CHAT_CONNECTION_MAX_IN_FLIGHT + 5;
  g_autoptr (GString) lines = g_string_new (NULL);
  g_autoptr (JsonObject) first = NULL;

  for (guint i = 1; i <= total; i++)
    g_string_append_printf (lines, "{\"id\":%u,\"op\":\"hold\"}\n", i);
  chat_test_wire_write (wire, lines->str, lines->len);
  wait_held (fixture, CHAT_CONNECTION_MAX_IN_FLIGHT);
  chat_test_loop_for (100);
  g_assert_cmpuint (chat_test_dispatch.held->len, ==, CHAT_CONNECTION_MAX_IN_FLIGHT);
  chat_test_dispatch_answer_held (0);
  first = chat_test_wire_read_object (wire);
  assert_ok (first, 1);
  wait_held (fixture, CHAT_CONNECTION_MAX_IN_FLIGHT + 1);
  chat_test_loop_for (50);
  g_assert_cmpuint (chat_test_dispatch.held->len, ==, CHAT_CONNECTION_MAX_IN_FLIGHT + 1);
  for (guint i = 1; i < CHAT_CONNECTION_MAX_IN_FLIGHT + 1; i++)
    chat_test_dispatch_answer_held (i);
  wait_held (fixture, total);
  for (guint i = CHAT_CONNECTION_MAX_IN_FLIGHT + 1; i < total; i++)
    chat_test_dispatch_answer_held (i);
  for (gint64 id = 2; id <= total; id++)
    {
      g_autoptr (JsonObject) reply = chat_test_wire_read_object (wire);

      assert_ok (reply, id);
    }
}

/* --- a peer's handshake on the client port ------------------------------------------- */

typedef struct
{
  GIOStream *stream;
  char *line;
} HandOver;

static void
on_peer (GIOStream *stream, const char *line, gsize len, gpointer user_data)
{
  HandOver *hand_over = user_data;

  g_assert_null (hand_over->stream);
  hand_over->stream = g_object_ref (stream);
  hand_over->line = g_strndup (line, len);
}

static void
test_peer_hello_is_handed_over (Fixture *fixture, gconstpointer data)
{
  Client *client = &fixture->client;
  HandOver hand_over = { NULL, NULL };
  const char *reply = "{\"peer\":\"challenge\"}\n";
  g_autofree char *line = NULL;

  chat_connection_set_peer_func (client->conn, on_peer, &hand_over);
  chat_test_wire_send (&client->wire, "{\"peer\":\"hello\",\"node\":2}\n");
  g_assert_true (chat_test_loop_until (client_closed, client, 5000));
  g_assert_cmpstr (hand_over.line, ==, "{\"peer\":\"hello\",\"node\":2}");
  g_assert_cmpuint (chat_test_dispatch.parsed, ==, 0);
  /* The stream was handed over open: the peer layer answers on it. */
  g_assert_false (g_io_stream_is_closed (hand_over.stream));
  g_output_stream_write_all (g_io_stream_get_output_stream (hand_over.stream), reply,
                             strlen (reply), NULL, NULL, NULL);
  line = chat_test_wire_read_line (&client->wire);
  g_assert_cmpstr (line, ==, "{\"peer\":\"challenge\"}");
  g_assert_cmpuint (client->closed, ==, 1);
  g_clear_object (&hand_over.stream);
  g_free (hand_over.line);
}

/* A dialling peer waits for the challenge: bytes after its hello are not a peer. */
static void
test_peer_hello_with_more_bytes_is_refused (Fixture *fixture, gconstpointer data)
{
  Client *client = &fixture->client;
  HandOver hand_over = { NULL, NULL };

  chat_connection_set_peer_func (client->conn, on_peer, &hand_over);
  chat_test_wire_send (&client->wire, "{\"peer\":\"hello\",\"node\":2}\n{\"more");
  chat_test_wire_expect_eof (&client->wire);
  g_assert_null (hand_over.stream);
  g_assert_cmpuint (client->closed, ==, 1);
}

/* Only a first line may open a peer handshake; later it is an ordinary request. */
static void
test_peer_hello_later_is_a_request (Fixture *fixture, gconstpointer data)
{
  Client *client = &fixture->client;
  HandOver hand_over = { NULL, NULL };
  g_autoptr (JsonObject) reply = NULL;

  chat_connection_set_peer_func (client->conn, on_peer, &hand_over);
  chat_test_wire_send (&client->wire, "{\"id\":1,\"op\":\"echo\",\"text\":\"a\"}\n"
                                      "{\"id\":2,\"op\":\"echo\",\"peer\":\"hello\"}\n");
  expect_echo (&client->wire, 1, "a");
  reply = chat_test_wire_read_object (&client->wire);
  assert_ok (reply, 2);
  g_assert_null (hand_over.stream);
  g_assert_cmpuint (client->closed, ==, 0);
}

/* --- reading pauses while answers pile up ------------------------------------------ */

static gboolean
parsed_at_least (gpointer data)
{
  return chat_test_dispatch.parsed >= GPOINTER_TO_UINT (data);
}

static void
test_pauses_while_client_does_not_read (Fixture *fixture, gconstpointer data)
{
  ChatTestWire *wire = &fixture->client.wire;
  /* Far more than the pause threshold plus what the socket's buffer takes. */
  gsize big = 8 * CHAT_CONNECTION_PAUSE_QUEUED_BYTES;
  g_autofree char *request = g_strdup_printf ("{\"id\":1,\"op\":\"big\",\"size\":%zu}\n", big);
  g_autofree char *reply = NULL;

  chat_test_wire_stop_reading (wire);
  chat_test_wire_send (wire, request);
  g_assert_true (chat_test_loop_until (parsed_at_least, GUINT_TO_POINTER (1), 5000));
  chat_test_wire_send (wire, "{\"id\":2,\"op\":\"echo\",\"text\":\"later\"}\n");
  chat_test_loop_for (200);
  /* More than the pause threshold waits to be written: the next line stays unread. */
  g_assert_cmpuint (chat_test_dispatch.parsed, ==, 1);
  chat_test_wire_start_reading (wire);
  reply = chat_test_wire_read_line (wire);
  g_assert_cmpuint (strlen (reply), >, big);
  g_assert_true (chat_test_loop_until (parsed_at_least, GUINT_TO_POINTER (2), 5000));
  expect_echo (wire, 2, "later");
}

/* Pushes pile up for a client that reads nothing: past the bound it is dropped. */
static void
test_client_that_does_not_read_is_dropped (Fixture *fixture, gconstpointer data)
{
  Client *client = &fixture->client;
  g_autoptr (JsonObject) event = json_object_new ();
  g_autofree char *text = g_strnfill (1024 * 1024, 'e');
  guint sent = 0;

  json_object_set_string_member (event, "event", "message");
  json_object_set_string_member (event, "text", text);
  while (client->closed == 0 && sent < 2 * CHAT_CONNECTION_MAX_QUEUED_BYTES / strlen (text))
    {
      chat_connection_send_event (client->conn, event);
      sent++;
    }
  g_assert_cmpuint (client->closed, ==, 1);
  /* Closed once more than the bound was queued, not long before (the socket's own
   * buffer holds some of what was sent). */
  g_assert_cmpuint (sent * strlen (text), >, CHAT_CONNECTION_MAX_QUEUED_BYTES);
  g_assert_cmpuint ((sent - 2) * strlen (text), <=, CHAT_CONNECTION_MAX_QUEUED_BYTES);
}

/* --- limits on unfinished lines ------------------------------------------------------ */

static gboolean
budget_is (gpointer data)
{
  return chat_line_budget_total () == GPOINTER_TO_SIZE (data);
}

/* The bytes of unfinished lines of all connections have one budget: the connection
 * that reads past it is closed, the others go on. */
static void
test_line_budget (Fixture *fixture, gconstpointer data)
{
  Client *first = &fixture->client;
  Client second = { 0 };
  g_autofree char *padding = g_strnfill (700, 'p');
  g_autofree char *line = g_strdup_printf ("{\"id\":1,\"op\":\"echo\",\"text\":\"%s\"}\n", padding);
  gsize head = 720;
  g_autofree char *other = g_strnfill (400, ' ');

  chat_line_budget_set_limit (1000);
  client_open (&second, fixture->dispatch, 30);
  chat_test_wire_write (&first->wire, line, head);
  g_assert_true (chat_test_loop_until (budget_is, GSIZE_TO_POINTER (head), 5000));
  chat_test_wire_send (&second.wire, other);
  g_assert_true (chat_test_loop_until (client_closed, &second, 5000));
  chat_test_wire_expect_eof (&second.wire);
  g_assert_cmpuint (chat_line_budget_total (), ==, head);
  g_assert_cmpuint (first->closed, ==, 0);
  /* The first connection finishes its line and is answered. */
  chat_test_wire_send (&first->wire, line + head);
  expect_echo (&first->wire, 1, padding);
  g_assert_cmpuint (chat_line_budget_total (), ==, 0);
  client_clear (&second);
  chat_line_budget_set_limit (CHAT_DEFAULT_PARTIAL_LINES_BUDGET_BYTES);
}

/* An unfinished line has a deadline from its first byte; a byte now and then does not
 * extend it. */
static void
test_unfinished_line_deadline (Fixture *fixture, gconstpointer data)
{
  Client client = { 0 };
  gint64 started = 0;
  gint64 elapsed = 0;

  client_open (&client, fixture->dispatch, 1);
  started = g_get_monotonic_time ();
  chat_test_wire_send (&client.wire, "{");
  for (guint i = 0; i < 40 && client.closed == 0; i++)
    {
      chat_test_loop_for (100);
      if (client.closed == 0)
        chat_test_wire_send (&client.wire, " ");
    }
  elapsed = g_get_monotonic_time () - started;
  g_assert_cmpuint (client.closed, ==, 1);
  g_assert_cmpint (elapsed, >=, 1 * G_USEC_PER_SEC);
  g_assert_cmpuint (chat_test_dispatch.parsed, ==, 0);
  client_clear (&client);
}

/* While the server takes no lines (a request waits behind a barrier), the unfinished
 * line after it is not held against the client; once reading resumes it is. */
static void
test_unfinished_line_waits_for_a_busy_server (Fixture *fixture, gconstpointer data)
{
  Client client = { 0 };

  client_open (&client, fixture->dispatch, 1);
  chat_test_wire_send (&client.wire, "{\"id\":1,\"op\":\"hold\"}\n"
                                     "{\"id\":2,\"op\":\"hold\",\"barrier\":true}\n"
                                     "{\"id\":3,");
  wait_held (fixture, 1);
  chat_test_loop_for (1500);
  g_assert_cmpuint (client.closed, ==, 0);
  chat_test_dispatch_answer_held (0);
  g_assert_true (chat_test_loop_until (client_closed, &client, 5000));
  g_assert_cmpuint (chat_test_dispatch.held->len, ==, 2);
  chat_test_dispatch_answer_held (1);
  client_clear (&client);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/connection/framing/lines-in-one-read", test_lines_in_one_read);
  ADD ("/connection/framing/line-in-pieces", test_line_in_pieces);
  ADD ("/connection/framing/invalid-lines", test_invalid_lines);
  ADD ("/connection/framing/oversize-line", test_oversize_line);
  ADD ("/connection/framing/oversize-complete-line", test_oversize_complete_line);
  ADD ("/connection/order/replies-in-request-order", test_replies_in_request_order);
  ADD ("/connection/order/barrier", test_barrier);
  ADD ("/connection/order/event-between-responses", test_event_between_responses);
  ADD ("/connection/close/half-close", test_half_close_answers_then_closes);
  ADD ("/connection/close/half-close-behind-a-barrier", test_half_close_behind_a_barrier);
  ADD ("/connection/close/partial-line-at-eof", test_partial_line_at_eof);
  ADD ("/connection/close/client-gone-mid-request", test_client_gone_mid_request);
  ADD ("/connection/close/late-answers-dropped", test_close_drops_late_answers);
  ADD ("/connection/order/in-flight-bound", test_in_flight_bound);
  ADD ("/connection/peer/hello-is-handed-over", test_peer_hello_is_handed_over);
  ADD ("/connection/peer/hello-with-more-bytes-is-refused",
       test_peer_hello_with_more_bytes_is_refused);
  ADD ("/connection/peer/hello-later-is-a-request", test_peer_hello_later_is_a_request);
  ADD ("/connection/pause-while-client-does-not-read", test_pauses_while_client_does_not_read);
  ADD ("/connection/limits/client-that-does-not-read-is-dropped",
       test_client_that_does_not_read_is_dropped);
  ADD ("/connection/limits/line-budget", test_line_budget);
  ADD ("/connection/limits/unfinished-line-deadline", test_unfinished_line_deadline);
  ADD ("/connection/limits/unfinished-line-waits-for-a-busy-server",
       test_unfinished_line_waits_for_a_busy_server);
#undef ADD
  return g_test_run ();
}
