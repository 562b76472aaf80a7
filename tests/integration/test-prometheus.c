/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Debian's prometheus scrapes a three-server cluster on loopback; its HTTP API answers. */
#include "config.h"

#include "chat-fs.h"
#include "chat-test-util.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

/* Prometheus starts in about a second; scrapes come every second. */
#define DEADLINE_S 60

/* TRUE when every port from first to first + n - 1 can be bound on loopback now. */
static gboolean
ports_free (guint16 first, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GSocketListener) listener = g_socket_listener_new ();
      g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
      g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, first + i);

      if (!g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_TCP, NULL, NULL, NULL))
        return FALSE;
    }
  return TRUE;
}

/* n consecutive free loopback ports (the servers' metrics ports count up from one base). */
static guint16
free_ports (guint n)
{
  for (guint attempt = 0; attempt < 200; attempt++)
    {
      guint16 first = (guint16)g_random_int_range (20000, 60000);

      if (ports_free (first, n))
        return first;
    }
  g_error ("no %u consecutive free ports on loopback", n);
}

static char *
write_prometheus_config (const char *dir, guint16 metrics_base, guint n)
{
  g_autofree char *path = g_build_filename (dir, "prometheus.yml", NULL);
  g_autoptr (GString) text = g_string_new ("global:\n  scrape_interval: 1s\n"
                                           "  scrape_timeout: 1s\n"
                                           "scrape_configs:\n  - job_name: chatd\n"
                                           "    static_configs:\n      - targets: [");
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "%s'127.0.0.1:%u'", i > 0 ? ", " : "", metrics_base + i);
  g_string_append (text, "]\n");
  g_file_set_contents (path, text->str, (gssize)text->len, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

static GSubprocess *
start_prometheus (const char *dir, const char *config, guint16 web_port)
{
  g_autofree char *storage = g_strdup_printf ("--storage.tsdb.path=%s/data", dir);
  g_autofree char *file = g_strdup_printf ("--config.file=%s", config);
  g_autofree char *listen = g_strdup_printf ("--web.listen-address=127.0.0.1:%u", web_port);
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autofree char *log = g_build_filename (dir, "prometheus.log", NULL);
  g_autoptr (GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  process = g_subprocess_launcher_spawn (launcher, &error, "prometheus", file, storage, listen,
                                         "--log.level=warn", NULL);
  g_assert_no_error (error);
  return process;
}

/* The value of the first sample an instant query returns, or NULL (not up yet, no data). */
static char *
query (SoupSession *session, guint16 web_port, const char *promql)
{
  g_autofree char *escaped = g_uri_escape_string (promql, NULL, FALSE);
  g_autofree char *uri
      = g_strdup_printf ("http://127.0.0.1:%u/api/v1/query?query=%s", web_port, escaped);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root, *data;
  JsonArray *result;

  if (body == NULL || soup_message_get_status (msg) != SOUP_STATUS_OK
      || !json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                      (gssize)g_bytes_get_size (body), NULL))
    return NULL;
  root = json_node_get_object (json_parser_get_root (parser));
  data = json_object_get_object_member (root, "data");
  result = data != NULL ? json_object_get_array_member (data, "result") : NULL;
  if (result == NULL || json_array_get_length (result) == 0)
    return NULL;
  return g_strdup (json_array_get_string_element (
      json_object_get_array_member (json_array_get_object_element (result, 0), "value"), 1));
}

/* Polls promql until it returns want (TRUE), or until the deadline (FALSE, said why). */
static gboolean
wait_for_value (SoupSession *session, guint16 web_port, const char *promql, const char *want,
                gint64 deadline)
{
  g_autofree char *last = NULL;

  while (g_get_monotonic_time () < deadline)
    {
      g_free (last);
      last = query (session, web_port, promql);
      if (g_strcmp0 (last, want) == 0)
        {
          g_test_message ("%s = %s", promql, last);
          return TRUE;
        }
      g_usleep (200 * 1000);
    }
  g_test_message ("prometheus: %s is %s, not %s, after %d s", promql, last ? last : "(no data)",
                  want, DEADLINE_S);
  return FALSE;
}

static void
test_scrape (void)
{
  g_autoptr (ChatTestCluster) cluster = NULL;
  g_autoptr (GSubprocess) prometheus = NULL;
  /* A NULL proxy resolver: straight to loopback, without libproxy. */
  g_autoptr (SoupSession) session
      = soup_session_new_with_options ("timeout", 5, "proxy-resolver", NULL, NULL);
  g_autofree char *dir = NULL;
  g_autofree char *config = NULL;
  g_autofree char *listen = NULL;
  gint64 deadline = g_get_monotonic_time () + DEADLINE_S * G_USEC_PER_SEC;
  guint16 metrics_base, web_port;
  gboolean scraped = FALSE;
  cluster = chat_test_cluster_new (3, NULL);
  metrics_base = free_ports (3);
  listen = g_strdup_printf ("127.0.0.1:%u", metrics_base);
  chat_test_cluster_set_option (cluster, "metrics", "listen", listen);
  chat_test_cluster_start_all (cluster);
  g_assert_cmpuint (chat_test_cluster_wait_leader (cluster, 10000), !=, 0);

  dir = g_dir_make_tmp ("chatd-prometheus-XXXXXX", NULL);
  config = write_prometheus_config (dir, metrics_base, 3);
  web_port = free_ports (1);
  prometheus = start_prometheus (dir, config, web_port);

  /* Every target scraped, exactly one leader, every server in sync, and the hello
   * requests the harness sent counted. Prometheus is stopped before any verdict, so that
   * a failure leaves no process behind. */
  scraped = wait_for_value (session, web_port, "count(up{job=\"chatd\"} == 1)", "3", deadline)
            && wait_for_value (session, web_port, "sum(chatd_role{role=\"leader\"})", "1", deadline)
            && wait_for_value (session, web_port, "min(chatd_in_sync_servers)", "3", deadline)
            && wait_for_value (session, web_port,
                               "sum(chatd_requests_total{op=\"hello\",result=\"ok\"}) > bool 0",
                               "1", deadline);
  g_subprocess_send_signal (prometheus, SIGTERM);
  g_subprocess_wait (prometheus, NULL, NULL);
  g_assert_true (scraped);
  chat_fs_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_autofree char *prometheus = NULL;

  g_test_init (&argc, &argv, NULL);
  prometheus = g_find_program_in_path ("prometheus");
  if (prometheus == NULL)
    return chat_test_skip_all ("prometheus is not installed (scripts/install-deps)");
  g_test_add_func ("/prometheus/scrape", test_scrape);
  return g_test_run ();
}
