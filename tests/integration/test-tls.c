/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TLS on real servers with a CA made at test time: refusals, verification and rotation. */
#include "chat-fs.h"
#include "chat-link.h"
#include "chat-test-client.h"
#include "chat-test-loop.h"
#include "chat-test-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#define HELLO "{\"id\":1,\"op\":\"hello\",\"client\":\"test-tls\",\"proto\":1}\n"

/* Everything a raw TCP connection receives after sending text, up to the close. */
/* A socket client that dials directly, without GIO's proxy resolver. */
static GSocketClient *
direct_client_new (void)
{
  GSocketClient *client = g_socket_client_new ();

  g_socket_client_set_enable_proxy (client, FALSE);
  return client;
}

static GString *
plaintext_exchange (guint16 port, const char *text, gboolean *closed)
{
  g_autoptr (GSocketClient) client = direct_client_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) conn = NULL;
  GSocket *socket = NULL;
  GString *received = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  socket = g_socket_connection_get_socket (conn);
  g_socket_send (socket, text, strlen (text), NULL, &error);
  g_assert_no_error (error);
  *closed = FALSE;
  while (!*closed && g_get_monotonic_time () < deadline)
    {
      char chunk[4096];
      gssize n = 0;

      if (!g_socket_condition_timed_wait (socket, G_IO_IN, 500000, NULL, NULL))
        continue;
      n = g_socket_receive (socket, chunk, sizeof chunk, NULL, NULL);
      if (n <= 0)
        *closed = TRUE;
      else
        g_string_append_len (received, chunk, n);
    }
  return received;
}

/* A plaintext hello to a TLS port is closed without one JSON answer. */
static void
test_plaintext_refused (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (1, NULL);
  g_autoptr (GString) received = NULL;
  gboolean closed = FALSE;

  chat_test_cluster_use_tls (cluster);
  chat_test_cluster_start (cluster, 1, TRUE);
  received = plaintext_exchange (chat_test_cluster_port (cluster, 1), HELLO, &closed);
  g_assert_true (closed);
  g_assert_null (strstr (received->str, "\"ok\""));
  g_assert_null (strchr (received->str, '{'));
}

typedef struct
{
  gboolean done;
  GError *error;
} LinkResult;

static void
on_link (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LinkResult *outcome = user_data;
  g_autoptr (ChatLink) link = chat_link_new_finish (result, &outcome->error);

  if (link != NULL)
    chat_link_close (link);
  outcome->done = TRUE;
}

/* libchat's connection to port trusting database: NULL on success, else the error. */
static GError *
link_error (guint16 port, GTlsDatabase *database)
{
  g_autofree char *address = g_strdup_printf ("127.0.0.1:%u", port);
  LinkResult outcome = { 0 };

  chat_link_new_tls_async (address, 5000, 65536, database, NULL, on_link, &outcome);
  chat_test_loop_until_true (&outcome.done, CHAT_TEST_LOOP_FOREVER);
  return outcome.error;
}

static GTlsDatabase *
other_ca (ChatTestCluster *cluster, const char *name)
{
  g_autofree char *dir = g_build_filename (chat_test_cluster_dir (cluster), name, NULL);
  g_autofree char *ca = g_build_filename (dir, "ca.pem", NULL);
  g_autoptr (GError) error = NULL;
  GTlsDatabase *database = NULL;

  chat_test_make_certificates (dir, "127.0.0.1", FALSE);
  database = g_tls_file_database_new (ca, &error);
  g_assert_no_error (error);
  return database;
}

/* The right CA connects; a client that trusts another CA fails verification. */
static void
test_client_other_ca (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (1, NULL);
  g_autoptr (GTlsDatabase) wrong = NULL;
  g_autoptr (GError) good = NULL;
  g_autoptr (GError) bad = NULL;
  guint16 port = 0;

  chat_test_cluster_use_tls (cluster);
  chat_test_cluster_start (cluster, 1, TRUE);
  port = chat_test_cluster_port (cluster, 1);
  wrong = other_ca (cluster, "other-ca");
  good = link_error (port, chat_test_tls_database ());
  g_assert_no_error (good);
  bad = link_error (port, wrong);
  g_assert_error (bad, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
}

/* ChatClient reports a certificate it cannot verify as such (chat-gtk shows it), and
 * the same client with the cluster's CA signs up. */
static void
test_client_reports_certificate (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (1, NULL);
  g_autoptr (GTlsDatabase) wrong = NULL;
  g_autoptr (ChatClient) client = NULL;
  g_autoptr (GError) error = NULL;
  ChatTestWait wait = { 0 };

  chat_test_cluster_use_tls (cluster);
  chat_test_cluster_start (cluster, 1, TRUE);
  wrong = other_ca (cluster, "other-ca");
  client = chat_test_client_new (cluster);
  chat_client_set_tls_database (client, wrong);
  chat_client_set_request_timeout (client, 2000);
  chat_client_signup_async (client, "mallory", "correct horse", NULL, chat_test_wait_cb, &wait);
  g_assert_false (chat_client_signup_finish (client, chat_test_wait (&wait, 10000), &error));
  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  chat_test_wait_clear (&wait);
  g_clear_object (&client);
  client = chat_test_client_new (cluster);
  chat_test_client_signup (client, "alice", "correct horse");
}

/* The PEM of the certificate the server on port presents now. */
static char *
server_certificate (guint16 port)
{
  g_autoptr (GSocketClient) client = direct_client_new ();
  g_autoptr (GSocketConnectable) identity = g_network_address_new ("127.0.0.1", port);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) conn
      = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_autoptr (GIOStream) tls = NULL;
  char *pem = NULL;

  g_assert_no_error (error);
  tls = g_tls_client_connection_new (G_IO_STREAM (conn), identity, &error);
  g_assert_no_error (error);
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), chat_test_tls_database ());
  g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &error);
  g_assert_no_error (error);
  g_object_get (g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (tls)), "certificate-pem",
                &pem, NULL);
  g_io_stream_close (tls, NULL, NULL);
  return pem;
}

/* Makes a certificate for 127.0.0.1 from the cluster CA in dir name (expired if asked)
 * and copies it over the files [tls] names, as an operator rotating them would. */
static char *
replace_certificate (ChatTestCluster *cluster, const char *name, gboolean expired)
{
  const char *base = chat_test_cluster_dir (cluster);
  g_autofree char *dir = g_build_filename (base, name, NULL);
  const char *files[] = { "ca.pem", "ca.key" };
  const char *rotated[] = { "127.0.0.1.pem", "127.0.0.1.key" };
  char *pem = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *from = g_build_filename (base, "tls", files[i], NULL);
      g_autofree char *to = g_build_filename (dir, files[i], NULL);
      g_autofree char *data = NULL;
      gsize len = 0;

      g_assert_true (g_file_get_contents (from, &data, &len, NULL));
      g_assert_true (g_file_set_contents (to, data, (gssize)len, NULL));
    }
  chat_test_make_certificates (dir, "127.0.0.1", expired);
  for (guint i = 0; i < G_N_ELEMENTS (rotated); i++)
    {
      g_autofree char *from = g_build_filename (dir, rotated[i], NULL);
      g_autofree char *to = g_build_filename (base, "tls", rotated[i], NULL);
      g_autofree char *data = NULL;
      gsize len = 0;

      g_assert_true (g_file_get_contents (from, &data, &len, NULL));
      g_assert_true (g_file_set_contents (to, data, (gssize)len, NULL));
      if (i == 0)
        pem = g_steal_pointer (&data);
    }
  return pem;
}

/* SIGHUP makes new connections get the new certificate; an open connection stays. */
static void
test_rotation (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (1, NULL);
  g_autoptr (ChatTestConn) open_conn = NULL;
  g_autofree char *before = NULL;
  g_autofree char *written = NULL;
  g_autofree char *after = NULL;
  g_autoptr (GTlsCertificate) expected = NULL;
  g_autofree char *expected_pem = NULL;
  guint16 port = 0;
  gint64 deadline = 0;

  chat_test_cluster_use_tls (cluster);
  chat_test_cluster_start (cluster, 1, TRUE);
  port = chat_test_cluster_port (cluster, 1);
  open_conn = chat_test_conn_new (port);
  json_object_unref (chat_test_ok (open_conn, "{'id':1,'op':'hello','client':'t','proto':1}"));
  before = server_certificate (port);
  written = replace_certificate (cluster, "rotated", FALSE);
  expected = g_tls_certificate_new_from_pem (written, -1, NULL);
  g_object_get (expected, "certificate-pem", &expected_pem, NULL);
  g_assert_cmpstr (before, !=, expected_pem);
  chat_test_cluster_signal (cluster, 1, SIGHUP);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  do
    {
      g_clear_pointer (&after, g_free);
      g_usleep (50000);
      after = server_certificate (port);
    }
  while (g_strcmp0 (after, expected_pem) != 0 && g_get_monotonic_time () < deadline);
  g_assert_cmpstr (after, ==, expected_pem);
  json_object_unref (chat_test_ok (open_conn, "{'id':2,'op':'hello','client':'t','proto':1}"));
  g_assert_true (chat_test_cluster_is_running (cluster, 1));
}

/* A server whose certificate has expired is refused by libchat. */
static void
test_expired_refused (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (1, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *pem = NULL;
  guint16 port = 0;
  gint64 deadline = 0;

  chat_test_cluster_use_tls (cluster);
  chat_test_cluster_start (cluster, 1, TRUE);
  port = chat_test_cluster_port (cluster, 1);
  pem = replace_certificate (cluster, "expired", TRUE);
  chat_test_cluster_signal (cluster, 1, SIGHUP);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  do
    {
      g_clear_error (&error);
      g_usleep (50000);
      error = link_error (port, chat_test_tls_database ());
    }
  while (error == NULL && g_get_monotonic_time () < deadline);
  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
}

/* A server with the cluster secret but a certificate of another CA never becomes a
 * member: the leader keeps it out of the in-sync set. */
static void
test_peer_other_ca (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (2, NULL);
  const char *base = NULL;
  g_autofree char *rogue_dir = NULL, *rogue_ini = NULL, *rogue_state = NULL;
  g_autofree char *chatd = NULL, *port = NULL, *cert = NULL, *key = NULL;
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GSubprocess) rogue = NULL;
  g_autoptr (JsonObject) hello = NULL;
  g_autoptr (GError) error = NULL;
  JsonArray *servers = NULL;

  chat_test_cluster_use_tls (cluster);
  base = chat_test_cluster_dir (cluster);
  g_object_unref (other_ca (cluster, "rogue"));
  rogue_dir = g_build_filename (base, "rogue", NULL);
  cert = g_build_filename (rogue_dir, "127.0.0.1.pem", NULL);
  key = g_build_filename (rogue_dir, "127.0.0.1.key", NULL);
  g_assert_true (g_key_file_load_from_file (file, chat_test_cluster_config_path (cluster),
                                            G_KEY_FILE_NONE, NULL));
  g_key_file_set_string (file, "tls", "certificate", cert);
  g_key_file_set_string (file, "tls", "key", key);
  rogue_ini = g_build_filename (base, "rogue.ini", NULL);
  g_assert_true (g_key_file_save_to_file (file, rogue_ini, NULL));
  rogue_state = g_build_filename (base, "rogue-state", NULL);
  chat_test_cluster_start (cluster, 1, TRUE);
  chatd = g_build_filename (g_getenv ("CHATD_BUILD_ROOT"), "daemon", "chatd", NULL);
  port = g_strdup_printf ("%u", chat_test_cluster_port (cluster, 2));
  rogue = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                            &error, chatd, "--host", "127.0.0.1", "--port", port, "--config",
                            rogue_ini, "--state-dir", rogue_state, NULL);
  g_assert_no_error (error);
  /* A real member is in sync within a second (test-cluster-basic-tls); give it three. */
  g_usleep (3 * G_USEC_PER_SEC);
  hello = chat_test_hello (cluster, 1);
  g_assert_nonnull (hello);
  servers = json_object_get_array_member (hello, "servers");
  g_assert_cmpuint (json_array_get_length (servers), ==, 2);
  g_assert_false (
      json_object_get_boolean_member (json_array_get_object_element (servers, 1), "in_sync"));
  g_assert_cmpstr (
      json_object_get_string_member (json_array_get_object_element (servers, 1), "state"), !=,
      "up");
  /* Still running: it was kept out, not stopped by a bad config. */
  g_assert_nonnull (g_subprocess_get_identifier (rogue));
  g_subprocess_force_exit (rogue);
  g_subprocess_wait (rogue, NULL, NULL);
}

/* Without [tls], a non-loopback host is refused before anything listens, unless
 * [tls] required = false (then the bind of a TEST-NET address is what fails). */
static void
test_plaintext_off_loopback (void)
{
  g_autofree char *dir = g_dir_make_tmp ("chatd-tls-XXXXXX", NULL);
  g_autofree char *ini = g_build_filename (dir, "config.ini", NULL);
  g_autofree char *key = g_build_filename (dir, "cluster.key", NULL);
  g_autofree char *chatd
      = g_build_filename (g_getenv ("CHATD_BUILD_ROOT"), "daemon", "chatd", NULL);
  const char *configs[]
      = { "[server]\nhost1 = 192.0.2.1\nport1 = 5555\n",
          "[server]\nhost1 = 192.0.2.1\nport1 = 5555\n[tls]\nrequired = false\n" };
  const int statuses[] = { 2, 1 };

  g_assert_true (g_file_set_contents_full (key, "tls-test-cluster-key-0123456789abcdef\n", -1,
                                           G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  const char *messages[] = { "not a loopback address", "Cannot listen" };

  for (guint i = 0; i < G_N_ELEMENTS (configs); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSubprocess) process = NULL;
      g_autofree char *err = NULL;

      g_assert_true (g_file_set_contents (ini, configs[i], -1, NULL));
      process = g_subprocess_new (
          G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error, chatd,
          "--port", "5555", "--config", ini, "--state-dir", dir, NULL);
      g_assert_no_error (error);
      g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &err, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (process), ==, statuses[i]);
      g_assert_nonnull (strstr (err, messages[i]));
    }
  chat_fs_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tls/plaintext-refused", test_plaintext_refused);
  g_test_add_func ("/tls/client-other-ca", test_client_other_ca);
  g_test_add_func ("/tls/client-reports-certificate", test_client_reports_certificate);
  g_test_add_func ("/tls/expired-refused", test_expired_refused);
  g_test_add_func ("/tls/peer-other-ca", test_peer_other_ca);
  g_test_add_func ("/tls/rotation", test_rotation);
  g_test_add_func ("/tls/plaintext-off-loopback", test_plaintext_off_loopback);
  return g_test_run ();
}
