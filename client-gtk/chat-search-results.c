/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatSearchResults: the list of accounts found by list_users, shown in the sidebar. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-search-results.h"

struct _ChatSearchResults
{
  GtkWidget parent_instance;
  GtkStack *stack;
  GtkListBox *list_box;
  GtkLabel *more_label;
  guint n_users;
};

G_DEFINE_FINAL_TYPE (ChatSearchResults, chat_search_results, GTK_TYPE_WIDGET)

enum
{
  SIGNAL_USER_ACTIVATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
row_activated_cb (ChatSearchResults *self, GtkListBoxRow *row)
{
  const char *user = g_object_get_data (G_OBJECT (row), "chat-user");

  g_signal_emit (self, signals[SIGNAL_USER_ACTIVATED], 0, user);
}

static void
chat_search_results_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), CHAT_TYPE_SEARCH_RESULTS);
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (object)));)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (chat_search_results_parent_class)->dispose (object);
}

static void
chat_search_results_class_init (ChatSearchResultsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = chat_search_results_dispose;
  signals[SIGNAL_USER_ACTIVATED]
      = g_signal_new ("user-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/chatd/Chat/chat-search-results.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatSearchResults, stack);
  gtk_widget_class_bind_template_child (widget_class, ChatSearchResults, list_box);
  gtk_widget_class_bind_template_child (widget_class, ChatSearchResults, more_label);
  gtk_widget_class_bind_template_callback (widget_class, row_activated_cb);
}

static void
chat_search_results_init (ChatSearchResults *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

static GtkWidget *
create_row (const char *user)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *avatar = adw_avatar_new (32, user, TRUE);
  GtkWidget *icon = gtk_image_new_from_icon_name ("go-next-symbolic");

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), user);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _ ("Start a conversation"));
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), avatar);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), icon);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_object_set_data_full (G_OBJECT (row), "chat-user", g_strdup (user), g_free);
  return row;
}

void
chat_search_results_set_users (ChatSearchResults *self, const char *const *users, gboolean more)
{
  GtkWidget *child;

  g_return_if_fail (CHAT_IS_SEARCH_RESULTS (self));

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list_box))) != NULL)
    gtk_list_box_remove (self->list_box, child);
  self->n_users = users ? g_strv_length ((char **)users) : 0;
  if (users == NULL)
    {
      gtk_stack_set_visible_child_name (self->stack, "searching");
      return;
    }
  for (guint i = 0; users[i] != NULL; i++)
    gtk_list_box_append (self->list_box, create_row (users[i]));
  gtk_widget_set_visible (GTK_WIDGET (self->more_label), more);
  gtk_stack_set_visible_child_name (self->stack, self->n_users ? "results" : "empty");
}

guint
chat_search_results_get_n_users (ChatSearchResults *self)
{
  g_return_val_if_fail (CHAT_IS_SEARCH_RESULTS (self), 0);
  return self->n_users;
}

void
chat_search_results_activate (ChatSearchResults *self, guint n)
{
  GtkListBoxRow *row;

  g_return_if_fail (CHAT_IS_SEARCH_RESULTS (self));

  row = gtk_list_box_get_row_at_index (self->list_box, n);
  if (row != NULL)
    row_activated_cb (self, row);
}
