/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests config.ini parsing: the prototype's [server] format, [cluster], [limits], errors. */
#include "chat-config.h"
#include "chat-error.h"

#include <glib/gstdio.h>

static void
test_seed_format (void)
{
  const char *ini
      = "; the prototype's format\n[server]\nhost1 = 127.0.0.1\nport1 = 5555\nhost2 = 127.0.0.1\n"
        "port2 = 5556\nhost3 = 127.0.0.2\nport3 = 5557\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatConfig) config = chat_config_load_from_data (ini, &error);
  g_autofree char *third = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (config->servers->len, ==, 3);
  third = chat_server_address_to_string (g_ptr_array_index (config->servers, 2));
  g_assert_cmpstr (third, ==, "127.0.0.2:5557");
  g_assert_cmpuint (chat_config_find_server (config, "127.0.0.1", 5556), ==, 2);
  g_assert_cmpuint (chat_config_find_server (config, "127.0.0.1", 5557), ==, 0);
  g_assert_cmpint (config->mode, ==, CHAT_CLUSTER_MODE_AVAILABLE);
  g_assert_cmpuint (config->max_line_bytes, ==, 65536);
}

static void
test_shipped_file (void)
{
  g_autofree char *path = g_build_filename (g_getenv ("CHATD_SOURCE_ROOT"), "config.ini", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatConfig) config = chat_config_load (path, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (config->servers->len, ==, 3);
  g_assert_cmpuint (config->heartbeat_ms, ==, 100);
  g_assert_cmpstr (config->path, ==, path);
}

static void
test_cluster_and_limits (void)
{
  const char *ini = "[server]\nhost1=::1\nport1=7000\n[cluster]\nmode = quorum\nsecret = s3\n"
                    "heartbeat_ms=50\nelection_timeout_min_ms=300\nelection_timeout_max_ms=600\n"
                    "[limits]\nmax_line_bytes=4096\nmax_body_bytes=1000\nmax_connections=10\n";
  g_autoptr (ChatConfig) config = chat_config_load_from_data (ini, NULL);
  g_autofree char *v6 = chat_server_address_to_string (g_ptr_array_index (config->servers, 0));

  g_assert_cmpint (config->mode, ==, CHAT_CLUSTER_MODE_QUORUM);
  /* The key never comes from config.ini: a left-over line is only noted. */
  g_assert_null (config->secret);
  g_assert_true (config->has_stale_secret);
  g_assert_cmpuint (config->election_timeout_max_ms, ==, 600);
  g_assert_cmpuint (config->max_connections, ==, 10);
  g_assert_cmpstr (v6, ==, "[::1]:7000");
}

static void
test_errors (void)
{
  const char *bad[] = {
    "[server]\n",
    "[server]\nhost1=a\n",
    "[server]\nhost1=a\nport1=0\n",
    "[server]\nhost1=a\nport1=99999\n",
    "[server]\nhost1=a\nport1=5\nhost2=a\nport2=5\n",
    "[server]\nhost1=a\nport1=5\n[cluster]\nmode=eventual\n",
    "[server]\nhost1=a\nport1=5\n[cluster]\nheartbeat_ms=900\n",
    "[server]\nhost1=a\nport1=5\n[limits]\nmax_line_bytes=lots\n",
    "not an ini file",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ChatConfig) config = chat_config_load_from_data (bad[i], &error);
      g_assert_null (config);
      g_assert_nonnull (error);
    }
}

static void
test_tls (void)
{
  const char *base = "[server]\nhost1=10.0.0.1\nport1=5\n";
  g_autofree char *full = g_strconcat (base,
                                       "[tls]\ncertificate = /c.pem\nkey = /k.pem\n"
                                       "ca = /ca.pem\n",
                                       NULL);
  g_autofree char *ca_only = g_strconcat (base, "[tls]\nca = /ca.pem\n", NULL);
  g_autofree char *plain_ok = g_strconcat (base, "[tls]\nrequired = false\n", NULL);
  g_autofree char *half = g_strconcat (base, "[tls]\ncertificate = /c.pem\n", NULL);
  g_autofree char *bad_bool = g_strconcat (base, "[tls]\nrequired = maybe\n", NULL);
  g_autoptr (ChatConfig) none = chat_config_load_from_data (base, NULL);
  g_autoptr (ChatConfig) server = chat_config_load_from_data (full, NULL);
  g_autoptr (ChatConfig) client = chat_config_load_from_data (ca_only, NULL);
  g_autoptr (ChatConfig) plain = chat_config_load_from_data (plain_ok, NULL);

  g_assert_false (chat_config_tls_enabled (none));
  g_assert_true (none->tls_required);
  g_assert_true (chat_config_tls_enabled (server));
  g_assert_cmpstr (server->tls_certificate, ==, "/c.pem");
  g_assert_cmpstr (server->tls_key, ==, "/k.pem");
  g_assert_cmpstr (server->tls_ca, ==, "/ca.pem");
  g_assert_true (chat_config_tls_enabled (client));
  g_assert_null (client->tls_certificate);
  g_assert_false (chat_config_tls_enabled (plain));
  g_assert_false (plain->tls_required);
  g_assert_null (chat_config_load_from_data (half, NULL));
  g_assert_null (chat_config_load_from_data (bad_bool, NULL));
}

static void
test_relative_tls_paths (void)
{
  g_autofree char *dir = g_dir_make_tmp ("chat-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "config.ini", NULL);
  g_autofree char *expected = g_build_filename (dir, "tls", "ca.pem", NULL);
  g_autoptr (ChatConfig) config = NULL;

  g_assert_true (
      g_file_set_contents (path, "[server]\nhost1=a\nport1=5\n[tls]\nca = tls/ca.pem\n", -1, NULL));
  g_unsetenv ("CREDENTIALS_DIRECTORY");
  config = chat_config_load (path, NULL);
  g_assert_cmpstr (config->tls_ca, ==, expected);
  g_remove (path);
  g_rmdir (dir);
}

static void
test_addresses (void)
{
  g_autoptr (ChatServerAddress) plain = chat_server_address_parse ("localhost:5555", NULL);
  g_autoptr (ChatServerAddress) v6 = chat_server_address_parse ("[::1]:80", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (plain->host, ==, "localhost");
  g_assert_cmpuint (plain->port, ==, 5555);
  g_assert_cmpstr (v6->host, ==, "::1");
  g_assert_null (chat_server_address_parse ("nohost", &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
  g_assert_null (chat_server_address_parse ("host:port", NULL));
  g_assert_null (chat_server_address_parse ("[::1]80", NULL));
  g_assert_null (chat_server_address_parse (":80", NULL));
}

static void
test_metrics_listen (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatConfig) off = chat_config_load_from_data ("[server]\nhost1=a\nport1=5\n", NULL);
  g_autoptr (ChatConfig) on = chat_config_load_from_data (
      "[server]\nhost1=a\nport1=5\n[metrics]\nlisten = 127.0.0.1:9555\n", NULL);
  g_autoptr (ChatConfig) bad = chat_config_load_from_data (
      "[server]\nhost1=a\nport1=5\nhost2=b\nport2=5\n[metrics]\nlisten=[::1]:65535\n", &error);

  g_assert_null (off->metrics_listen);
  g_assert_cmpstr (on->metrics_listen->host, ==, "127.0.0.1");
  g_assert_cmpuint (on->metrics_listen->port, ==, 9555);
  g_assert_null (bad);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
  g_assert_null (
      chat_config_load_from_data ("[server]\nhost1=a\nport1=5\n[metrics]\nlisten=9555\n", NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/seed-format", test_seed_format);
  g_test_add_func ("/config/shipped-file", test_shipped_file);
  g_test_add_func ("/config/cluster-and-limits", test_cluster_and_limits);
  g_test_add_func ("/config/errors", test_errors);
  g_test_add_func ("/config/addresses", test_addresses);
  g_test_add_func ("/config/metrics-listen", test_metrics_listen);
  g_test_add_func ("/config/tls", test_tls);
  g_test_add_func ("/config/relative-tls-paths", test_relative_tls_paths);
  return g_test_run ();
}
