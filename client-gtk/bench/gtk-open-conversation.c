/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark: open a conversation of N messages in chat-gtk, time the first paint, scroll to the
 * top (skipped with --first-paint-only, to repeat the first paint quickly). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gui-util.h"

#define BATCH 500

/* CPU time used by this process (the client: GTK and libchat), in microseconds. */
static gint64
cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* Peak resident memory of this process (VmHWM), in KiB. */
static guint64
vm_hwm_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmHWM:");
  return line ? g_ascii_strtoull (line + 6, NULL, 10) : 0;
}

static void
signup (ChatTestConn *conn, const char *user)
{
  g_autofree char *line = g_strdup_printf (
      "{\"id\":0,\"op\":\"signup\",\"username\":\"%s\",\"password\":\"benchmark-pw\"}", user);
  g_autoptr (JsonObject) reply = chat_test_conn_request (conn, line);

  g_assert_true (json_object_get_boolean_member (reply, "ok"));
}

/* Pipelines n sends from alice to bob, BATCH requests in flight at a time. */
static void
populate (guint16 port, guint n)
{
  g_autoptr (ChatTestConn) alice = chat_test_conn_new (port);
  g_autoptr (ChatTestConn) bob = chat_test_conn_new (port);

  signup (alice, "alice");
  signup (bob, "bob");
  g_clear_pointer (&bob, chat_test_conn_free); /* logged out: no events to drain */
  for (guint done = 0; done < n;)
    {
      guint batch = MIN (BATCH, n - done);

      for (guint i = 0; i < batch; i++)
        {
          guint k = done + i;
          g_autofree char *line = g_strdup_printf (
              "{\"id\":%u,\"op\":\"send\",\"to\":\"bob\",\"client_msg_id\":\"b%u\","
              "\"body\":\"Message %u: %s\"}",
              k, k, k, k % 3 ? "short" : "a somewhat longer line that wraps in a narrow window");
          chat_test_conn_send_line (alice, line);
        }
      for (guint i = 0; i < batch; i++)
        {
          g_autoptr (JsonObject) reply = chat_test_conn_read (alice, 30000);

          g_assert_nonnull (reply);
          g_assert_true (json_object_get_boolean_member (reply, "ok"));
        }
      done += batch;
    }
}

/* The 1-minute load average, quoted with the numbers since the machine is shared. */
static double
load_average (void)
{
  g_autofree char *contents = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &contents, NULL, NULL))
    return -1;
  return g_ascii_strtod (contents, NULL);
}

/* One history request near the oldest message, over a raw connection, in microseconds. */
static gint64
time_history (guint16 port)
{
  g_autoptr (ChatTestConn) conn = chat_test_conn_new (port);
  g_autoptr (JsonObject) login = chat_test_conn_request (
      conn, "{\"id\":1,\"op\":\"login\",\"username\":\"bob\",\"password\":\"benchmark-pw\"}");
  g_autofree char *line = g_strdup_printf (
      "{\"id\":2,\"op\":\"history\",\"with\":\"alice\",\"before\":%u,\"limit\":%u}",
      CHAT_MESSAGE_LIST_PAGE + 10, CHAT_MESSAGE_LIST_PAGE);
  gint64 start = g_get_monotonic_time ();
  g_autoptr (JsonObject) reply = chat_test_conn_request (conn, line);

  g_assert_true (json_object_get_boolean_member (reply, "ok"));
  return g_get_monotonic_time () - start;
}

static gint64 painted_at;
static gint64 painted_cpu;
static gint64 loaded_at;

static void
loaded_cb (ChatMessageList *list)
{
  loaded_at = g_get_monotonic_time ();
  if (g_getenv ("BENCH_TRACE"))
    g_printerr ("[%" G_GINT64_FORMAT "] loaded\n", loaded_at / 1000);
}

static void
after_paint_cb (GdkFrameClock *clock, ChatMessageList *list)
{
  if (g_getenv ("BENCH_TRACE"))
    g_printerr ("[%" G_GINT64_FORMAT "] after-paint loaded=%d n=%u\n",
                g_get_monotonic_time () / 1000, chat_message_list_get_loaded (list),
                g_list_model_get_n_items (G_LIST_MODEL (list)));
  if (painted_at == 0 && chat_message_list_get_loaded (list))
    {
      painted_at = g_get_monotonic_time ();
      painted_cpu = cpu_us ();
    }
}

/* Opens the conversation with alice and waits for the first frame painted with its messages. */
static ChatMessageList *
measure_first_paint (ChatWindow *window)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
  gint64 opened = g_get_monotonic_time ();
  gint64 opened_cpu = cpu_us ();
  ChatMessageList *list;

  chat_window_open_conversation (window, "alice");
  list = chat_conversation_view_get_messages (window->conversation_view);
  g_signal_connect (list, "notify::loaded", G_CALLBACK (loaded_cb), NULL);
  g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), list);
  GUI_WAIT_UNTIL (painted_at != 0, 30000);
  g_signal_handlers_disconnect_by_func (clock, after_paint_cb, list);
  printf ("first paint: %.1f ms after opening (newest page of %u messages answered after "
          "%.1f ms)\n",
          (painted_at - opened) / 1e3, g_list_model_get_n_items (G_LIST_MODEL (list)),
          (loaded_at - opened) / 1e3);
  printf ("  client CPU time until then: %.1f ms\n", (painted_cpu - opened_cpu) / 1e3);
  return list;
}

/* Sets the scroll position to the top until the oldest message is listed. */
static void
scroll_to_top (ChatWindow *window, ChatMessageList *list)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (
      chat_conversation_view_get_scrolled_window (window->conversation_view));
  gint64 start = g_get_monotonic_time ();
  gint64 start_cpu = cpu_us ();
  guint pages = 0;

  while (!chat_message_list_get_complete (list))
    {
      gtk_adjustment_set_value (adj, 0);
      GUI_WAIT_UNTIL (!chat_message_list_get_loading (list), 30000);
      gui_iterate ();
      pages++;
    }
  gtk_adjustment_set_value (adj, 0);
  gui_spin (200);
  printf ("scrolled to the top: %u messages, %.2f s (%u scroll steps)\n",
          g_list_model_get_n_items (G_LIST_MODEL (list)), (g_get_monotonic_time () - start) / 1e6,
          pages);
  printf ("  client CPU time: %.2f s\n", (cpu_us () - start_cpu) / 1e6);
}

int
main (int argc, char *argv[])
{
  gboolean first_paint_only = argc > 2 && g_str_equal (argv[2], "--first-paint-only");
  guint n = argc > 1 ? (guint)g_ascii_strtoull (argv[1], NULL, 10) : 100000;
  g_autoptr (ChatTestCluster) cluster = NULL;
  g_autoptr (ChatApplication) app = NULL;
  ChatWindow *window;
  ChatMessageList *list;
  gint64 start;
  guint64 hwm_before;

  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GTK_A11Y", "none", FALSE);
  cluster = chat_test_cluster_new (1, NULL);
  chat_test_cluster_start_all (cluster);
  start = g_get_monotonic_time ();
  populate (chat_test_cluster_port (cluster, 1), n);
  printf ("populated %u messages in %.1f s (load average %.2f)\n", n,
          (g_get_monotonic_time () - start) / 1e6, load_average ());

  app = gui_app_new (cluster);
  window = gui_window_new (app);
  gui_submit_login (window, "bob", "benchmark-pw", FALSE);
  GUI_WAIT_UNTIL (chat_window_get_account (window) != NULL, 30000);
  gui_spin (500);
  hwm_before = vm_hwm_kib ();

  list = measure_first_paint (window);
  if (!first_paint_only)
    scroll_to_top (window, list);
  printf ("peak memory (VmHWM): %.1f MiB before opening, %.1f MiB %s\n", hwm_before / 1024.0,
          vm_hwm_kib () / 1024.0, first_paint_only ? "after the first paint" : "at the top");
  printf ("server alone: a history page of %u at the oldest end takes %.1f ms\n",
          CHAT_MESSAGE_LIST_PAGE, time_history (chat_test_cluster_port (cluster, 1)) / 1e3);
  gtk_window_destroy (GTK_WINDOW (window));
  return 0;
}
