/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: request lines through a connection, the dispatcher, a one-server replica, a store.
 */
#include "chat-auth.h"
#include "chat-connection.h"
#include "chat-dispatch.h"
#include "chat-json.h"
#include "chat-replica.h"
#include "chat-sessions.h"
#include "chat-store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Each input is written at once into a socket pair, so it must fit its buffer. */
#define MAX_INPUT_BYTES (64 * 1024)
/* Every request of an input must be answered within this time (libFuzzer's own
 * -timeout should be longer). */
#define ANSWER_DEADLINE_US (8 * G_USEC_PER_SEC)
#define PASSWORD "fuzz-password"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Built once and kept for the whole run: the store grows as inputs commit ops. */
typedef struct
{
  char *dir;
  ChatConfig *config;
  ChatStore *store;
  ChatReplica *replica;
  ChatSessions *sessions;
  ChatAuth *auth;
  ChatDispatch *dispatch;
  char *alice_session; /* SHA-256 hex of alice's session, which every input starts in */
} Harness;

static Harness *harness;

/* One client connection over a socket pair: the server end is a ChatConnection, the
 * client end is fd, read into out until the server closes. */
typedef struct
{
  ChatConnection *conn;
  int fd;
  GString *out;
  gboolean closed;
  gboolean eof;
} Exchange;

static GLogWriterOutput
quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
on_closed (ChatConnection *conn, gpointer user_data)
{
  Exchange *exchange = user_data;

  chat_sessions_detach (harness->sessions, conn);
  exchange->closed = TRUE;
}

static gboolean
on_client_readable (int fd, GIOCondition condition, gpointer user_data)
{
  Exchange *exchange = user_data;
  char buffer[16384];
  ssize_t n = 0;

  while ((n = read (fd, buffer, sizeof buffer)) > 0)
    g_string_append_len (exchange->out, buffer, n);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  exchange->eof = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
on_tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Every line the server writes is a JSON object: a response ("ok") or an event. */
static void
check_output (GString *out)
{
  g_auto (GStrv) lines = g_strsplit (out->str, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GError) error = NULL;
      JsonNode *root = NULL;
      JsonObject *object = NULL;

      if (lines[i][0] == '\0')
        continue;
      if (!json_parser_load_from_data (parser, lines[i], -1, &error))
        g_error ("The server wrote a line that is not JSON: %s", error->message);
      root = json_parser_get_root (parser);
      object = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
      if (object == NULL
          || (!json_object_has_member (object, "ok") && !json_object_has_member (object, "event")))
        g_error ("The server wrote a line that is neither a response nor an event");
    }
  if (out->len > 0 && out->str[out->len - 1] != '\n')
    g_error ("The server's output does not end with a newline");
}

/* Runs input through a new connection (logged in as session_hash/username when set)
 * until every request is answered and the server closed; returns what it wrote. */
static GString *
run_exchange (const void *input, gsize len, const char *session_hash, const char *username)
{
  Exchange exchange = { NULL, -1, g_string_new (NULL), FALSE, FALSE };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketConnection) stream = NULL;
  gint64 deadline = g_get_monotonic_time () + ANSWER_DEADLINE_US;
  int fds[2];
  guint watch = 0, tick = 0;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    g_error ("socketpair: %s", g_strerror (errno));
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  stream = g_socket_connection_factory_create_connection (socket);
  exchange.fd = fds[1];
  if (len > 0 && write (exchange.fd, input, len) != (ssize_t)len)
    g_error ("Writing the input failed: %s", g_strerror (errno));
  shutdown (exchange.fd, SHUT_WR);
  g_unix_set_fd_nonblocking (exchange.fd, TRUE, NULL);

  exchange.conn = chat_connection_new (G_IO_STREAM (stream), harness->dispatch,
                                       harness->config->max_line_bytes, 1);
  g_signal_connect (exchange.conn, "closed", G_CALLBACK (on_closed), &exchange);
  if (session_hash != NULL)
    chat_sessions_attach (harness->sessions, exchange.conn, session_hash, username);
  chat_connection_start (exchange.conn);
  watch = g_unix_fd_add (exchange.fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_client_readable, &exchange);
  tick = g_timeout_add (50, on_tick, NULL);
  while (!exchange.closed || !exchange.eof)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Requests were not all answered within %d s",
                 (int)(ANSWER_DEADLINE_US / G_USEC_PER_SEC));
      g_main_context_iteration (NULL, TRUE);
    }
  /* Leftover work (idle callbacks) runs before the next input. */
  for (guint i = 0; i < 1000 && g_main_context_pending (NULL); i++)
    g_main_context_iteration (NULL, FALSE);
  if (!exchange.eof)
    g_source_remove (watch);
  g_source_remove (tick);
  g_signal_handlers_disconnect_by_data (exchange.conn, &exchange);
  g_object_unref (exchange.conn);
  close (exchange.fd);
  check_output (exchange.out);
  return exchange.out;
}

/* The "session" of the last response line that has one (the token), or NULL. */
static char *
last_session_token (GString *out)
{
  g_auto (GStrv) lines = g_strsplit (out->str, "\n", -1);
  char *token = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr (JsonObject) object = chat_json_parse_object (lines[i], strlen (lines[i]), NULL);
      const char *session = NULL;

      if (object != NULL && json_object_get_boolean_member_with_default (object, "ok", FALSE)
          && chat_json_get_string (object, "session", FALSE, 64, &session, NULL) && session)
        {
          g_free (token);
          token = g_strdup (session);
        }
    }
  return token;
}

/* alice and bob exist and alice has a live session, whatever earlier inputs did. */
static void
restore_users (void)
{
  const char *bob = "{\"op\":\"signup\",\"username\":\"bob\",\"password\":\"" PASSWORD "\"}\n";
  const char *alice = "{\"op\":\"signup\",\"username\":\"alice\",\"password\":\"" PASSWORD "\"}\n"
                      "{\"op\":\"login\",\"username\":\"alice\",\"password\":\"" PASSWORD "\"}\n";
  g_autofree char *bob_name = chat_store_user_name (harness->store, "bob");
  g_autofree char *alice_name = NULL;
  g_autofree char *token = NULL;
  GString *out = NULL;

  if (bob_name == NULL)
    g_string_free (run_exchange (bob, strlen (bob), NULL, NULL), TRUE);
  if (harness->alice_session != NULL)
    alice_name = chat_store_session_user (harness->store, harness->alice_session);
  if (alice_name != NULL)
    return;
  /* Earlier inputs may have used up alice's failed-login allowance. */
  chat_throttle_reset (chat_auth_get_throttle (harness->auth));
  out = run_exchange (alice, strlen (alice), NULL, NULL);
  token = last_session_token (out);
  g_string_free (out, TRUE);
  if (token == NULL)
    g_error ("Logging alice in failed");
  g_free (harness->alice_session);
  harness->alice_session = chat_auth_session_hash (token);
}

static void
on_applied (ChatReplica *replica, guint64 index, JsonObject *op, gpointer result,
            gpointer user_data)
{
  chat_sessions_deliver_result (harness->sessions, op, result);
}

static void
wait_for_leader (void)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  guint tick = g_timeout_add (10, on_tick, NULL);

  while (!chat_replica_is_serving (harness->replica))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("The one-server replica did not become leader");
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
}

/* Removes the store's folder when the run ends (it stays after a crash). */
static void
remove_state_dir (void)
{
  g_autoptr (GDir) dir = g_dir_open (harness->dir, 0, NULL);
  const char *name = NULL;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (harness->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (harness->dir);
}

static void
set_up (void)
{
  g_autoptr (GError) error = NULL;
  /* tmpfs when there is one: the store syncs every commit. */
  const char *base = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir ();
  g_autofree char *template = g_build_filename (base, "fuzz-dispatch-XXXXXX", NULL);

  g_log_set_writer_func (quiet_writer, NULL, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  harness = g_new0 (Harness, 1);
  harness->dir = g_mkdtemp (g_steal_pointer (&template));
  if (harness->dir == NULL)
    g_error ("Cannot make a temporary folder: %s", g_strerror (errno));
  atexit (remove_state_dir);
  harness->config
      = chat_config_load_from_data ("[server]\nhost1 = 127.0.0.1\nport1 = 7001\n", &error);
  g_assert_no_error (error);
  harness->store = chat_store_open (harness->dir, &error);
  g_assert_no_error (error);
  harness->replica = chat_replica_new (harness->store, harness->config, 1, TRUE);
  if (!chat_replica_start (harness->replica, &error))
    g_error ("%s", error->message);
  harness->sessions = chat_sessions_new ();
  harness->auth = chat_auth_new ();
  /* Argon2id at its lowest cost: the interactive one takes tens of ms per login. */
  chat_auth_set_cost (harness->auth, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
  harness->dispatch = chat_dispatch_new (harness->config, harness->store, harness->replica,
                                         harness->sessions, harness->auth);
  g_signal_connect (harness->replica, "applied", G_CALLBACK (on_applied), NULL);
  wait_for_leader ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *alice = NULL;
  GString *out = NULL;

  if (size > MAX_INPUT_BYTES)
    return -1;
  if (harness == NULL)
    set_up ();
  restore_users ();
  alice = chat_store_session_user (harness->store, harness->alice_session);
  out = run_exchange (data, size, harness->alice_session, alice);
  /* CHAT_FUZZ_ECHO=1 shows what the server answered, to check a corpus file. */
  if (g_getenv ("CHAT_FUZZ_ECHO") != NULL)
    g_printerr ("%s", out->str);
  g_string_free (out, TRUE);
  return 0;
}
