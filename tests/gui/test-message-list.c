/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessageList against a real server: a small first page, older pages prepended in order,
 * then live, pending and removed messages at the right positions. */
#include "config.h"

#include "gui-util.h"

#define TIMEOUT_MS 15000
#define N_MESSAGES 450
#define FIRST_PAGE 12

static ChatTestCluster *cluster;
static ChatApplication *app;
static ChatWindow *bob;

static void
request_ok (ChatTestConn *conn, const char *line)
{
  g_autoptr (JsonObject) reply = chat_test_conn_request (conn, line);

  g_assert_true (json_object_get_boolean_member (reply, "ok"));
}

static void
send_message (ChatTestConn *alice, guint k)
{
  g_autofree char *line
      = g_strdup_printf ("{\"id\":%u,\"op\":\"send\",\"to\":\"bob\",\"client_msg_id\":\"m%u\","
                         "\"body\":\"Message %u\"}",
                         k + 10, k, k);

  request_ok (alice, line);
}

/* Alice sends N_MESSAGES to bob, "Message 0" first; the connection stays logged in. */
static ChatTestConn *
populate (void)
{
  ChatTestConn *alice = chat_test_conn_new (chat_test_cluster_port (cluster, 1));
  g_autoptr (ChatTestConn) other = chat_test_conn_new (chat_test_cluster_port (cluster, 1));

  request_ok (alice,
              "{\"id\":1,\"op\":\"signup\",\"username\":\"alice\",\"password\":\"alice-pw-1\"}");
  request_ok (other,
              "{\"id\":1,\"op\":\"signup\",\"username\":\"bob\",\"password\":\"bob-pw-12\"}");
  for (guint k = 0; k < N_MESSAGES; k++)
    send_message (alice, k);
  return alice;
}

/* Borrowed: the list keeps its own reference. */
static ChatMessage *
item_at (ChatMessageList *list, guint position)
{
  ChatMessage *item = g_list_model_get_item (G_LIST_MODEL (list), position);

  g_object_unref (item);
  return item;
}

static gboolean
same_day (ChatMessage *a, ChatMessage *b)
{
  g_autoptr (GDateTime) ta = chat_message_list_dup_time (a);
  g_autoptr (GDateTime) tb = chat_message_list_dup_time (b);

  return g_date_time_get_year (ta) == g_date_time_get_year (tb)
         && g_date_time_get_day_of_year (ta) == g_date_time_get_day_of_year (tb);
}

/* Committed messages in ascending seq, each a different id, separators where the day changes. */
static void
assert_ordered (ChatMessageList *list)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (list));
  gint64 last_seq = 0;

  for (guint i = 0; i < n; i++)
    {
      ChatMessage *item = item_at (list, i);
      gint64 seq = chat_message_get_seq (item);

      if (seq != 0)
        {
          g_assert_cmpint (seq, >, last_seq);
          last_seq = seq;
        }
      g_assert_true (chat_message_list_find (list, chat_message_get_id (item)) == item
                     || chat_message_get_id (item) == 0);
      g_assert_cmpint (!!(chat_message_list_get_flags (list, item) & CHAT_MESSAGE_FLAG_SHOW_DAY),
                       ==, i == 0 || !same_day (item_at (list, i - 1), item));
    }
}

static void
assert_body_at (ChatMessageList *list, guint position, const char *body)
{
  g_assert_cmpstr (chat_message_get_body (item_at (list, position)), ==, body);
}

static ChatMessageList *
open_list (void)
{
  ChatAccount *account = chat_window_get_account (bob);
  ChatMessageList *list;

  chat_account_set_first_page_size (account, FIRST_PAGE);
  list = chat_account_get_messages (account, "alice");
  GUI_WAIT_UNTIL (chat_message_list_get_loaded (list), TIMEOUT_MS);
  return list;
}

static void
test_pages (void)
{
  ChatMessageList *list = open_list ();
  g_autofree char *newest = g_strdup_printf ("Message %u", N_MESSAGES - 1);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, FIRST_PAGE);
  assert_body_at (list, FIRST_PAGE - 1, newest);
  assert_ordered (list);
  while (!chat_message_list_get_complete (list))
    {
      guint before = g_list_model_get_n_items (G_LIST_MODEL (list));

      chat_message_list_load_older (list);
      GUI_WAIT_UNTIL (!chat_message_list_get_loading (list), TIMEOUT_MS);
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), >, before);
      assert_ordered (list);
    }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, N_MESSAGES);
  for (guint k = 0; k < N_MESSAGES; k += 37)
    {
      g_autofree char *body = g_strdup_printf ("Message %u", k);

      assert_body_at (list, k, body);
    }
}

static void
test_live_changes (gconstpointer data)
{
  ChatTestConn *alice = (ChatTestConn *)data;
  ChatMessageList *list = open_list ();
  ChatAccount *account = chat_window_get_account (bob);
  g_autofree char *live = g_strdup_printf ("Message %u", N_MESSAGES);
  ChatMessage *pending;
  ChatMessage *middle;

  send_message (alice, N_MESSAGES);
  GUI_WAIT_UNTIL (g_list_model_get_n_items (G_LIST_MODEL (list)) == N_MESSAGES + 1, TIMEOUT_MS);
  assert_body_at (list, N_MESSAGES, live);

  pending = chat_account_send (account, "alice", "A reply from bob");
  assert_body_at (list, N_MESSAGES + 1, "A reply from bob");
  GUI_WAIT_UNTIL (chat_message_get_state (pending) != CHAT_DELIVERY_PENDING, TIMEOUT_MS);
  assert_body_at (list, N_MESSAGES + 1, "A reply from bob");
  assert_ordered (list);

  middle = item_at (list, 100);
  chat_message_list_remove_item (list, middle);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, N_MESSAGES + 1);
  assert_body_at (list, 99, "Message 99");
  assert_body_at (list, 100, "Message 101");
  assert_ordered (list);
}

int
main (int argc, char *argv[])
{
  g_autoptr (ChatTestConn) alice = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  /* Xvfb has no window manager: GTK's warnings about it are not the list's fault. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GTK_A11Y", "none", FALSE);

  gui_notifications_start (); /* the live message raises one */
  cluster = chat_test_cluster_new (1, NULL);
  chat_test_cluster_start_all (cluster);
  alice = populate ();
  app = gui_app_new (cluster);
  bob = gui_window_new (app);
  gui_submit_login (bob, "bob", "bob-pw-12", FALSE);
  GUI_WAIT_UNTIL (chat_window_get_account (bob) != NULL, TIMEOUT_MS);

  g_test_add_func ("/message-list/pages", test_pages);
  g_test_add_data_func ("/message-list/live-changes", alice, test_live_changes);
  ret = g_test_run ();

  gtk_window_destroy (GTK_WINDOW (bob));
  g_clear_object (&app);
  g_clear_pointer (&alice, chat_test_conn_free);
  chat_test_cluster_free (cluster);
  return ret;
}
