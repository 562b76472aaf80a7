/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Builds every chat-gtk composite template from the GResource: a bad .ui file is a critical. */
#include "config.h"

#include <adwaita.h>

#include "chat-composer.h"
#include "chat-connection-banner.h"
#include "chat-conversation-list.h"
#include "chat-conversation-row.h"
#include "chat-conversation-view.h"
#include "chat-delete-account-dialog.h"
#include "chat-login-page.h"
#include "chat-message-row.h"
#include "chat-preferences.h"
#include "chat-search-results.h"
#include "chat-window.h"

static void
test_template (gconstpointer data)
{
  GType type = GPOINTER_TO_SIZE (data);
  GtkWidget *widget = g_object_ref_sink (g_object_new (type, NULL));

  g_assert_nonnull (gtk_widget_get_first_child (widget));
  if (GTK_IS_WINDOW (widget))
    gtk_window_destroy (GTK_WINDOW (widget));
  g_object_unref (widget);
}

static void
test_help_overlay (void)
{
  g_autoptr (GtkBuilder) builder
      = gtk_builder_new_from_resource ("/io/github/chatd/Chat/gtk/help-overlay.ui");

  g_assert_true (GTK_IS_SHORTCUTS_WINDOW (gtk_builder_get_object (builder, "help_overlay")));
}

static void
test_servers_parse (void)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) servers
      = chat_preferences_parse_servers ("127.0.0.1:5555, [::1]:5556 host:1", &error);
  g_auto (GStrv) bad = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (servers), ==, 3);
  g_assert_cmpstr (servers[1], ==, "[::1]:5556");
  bad = chat_preferences_parse_servers ("127.0.0.1", &error);
  g_assert_null (bad);
  g_assert_nonnull (error);
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

static GtkLabel *
find_label (GtkWidget *widget, const char *text)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkLabel *found
          = GTK_IS_LABEL (child) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (child)), text) == 0
                ? GTK_LABEL (child)
                : find_label (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The label of a message row that shows body. */
static GtkLabel *
body_label_of (const char *body, GtkWidget **row_out)
{
  g_autoptr (ChatMessage) message = chat_message_new (1, 1, "alice", "bob", body, 0, FALSE);
  g_autoptr (ChatClient) client = chat_client_new ((const char *const[]){ "127.0.0.1:1", NULL });
  g_autoptr (ChatMessageList) list = NULL;
  ChatMessageRow *row = g_object_ref_sink (chat_message_row_new ());
  GtkLabel *label;

  list = chat_message_list_new (client, "bob", "alice");
  chat_message_list_add_message (list, message);
  chat_message_row_set_message (row, list, message);
  *row_out = GTK_WIDGET (row);
  label = find_label (GTK_WIDGET (row), body);
  g_assert_nonnull (label);
  return label;
}

/* A 5,000-character word wraps by character (word wrapping of it takes seconds in Pango),
 * to a narrow bubble; text with spaces keeps wrapping at words. Nothing is timed. */
static void
test_long_word_wraps (void)
{
  g_autofree char *word = g_strnfill (5000, 'w');
  GtkWidget *row = NULL;
  GtkLabel *label = body_label_of (word, &row);
  ChatComposer *composer = g_object_ref_sink (g_object_new (CHAT_TYPE_COMPOSER, NULL));
  GtkTextView *text_view
      = GTK_TEXT_VIEW (find_descendant (GTK_WIDGET (composer), GTK_TYPE_TEXT_VIEW));
  int minimum = 0;

  g_assert_cmpint (gtk_label_get_wrap_mode (label), ==, PANGO_WRAP_CHAR);
  gtk_widget_measure (row, GTK_ORIENTATION_HORIZONTAL, -1, &minimum, NULL, NULL, NULL);
  g_assert_cmpint (minimum, <=, 360);
  g_object_unref (row);
  label = body_label_of ("a short message with words", &row);
  g_assert_cmpint (gtk_label_get_wrap_mode (label), ==, PANGO_WRAP_WORD_CHAR);
  g_object_unref (row);

  chat_composer_set_text (composer, word);
  g_assert_cmpint (gtk_text_view_get_wrap_mode (text_view), ==, GTK_WRAP_CHAR);
  chat_composer_set_text (composer, "words again");
  g_assert_cmpint (gtk_text_view_get_wrap_mode (text_view), ==, GTK_WRAP_WORD_CHAR);
  g_object_unref (composer);
}

int
main (int argc, char *argv[])
{
  const struct
  {
    const char *name;
    GType (*get_type) (void);
  } types[] = {
    { "composer", chat_composer_get_type },
    { "connection-banner", chat_connection_banner_get_type },
    { "conversation-list", chat_conversation_list_get_type },
    { "conversation-row", chat_conversation_row_get_type },
    { "conversation-view", chat_conversation_view_get_type },
    { "delete-account-dialog", chat_delete_account_dialog_get_type },
    { "login-page", chat_login_page_get_type },
    { "message-row", chat_message_row_get_type },
    { "preferences", chat_preferences_get_type },
    { "search-results", chat_search_results_get_type },
    { "window", chat_window_get_type },
  };

  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GTK_A11Y", "none", FALSE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autofree char *path = g_strdup_printf ("/ui/template/%s", types[i].name);

      g_test_add_data_func (path, GSIZE_TO_POINTER (types[i].get_type ()), test_template);
    }
  g_test_add_func ("/ui/help-overlay", test_help_overlay);
  g_test_add_func ("/ui/servers-parse", test_servers_parse);
  g_test_add_func ("/ui/long-word-wraps", test_long_word_wraps);
  return g_test_run ();
}
