/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of libchat's requests and failover (chat-client-conn.c, chat-client-ops.c)
 * against scripted servers on loopback listeners in this process. */
#include "chat-test-loop.h"
#include "chat-test-net.h"
#include "chat-client.h"
#include "chat-error.h"
#include "chat-json.h"

/* The deadline of requests meant to fail: long enough for a few exchanges on a slow
 * machine (the messages below name it). */
#define SHORT_TIMEOUT_MS 1500

typedef struct _Server Server;

/* One accepted connection of a scripted server, read a line at a time. */
typedef struct
{
  Server *server;
  GIOStream *stream;
  GDataInputStream *in;
  GCancellable *cancellable;
} ServerConn;

/* How a server answers a request other than hello (hello always says "leader"). */
typedef void (*ServerAnswer) (ServerConn *conn, JsonObject *request);

struct _Server
{
  const char *name;
  GSocketService *service;
  char *address;
  ServerAnswer answer;
  GPtrArray *conns; /* ServerConn * */
  GPtrArray *ops;   /* char *, every op received, in order */
  GPtrArray *held;  /* JsonObject *, requests kept for later (see answer_reversed) */
  ServerConn *held_on;
};

static void server_conn_read (ServerConn *conn);

static void
server_conn_free (ServerConn *conn)
{
  g_cancellable_cancel (conn->cancellable);
  g_io_stream_close (conn->stream, NULL, NULL);
  g_object_unref (conn->cancellable);
  g_object_unref (conn->in);
  g_object_unref (conn->stream);
  g_free (conn);
}

static void
server_write (ServerConn *conn, const char *text)
{
  g_autoptr (GError) error = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (conn->stream);

  g_output_stream_write_all (out, text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
server_reply (ServerConn *conn, JsonObject *response)
{
  g_autofree char *line = chat_json_to_line (response, NULL);

  server_write (conn, line);
}

static JsonObject *
response_to (JsonObject *request, gboolean ok)
{
  JsonObject *response = json_object_new ();

  json_object_set_member (response, "id", json_node_copy (json_object_get_member (request, "id")));
  json_object_set_boolean_member (response, "ok", ok);
  return response;
}

static void
answer_hello (ServerConn *conn, JsonObject *request)
{
  g_autoptr (JsonObject) response = response_to (request, TRUE);
  Server *server = conn->server;

  json_object_set_string_member (response, "server", "scripted");
  json_object_set_int_member (response, "proto", 1);
  json_object_set_string_member (response, "node", server->address);
  json_object_set_string_member (response, "role", "leader");
  json_object_set_string_member (response, "leader", server->address);
  json_object_set_int_member (response, "term", 1);
  json_object_set_array_member (response, "servers", json_array_new ());
  server_reply (conn, response);
}

/* Answers list_users with one user named "<pattern>-<server name>". */
static void
answer_users (ServerConn *conn, JsonObject *request)
{
  g_autoptr (JsonObject) response = response_to (request, TRUE);
  g_autoptr (JsonObject) user = json_object_new ();
  JsonArray *users = json_array_new ();
  g_autofree char *name = g_strdup_printf (
      "%s-%s", json_object_get_string_member (request, "pattern"), conn->server->name);

  json_object_set_string_member (user, "username", name);
  json_array_add_object_element (users, g_steal_pointer (&user));
  json_object_set_array_member (response, "users", users);
  json_object_set_boolean_member (response, "more", FALSE);
  server_reply (conn, response);
}

static void
server_drop (Server *server, ServerConn *conn)
{
  g_ptr_array_remove (server->conns, conn);
}

static void
on_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  g_autofree char *line
      = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), result, &len, &error);
  g_autoptr (JsonObject) request = NULL;
  ServerConn *conn = user_data;
  Server *server = NULL;

  /* Cancelled: the connection was freed. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  server = conn->server;
  if (line == NULL)
    {
      server_drop (server, conn);
      return;
    }
  request = chat_json_parse_object (line, len, &error);
  g_assert_no_error (error);
  g_ptr_array_add (server->ops, g_strdup (json_object_get_string_member (request, "op")));
  /* The answer may close the connection: read on only if it is still there. */
  if (g_str_equal (json_object_get_string_member (request, "op"), "hello"))
    answer_hello (conn, request);
  else
    server->answer (conn, request);
  if (g_ptr_array_find (server->conns, conn, NULL))
    server_conn_read (conn);
}

static void
server_conn_read (ServerConn *conn)
{
  g_data_input_stream_read_line_async (conn->in, G_PRIORITY_DEFAULT, conn->cancellable, on_line,
                                       conn);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer user_data)
{
  Server *server = user_data;
  ServerConn *conn = g_new0 (ServerConn, 1);

  conn->server = server;
  conn->stream = G_IO_STREAM (g_object_ref (connection));
  conn->in = g_data_input_stream_new (g_io_stream_get_input_stream (conn->stream));
  conn->cancellable = g_cancellable_new ();
  g_ptr_array_add (server->conns, conn);
  server_conn_read (conn);
  return TRUE;
}

static Server *
server_new (const char *name, ServerAnswer answer)
{
  Server *server = g_new0 (Server, 1);
  guint16 port = 0;

  server->name = name;
  server->answer = answer;
  server->conns = g_ptr_array_new_with_free_func ((GDestroyNotify)server_conn_free);
  server->ops = g_ptr_array_new_with_free_func (g_free);
  server->held = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  server->service = g_socket_service_new ();
  port = chat_test_listen_loopback (G_SOCKET_LISTENER (server->service));
  server->address = g_strdup_printf ("127.0.0.1:%u", port);
  g_signal_connect (server->service, "incoming", G_CALLBACK (on_incoming), server);
  g_socket_service_start (server->service);
  return server;
}

/* The server goes away: its connections close and its port refuses connections. */
static void
server_stop (Server *server)
{
  g_ptr_array_set_size (server->conns, 0);
  g_socket_service_stop (server->service);
  g_socket_listener_close (G_SOCKET_LISTENER (server->service));
}

static void
server_free (Server *server)
{
  server_stop (server);
  g_object_unref (server->service);
  g_ptr_array_unref (server->conns);
  g_ptr_array_unref (server->ops);
  g_ptr_array_unref (server->held);
  g_free (server->address);
  g_free (server);
}

static guint
server_count_op (Server *server, const char *op)
{
  guint count = 0;

  for (guint i = 0; i < server->ops->len; i++)
    count += g_str_equal (server->ops->pdata[i], op);
  return count;
}

/* --- the client's side ---------------------------------------------------------------- */

typedef struct
{
  Server *a, *b;
  ChatClient *client;
  GPtrArray *results; /* GAsyncResult *, in the order they completed */
} Fixture;

static void
capture (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *fixture = user_data;

  g_ptr_array_add (fixture->results, g_object_ref (result));
}

static void
await_results (Fixture *fixture, guint count)
{
  g_assert_true (chat_test_loop_until_count (&fixture->results->len, count, 10000));
  g_assert_cmpuint (fixture->results->len, ==, count);
}

static void
fixture_start (Fixture *fixture, ServerAnswer answer_a, ServerAnswer answer_b)
{
  const char *addresses[3] = { NULL };

  fixture->a = server_new ("a", answer_a);
  addresses[0] = fixture->a->address;
  if (answer_b != NULL)
    {
      fixture->b = server_new ("b", answer_b);
      addresses[1] = fixture->b->address;
    }
  fixture->client = chat_client_new (addresses);
  chat_client_set_request_timeout (fixture->client, 5000);
  fixture->results = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  chat_client_disconnect (fixture->client);
  g_clear_object (&fixture->client);
  g_clear_pointer (&fixture->a, server_free);
  g_clear_pointer (&fixture->b, server_free);
  g_ptr_array_unref (fixture->results);
}

static void
list_users (Fixture *fixture, const char *pattern)
{
  chat_client_list_users_async (fixture->client, pattern, 0, NULL, NULL, capture, fixture);
}

/* The users the index-th completed request got; fails the test on an error. */
static char *
users_of (Fixture *fixture, guint index)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) users = chat_client_list_users_finish (
      fixture->client, fixture->results->pdata[index], NULL, &error);

  g_assert_no_error (error);
  return g_strjoinv (",", users);
}

static GError *
error_of (Fixture *fixture, guint index)
{
  GError *error = NULL;
  g_auto (GStrv) users = chat_client_list_users_finish (
      fixture->client, fixture->results->pdata[index], NULL, &error);

  g_assert_null (users);
  g_assert_nonnull (error);
  return error;
}

/* --- matching replies to requests --------------------------------------------------------- */

/* Holds list_users until two wait, then answers them last first, with an answer to no
 * request of this client in between. */
static void
answer_reversed (ServerConn *conn, JsonObject *request)
{
  Server *server = conn->server;
  g_autoptr (JsonObject) stray = json_object_new ();

  g_ptr_array_add (server->held, json_object_ref (request));
  if (server->held->len < 2)
    return;
  answer_users (conn, server->held->pdata[1]);
  json_object_set_int_member (stray, "id", 424242);
  json_object_set_boolean_member (stray, "ok", TRUE);
  json_object_set_array_member (stray, "users", json_array_new ());
  server_reply (conn, stray);
  answer_users (conn, server->held->pdata[0]);
}

static void
test_replies_matched_by_id (Fixture *fixture, gconstpointer data)
{
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  fixture_start (fixture, answer_reversed, NULL);
  list_users (fixture, "x");
  list_users (fixture, "y");
  await_results (fixture, 2);
  /* Each caller got the answer to its own request, in the order they came. */
  first = users_of (fixture, 0);
  second = users_of (fixture, 1);
  g_assert_cmpstr (first, ==, "y-a");
  g_assert_cmpstr (second, ==, "x-a");
  g_assert_cmpuint (server_count_op (fixture->a, "list_users"), ==, 2);
}

/* --- a server that goes away mid-request ------------------------------------------------- */

static void
answer_by_dying (ServerConn *conn, JsonObject *request)
{
  server_stop (conn->server);
}

static void
test_server_dies_mid_request_fails_over (Fixture *fixture, gconstpointer data)
{
  g_autofree char *users = NULL;

  fixture_start (fixture, answer_by_dying, answer_users);
  list_users (fixture, "x");
  await_results (fixture, 1);
  users = users_of (fixture, 0);
  g_assert_cmpstr (users, ==, "x-b");
  g_assert_cmpuint (server_count_op (fixture->a, "list_users"), ==, 1);
  g_assert_cmpuint (server_count_op (fixture->b, "list_users"), ==, 1);
  g_assert_cmpstr (chat_client_get_server (fixture->client), ==, fixture->b->address);
  g_assert_cmpint (chat_client_get_connection_state (fixture->client), ==,
                   CHAT_CONNECTION_STATE_CONNECTED);
}

static void
test_server_dies_with_nowhere_to_go (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture_start (fixture, answer_by_dying, NULL);
  chat_client_set_request_timeout (fixture->client, SHORT_TIMEOUT_MS);
  list_users (fixture, "x");
  await_results (fixture, 1);
  error = error_of (fixture, 0);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE);
  g_assert_true (g_str_has_prefix (error->message, "Cannot reach the cluster within 1500 ms: "));
}

/* Drops the connection on the first list_users and leaves the retry unanswered. */
static void
answer_by_dropping_once (ServerConn *conn, JsonObject *request)
{
  if (server_count_op (conn->server, "list_users") == 1)
    server_drop (conn->server, conn);
}

/* A request sent again after its connection failed says why it got no answer. */
static void
test_no_answer_after_a_drop_says_why (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture_start (fixture, answer_by_dropping_once, NULL);
  chat_client_set_request_timeout (fixture->client, SHORT_TIMEOUT_MS);
  list_users (fixture, "x");
  await_results (fixture, 1);
  error = error_of (fixture, 0);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE);
  g_assert_cmpstr (error->message, ==,
                   "No answer within 1500 ms; the connection failed: The server closed the "
                   "connection");
  g_assert_cmpuint (server_count_op (fixture->a, "list_users"), ==, 2);
}

/* --- answers that are not what was promised -------------------------------------------- */

static void
answer_garbage (ServerConn *conn, JsonObject *request)
{
  server_write (conn, "this is not json\n");
}

static void
test_garbage_reply_line (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture_start (fixture, answer_garbage, NULL);
  chat_client_set_request_timeout (fixture->client, SHORT_TIMEOUT_MS);
  list_users (fixture, "x");
  await_results (fixture, 1);
  error = error_of (fixture, 0);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "sent a line that is not a JSON object"));
}

static void
answer_wrong_shape (ServerConn *conn, JsonObject *request)
{
  g_autoptr (JsonObject) response = response_to (request, TRUE);

  json_object_set_string_member (response, "users", "not a list");
  server_reply (conn, response);
}

static void
test_malformed_answer (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture_start (fixture, answer_wrong_shape, NULL);
  list_users (fixture, "x");
  await_results (fixture, 1);
  error = error_of (fixture, 0);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_assert_true (g_str_has_prefix (error->message, "Malformed answer from the server: "));
}

static void
answer_refusal_without_reason (ServerConn *conn, JsonObject *request)
{
  g_autoptr (JsonObject) response = response_to (request, FALSE);

  server_reply (conn, response);
}

static void
test_refusal_without_reason (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture_start (fixture, answer_refusal_without_reason, NULL);
  list_users (fixture, "x");
  await_results (fixture, 1);
  error = error_of (fixture, 0);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_assert_cmpstr (error->message, ==, "The server refused the request without saying why");
}

/* --- every operation's answer in the wrong shape ------------------------------------- */

/* Answers ok with every field an operation reads, each of the wrong type. */
static void
answer_all_wrong (ServerConn *conn, JsonObject *request)
{
  g_autoptr (JsonObject) response = response_to (request, TRUE);

  json_object_set_string_member (response, "user", "not an object");
  json_object_set_string_member (response, "message", "not an object");
  json_object_set_int_member (response, "messages", 5);
  json_object_set_string_member (response, "users", "not a list");
  json_object_set_object_member (response, "conversations", json_object_new ());
  json_object_set_int_member (response, "marked", -1);
  json_object_set_string_member (response, "total", "many");
  json_object_set_string_member (response, "deleted", "some");
  json_object_set_string_member (response, "more", "perhaps");
  json_object_set_string_member (response, "seq", "late");
  json_object_set_string_member (response, "unread", "lots");
  server_reply (conn, response);
}

typedef struct
{
  const char *op;
  void (*start) (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data);
  /* TRUE if the answer was taken as a success; sets *error otherwise. */
  gboolean (*finish) (ChatClient *client, GAsyncResult *result, GError **error);
} OpCase;

static void
start_login (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data)
{
  chat_client_login_async (client, "alice", "password1", NULL, callback, user_data);
}

static gboolean
finish_login (ChatClient *client, GAsyncResult *result, GError **error)
{
  return chat_client_login_finish (client, result, NULL, error);
}

static void
start_signup (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data)
{
  chat_client_signup_async (client, "alice", "password1", NULL, callback, user_data);
}

static gboolean
finish_signup (ChatClient *client, GAsyncResult *result, GError **error)
{
  return chat_client_signup_finish (client, result, error);
}

static void
start_send (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data)
{
  chat_client_send_async (client, "bob", "hello", NULL, callback, user_data);
}

static gboolean
finish_send (ChatClient *client, GAsyncResult *result, GError **error)
{
  g_autoptr (ChatMessage) message = chat_client_send_finish (client, result, error);

  return message != NULL;
}

static void
start_read_unread (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data)
{
  chat_client_read_unread_async (client, 0, NULL, callback, user_data);
}

static gboolean
finish_read_unread (ChatClient *client, GAsyncResult *result, GError **error)
{
  g_autoptr (GPtrArray) messages = chat_client_read_unread_finish (client, result, error);

  return messages != NULL;
}

static void
start_history (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data)
{
  chat_client_history_async (client, "bob", 0, 0, NULL, callback, user_data);
}

static gboolean
finish_history (ChatClient *client, GAsyncResult *result, GError **error)
{
  g_autoptr (GPtrArray) messages = chat_client_history_finish (client, result, NULL, error);

  return messages != NULL;
}

static void
start_conversations (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data)
{
  chat_client_conversations_async (client, NULL, callback, user_data);
}

static gboolean
finish_conversations (ChatClient *client, GAsyncResult *result, GError **error)
{
  g_autoptr (GPtrArray) list = chat_client_conversations_finish (client, result, error);

  return list != NULL;
}

static void
start_mark_read (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data)
{
  chat_client_mark_read_async (client, "bob", 10, NULL, callback, user_data);
}

static gboolean
finish_mark_read (ChatClient *client, GAsyncResult *result, GError **error)
{
  return chat_client_mark_read_finish (client, result, NULL, error);
}

static void
start_unread_count (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data)
{
  chat_client_unread_count_async (client, NULL, callback, user_data);
}

static gboolean
finish_unread_count (ChatClient *client, GAsyncResult *result, GError **error)
{
  g_autoptr (GHashTable) by_user = NULL;

  return chat_client_unread_count_finish (client, result, NULL, &by_user, error);
}

static void
start_delete_messages (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data)
{
  static const gint64 ids[] = { 1, 2 };

  chat_client_delete_messages_async (client, ids, G_N_ELEMENTS (ids), CHAT_DELETE_SCOPE_DEFAULT,
                                     NULL, callback, user_data);
}

static gboolean
finish_delete_messages (ChatClient *client, GAsyncResult *result, GError **error)
{
  g_autoptr (GArray) deleted = NULL;
  g_autoptr (GArray) hidden = NULL;

  return chat_client_delete_messages_finish (client, result, &deleted, &hidden, error);
}

static void
start_sync (ChatClient *client, GAsyncReadyCallback callback, gpointer user_data)
{
  chat_client_sync_async (client, 0, 0, NULL, callback, user_data);
}

static gboolean
finish_sync (ChatClient *client, GAsyncResult *result, GError **error)
{
  g_autoptr (ChatSyncResult) page = chat_client_sync_finish (client, result, error);

  return page != NULL;
}

static const OpCase op_cases[] = {
  { "login", start_login, finish_login },
  { "signup", start_signup, finish_signup },
  { "send", start_send, finish_send },
  { "read_unread", start_read_unread, finish_read_unread },
  { "history", start_history, finish_history },
  { "conversations", start_conversations, finish_conversations },
  { "mark_read", start_mark_read, finish_mark_read },
  { "unread_count", start_unread_count, finish_unread_count },
  { "delete_messages", start_delete_messages, finish_delete_messages },
  { "sync", start_sync, finish_sync },
};

/* An answer in the wrong shape is CHAT_ERROR_INTERNAL saying so, never a crash or a
 * half-filled result. */
static void
test_wrong_shape (Fixture *fixture, gconstpointer data)
{
  const OpCase *op_case = data;
  g_autoptr (GError) error = NULL;

  fixture_start (fixture, answer_all_wrong, NULL);
  op_case->start (fixture->client, capture, fixture);
  await_results (fixture, 1);
  g_assert_false (op_case->finish (fixture->client, fixture->results->pdata[0], &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_assert_true (g_str_has_prefix (error->message, "Malformed answer from the server: "));
  g_assert_cmpuint (server_count_op (fixture->a, op_case->op), ==, 1);
}

/* --- requests sent again after a connection failed -------------------------------------- */

static void
answer_error (ServerConn *conn, JsonObject *request, const char *code)
{
  g_autoptr (JsonObject) response = response_to (request, FALSE);
  g_autoptr (JsonObject) error = json_object_new ();

  json_object_set_string_member (error, "code", code);
  json_object_set_string_member (error, "message", code);
  json_object_set_object_member (response, "error", g_steal_pointer (&error));
  server_reply (conn, response);
}

static void
answer_session (ServerConn *conn, JsonObject *request)
{
  g_autoptr (JsonObject) response = response_to (request, TRUE);
  g_autoptr (JsonObject) user = json_object_new ();

  json_object_set_string_member (user, "username", "alice");
  json_object_set_object_member (response, "user", g_steal_pointer (&user));
  json_object_set_string_member (response, "session", "0123456789abcdef");
  json_object_set_int_member (response, "unread", 0);
  server_reply (conn, response);
}

static void
answer_empty_sync (ServerConn *conn, JsonObject *request)
{
  g_autoptr (JsonObject) response = response_to (request, TRUE);

  json_object_set_array_member (response, "messages", json_array_new ());
  json_object_set_array_member (response, "deleted", json_array_new ());
  json_object_set_array_member (response, "read", json_array_new ());
  json_object_set_boolean_member (response, "more", FALSE);
  json_object_set_int_member (response, "seq", 0);
  server_reply (conn, response);
}

/* A server that applied the first signup or logout and lost the connection before it
 * answered: the retry finds the name taken, or the session gone. */
static void
answer_after_applying (ServerConn *conn, JsonObject *request)
{
  const char *op = json_object_get_string_member (request, "op");
  guint count = server_count_op (conn->server, op);

  if (g_str_equal (op, "sync"))
    answer_empty_sync (conn, request);
  else if ((g_str_equal (op, "signup") || g_str_equal (op, "logout")) && count == 1)
    server_drop (conn->server, conn);
  else if (g_str_equal (op, "signup"))
    answer_error (conn, request, "username_taken");
  else if (g_str_equal (op, "logout"))
    answer_error (conn, request, "unauthenticated");
  else
    answer_session (conn, request);
}

static void
test_retried_signup_logs_in (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture_start (fixture, answer_after_applying, NULL);
  chat_client_signup_async (fixture->client, "alice", "password1", NULL, capture, fixture);
  await_results (fixture, 1);
  g_assert_true (chat_client_signup_finish (fixture->client, fixture->results->pdata[0], &error));
  g_assert_no_error (error);
  g_assert_cmpuint (server_count_op (fixture->a, "signup"), ==, 2);
  g_assert_cmpuint (server_count_op (fixture->a, "login"), ==, 1);
  g_assert_cmpstr (chat_client_get_username (fixture->client), ==, "alice");
}

/* On its first attempt, username_taken is the answer. */
static void
test_first_signup_taken_is_an_error (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture_start (fixture, answer_after_applying, NULL);
  /* The server counts an earlier signup: it answers this first attempt username_taken. */
  g_ptr_array_add (fixture->a->ops, g_strdup ("signup"));
  chat_client_signup_async (fixture->client, "alice", "password1", NULL, capture, fixture);
  await_results (fixture, 1);
  g_assert_false (chat_client_signup_finish (fixture->client, fixture->results->pdata[0], &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_USERNAME_TAKEN);
  g_assert_cmpuint (server_count_op (fixture->a, "login"), ==, 0);
  g_assert_null (chat_client_get_username (fixture->client));
}

static void
test_retried_logout_succeeds (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture_start (fixture, answer_after_applying, NULL);
  chat_client_login_async (fixture->client, "alice", "password1", NULL, capture, fixture);
  await_results (fixture, 1);
  g_assert_true (
      chat_client_login_finish (fixture->client, fixture->results->pdata[0], NULL, &error));
  g_assert_no_error (error);
  chat_client_logout_async (fixture->client, NULL, capture, fixture);
  await_results (fixture, 2);
  g_assert_true (chat_client_logout_finish (fixture->client, fixture->results->pdata[1], &error));
  g_assert_no_error (error);
  g_assert_cmpuint (server_count_op (fixture->a, "logout"), ==, 2);
  /* The reconnect resumed the session before it sent the logout again. */
  g_assert_cmpuint (server_count_op (fixture->a, "resume"), ==, 1);
  g_assert_null (chat_client_get_username (fixture->client));
}

/* --- events between answers ------------------------------------------------------------ */

/* Pushes a message event before it answers list_users. */
static void
answer_with_event_first (ServerConn *conn, JsonObject *request)
{
  g_autoptr (JsonObject) event = json_object_new ();
  g_autoptr (JsonObject) message = json_object_new ();

  json_object_set_int_member (message, "id", 77);
  json_object_set_int_member (message, "seq", 77);
  json_object_set_string_member (message, "from", "bob");
  json_object_set_string_member (message, "to", "alice");
  json_object_set_string_member (message, "body", "pushed");
  json_object_set_int_member (message, "sent_at", 1795000000000);
  json_object_set_boolean_member (message, "read", FALSE);
  json_object_set_string_member (event, "event", "message");
  json_object_set_int_member (event, "seq", 77);
  json_object_set_object_member (event, "message", g_steal_pointer (&message));
  server_reply (conn, event);
  answer_users (conn, request);
}

static void
on_message (ChatClient *client, ChatMessage *message, gpointer user_data)
{
  g_ptr_array_add (user_data, g_object_ref (message));
}

static void
test_event_between_answers (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) messages = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *users = NULL;

  fixture_start (fixture, answer_with_event_first, NULL);
  g_signal_connect (fixture->client, "message-received", G_CALLBACK (on_message), messages);
  list_users (fixture, "x");
  await_results (fixture, 1);
  users = users_of (fixture, 0);
  g_assert_cmpstr (users, ==, "x-a");
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpstr (chat_message_get_body (messages->pdata[0]), ==, "pushed");
  g_assert_cmpint (chat_client_get_last_seq (fixture->client), ==, 77);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, NULL, func, fixture_tear_down)
  ADD ("/client-conn/replies-matched-by-id", test_replies_matched_by_id);
  ADD ("/client-conn/server-dies/fails-over", test_server_dies_mid_request_fails_over);
  ADD ("/client-conn/server-dies/nowhere-to-go", test_server_dies_with_nowhere_to_go);
  ADD ("/client-conn/server-dies/no-answer-says-why", test_no_answer_after_a_drop_says_why);
  ADD ("/client-conn/garbage-reply-line", test_garbage_reply_line);
  ADD ("/client-conn/malformed-answer", test_malformed_answer);
  ADD ("/client-conn/refusal-without-reason", test_refusal_without_reason);
  ADD ("/client-conn/retry/signup-logs-in", test_retried_signup_logs_in);
  ADD ("/client-conn/retry/first-signup-taken-is-an-error", test_first_signup_taken_is_an_error);
  ADD ("/client-conn/retry/logout-succeeds", test_retried_logout_succeeds);
  ADD ("/client-conn/event-between-answers", test_event_between_answers);
#undef ADD
  for (gsize i = 0; i < G_N_ELEMENTS (op_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/client-ops/wrong-shape/%s", op_cases[i].op);

      g_test_add (path, Fixture, &op_cases[i], NULL, test_wrong_shape, fixture_tear_down);
    }
  return g_test_run ();
}
