/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatPeers: two servers in one process link up, authenticate, and refuse a wrong secret. */
#include "chat-test-loop.h"
#include "chat-test-net.h"
#include "chat-peer.h"

#include <string.h>

typedef struct
{
  ChatConfig *config;
  ChatPeers *peers;
  GSocketService *service;
  GPtrArray *received; /* char *: "from:line" */
} Server;

typedef struct
{
  Server servers[2];
} Fixture;

/* Both ends accept only a hello as the first line. */
static void
accept_hello (gpointer user_data, GIOStream *stream, const char *line, gsize len)
{
  Server *server = user_data;

  g_assert_true (chat_peers_is_hello (line, len));
  chat_peers_accept (server->peers, stream, line, len, NULL);
}

static void
on_line (guint from, const char *line, gsize len, gpointer user_data)
{
  Server *server = user_data;

  g_ptr_array_add (server->received, g_strdup_printf ("%u:%.*s", from, (int)len, line));
}

static void
set_up (Fixture *f, gconstpointer data)
{
  const char *second_secret = data != NULL ? data : "s3cret";
  guint16 ports[2];

  for (guint i = 0; i < 2; i++)
    {
      f->servers[i].service = g_socket_service_new ();
      ports[i] = chat_test_listen_loopback (G_SOCKET_LISTENER (f->servers[i].service));
      f->servers[i].received = g_ptr_array_new_with_free_func (g_free);
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *ini = g_strdup_printf (
          "[server]\nhost1 = 127.0.0.1\nport1 = %u\nhost2 = 127.0.0.1\nport2 = %u\n"
          "[cluster]\nmode = available\n",
          ports[0], ports[1]);

      f->servers[i].config = chat_config_load_from_data (ini, &error);
      g_assert_no_error (error);
      /* The daemon reads the key from cluster.key (chat-cluster-key.c); set it here. */
      f->servers[i].config->secret = g_strdup (i == 0 ? "s3cret" : second_secret);
      f->servers[i].peers = chat_peers_new (f->servers[i].config, i + 1, on_line, &f->servers[i]);
      chat_test_serve_first_line (f->servers[i].service, accept_hello, &f->servers[i]);
      chat_peers_start (f->servers[i].peers);
    }
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < 2; i++)
    {
      chat_peers_stop (f->servers[i].peers);
      g_socket_service_stop (f->servers[i].service);
      g_socket_listener_close (G_SOCKET_LISTENER (f->servers[i].service));
      g_clear_object (&f->servers[i].service);
      g_clear_object (&f->servers[i].peers);
      chat_config_free (f->servers[i].config);
      g_ptr_array_unref (f->servers[i].received);
    }
  /* Let cancelled operations finish. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static gboolean
both_connected (gpointer data)
{
  Fixture *f = data;

  return chat_peers_is_connected (f->servers[0].peers, 2)
         && chat_peers_is_connected (f->servers[1].peers, 1);
}

static void
run_for (guint ms, ChatTestCondition done, Fixture *f)
{
  if (done == NULL)
    chat_test_loop_for (ms);
  else
    chat_test_loop_until (done, f, ms);
}

static gboolean
both_received (gpointer data)
{
  Fixture *f = data;

  return f->servers[0].received->len > 0 && f->servers[1].received->len > 0;
}

static void
test_link (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) to_two = g_bytes_new_static ("{\"m\":\"to two\"}", 15);
  g_autoptr (GBytes) to_one = g_bytes_new_static ("{\"m\":\"to one\"}", 15);

  run_for (5000, both_connected, f);
  g_assert_true (both_connected (f));
  g_assert_true (chat_peers_send (f->servers[0].peers, 2, to_two));
  g_assert_true (chat_peers_send (f->servers[1].peers, 1, to_one));
  /* Nobody is this server's peer but the others. */
  g_assert_false (chat_peers_send (f->servers[0].peers, 1, to_two));
  run_for (5000, both_received, f);
  g_assert_cmpuint (f->servers[1].received->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->servers[1].received, 0), ==, "1:{\"m\":\"to two\"}");
  g_assert_cmpuint (f->servers[0].received->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->servers[0].received, 0), ==, "2:{\"m\":\"to one\"}");
}

static void
test_wrong_secret (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) line = g_bytes_new_static ("{}", 2);

  run_for (1500, NULL, f);
  g_assert_false (chat_peers_is_connected (f->servers[0].peers, 2));
  g_assert_false (chat_peers_is_connected (f->servers[1].peers, 1));
  g_assert_false (chat_peers_send (f->servers[0].peers, 2, line));
  g_assert_cmpuint (chat_peers_get_dropped (f->servers[0].peers), ==, 1);
  g_assert_cmpuint (f->servers[0].received->len, ==, 0);
  g_assert_cmpuint (f->servers[1].received->len, ==, 0);
}

static void
test_is_hello (void)
{
  static const char *const yes = "{\"peer\":\"hello\",\"node\":2,\"to\":1,\"nonce\":\"00\"}";
  static const char *const no[] = {
    "{\"id\":1,\"op\":\"hello\"}",
    "{\"peer\":\"auth\"}",
    "{\"peer\":\"hello\"",
    "[\"peer\",\"hello\"]",
  };

  g_assert_true (chat_peers_is_hello (yes, strlen (yes)));
  for (guint i = 0; i < G_N_ELEMENTS (no); i++)
    g_assert_false (chat_peers_is_hello (no[i], strlen (no[i])));
}

static void
test_proof (void)
{
  /* RFC 4231, test case 2. */
  g_autofree char *mac = chat_peers_compute_proof ("Jefe", "what do ya want for nothing?");

  g_assert_cmpstr (mac, ==, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/peer/is-hello", test_is_hello);
  g_test_add_func ("/peer/proof", test_proof);
  g_test_add ("/peer/link", Fixture, NULL, set_up, test_link, tear_down);
  g_test_add ("/peer/wrong-secret", Fixture, "another secret", set_up, test_wrong_secret,
              tear_down);
  return g_test_run ();
}
