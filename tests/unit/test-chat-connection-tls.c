/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of ChatConnection over TLS (over a socket pair), with the scripted dispatcher. */
#include "chat-test-cluster.h"
#include "chat-test-dispatch.h"
#include "chat-test-wire.h"

#include "chat-fs.h"
#include "chat-tls.h"

#define HOST "127.0.0.1"

typedef struct
{
  char *dir;
  ChatTestWire wire;
  ChatConnection *conn;
  guint closed;
  guint handshakes; /* finished on either side */
} Fixture;

static void
on_closed (ChatConnection *conn, gpointer user_data)
{
  ((Fixture *)user_data)->closed++;
}

static void
on_handshake (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *fixture = user_data;
  g_autoptr (GError) error = NULL;

  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error);
  g_assert_no_error (error);
  fixture->handshakes++;
}

static ChatTls *
load_tls (const char *dir, gboolean with_certificate)
{
  g_autofree char *certificate = g_build_filename (dir, HOST ".pem", NULL);
  g_autofree char *key = g_build_filename (dir, HOST ".key", NULL);
  g_autofree char *ca = g_build_filename (dir, "ca.pem", NULL);
  g_autoptr (GError) error = NULL;
  ChatTls *tls = chat_tls_new (with_certificate ? certificate : NULL, with_certificate ? key : NULL,
                               ca, &error);

  g_assert_no_error (error);
  return tls;
}

/* A TLS server side for the connection, a TLS client side for the wire, handshaken. */
static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ChatTls) server_tls = NULL;
  g_autoptr (ChatTls) client_tls = NULL;
  g_autoptr (GIOStream) server_plain = NULL, client_plain = NULL;
  g_autoptr (GIOStream) server = NULL;
  g_autoptr (GSocketConnectable) identity = g_network_address_new (HOST, 0);
  g_autoptr (GError) error = NULL;
  GIOStream *client = NULL;

  fixture->dir = g_dir_make_tmp ("chat-connection-tls-XXXXXX", &error);
  g_assert_no_error (error);
  chat_test_make_certificates (fixture->dir, HOST, FALSE);
  server_tls = load_tls (fixture->dir, TRUE);
  client_tls = load_tls (fixture->dir, FALSE);
  chat_test_wire_socket_pair (&server_plain, &client_plain);
  server = chat_tls_wrap_server (server_tls, server_plain, &error);
  g_assert_no_error (error);
  client = chat_tls_wrap_client (client_tls, client_plain, identity, &error);
  g_assert_no_error (error);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (server), G_PRIORITY_DEFAULT, NULL,
                                    on_handshake, fixture);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (client), G_PRIORITY_DEFAULT, NULL,
                                    on_handshake, fixture);
  g_assert_true (chat_test_loop_until_count (&fixture->handshakes, 2, 10000));
  fixture->conn = chat_connection_new (server, chat_test_dispatch_reset (), 64 * 1024, 30);
  g_signal_connect (fixture->conn, "closed", G_CALLBACK (on_closed), fixture);
  chat_connection_start (fixture->conn);
  chat_test_wire_open_stream (&fixture->wire, client);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  chat_connection_close (fixture->conn);
  g_clear_object (&fixture->conn);
  chat_test_wire_clear (&fixture->wire);
  chat_test_dispatch_clear ();
  chat_fs_remove_tree (fixture->dir);
  g_free (fixture->dir);
}

static gboolean
has_held (gpointer data)
{
  return chat_test_dispatch.held->len >= GPOINTER_TO_UINT (data);
}

/* Appends n echo lines, ids from first_id, to lines. */
static void
add_echoes (GString *lines, guint first_id, guint n)
{
  for (guint id = first_id; id < first_id + n; id++)
    g_string_append_printf (lines, "{\"id\":%u,\"op\":\"echo\",\"text\":\"line %u\"}\n", id, id);
}

static void
expect_answers (ChatTestWire *wire, guint first_id, guint last_id)
{
  for (guint id = first_id; id <= last_id; id++)
    {
      g_autoptr (JsonObject) reply = chat_test_wire_read_object (wire);

      g_assert_cmpint (json_object_get_int_member (reply, "id"), ==, id);
      g_assert_true (json_object_get_boolean_member (reply, "ok"));
    }
}

/* Many TLS records in one burst: every line is read and answered in order. */
static void
test_burst_of_records (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GString) lines = g_string_new (NULL);

  add_echoes (lines, 1, 2000);
  chat_test_wire_write (&fixture->wire, lines->str, lines->len);
  expect_answers (&fixture->wire, 1, 2000);
  g_assert_cmpuint (chat_test_dispatch.parsed, ==, 2000);
}

/* Reading stops behind a barrier while more records wait; it resumes when the barrier
 * is answered, with nothing new arriving from the client to wake it. */
static void
test_resumes_after_a_barrier (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GString) lines = g_string_new ("{\"id\":1,\"op\":\"hold\"}\n"
                                            "{\"id\":2,\"op\":\"hold\",\"barrier\":true}\n");

  add_echoes (lines, 3, 2000);
  chat_test_wire_write (&fixture->wire, lines->str, lines->len);
  g_assert_true (chat_test_loop_until (has_held, GUINT_TO_POINTER (1), 5000));
  chat_test_loop_for (100);
  g_assert_cmpuint (chat_test_dispatch.ops->len, ==, 1);
  chat_test_dispatch_answer_held (0);
  g_assert_true (chat_test_loop_until (has_held, GUINT_TO_POINTER (2), 5000));
  chat_test_dispatch_answer_held (1);
  expect_answers (&fixture->wire, 1, 2002);
}

static gboolean
is_closed (gpointer data)
{
  return ((Fixture *)data)->closed > 0;
}

/* The client closes its TLS session: the server sees the end and closes once. */
static void
test_client_closes (Fixture *fixture, gconstpointer data)
{
  chat_test_wire_send (&fixture->wire, "{\"id\":1,\"op\":\"echo\",\"text\":\"bye\"}\n");
  expect_answers (&fixture->wire, 1, 1);
  chat_test_wire_hang_up (&fixture->wire);
  g_assert_true (chat_test_loop_until (is_closed, fixture, 5000));
  g_assert_cmpuint (fixture->closed, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/connection-tls/burst-of-records", test_burst_of_records);
  ADD ("/connection-tls/resumes-after-a-barrier", test_resumes_after_a_barrier);
  ADD ("/connection-tls/client-closes", test_client_closes);
#undef ADD
  return g_test_run ();
}
