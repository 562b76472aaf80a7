/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The gui suite's regression cases: one window (bob) on a three-server cluster while other
 * users write to him over plain connections; each case is checked against the server. */
#include "config.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chat-fs.h"
#include "chat-message-row.h"
#include "chat-test-util.h"
#include "gui-util.h"

#define TIMEOUT_MS 15000
/* How long a case waits for the server to agree before it fails. */
#define SETTLE_MS 8000
#define BOB_PASSWORD "bob-password"

static ChatTestCluster *cluster;
static ChatApplication *app;
static ChatWindow *bob;
static GHashTable *conns; /* username -> ChatTestConn *, logged in at the leader */
static guint request_id;

static guint16
leader_port (void)
{
  guint leader = chat_test_cluster_wait_leader (cluster, TIMEOUT_MS);

  g_assert_cmpuint (leader, !=, 0);
  return chat_test_cluster_port (cluster, leader);
}

static JsonObject *
request (const char *user, const char *op, const char *fields)
{
  ChatTestConn *conn = g_hash_table_lookup (conns, user);
  g_autofree char *line = g_strdup_printf ("{\"id\":%u,\"op\":\"%s\"%s%s}", ++request_id, op,
                                           *fields ? "," : "", fields);
  JsonObject *reply = chat_test_conn_request (conn, line);

  if (!json_object_get_boolean_member (reply, "ok"))
    g_error ("%s %s failed", user, op);
  return reply;
}

/* A user with a connection of their own, signed up on first use. */
static void
ensure_user (const char *user)
{
  g_autofree char *fields = NULL;
  g_autoptr (JsonObject) reply = NULL;

  if (g_hash_table_contains (conns, user))
    return;
  g_hash_table_insert (conns, g_strdup (user), chat_test_conn_new (leader_port ()));
  fields = g_strdup_printf ("\"username\":\"%s\",\"password\":\"%s\"", user,
                            g_str_equal (user, "bob") ? BOB_PASSWORD : "other-password");
  reply = request (user, "signup", fields);
}

static void
send_to_bob (const char *from, const char *body)
{
  g_autofree char *fields = g_strdup_printf (
      "\"to\":\"bob\",\"body\":\"%s\",\"client_msg_id\":\"c%u\"", body, ++request_id);
  g_autoptr (JsonObject) reply = NULL;

  ensure_user (from);
  reply = request (from, "send", fields);
}

/* The server's unread count of bob: in all (peer NULL) or from one peer. */
static gint64
server_unread (const char *peer)
{
  g_autoptr (JsonObject) reply = request ("bob", "unread_count", "");
  JsonObject *by_user;

  if (peer == NULL)
    return json_object_get_int_member (reply, "total");
  by_user = json_object_get_object_member (reply, "by_user");
  return json_object_has_member (by_user, peer) ? json_object_get_int_member (by_user, peer) : 0;
}

/* Spins the window until the server's unread count is want, or SETTLE_MS passed. */
static gint64
wait_server_unread (const char *peer, gint64 want)
{
  gint64 end = g_get_monotonic_time () + SETTLE_MS * 1000;
  gint64 now;

  while ((now = server_unread (peer)) != want && g_get_monotonic_time () < end)
    gui_spin (100);
  return now;
}

static void
server_mark_all_read (void)
{
  g_autoptr (JsonObject) reply = request ("bob", "unread_count", "");
  JsonObject *by_user = json_object_get_object_member (reply, "by_user");
  g_autoptr (GList) peers = json_object_get_members (by_user);

  for (GList *l = peers; l != NULL; l = l->next)
    {
      g_autofree char *fields = g_strdup_printf ("\"with\":\"%s\",\"up_to\":%" G_GINT64_FORMAT,
                                                 (char *)l->data, (gint64)G_MAXINT32 * 1024);
      g_autoptr (JsonObject) marked = request ("bob", "mark_read", fields);
    }
  g_assert_cmpint (server_unread (NULL), ==, 0);
}

/* Bob's window, logged in; every case starts here so each can run alone (-p). */
static ChatAccount *
ensure_bob (void)
{
  if (bob == NULL)
    {
      ensure_user ("bob");
      bob = gui_window_new (app);
      gui_submit_login (bob, "bob", BOB_PASSWORD, FALSE);
      GUI_WAIT_UNTIL (chat_window_get_account (bob) != NULL, TIMEOUT_MS);
    }
  return chat_window_get_account (bob);
}

static ChatMessageList *
messages_of (const char *peer)
{
  return chat_account_get_messages (chat_window_get_account (bob), peer);
}

/* 1: opened through Ctrl+U, the conversation stays shown while others write (the sidebar
 * reorders under a selected row); this crashed inside GTK. */
static void
test_read_unread_then_messages (void)
{
  ensure_bob ();
  send_to_bob ("carol", "carol 1");
  send_to_bob ("dave", "dave 1");
  GUI_WAIT_UNTIL (gui_find_body (messages_of ("dave"), "dave 1") != NULL, TIMEOUT_MS);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (bob), "win.read-unread", NULL));
  GUI_WAIT_UNTIL (chat_conversation_view_get_peer (bob->conversation_view) != NULL, TIMEOUT_MS);
  for (guint round = 0; round < 4; round++)
    {
      g_autofree char *c = g_strdup_printf ("carol %u", round + 2);
      g_autofree char *d = g_strdup_printf ("dave %u", round + 2);
      g_autofree char *e = g_strdup_printf ("erin %u", round + 2);

      send_to_bob ("carol", c);
      send_to_bob ("dave", d);
      send_to_bob ("erin", e);
      gui_spin (150);
    }
  GUI_WAIT_UNTIL (gui_find_body (messages_of ("erin"), "erin 5") != NULL, TIMEOUT_MS);
  GUI_WAIT_UNTIL (gui_find_body (messages_of ("carol"), "carol 5") != NULL, TIMEOUT_MS);
  gui_spin (300);
  /* Still alive, and the row of the shown conversation is the selected one. */
  g_assert_nonnull (chat_conversation_view_get_peer (bob->conversation_view));
  server_mark_all_read ();
}

/* 2: messages that arrive in the conversation being looked at are read on the server. */
static void
test_open_conversation_marks_read (void)
{
  ChatAccount *account = ensure_bob ();

  send_to_bob ("alice", "hello bob");
  GUI_WAIT_UNTIL (chat_account_find_conversation (account, "alice") != NULL, TIMEOUT_MS);
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (bob), "win.open-conversation", "s", "alice"));
  GUI_WAIT_UNTIL (chat_message_list_get_loaded (messages_of ("alice")), TIMEOUT_MS);
  /* What the window does while it has the focus (Xvfb without a window manager gives none). */
  chat_account_set_active_peer (account, "alice");
  g_assert_cmpint (wait_server_unread ("alice", 0), ==, 0);

  send_to_bob ("alice", "one");
  send_to_bob ("alice", "two");
  send_to_bob ("alice", "three");
  GUI_WAIT_UNTIL (gui_find_body (messages_of ("alice"), "three") != NULL, TIMEOUT_MS);
  g_assert_cmpint (wait_server_unread ("alice", 0), ==, 0);
  g_assert_cmpuint (
      chat_conversation_get_unread (chat_account_find_conversation (account, "alice")), ==, 0);
  chat_account_set_active_peer (account, NULL);
}

/* 3: Ctrl+U shows the conversation of the oldest unread message and reads only that one;
 * the next Ctrl+U shows the next. */
static void
test_read_unread_one_at_a_time (void)
{
  ChatAccount *account = ensure_bob ();

  chat_account_set_active_peer (account, NULL);
  server_mark_all_read ();
  send_to_bob ("frank", "frank first");
  send_to_bob ("grace", "grace first");
  send_to_bob ("frank", "frank second");
  GUI_WAIT_UNTIL (gui_find_body (messages_of ("grace"), "grace first") != NULL, TIMEOUT_MS);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (bob), "win.read-unread", NULL));
  GUI_WAIT_UNTIL (g_strcmp0 (chat_conversation_view_get_peer (bob->conversation_view), "frank")
                      == 0,
                  TIMEOUT_MS);
  g_assert_cmpint (wait_server_unread ("frank", 0), ==, 0);
  g_assert_cmpint (server_unread ("grace"), ==, 1);
  g_assert_nonnull (gui_find_body (messages_of ("frank"), "frank second"));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (bob), "win.read-unread", NULL));
  GUI_WAIT_UNTIL (g_strcmp0 (chat_conversation_view_get_peer (bob->conversation_view), "grace")
                      == 0,
                  TIMEOUT_MS);
  g_assert_cmpint (wait_server_unread (NULL, 0), ==, 0);
  g_assert_nonnull (gui_find_body (messages_of ("grace"), "grace first"));
}

/* The item's row lies wholly inside the visible part of the conversation. */
static gboolean
item_visible (ChatMessage *item)
{
  GtkScrolledWindow *sw = chat_conversation_view_get_scrolled_window (bob->conversation_view);
  GtkWidget *list = gtk_scrolled_window_get_child (sw);
  GtkAdjustment *adj;
  graphene_rect_t bounds;

  for (GtkWidget *cell = gtk_widget_get_first_child (list); cell != NULL;
       cell = gtk_widget_get_next_sibling (cell))
    {
      GtkWidget *row = gtk_widget_get_first_child (cell);

      if (!CHAT_IS_MESSAGE_ROW (row)
          || chat_message_row_get_message (CHAT_MESSAGE_ROW (row)) != item)
        continue;
      if (!gtk_widget_get_mapped (row))
        break;
      if (!gtk_widget_compute_bounds (row, GTK_WIDGET (sw), &bounds))
        return FALSE;
      g_test_message ("row at %g, %g high, in %d", bounds.origin.y, bounds.size.height,
                      gtk_widget_get_height (GTK_WIDGET (sw)));
      return bounds.origin.y >= -1
             && bounds.origin.y + bounds.size.height <= gtk_widget_get_height (GTK_WIDGET (sw)) + 1;
    }
  adj = gtk_scrolled_window_get_vadjustment (sw);
  g_test_message ("row not shown; scrolled to %g of %g, page %g", gtk_adjustment_get_value (adj),
                  gtk_adjustment_get_upper (adj), gtk_adjustment_get_page_size (adj));
  return FALSE;
}

static ChatMessage *
open_long_conversation (const char *peer)
{
  ChatMessageList *list;
  g_autoptr (ChatMessage) last = NULL;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (bob), "win.open-conversation", "s", peer));
  list = messages_of (peer);
  GUI_WAIT_UNTIL (chat_message_list_get_loaded (list), TIMEOUT_MS);
  gui_spin (800);
  last = chat_message_list_dup_last (list);
  return last;
}

/* 4: a long conversation opens at its newest message, or at the first unread one with a
 * "New messages" divider above it. */
static void
test_open_at_newest (void)
{
  ChatMessage *item;

  ensure_bob ();
  chat_account_set_active_peer (chat_window_get_account (bob), NULL);
  for (guint i = 1; i <= 40; i++)
    {
      g_autofree char *a = g_strdup_printf ("heidi %u", i);
      g_autofree char *b = g_strdup_printf ("ivan %u", i);

      send_to_bob ("heidi", a);
      send_to_bob ("ivan", b);
    }
  server_mark_all_read ();
  /* All read: the newest message is on screen. */
  item = open_long_conversation ("ivan");
  g_assert_cmpstr (chat_message_get_body (item), ==, "ivan 40");
  g_assert_true (item_visible (item));
  g_assert_true (item_visible (gui_find_body (messages_of ("ivan"), "ivan 39")));

  /* 40 read, 10 unread: the first unread one is on screen, under the divider. */
  for (guint i = 1; i <= 10; i++)
    {
      g_autofree char *a = g_strdup_printf ("heidi late %u", i);

      send_to_bob ("heidi", a);
    }
  GUI_WAIT_UNTIL (gui_find_body (messages_of ("heidi"), "heidi late 10") != NULL, TIMEOUT_MS);
  open_long_conversation ("heidi");
  item = gui_find_body (messages_of ("heidi"), "heidi late 1");
  g_assert_true (
      (chat_message_list_get_flags (messages_of ("heidi"), item) & CHAT_MESSAGE_FLAG_FIRST_UNREAD));
  g_assert_true (item_visible (item));
  gui_save_screenshot (GTK_WIDGET (bob), "new-messages.png");
  server_mark_all_read ();
}

static gboolean
health_says (const char *text)
{
  return strstr (gtk_label_get_label (bob->health_label), text) != NULL;
}

/* 5: the menu's health line follows the cluster: a follower down reads "2 of 3". */
static void
test_health_line (void)
{
  guint leader;
  guint follower;
  gint64 end;

  ensure_bob ();
  leader = chat_test_cluster_wait_leader (cluster, TIMEOUT_MS);
  follower = leader == 1 ? 2 : 1;
  gtk_menu_button_popup (bob->account_button);
  GUI_WAIT_UNTIL (health_says ("3 of 3"), TIMEOUT_MS);
  gtk_menu_button_popdown (bob->account_button);
  chat_test_cluster_kill (cluster, follower);
  gui_spin (3000); /* past the failure timeout: the leader has noticed */
  gtk_menu_button_popup (bob->account_button);
  end = g_get_monotonic_time () + SETTLE_MS * 1000;
  while (!health_says ("2 of 3") && g_get_monotonic_time () < end)
    gui_spin (100);
  g_assert_cmpstr (gtk_label_get_label (bob->health_label), ==,
                   g_strrstr (gtk_label_get_label (bob->health_label), "2 of 3"));
  gtk_menu_button_popdown (bob->account_button);
}

/* Words, as a pasted text has, of at least size bytes. */
static char *
long_text (gsize size)
{
  GString *text = g_string_new (NULL);

  while (text->len < size)
    g_string_append (text, "a pasted paragraph of words ");
  return g_strchomp (g_string_free (text, FALSE));
}

/* The sidebar's text of a conversation: its last message. */
static const char *
preview_of (ChatConversation *conversation)
{
  ChatMessage *last = chat_conversation_get_last_message (conversation);

  return last != NULL ? chat_message_get_body (last) : NULL;
}

/* 6: a message the server refuses as too large is not lost: it goes back into the box. */
static void
test_too_large_kept (void)
{
  ChatComposer *composer;
  g_autofree char *huge = long_text (17 * 1024);
  g_autofree char *text = NULL;
  ChatConversation *conversation;
  gint64 end;

  ensure_bob ();
  ensure_user ("alice");
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (bob), "win.open-conversation", "s", "alice"));
  GUI_WAIT_UNTIL (chat_message_list_get_loaded (messages_of ("alice")), TIMEOUT_MS);
  composer = chat_conversation_view_get_composer (bob->conversation_view);
  chat_composer_set_text (composer, huge);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (bob), "win.send", NULL));
  end = g_get_monotonic_time () + SETTLE_MS * 1000;
  do
    {
      gui_spin (100);
      g_free (text);
      text = chat_composer_dup_text (composer);
    }
  while (g_strcmp0 (text, huge) != 0 && g_get_monotonic_time () < end);
  g_assert_true (g_strcmp0 (text, huge) == 0);
  g_assert_null (gui_find_body (messages_of ("alice"), huge));
  /* The sidebar goes back to the last message the server has. */
  conversation = chat_account_find_conversation (chat_window_get_account (bob), "alice");
  end = g_get_monotonic_time () + SETTLE_MS * 1000;
  while (g_strcmp0 (preview_of (conversation), huge) == 0 && g_get_monotonic_time () < end)
    gui_spin (100);
  g_assert_true (g_strcmp0 (preview_of (conversation), huge) != 0);
  chat_composer_set_text (composer, "");
}

static GtkWidget *
find_descendant (GtkWidget *widget, GType type)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found
          = G_TYPE_CHECK_INSTANCE_TYPE (child, type) ? child : find_descendant (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* 7: the username field has the focus at start; Enter in the search opens the user found;
 * Ctrl+. opens the emoji chooser in the message box. */
static void
test_keyboard (void)
{
  ChatWindow *fresh = gui_window_new (app);
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (fresh));
  GtkWidget *entry;
  GtkWidget *chooser;

  g_assert_nonnull (focus);
  g_assert_true (
      focus == chat_login_page_get_username_row (fresh->login_page)
      || gtk_widget_is_ancestor (focus, chat_login_page_get_username_row (fresh->login_page)));
  gtk_window_destroy (GTK_WINDOW (fresh));

  ensure_bob ();
  ensure_user ("zoe");
  entry = chat_conversation_list_get_search_entry (bob->conversation_list);
  chat_conversation_list_set_search_text (bob->conversation_list, "zo");
  GUI_WAIT_UNTIL (chat_conversation_list_get_search_done (bob->conversation_list), TIMEOUT_MS);
  g_signal_emit_by_name (entry, "activate");
  GUI_WAIT_UNTIL (g_strcmp0 (chat_conversation_view_get_peer (bob->conversation_view), "zoe") == 0,
                  TIMEOUT_MS);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (bob), "win.insert-emoji", NULL));
  gui_spin (300);
  chooser
      = find_descendant (GTK_WIDGET (chat_conversation_view_get_composer (bob->conversation_view)),
                         GTK_TYPE_EMOJI_CHOOSER);
  g_assert_nonnull (chooser);
  g_assert_true (gtk_widget_get_visible (chooser));
  gtk_popover_popdown (GTK_POPOVER (chooser));
  /* Notifications carry the application's name. */
  g_assert_cmpstr (g_get_application_name (), ==, "Chat");
}

/* 9: the window works at GNOME's narrowest phone width. */
static void
test_narrow (void)
{
  int minimum = 0;

  ensure_bob ();
  /* The window's content: the window itself adds its client-side shadow around it. */
  gtk_widget_measure (GTK_WIDGET (bob->main_stack), GTK_ORIENTATION_HORIZONTAL, -1, &minimum, NULL,
                      NULL, NULL);
  g_assert_cmpint (minimum, <=, 360);
  gtk_window_set_default_size (GTK_WINDOW (bob), 360, 640);
  gui_spin (500);
  gui_save_screenshot (GTK_WIDGET (bob), "narrow-cases.png");
  gtk_window_set_default_size (GTK_WINDOW (bob), 900, 600);
  gui_spin (300);
}

/* 9: the session kept in the keyring logs a new window in; Log Out forgets it. */
static void
test_stay_logged_in (void)
{
  GSettings *settings = chat_application_get_settings (app);
  g_autofree char *data_dir = NULL;
  GPid keyring;
  ChatWindow *first;
  ChatWindow *second;
  ChatWindow *third;

  keyring = gui_keyring_start (&data_dir);
  ensure_user ("kate");
  g_settings_set_boolean (settings, "remember-session", TRUE);
  first = gui_window_new (app);
  gui_submit_login (first, "kate", "other-password", FALSE);
  GUI_WAIT_UNTIL (chat_window_get_account (first) != NULL, TIMEOUT_MS);
  gui_spin (1500); /* stored */

  second = gui_window_new (app);
  GUI_WAIT_UNTIL (chat_window_get_account (second) != NULL, TIMEOUT_MS);
  g_assert_cmpstr (chat_account_get_username (chat_window_get_account (second)), ==, "kate");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (second), "win.logout", NULL));
  GUI_WAIT_UNTIL (chat_window_get_account (second) == NULL, TIMEOUT_MS);
  gui_spin (1500); /* forgotten */

  third = gui_window_new (app);
  gui_spin (3000);
  g_assert_null (chat_window_get_account (third));

  g_settings_set_boolean (settings, "remember-session", FALSE);
  gtk_window_destroy (GTK_WINDOW (first));
  gtk_window_destroy (GTK_WINDOW (second));
  gtk_window_destroy (GTK_WINDOW (third));
  gui_keyring_stop (keyring, data_dir);
}

static void
add_cases (void)
{
  g_test_add_func ("/cases/read-unread-then-messages", test_read_unread_then_messages);
  g_test_add_func ("/cases/open-conversation-marks-read", test_open_conversation_marks_read);
  g_test_add_func ("/cases/read-unread-one-at-a-time", test_read_unread_one_at_a_time);
  g_test_add_func ("/cases/open-at-newest", test_open_at_newest);
  g_test_add_func ("/cases/too-large-kept", test_too_large_kept);
  g_test_add_func ("/cases/keyboard", test_keyboard);
  g_test_add_func ("/cases/narrow", test_narrow);
  g_test_add_func ("/cases/stay-logged-in", test_stay_logged_in);
  /* Last: it takes a server down. */
  g_test_add_func ("/cases/health-line", test_health_line);
}

int
main (int argc, char *argv[])
{
  /* Staying logged in needs a Secret Service, which gnome-keyring-daemon provides on the
   * test's own bus; without it the program runs nothing rather than pass a case it skipped. */
  g_autofree char *keyring_daemon = g_find_program_in_path ("gnome-keyring-daemon");
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (keyring_daemon == NULL)
    return chat_test_skip_all ("gnome-keyring-daemon is not installed (scripts/install-deps)");
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GTK_A11Y", "none", FALSE);
  g_setenv ("NO_AT_BRIDGE", "1", FALSE);

  gui_notifications_start ();
  conns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                 (GDestroyNotify)chat_test_conn_free);
  cluster = chat_test_cluster_new (3, NULL);
  chat_test_cluster_start_all (cluster);
  app = gui_app_new (cluster);

  add_cases ();
  ret = g_test_run ();

  if (bob != NULL)
    gtk_window_destroy (GTK_WINDOW (bob));
  g_hash_table_unref (conns);
  g_clear_object (&app);
  chat_test_cluster_free (cluster);
  return ret;
}
