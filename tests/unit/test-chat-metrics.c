/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for chat-metrics and chat-metrics-server: the Prometheus text and GET /metrics. */
#include "config.h"

#include "chat-metrics-server.h"
#include "chat-metrics.h"

#include <libsoup/soup.h>

static void
fill_status (ChatStatus *status, ChatStatusWant want, gpointer user_data)
{
  status->node = g_strdup ("127.0.0.1:5556");
  status->role = g_strdup ("leader");
  status->term = 514;
  status->leader = g_strdup ("127.0.0.1:5556");
  status->commit_index = 812;
  status->applied_index = 811;
  status->mode = g_strdup ("available");
  status->connected_clients = 7;
  chat_status_add_in_sync (status, "127.0.0.1:5556");
  chat_status_add_in_sync (status, "127.0.0.1:5557");
  chat_status_add_peer (status, "127.0.0.1:5555", "down", 40, 3000);
  chat_status_add_peer (status, "127.0.0.1:5557", "follower", 2, 10);
}

static char *
render (void)
{
  g_autoptr (ChatStatus) status = chat_status_new ();

  fill_status (status, CHAT_STATUS_WANT_DEFAULT, NULL);
  return chat_metrics_render (status, 3);
}

static void
assert_line (const char *text, const char *line)
{
  g_autofree char *with_newlines = g_strdup_printf ("\n%s\n", line);

  if (strstr (text, with_newlines) == NULL)
    g_error ("missing line “%s” in:\n%s", line, text);
}

static void
test_gauges (void)
{
  g_autofree char *text = NULL;

  chat_metrics_reset ();
  text = render ();
  assert_line (text, "chatd_info{node=\"127.0.0.1:5556\",mode=\"available\"} 1");
  assert_line (text, "chatd_role{role=\"leader\"} 1");
  assert_line (text, "chatd_role{role=\"follower\"} 0");
  assert_line (text, "chatd_term 514");
  assert_line (text, "chatd_has_leader 1");
  assert_line (text, "chatd_commit_index 812");
  assert_line (text, "chatd_applied_index 811");
  assert_line (text, "chatd_in_sync_servers 2");
  assert_line (text, "chatd_servers 3");
  assert_line (text, "chatd_client_connections 7");
  assert_line (text, "chatd_peer_lag_entries{peer=\"127.0.0.1:5555\"} 40");
  assert_line (text, "chatd_peer_up{peer=\"127.0.0.1:5555\"} 0");
  assert_line (text, "chatd_peer_up{peer=\"127.0.0.1:5557\"} 1");
  assert_line (text, "# TYPE chatd_term gauge");
  assert_line (text, "chatd_leader_changes_total 0");
  /* No request yet: the histogram of fsyncs is there, empty. */
  assert_line (text, "chatd_fsync_duration_seconds_count 0");
  g_assert_null (strstr (text, "chatd_requests_total{"));
}

/* Buckets count cumulatively, +Inf equals _count, _sum adds the observations. */
static void
test_histograms (void)
{
  g_autofree char *text = NULL;

  chat_metrics_reset ();
  chat_metrics_observe_request ("send", TRUE, 0.0004);
  chat_metrics_observe_request ("send", TRUE, 0.003);
  chat_metrics_observe_request ("send", FALSE, 7.0);
  chat_metrics_observe_request (NULL, FALSE, 0.00001);
  chat_metrics_observe_fsync (0.002);
  chat_metrics_count_leader_change ();
  chat_metrics_observe_loop_stall (0.3);
  chat_metrics_count_leader_change ();
  text = render ();
  assert_line (text, "chatd_requests_total{op=\"send\",result=\"ok\"} 2");
  assert_line (text, "chatd_requests_total{op=\"send\",result=\"error\"} 1");
  assert_line (text, "chatd_requests_total{op=\"invalid\",result=\"error\"} 1");
  assert_line (text, "chatd_request_duration_seconds_bucket{op=\"send\",le=\"0.00025\"} 0");
  assert_line (text, "chatd_request_duration_seconds_bucket{op=\"send\",le=\"0.0005\"} 1");
  assert_line (text, "chatd_request_duration_seconds_bucket{op=\"send\",le=\"0.005\"} 2");
  assert_line (text, "chatd_request_duration_seconds_bucket{op=\"send\",le=\"5\"} 2");
  assert_line (text, "chatd_request_duration_seconds_bucket{op=\"send\",le=\"+Inf\"} 3");
  assert_line (text, "chatd_request_duration_seconds_count{op=\"send\"} 3");
  assert_line (text, "chatd_request_duration_seconds_sum{op=\"send\"} 7.0034");
  assert_line (text, "chatd_fsync_duration_seconds_bucket{le=\"0.0025\"} 1");
  assert_line (text, "chatd_fsync_duration_seconds_count 1");
  assert_line (text, "chatd_main_loop_stall_seconds_bucket{le=\"0.25\"} 0");
  assert_line (text, "chatd_main_loop_stall_seconds_bucket{le=\"0.5\"} 1");
  assert_line (text, "chatd_main_loop_stall_seconds_count 1");
  assert_line (text, "chatd_leader_changes_total 2");
  assert_line (text, "# TYPE chatd_request_duration_seconds histogram");
}

/* Every sample line belongs to the family its # TYPE line announced last. */
static void
test_families_declared (void)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *family = NULL;

  chat_metrics_reset ();
  chat_metrics_observe_request ("login", TRUE, 0.1);
  text = render ();
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      if (g_str_has_prefix (lines[i], "# TYPE "))
        {
          g_auto (GStrv) words = g_strsplit (lines[i], " ", 4);

          g_free (family);
          family = g_strdup (words[2]);
          continue;
        }
      if (lines[i][0] == '#')
        continue;
      g_assert_nonnull (family);
      if (!g_str_has_prefix (lines[i], family))
        g_error ("“%s” follows # TYPE %s", lines[i], family);
    }
}

static void
test_label_escaping (void)
{
  g_autofree char *text = NULL;

  chat_metrics_reset ();
  chat_metrics_observe_request ("we\"ird\\op\n", TRUE, 0.1);
  text = render ();
  assert_line (text, "chatd_requests_total{op=\"we\\\"ird\\\\op\\n\",result=\"ok\"} 1");
}

static void
test_listen_address (void)
{
  g_autoptr (ChatConfig) config = chat_config_load_from_data (
      "[server]\nhost1=a\nport1=1\nhost2=a\nport2=2\n[metrics]\nlisten=127.0.0.1:9555\n", NULL);
  g_autoptr (ChatConfig) off = chat_config_load_from_data ("[server]\nhost1=a\nport1=1\n", NULL);
  g_autoptr (ChatServerAddress) first = chat_metrics_listen_address (config, 1);
  g_autoptr (ChatServerAddress) second = chat_metrics_listen_address (config, 2);

  g_assert_cmpuint (first->port, ==, 9555);
  g_assert_cmpuint (second->port, ==, 9556);
  g_assert_cmpstr (second->host, ==, "127.0.0.1");
  g_assert_null (chat_metrics_listen_address (off, 1));
}

/* --- over HTTP ----------------------------------------------------------------------- */

typedef struct
{
  GBytes *body;
  guint status;
  char *content_type;
  gboolean done;
} Fetch;

static void
on_fetched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fetch *fetch = user_data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr (GError) error = NULL;

  fetch->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
  fetch->status = soup_message_get_status (msg);
  fetch->content_type = g_strdup (
      soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL));
  fetch->done = TRUE;
}

static void
fetch (guint16 port, const char *method, const char *path, Fetch *out)
{
  /* A NULL proxy resolver: straight to loopback, without libproxy. */
  g_autoptr (SoupSession) session = soup_session_new_with_options ("proxy-resolver", NULL, NULL);
  g_autofree char *uri = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);

  *out = (Fetch){ 0 };
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, on_fetched, out);
  while (!out->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
fetch_clear (Fetch *f)
{
  g_clear_pointer (&f->body, g_bytes_unref);
  g_clear_pointer (&f->content_type, g_free);
}

static void
test_http (void)
{
  g_autoptr (ChatMetricsServer) server = chat_metrics_server_new (fill_status, NULL, 3);
  g_autoptr (ChatServerAddress) any_port = chat_server_address_new ("127.0.0.1", 0);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  Fetch f;
  guint16 port;

  chat_metrics_reset ();
  g_assert_true (chat_metrics_server_listen (server, any_port, &error));
  g_assert_no_error (error);
  port = chat_metrics_server_get_port (server);
  g_assert_cmpuint (port, >, 0);

  fetch (port, "GET", "/metrics", &f);
  g_assert_cmpuint (f.status, ==, 200);
  g_assert_cmpstr (f.content_type, ==, "text/plain");
  text = g_strndup (g_bytes_get_data (f.body, NULL), g_bytes_get_size (f.body));
  assert_line (text, "chatd_term 514");
  fetch_clear (&f);

  fetch (port, "GET", "/", &f);
  g_assert_cmpuint (f.status, ==, 404);
  fetch_clear (&f);
  fetch (port, "POST", "/metrics", &f);
  g_assert_cmpuint (f.status, ==, 405);
  fetch_clear (&f);
}

static void
test_listen_busy_port (void)
{
  g_autoptr (ChatMetricsServer) first = chat_metrics_server_new (fill_status, NULL, 3);
  g_autoptr (ChatMetricsServer) second = chat_metrics_server_new (fill_status, NULL, 3);
  g_autoptr (ChatServerAddress) any_port = chat_server_address_new ("127.0.0.1", 0);
  g_autoptr (ChatServerAddress) taken = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (chat_metrics_server_listen (first, any_port, NULL));
  taken = chat_server_address_new ("127.0.0.1", chat_metrics_server_get_port (first));
  g_assert_false (chat_metrics_server_listen (second, taken, &error));
  g_assert_nonnull (error);
  g_assert_true (g_str_has_prefix (error->message, "Cannot serve metrics on 127.0.0.1:"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/chat-metrics/gauges", test_gauges);
  g_test_add_func ("/chat-metrics/histograms", test_histograms);
  g_test_add_func ("/chat-metrics/families-declared", test_families_declared);
  g_test_add_func ("/chat-metrics/label-escaping", test_label_escaping);
  g_test_add_func ("/chat-metrics/listen-address", test_listen_address);
  g_test_add_func ("/chat-metrics/http", test_http);
  g_test_add_func ("/chat-metrics/listen-busy-port", test_listen_busy_port);
  return g_test_run ();
}
