/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The gui suite: two chat-gtk windows against a real cluster, driven through their actions. */
#include "config.h"

#include "chat-delete-account-dialog.h"
#include "gui-util.h"

#define TIMEOUT_MS 15000
#define FAILOVER_TIMEOUT_MS 45000

static ChatTestCluster *cluster;
static ChatApplication *app;
static ChatWindow *alice;
static ChatWindow *bob;

static ChatMessageList *
messages_of (ChatWindow *window, const char *peer)
{
  return chat_account_get_messages (chat_window_get_account (window), peer);
}

static ChatConversation *
conversation_of (ChatWindow *window, const char *peer)
{
  return chat_account_find_conversation (chat_window_get_account (window), peer);
}

static void
send_text (ChatWindow *window, const char *text)
{
  chat_composer_set_text (chat_conversation_view_get_composer (window->conversation_view), text);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send", NULL));
}

static void
test_sign_up (void)
{
  alice = gui_window_new (app);
  bob = gui_window_new (app);
  gui_save_screenshot (GTK_WIDGET (alice), "login.png");

  gui_submit_login (alice, "alice", "correct horse", TRUE);
  GUI_WAIT_UNTIL (chat_window_get_account (alice) != NULL, TIMEOUT_MS);

  /* A taken name is an inline error, not a dialog. */
  gui_submit_login (bob, "Alice", "battery staple", TRUE);
  GUI_WAIT_UNTIL (*chat_login_page_get_error_text (bob->login_page) != '\0', TIMEOUT_MS);
  g_assert_null (chat_window_get_account (bob));
  gui_submit_login (bob, "bob", "battery staple", TRUE);
  GUI_WAIT_UNTIL (chat_window_get_account (bob) != NULL, TIMEOUT_MS);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (bob->main_stack), ==, "chats");
}

static void
test_search (void)
{
  ChatSearchResults *results = chat_conversation_list_get_search_results (alice->conversation_list);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (alice), "win.search", NULL));
  chat_conversation_list_set_search_text (alice->conversation_list, "b?b");
  GUI_WAIT_UNTIL (chat_conversation_list_get_search_done (alice->conversation_list), TIMEOUT_MS);
  g_assert_cmpuint (chat_search_results_get_n_users (results), ==, 1);
  chat_conversation_list_set_search_text (alice->conversation_list, "o");
  GUI_WAIT_UNTIL (chat_conversation_list_get_search_done (alice->conversation_list), TIMEOUT_MS);
  g_assert_cmpuint (chat_search_results_get_n_users (results), ==, 1);
  gui_save_screenshot (GTK_WIDGET (alice), "search.png");

  chat_search_results_activate (results, 0);
  GUI_WAIT_UNTIL (g_strcmp0 (chat_conversation_view_get_peer (alice->conversation_view), "bob")
                      == 0,
                  TIMEOUT_MS);
  g_assert_nonnull (conversation_of (alice, "bob"));
}

/* The conversation view dark, and at a phone's 360 px. */
static void
save_style_screenshots (ChatWindow *window)
{
  AdwStyleManager *style = adw_style_manager_get_default ();
  int width = 0, height = 0;

  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  gui_spin (300);
  gui_save_screenshot (GTK_WIDGET (window), "main-window-dark.png");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
  gtk_window_get_default_size (GTK_WINDOW (window), &width, &height);
  gtk_window_set_default_size (GTK_WINDOW (window), 360, 640);
  gui_spin (500);
  gui_save_screenshot (GTK_WIDGET (window), "narrow.png");
  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gui_spin (300);
}

static void
test_exchange (void)
{
  ChatMessageList *to_bob = messages_of (alice, "bob");
  ChatMessage *item;
  gboolean bob_focused;

  GUI_WAIT_UNTIL (chat_message_list_get_loaded (to_bob), TIMEOUT_MS);
  gtk_window_present (GTK_WINDOW (alice));
  gui_spin (300);
  bob_focused = gtk_window_is_active (GTK_WINDOW (bob));
  send_text (alice, "Hi Bob! The cluster kept our chat alive.");
  item = gui_find_body (to_bob, "Hi Bob! The cluster kept our chat alive.");
  g_assert_nonnull (item);
  GUI_WAIT_UNTIL (chat_message_get_state (item) != CHAT_DELIVERY_PENDING, TIMEOUT_MS);
  g_assert_cmpint (chat_message_get_state (item), ==, CHAT_DELIVERY_SENT);

  /* Bob sees an unread badge, opens the conversation, and Alice sees "Read". */
  GUI_WAIT_UNTIL (conversation_of (bob, "alice") != NULL
                      && chat_conversation_get_unread (conversation_of (bob, "alice")) == 1,
                  TIMEOUT_MS);
  g_assert_cmpuint (chat_account_get_unread (chat_window_get_account (bob)), ==, 1);
  /* Bob's window is not focused: a notification, withdrawn once the conversation is read. */
  if (!bob_focused)
    {
      GUI_WAIT_UNTIL (gui_notification_get ("conversation-alice") != NULL, TIMEOUT_MS);
      g_assert_cmpstr (gui_notification_get ("conversation-alice"), ==, "alice");
    }
  else
    g_test_message ("bob's window has the focus: no notification expected");
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (bob), "win.open-conversation", "s", "alice"));
  GUI_WAIT_UNTIL (chat_message_list_get_loaded (messages_of (bob, "alice")), TIMEOUT_MS);
  g_assert_cmpuint (
      gui_count_body (messages_of (bob, "alice"), "Hi Bob! The cluster kept our chat alive."), ==,
      1);
  /* The window is not focused under Xvfb: read everything explicitly. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (bob), "win.read-all", NULL));
  GUI_WAIT_UNTIL (chat_account_get_unread (chat_window_get_account (bob)) == 0, TIMEOUT_MS);
  GUI_WAIT_UNTIL (gui_notification_get ("conversation-alice") == NULL, TIMEOUT_MS);
  GUI_WAIT_UNTIL (chat_message_get_state (item) == CHAT_DELIVERY_READ, TIMEOUT_MS);

  send_text (bob, "Hello Alice, good to see you here.");
  send_text (bob, "Shall we meet at noon?");
  GUI_WAIT_UNTIL (gui_find_body (to_bob, "Shall we meet at noon?") != NULL, TIMEOUT_MS);
  send_text (alice, "Noon works.\nSee you at the usual place.");
  GUI_WAIT_UNTIL (
      gui_find_body (messages_of (bob, "alice"), "Noon works.\nSee you at the usual place.")
          != NULL,
      TIMEOUT_MS);
  send_text (bob, "The agenda is on https://wiki.gnome.org/Events");
  GUI_WAIT_UNTIL (gui_find_body (to_bob, "The agenda is on https://wiki.gnome.org/Events") != NULL,
                  TIMEOUT_MS);
  gui_spin (300);
  gui_save_screenshot (GTK_WIDGET (alice), "main-window.png");
  save_style_screenshots (alice);
}

static gboolean
dialog_open (GtkWindow *parent)
{
  GtkWindow *dialog = gui_find_dialog (parent, ADW_TYPE_MESSAGE_DIALOG);

  return dialog != NULL && gtk_widget_get_visible (GTK_WIDGET (dialog));
}

static guint
position_of (ChatMessageList *list, ChatMessage *item)
{
  guint position;

  for (position = 0; position < g_list_model_get_n_items (G_LIST_MODEL (list)); position++)
    {
      g_autoptr (ChatMessage) at = g_list_model_get_item (G_LIST_MODEL (list), position);

      if (at == item)
        break;
    }
  return position;
}

/* Alice deletes her own message for everyone (after a confirmation), and hides one of bob's
 * from her own view only (from its menu, no confirmation): bob keeps that one. */
static void
test_delete_message (void)
{
  ChatMessageList *to_bob = messages_of (alice, "bob");
  const char *own = "Noon works.\nSee you at the usual place.";
  ChatMessage *item = gui_find_body (to_bob, own);
  AdwMessageDialog *dialog;
  gint64 id;

  g_assert_nonnull (item);
  chat_conversation_view_select (alice->conversation_view, position_of (to_bob, item));
  g_assert_true (chat_conversation_view_get_selected (alice->conversation_view) == item);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (alice), "win.delete-message", NULL));
  GUI_WAIT_UNTIL (dialog_open (GTK_WINDOW (alice)), TIMEOUT_MS);
  dialog = ADW_MESSAGE_DIALOG (gui_find_dialog (GTK_WINDOW (alice), ADW_TYPE_MESSAGE_DIALOG));
  adw_message_dialog_response (dialog, "delete");
  gtk_window_destroy (GTK_WINDOW (dialog)); /* what a click on the button does after it */
  GUI_WAIT_UNTIL (gui_find_body (to_bob, own) == NULL, TIMEOUT_MS);
  GUI_WAIT_UNTIL (gui_find_body (messages_of (bob, "alice"), own) == NULL, TIMEOUT_MS);
  GUI_WAIT_UNTIL (!dialog_open (GTK_WINDOW (alice)), TIMEOUT_MS);

  item = gui_find_body (to_bob, "Shall we meet at noon?");
  g_assert_nonnull (item);
  id = chat_message_get_id (item);
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (alice), "win.delete-message-for", "(xs)", id, "me"));
  GUI_WAIT_UNTIL (gui_find_body (to_bob, "Shall we meet at noon?") == NULL, TIMEOUT_MS);
  g_assert_false (dialog_open (GTK_WINDOW (alice)));
  gui_spin (500);
  g_assert_nonnull (gui_find_body (messages_of (bob, "alice"), "Shall we meet at noon?"));
}

/* The server goes away and comes back: the banner shows, a message typed meanwhile waits as
 * pending and is committed exactly once, and the banner goes without any user action. */
static void
test_reconnect (void)
{
  ChatMessageList *to_bob = messages_of (alice, "bob");
  const char *text = "Typed while the server was down";
  ChatMessage *item;

  chat_test_cluster_kill (cluster, 1);
  GUI_WAIT_UNTIL (chat_window_get_reconnecting (alice), TIMEOUT_MS);
  send_text (alice, text);
  item = gui_find_body (to_bob, text);
  g_assert_nonnull (item);
  g_assert_cmpint (chat_message_get_state (item), ==, CHAT_DELIVERY_PENDING);
  gui_save_screenshot (GTK_WIDGET (alice), "reconnecting.png");

  chat_test_cluster_start (cluster, 1, TRUE);
  GUI_WAIT_UNTIL (!chat_window_get_reconnecting (alice), FAILOVER_TIMEOUT_MS);
  GUI_WAIT_UNTIL (chat_message_get_state (item) == CHAT_DELIVERY_SENT
                      || chat_message_get_state (item) == CHAT_DELIVERY_READ,
                  FAILOVER_TIMEOUT_MS);
  GUI_WAIT_UNTIL (gui_find_body (messages_of (bob, "alice"), text) != NULL, FAILOVER_TIMEOUT_MS);
  gui_spin (500);
  g_assert_cmpuint (gui_count_body (to_bob, text), ==, 1);
  g_assert_cmpuint (gui_count_body (messages_of (bob, "alice"), text), ==, 1);
}

/* SIGKILL the leader while a message is on its way: it arrives exactly once and the UI
 * recovers on its own. Needs a replicated cluster of three. */
static void
test_failover (void)
{
  ChatMessageList *to_bob;
  const char *text = "Sent while the leader died";
  ChatMessage *item;
  guint leader;

  to_bob = messages_of (alice, "bob");
  leader = chat_test_cluster_wait_leader (cluster, TIMEOUT_MS);
  g_assert_cmpuint (leader, !=, 0);
  send_text (alice, text);
  item = gui_find_body (to_bob, text);
  chat_test_cluster_kill (cluster, leader);
  GUI_WAIT_UNTIL (chat_message_get_state (item) == CHAT_DELIVERY_SENT
                      || chat_message_get_state (item) == CHAT_DELIVERY_READ,
                  FAILOVER_TIMEOUT_MS);
  GUI_WAIT_UNTIL (!chat_window_get_reconnecting (alice), FAILOVER_TIMEOUT_MS);
  GUI_WAIT_UNTIL (gui_find_body (messages_of (bob, "alice"), text) != NULL, FAILOVER_TIMEOUT_MS);
  gui_spin (1000);
  g_assert_cmpuint (gui_count_body (to_bob, text), ==, 1);
  g_assert_cmpuint (gui_count_body (messages_of (bob, "alice"), text), ==, 1);
  send_text (bob, "Still here after the failover");
  GUI_WAIT_UNTIL (gui_find_body (to_bob, "Still here after the failover") != NULL,
                  FAILOVER_TIMEOUT_MS);
}

static gboolean
delete_dialog_open (GtkWindow *parent)
{
  return gui_find_dialog (parent, CHAT_TYPE_DELETE_ACCOUNT_DIALOG) != NULL;
}

static void
test_delete_account (void)
{
  ChatDeleteAccountDialog *dialog;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (bob), "win.delete-account", NULL));
  GUI_WAIT_UNTIL (delete_dialog_open (GTK_WINDOW (bob)), TIMEOUT_MS);
  dialog = CHAT_DELETE_ACCOUNT_DIALOG (
      gui_find_dialog (GTK_WINDOW (bob), CHAT_TYPE_DELETE_ACCOUNT_DIALOG));
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *)&dialog);
  chat_delete_account_dialog_confirm (dialog, "wrong password");
  gui_spin (1500);
  g_assert_nonnull (chat_window_get_account (bob)); /* still logged in, dialog still open */
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (dialog)));
  chat_delete_account_dialog_confirm (dialog, "battery staple");
  GUI_WAIT_UNTIL (chat_window_get_account (bob) == NULL, TIMEOUT_MS);
  GUI_WAIT_UNTIL (dialog == NULL, TIMEOUT_MS);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (bob->main_stack), ==, "login");
  /* Alice's conversation with bob is gone with bob's messages. */
  GUI_WAIT_UNTIL (conversation_of (alice, "bob") == NULL, TIMEOUT_MS);
}

/* A dialog of type over either window (app.* actions use the active one). */
static GtkWindow *
find_dialog (GType type)
{
  GtkWindow *found = gui_find_dialog (GTK_WINDOW (alice), type);

  return found ? found : gui_find_dialog (GTK_WINDOW (bob), type);
}

/* Preferences, About and the shortcuts window open (and build) without a warning. */
static void
test_dialogs (void)
{
  GtkWindow *prefs;

  g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
  GUI_WAIT_UNTIL ((prefs = find_dialog (ADW_TYPE_PREFERENCES_WINDOW)) != NULL, TIMEOUT_MS);
  gtk_window_destroy (prefs);
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  GUI_WAIT_UNTIL (find_dialog (ADW_TYPE_ABOUT_WINDOW) != NULL, TIMEOUT_MS);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (alice), "win.show-help-overlay", NULL));
  gui_spin (200);
}

static void
test_log_out (void)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (alice), "win.logout", NULL));
  GUI_WAIT_UNTIL (chat_window_get_account (alice) == NULL, TIMEOUT_MS);
  gui_submit_login (alice, "alice", "wrong password", FALSE);
  GUI_WAIT_UNTIL (*chat_login_page_get_error_text (alice->login_page) != '\0', TIMEOUT_MS);
  gui_submit_login (alice, "alice", "correct horse", FALSE);
  GUI_WAIT_UNTIL (chat_window_get_account (alice) != NULL, TIMEOUT_MS);
}

int
main (int argc, char *argv[])
{
  const char *servers = g_getenv ("CHATD_GUI_SERVERS");
  guint n_servers = servers ? (guint)g_ascii_strtoull (servers, NULL, 10) : 1;
  int ret;

  g_test_init (&argc, &argv, NULL);
  /* Xvfb has no window manager, so GTK warns about focus-out events a window manager would
   * send; such warnings are not the app's fault. Criticals stay fatal. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GTK_A11Y", "none", FALSE);
  g_setenv ("NO_AT_BRIDGE", "1", FALSE);

  gui_notifications_start ();
  cluster = chat_test_cluster_new (MAX (n_servers, 1), NULL);
  chat_test_cluster_start_all (cluster);
  app = gui_app_new (cluster);

  g_test_add_func ("/gui/sign-up", test_sign_up);
  g_test_add_func ("/gui/search", test_search);
  g_test_add_func ("/gui/exchange", test_exchange);
  g_test_add_func ("/gui/delete-message", test_delete_message);
  /* Each run registers only what its cluster can show: a cluster of three never goes
   * fully down, and a single server has no leader to fail over to (meson runs both). */
  if (n_servers >= 3)
    g_test_add_func ("/gui/failover", test_failover);
  else
    g_test_add_func ("/gui/reconnect", test_reconnect);
  g_test_add_func ("/gui/delete-account", test_delete_account);
  g_test_add_func ("/gui/dialogs", test_dialogs);
  g_test_add_func ("/gui/log-out", test_log_out);
  ret = g_test_run ();

  if (alice != NULL)
    gtk_window_destroy (GTK_WINDOW (alice));
  if (bob != NULL)
    gtk_window_destroy (GTK_WINDOW (bob));
  g_clear_object (&app);
  chat_test_cluster_free (cluster);
  return ret;
}
