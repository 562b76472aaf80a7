/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The offline start: with a kept session and no server up, the window shows the cached
 * conversations read-only, and becomes live by itself once the server answers. */
#include "config.h"

#include <glib/gstdio.h>

#include "chat-account-cache.h"
#include "chat-fs.h"
#include "chat-test-util.h"
#include "gui-util.h"

#define TIMEOUT_MS 15000
#define OLGA_PASSWORD "olga-password"

static ChatTestCluster *cluster;
static ChatApplication *app;
static guint request_id;

/* pete, over a plain connection of his own (signed up on first use). */
static ChatTestConn *
pete_connect (gboolean signup)
{
  ChatTestConn *conn = chat_test_conn_new (chat_test_cluster_port (cluster, 1));
  g_autofree char *line = g_strdup_printf (
      "{\"id\":%u,\"op\":\"%s\",\"username\":\"pete\",\"password\":\"pete-password\"}",
      ++request_id, signup ? "signup" : "login");
  g_autoptr (JsonObject) reply = chat_test_conn_request (conn, line);

  g_assert_true (json_object_get_boolean_member (reply, "ok"));
  return conn;
}

static void
pete_send (ChatTestConn *conn, const char *body)
{
  guint id = ++request_id;
  g_autofree char *line = g_strdup_printf (
      "{\"id\":%u,\"op\":\"send\",\"to\":\"olga\",\"body\":\"%s\",\"client_msg_id\":\"p%u\"}", id,
      body, id);
  g_autoptr (JsonObject) reply = chat_test_conn_request (conn, line);

  g_assert_true (json_object_get_boolean_member (reply, "ok"));
}

/* How many messages of the conversation with olga, on the server, have body. */
static guint
server_count_body (ChatTestConn *conn, const char *body)
{
  g_autofree char *line = g_strdup_printf (
      "{\"id\":%u,\"op\":\"history\",\"with\":\"olga\",\"limit\":100}", ++request_id);
  g_autoptr (JsonObject) reply = chat_test_conn_request (conn, line);
  JsonArray *messages = json_object_get_array_member (reply, "messages");
  guint count = 0;

  for (guint i = 0; i < json_array_get_length (messages); i++)
    if (g_strcmp0 (
            json_object_get_string_member (json_array_get_object_element (messages, i), "body"),
            body)
        == 0)
      count++;
  return count;
}

static char *
cache_path (const char *username)
{
  g_auto (GStrv) servers = chat_application_dup_servers (app);
  g_autofree char *key = g_strjoinv (",", servers);

  return chat_account_cache_path (key, username);
}

static gboolean
file_contains (const char *path, const char *text)
{
  g_autofree char *contents = NULL;

  return g_file_get_contents (path, &contents, NULL, NULL) && strstr (contents, text) != NULL;
}

static void
type_and_send (ChatWindow *window, const char *text)
{
  chat_composer_set_text (chat_conversation_view_get_composer (window->conversation_view), text);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
}

/* olga logs in with the keyring on, talks with pete; what she saw is cached, privately. */
static char *
first_session (void)
{
  g_autoptr (ChatTestConn) pete = pete_connect (TRUE);
  ChatWindow *window = gui_window_new (app);
  ChatMessageList *list;
  g_autofree char *path = cache_path ("olga");
  GStatBuf st;

  gui_submit_login (window, "olga", OLGA_PASSWORD, TRUE);
  GUI_WAIT_UNTIL (chat_window_get_account (window) != NULL, TIMEOUT_MS);
  pete_send (pete, "hello olga");
  GUI_WAIT_UNTIL (chat_account_find_conversation (chat_window_get_account (window), "pete") != NULL,
                  TIMEOUT_MS);
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (window), "win.open-conversation", "s", "pete"));
  list = chat_account_get_messages (chat_window_get_account (window), "pete");
  GUI_WAIT_UNTIL (gui_find_body (list, "hello olga") != NULL, TIMEOUT_MS);
  type_and_send (window, "hi pete");
  GUI_WAIT_UNTIL (gui_find_body (list, "hi pete") != NULL
                      && chat_message_get_state (gui_find_body (list, "hi pete"))
                             != CHAT_DELIVERY_PENDING,
                  TIMEOUT_MS);
  GUI_WAIT_UNTIL (file_contains (path, "hi pete"), TIMEOUT_MS);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  gtk_window_destroy (GTK_WINDOW (window));
  gui_spin (300);
  return g_steal_pointer (&path);
}

static void
test_offline_start (void)
{
  g_autofree char *path = first_session ();
  g_autoptr (ChatTestConn) pete = NULL;
  ChatWindow *window;
  ChatAccount *account;
  ChatMessageList *list;
  ChatComposer *composer;

  chat_test_cluster_stop (cluster, 1);
  window = gui_window_new (app);
  GUI_WAIT_UNTIL (chat_window_get_account (window) != NULL, TIMEOUT_MS);
  account = chat_window_get_account (window);
  /* The cache, read-only: the conversation and both messages, no way to send. */
  g_assert_true (chat_window_get_offline (window));
  g_assert_nonnull (chat_account_find_conversation (account, "pete"));
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (window), "win.open-conversation", "s", "pete"));

  list = chat_account_get_messages (account, "pete");
  g_assert_true (chat_message_list_get_loaded (list));
  g_assert_nonnull (gui_find_body (list, "hello olga"));
  g_assert_nonnull (gui_find_body (list, "hi pete"));
  composer = chat_conversation_view_get_composer (window->conversation_view);
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (composer)));
  g_assert_true (chat_connection_banner_get_revealed (window->conversation_banner));
  g_assert_true (chat_connection_banner_get_offline (window->conversation_banner));
  g_assert_null (chat_account_send (account, "pete", "not while offline"));
  /* It waits: past a few connection rounds it still shows the cache, not the login page. */
  gui_spin (3000);
  g_assert_true (chat_window_get_offline (window));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (window->main_stack), ==, "chats");
  gui_save_screenshot (GTK_WIDGET (window), "offline.png");

  /* The server answers: live by itself, in the same conversation, and writable. */
  chat_test_cluster_start (cluster, 1, TRUE);
  GUI_WAIT_UNTIL (!chat_window_get_offline (window), TIMEOUT_MS);
  account = chat_window_get_account (window);
  g_assert_nonnull (account);
  g_assert_cmpstr (chat_conversation_view_get_peer (window->conversation_view), ==, "pete");
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (composer)));
  g_assert_false (chat_connection_banner_get_offline (window->conversation_banner));
  list = chat_account_get_messages (account, "pete");
  GUI_WAIT_UNTIL (gui_find_body (list, "hello olga") != NULL, TIMEOUT_MS);
  type_and_send (window, "back online");
  GUI_WAIT_UNTIL (gui_find_body (list, "back online") != NULL
                      && chat_message_get_state (gui_find_body (list, "back online"))
                             != CHAT_DELIVERY_PENDING,
                  TIMEOUT_MS);
  pete = pete_connect (FALSE);
  g_assert_cmpuint (server_count_body (pete, "back online"), ==, 1);

  /* Log Out leaves nothing of the account on disk. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.logout", NULL));
  GUI_WAIT_UNTIL (chat_window_get_account (window) == NULL, TIMEOUT_MS);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char *argv[])
{
  g_autofree char *keyring_daemon = g_find_program_in_path ("gnome-keyring-daemon");
  g_autofree char *cache_home = NULL;
  g_autofree char *keyring_dir = NULL;
  g_autoptr (GError) error = NULL;
  GPid keyring;
  int ret;

  /* Before anything asks GLib for it: the cache lands in a directory of the test's own. */
  cache_home = g_dir_make_tmp ("chat-gtk-cache-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("XDG_CACHE_HOME", cache_home, TRUE);
  g_test_init (&argc, &argv, NULL);
  if (keyring_daemon == NULL)
    return chat_test_skip_all ("gnome-keyring-daemon is not installed (scripts/install-deps)");
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  keyring = gui_keyring_start (&keyring_dir);
  cluster = chat_test_cluster_new (1, NULL);
  chat_test_cluster_start_all (cluster);
  app = gui_app_new (cluster);
  g_settings_set_boolean (chat_application_get_settings (app), "remember-session", TRUE);

  g_test_add_func ("/offline/cached-then-live", test_offline_start);
  ret = g_test_run ();

  g_clear_object (&app);
  chat_test_cluster_free (cluster);
  gui_keyring_stop (keyring, keyring_dir);
  chat_fs_remove_tree (cache_home);
  return ret;
}
