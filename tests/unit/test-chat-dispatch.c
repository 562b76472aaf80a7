/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatDispatch over a one-server replica: request lines in through a connection, the right
 * replies, errors and events out. */
#include "chat-json-test-util.h"
#include "chat-auth.h"
#include "chat-connection.h"
#include "chat-dispatch.h"
#include "chat-fs.h"
#include "chat-json.h"
#include "chat-replica.h"
#include "chat-test-loop.h"
#include "chat-sessions.h"
#include "chat-store-testing.h"

#include <errno.h>
#include <glib-unix.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ONE_SERVER "[server]\nhost1 = 127.0.0.1\nport1 = 7001\n"
#define TWO_SERVERS "[server]\nhost1 = 127.0.0.1\nport1 = 7001\nhost2 = 127.0.0.1\nport2 = 7002\n"
#define TIMEOUT_MS 10000
#define PASSWORD "dispatch-password"

typedef struct
{
  char *dir;
  ChatConfig *config;
  ChatStore *store;
  ChatReplica *replica;
  ChatSessions *sessions;
  ChatAuth *auth;
  ChatDispatch *dispatch;
} Fixture;

/* A client: the test's end of a socket pair whose other end is a ChatConnection. */
typedef struct
{
  Fixture *f;
  ChatConnection *conn;
  int fd;
  guint watch;
  GString *in;      /* bytes read, not yet split into lines */
  GPtrArray *lines; /* JsonObject *: responses and events, in arrival order */
} Client;

static void
on_applied (ChatReplica *replica, guint64 index, JsonObject *op, gpointer result,
            gpointer user_data)
{
  Fixture *f = user_data;

  chat_sessions_deliver_result (f->sessions, op, result);
}

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gboolean primary = data == NULL; /* one server: it leads */
  guint id = data == NULL ? 1 : 2; /* two servers: the test is the second, alone */

  f->dir = g_dir_make_tmp ("chat-dispatch-XXXXXX", &error);
  g_assert_no_error (error);
  f->store = chat_store_open (f->dir, &error);
  g_assert_no_error (error);
  f->config = chat_config_load_from_data (data != NULL ? data : ONE_SERVER, &error);
  g_assert_no_error (error);
  f->replica = chat_replica_new (f->store, f->config, id, primary);
  g_assert_true (chat_replica_start (f->replica, &error));
  g_assert_no_error (error);
  f->sessions = chat_sessions_new ();
  f->auth = chat_auth_new ();
  /* Argon2id at its lowest cost: the interactive one takes tens of ms per signup. */
  chat_auth_set_cost (f->auth, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
  f->dispatch = chat_dispatch_new (f->config, f->store, f->replica, f->sessions, f->auth);
  g_signal_connect (f->replica, "applied", G_CALLBACK (on_applied), f);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  chat_replica_stop (f->replica);
  g_clear_object (&f->dispatch);
  g_clear_object (&f->auth);
  g_clear_object (&f->sessions);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&f->replica);
  g_clear_object (&f->store);
  chat_config_free (f->config);
  chat_fs_remove_tree (f->dir);
  g_free (f->dir);
}

/* --- the client ------------------------------------------------------------------------- */

static void
split_lines (Client *c)
{
  char *newline = NULL;

  while ((newline = memchr (c->in->str, '\n', c->in->len)) != NULL)
    {
      gsize len = newline - c->in->str;
      g_autoptr (GError) error = NULL;
      JsonObject *object = chat_json_parse_object (c->in->str, len, &error);
      g_autofree char *generated = NULL;

      g_assert_no_error (error);
      /* Replies and events written as text are the generator's text to the byte. */
      generated = generator_text (object);
      g_assert_cmpmem (c->in->str, len + 1, generated, strlen (generated));
      g_ptr_array_add (c->lines, object);
      g_string_erase (c->in, 0, len + 1);
    }
}

static gboolean
on_readable (int fd, GIOCondition condition, gpointer user_data)
{
  Client *c = user_data;
  char buffer[4096];
  ssize_t n = 0;
  int read_errno = 0;

  while ((n = read (fd, buffer, sizeof buffer)) > 0)
    g_string_append_len (c->in, buffer, n);
  read_errno = errno;
  split_lines (c);
  if (n < 0 && (read_errno == EAGAIN || read_errno == EINTR))
    return G_SOURCE_CONTINUE;
  c->watch = 0;
  return G_SOURCE_REMOVE;
}

static void
on_closed (ChatConnection *conn, gpointer user_data)
{
  Client *c = user_data;

  chat_sessions_detach (c->f->sessions, conn);
}

static Client *
client_new (Fixture *f)
{
  Client *c = g_new0 (Client, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketConnection) stream = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  stream = g_socket_connection_factory_create_connection (socket);
  c->f = f;
  c->fd = fds[1];
  c->in = g_string_new (NULL);
  c->lines = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  g_unix_set_fd_nonblocking (c->fd, TRUE, NULL);
  c->conn = chat_connection_new (G_IO_STREAM (stream), f->dispatch, f->config->max_line_bytes, 10);
  g_signal_connect (c->conn, "closed", G_CALLBACK (on_closed), c);
  chat_connection_start (c->conn);
  c->watch = g_unix_fd_add (c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, c);
  return c;
}

static void
client_free (Client *c)
{
  g_clear_handle_id (&c->watch, g_source_remove);
  g_signal_handlers_disconnect_by_data (c->conn, c);
  chat_sessions_detach (c->f->sessions, c->conn);
  chat_connection_close (c->conn);
  g_object_unref (c->conn);
  close (c->fd);
  g_string_free (c->in, TRUE);
  g_ptr_array_unref (c->lines);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static void
client_write (Client *c, const char *line)
{
  gsize len = strlen (line);

  g_assert_cmpint (write (c->fd, line, len), ==, (ssize_t)len);
  g_assert_cmpint (write (c->fd, "\n", 1), ==, 1);
}

/* The first line read so far that is a response ("ok") or, with event set, that event;
 * taken from the lines. */
static JsonObject *
take_line (Client *c, const char *event)
{
  for (guint i = 0; i < c->lines->len; i++)
    {
      JsonObject *line = g_ptr_array_index (c->lines, i);
      gboolean wanted
          = event != NULL
                ? g_strcmp0 (json_object_get_string_member_with_default (line, "event", NULL),
                             event)
                      == 0
                : json_object_has_member (line, "ok");

      if (wanted)
        return g_ptr_array_steal_index (c->lines, i);
    }
  return NULL;
}

typedef struct
{
  Client *client;
  const char *event;
  JsonObject *line;
} Awaited;

static gboolean
line_arrived (gpointer user_data)
{
  Awaited *awaited = user_data;

  awaited->line = take_line (awaited->client, awaited->event);
  return awaited->line != NULL;
}

/* Waits for the next response (event NULL) or the next event of that name. */
static JsonObject *
client_wait (Client *c, const char *event)
{
  Awaited awaited = { c, event, NULL };

  g_assert_true (chat_test_loop_until (line_arrived, &awaited, TIMEOUT_MS));
  return awaited.line;
}

static gboolean
is_serving (gpointer replica)
{
  return chat_replica_is_serving (replica);
}

static void
run_until_serving (Fixture *f)
{
  g_assert_true (chat_test_loop_until (is_serving, f->replica, TIMEOUT_MS));
}

/* Sends one request line and returns its response. */
static JsonObject *
client_call (Client *c, const char *line)
{
  client_write (c, line);
  return client_wait (c, NULL);
}

static const char *
error_code (JsonObject *response)
{
  g_assert_false (json_object_get_boolean_member (response, "ok"));
  return json_object_get_string_member (json_object_get_object_member (response, "error"), "code");
}

static void
assert_ok (JsonObject *response)
{
  if (!json_object_get_boolean_member (response, "ok"))
    g_error ("Refused: %s", error_code (response));
}

/* --- tests -------------------------------------------------------------------------------- */

/* hello: who this server is and how it sees the cluster, from the shared status. */
static void
test_hello (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) c = NULL;
  g_autoptr (JsonObject) reply = NULL;
  JsonArray *servers = NULL;
  JsonObject *server = NULL;

  run_until_serving (f);
  c = client_new (f);
  reply = client_call (c, "{\"id\":1,\"op\":\"hello\",\"client\":\"test\",\"proto\":1}");
  assert_ok (reply);
  g_assert_cmpint (json_object_get_int_member (reply, "id"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (reply, "node"), ==, "127.0.0.1:7001");
  g_assert_cmpstr (json_object_get_string_member (reply, "role"), ==, "leader");
  g_assert_cmpstr (json_object_get_string_member (reply, "leader"), ==, "127.0.0.1:7001");
  g_assert_cmpint (json_object_get_int_member (reply, "term"), >, 0);
  g_assert_false (json_object_has_member (reply, "waiting"));
  servers = json_object_get_array_member (reply, "servers");
  g_assert_cmpuint (json_array_get_length (servers), ==, 1);
  server = json_array_get_object_element (servers, 0);
  g_assert_cmpstr (json_object_get_string_member (server, "address"), ==, "127.0.0.1:7001");
  g_assert_cmpstr (json_object_get_string_member (server, "state"), ==, "leader");
  g_assert_true (json_object_get_boolean_member (server, "in_sync"));
}

/* Lines that are not requests, unknown ops and ops before a login are answered with the
 * right error, echoing the id where there is one; the connection stays open. */
static void
test_bad_requests (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) c = NULL;
  g_autoptr (JsonObject) not_json = NULL;
  g_autoptr (JsonObject) unknown = NULL;
  g_autoptr (JsonObject) anonymous = NULL;
  g_autoptr (JsonObject) bad_id = NULL;

  run_until_serving (f);
  c = client_new (f);
  not_json = client_call (c, "this is not json");
  g_assert_cmpstr (error_code (not_json), ==, "bad_request");
  g_assert_true (json_object_get_null_member (not_json, "id"));
  unknown = client_call (c, "{\"id\":\"u\",\"op\":\"fly\"}");
  g_assert_cmpstr (error_code (unknown), ==, "bad_request");
  g_assert_cmpstr (json_object_get_string_member (unknown, "id"), ==, "u");
  anonymous = client_call (c, "{\"id\":3,\"op\":\"send\",\"to\":\"bob\",\"body\":\"hi\","
                              "\"client_msg_id\":\"c1\"}");
  g_assert_cmpstr (error_code (anonymous), ==, "unauthenticated");
  g_assert_cmpint (json_object_get_int_member (anonymous, "id"), ==, 3);
  bad_id = client_call (c, "{\"id\":-1,\"op\":\"hello\"}");
  g_assert_cmpstr (error_code (bad_id), ==, "bad_request");
}

/* A send is proposed, committed, applied and answered with its message; the recipient's
 * connection gets the event ("applied"); the same client_msg_id again gets the same
 * message back. */
static void
test_signup_and_send (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) alice = NULL;
  g_autoptr (Client) bob = NULL;
  g_autoptr (JsonObject) signup_a = NULL;
  g_autoptr (JsonObject) signup_b = NULL;
  g_autoptr (JsonObject) sent = NULL;
  g_autoptr (JsonObject) again = NULL;
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (JsonObject) nobody = NULL;
  JsonObject *message = NULL;
  gint64 seq = 0;

  run_until_serving (f);
  alice = client_new (f);
  bob = client_new (f);
  signup_a = client_call (alice, "{\"id\":1,\"op\":\"signup\",\"username\":\"alice\","
                                 "\"password\":\"" PASSWORD "\"}");
  assert_ok (signup_a);
  g_assert_cmpuint (strlen (json_object_get_string_member (signup_a, "session")), ==, 64);
  signup_b = client_call (bob, "{\"id\":1,\"op\":\"signup\",\"username\":\"bob\","
                               "\"password\":\"" PASSWORD "\"}");
  assert_ok (signup_b);

  sent = client_call (alice, "{\"id\":2,\"op\":\"send\",\"to\":\"bob\",\"body\":\"hi bob\","
                             "\"client_msg_id\":\"a-1\"}");
  assert_ok (sent);
  message = json_object_get_object_member (sent, "message");
  seq = json_object_get_int_member (message, "seq");
  g_assert_cmpint (seq, >, 0);
  g_assert_cmpstr (json_object_get_string_member (message, "body"), ==, "hi bob");
  g_assert_cmpstr (json_object_get_string_member (message, "from"), ==, "alice");
  event = client_wait (bob, "message");
  g_assert_cmpint (
      json_object_get_int_member (json_object_get_object_member (event, "message"), "seq"), ==,
      seq);

  again = client_call (alice, "{\"id\":3,\"op\":\"send\",\"to\":\"bob\",\"body\":\"hi bob\","
                              "\"client_msg_id\":\"a-1\"}");
  assert_ok (again);
  g_assert_cmpint (
      json_object_get_int_member (json_object_get_object_member (again, "message"), "seq"), ==,
      seq);
  nobody = client_call (alice, "{\"id\":4,\"op\":\"send\",\"to\":\"carol\",\"body\":\"x\","
                               "\"client_msg_id\":\"a-2\"}");
  g_assert_cmpstr (error_code (nobody), ==, "no_such_user");
}

/* Two signups of one name at once: whichever commits second is refused, whether the
 * dispatcher's check or the apply (a refusal decided by the state) catches it. */
static void
test_signup_race (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) first = NULL;
  g_autoptr (Client) second = NULL;
  g_autoptr (JsonObject) a = NULL;
  g_autoptr (JsonObject) b = NULL;
  guint ok = 0;

  run_until_serving (f);
  first = client_new (f);
  second = client_new (f);
  client_write (first, "{\"id\":1,\"op\":\"signup\",\"username\":\"erin\","
                       "\"password\":\"" PASSWORD "\"}");
  client_write (second, "{\"id\":1,\"op\":\"signup\",\"username\":\"ERIN\","
                        "\"password\":\"" PASSWORD "\"}");
  a = client_wait (first, NULL);
  b = client_wait (second, NULL);
  ok = json_object_get_boolean_member (a, "ok") + json_object_get_boolean_member (b, "ok");
  g_assert_cmpuint (ok, ==, 1);
  g_assert_cmpstr (error_code (json_object_get_boolean_member (a, "ok") ? b : a), ==,
                   "username_taken");
}

/* A server that does not lead answers hello, and not_leader (naming no leader: it knows
 * none) to everything else, proposing nothing. */
static void
test_not_leader (Fixture *f, gconstpointer data)
{
  g_autoptr (Client) c = client_new (f);
  g_autoptr (JsonObject) hello = NULL;
  g_autoptr (JsonObject) signup = NULL;
  JsonObject *error = NULL;

  hello = client_call (c, "{\"id\":1,\"op\":\"hello\"}");
  assert_ok (hello);
  g_assert_cmpstr (json_object_get_string_member (hello, "role"), ==, "follower");
  g_assert_true (json_object_get_null_member (hello, "leader"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (hello, "servers")), ==, 2);
  signup = client_call (c, "{\"id\":2,\"op\":\"signup\",\"username\":\"frank\","
                           "\"password\":\"" PASSWORD "\"}");
  g_assert_cmpstr (error_code (signup), ==, "not_leader");
  error = json_object_get_object_member (signup, "error");
  g_assert_true (json_object_get_null_member (error, "leader"));
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (sodium_init () < 0)
    g_error ("libsodium cannot start");
  g_test_add ("/dispatch/hello", Fixture, NULL, set_up, test_hello, tear_down);
  g_test_add ("/dispatch/bad-requests", Fixture, NULL, set_up, test_bad_requests, tear_down);
  g_test_add ("/dispatch/signup-and-send", Fixture, NULL, set_up, test_signup_and_send, tear_down);
  g_test_add ("/dispatch/signup-race", Fixture, NULL, set_up, test_signup_race, tear_down);
  g_test_add ("/dispatch/not-leader", Fixture, TWO_SERVERS, set_up, test_not_leader, tear_down);
  return g_test_run ();
}
