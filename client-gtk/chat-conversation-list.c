/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConversationList: conversations in a GtkListView, and list_users search results. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-conversation-list.h"
#include "chat-conversation-row.h"

/* Users listed per search (the protocol allows up to 500). */
#define SEARCH_LIMIT 50

struct _ChatConversationList
{
  GtkWidget parent_instance;
  GtkSearchEntry *search_entry;
  GtkStack *stack;
  GtkListView *list_view;
  ChatSearchResults *search_results;

  ChatAccount *account;
  GtkSingleSelection *selection;
  GCancellable *search_cancellable;
  char *selected_peer;
  char *searched;
  gboolean search_done;
  gboolean selecting;
  guint reselect_id;
};

G_DEFINE_FINAL_TYPE (ChatConversationList, chat_conversation_list, GTK_TYPE_WIDGET)

enum
{
  SIGNAL_CONVERSATION_ACTIVATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
update_page (ChatConversationList *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  guint n = self->account
                ? g_list_model_get_n_items (chat_account_get_conversations (self->account))
                : 0;

  if (*text != '\0')
    gtk_stack_set_visible_child_name (self->stack, "search");
  else
    gtk_stack_set_visible_child_name (self->stack, n > 0 ? "conversations" : "empty");
}

static void
list_users_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChatConversationList *self;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) users = NULL;
  gboolean more = FALSE;

  users = chat_client_list_users_finish (CHAT_CLIENT (source), result, &more, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = CHAT_CONVERSATION_LIST (user_data);
  self->search_done = TRUE;
  if (users == NULL)
    {
      const char *none[] = { NULL };

      g_debug ("Search failed: %s", error->message);
      chat_search_results_set_users (self->search_results, none, FALSE);
      return;
    }
  chat_search_results_set_users (self->search_results, (const char *const *)users, more);
}

static void
search_changed_cb (ChatConversationList *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));

  if (g_strcmp0 (text, self->searched) == 0)
    return;
  g_free (self->searched);
  self->searched = g_strdup (text);
  g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);
  self->search_done = FALSE;
  update_page (self);
  if (*text == '\0' || self->account == NULL)
    return;
  self->search_cancellable = g_cancellable_new ();
  chat_search_results_set_users (self->search_results, NULL, FALSE);
  chat_client_list_users_async (chat_account_get_client (self->account), text, SEARCH_LIMIT, NULL,
                                self->search_cancellable, list_users_cb, self);
}

static void
stop_search_cb (ChatConversationList *self)
{
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
}

/* Enter in the search field opens the first user found. */
static void
search_activate_cb (ChatConversationList *self)
{
  if (self->search_done && chat_search_results_get_n_users (self->search_results) > 0)
    chat_search_results_activate (self->search_results, 0);
}

static void
user_activated_cb (ChatConversationList *self, const char *user)
{
  g_autofree char *peer = g_strdup (user);

  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
  g_signal_emit (self, signals[SIGNAL_CONVERSATION_ACTIVATED], 0, peer);
}

static void
selection_changed_cb (ChatConversationList *self)
{
  g_autoptr (ChatConversation) item = NULL;
  const char *peer;

  if (self->selecting)
    return;
  item = gtk_single_selection_get_selected_item (self->selection);
  if (item == NULL)
    return;
  g_object_ref (item);
  peer = chat_conversation_get_user (item);
  if (g_strcmp0 (peer, self->selected_peer) == 0)
    return;
  g_signal_emit (self, signals[SIGNAL_CONVERSATION_ACTIVATED], 0, peer);
}

static void
activate_cb (ChatConversationList *self, guint position)
{
  g_autoptr (ChatConversation) item
      = g_list_model_get_item (G_LIST_MODEL (self->selection), position);

  if (item != NULL)
    g_signal_emit (self, signals[SIGNAL_CONVERSATION_ACTIVATED], 0,
                   chat_conversation_get_user (item));
}

static gboolean
selection_matches (ChatConversationList *self)
{
  ChatConversation *item = gtk_single_selection_get_selected_item (self->selection);

  if (self->selected_peer == NULL)
    return item == NULL;
  return item != NULL
         && g_ascii_strcasecmp (chat_conversation_get_user (item), self->selected_peer) == 0;
}

static gboolean
reselect_cb (gpointer user_data)
{
  ChatConversationList *self = user_data;

  self->reselect_id = 0;
  if (!selection_matches (self))
    chat_conversation_list_select (self, self->selected_peer);
  return G_SOURCE_REMOVE;
}

/* A conversation that left the list and came back (the server's list merged in) loses its
 * highlight: restore it once the model has finished changing. Selecting from inside the
 * emission would hand the list view positions it has not seen yet. */
static void
items_changed_cb (ChatConversationList *self)
{
  update_page (self);
  if (self->reselect_id == 0 && !selection_matches (self))
    self->reselect_id = g_idle_add (reselect_cb, self);
}

static void
setup_cb (GtkListItemFactory *factory, GtkListItem *list_item)
{
  gtk_list_item_set_child (list_item, GTK_WIDGET (chat_conversation_row_new ()));
}

static void
bind_cb (GtkListItemFactory *factory, GtkListItem *list_item)
{
  chat_conversation_row_set_item (CHAT_CONVERSATION_ROW (gtk_list_item_get_child (list_item)),
                                  gtk_list_item_get_item (list_item));
}

static void
unbind_cb (GtkListItemFactory *factory, GtkListItem *list_item)
{
  chat_conversation_row_set_item (CHAT_CONVERSATION_ROW (gtk_list_item_get_child (list_item)),
                                  NULL);
}

static void
chat_conversation_list_dispose (GObject *object)
{
  ChatConversationList *self = CHAT_CONVERSATION_LIST (object);

  g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);
  g_clear_handle_id (&self->reselect_id, g_source_remove);
  chat_conversation_list_set_account (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (object), CHAT_TYPE_CONVERSATION_LIST);
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (object)));)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (chat_conversation_list_parent_class)->dispose (object);
}

static void
chat_conversation_list_finalize (GObject *object)
{
  ChatConversationList *self = CHAT_CONVERSATION_LIST (object);

  g_clear_object (&self->selection);
  g_free (self->selected_peer);
  g_free (self->searched);
  G_OBJECT_CLASS (chat_conversation_list_parent_class)->finalize (object);
}

static void
chat_conversation_list_class_init (ChatConversationListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = chat_conversation_list_dispose;
  object_class->finalize = chat_conversation_list_finalize;
  signals[SIGNAL_CONVERSATION_ACTIVATED]
      = g_signal_new ("conversation-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                      NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  g_type_ensure (CHAT_TYPE_SEARCH_RESULTS);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/chatd/Chat/chat-conversation-list.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatConversationList, search_entry);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationList, stack);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationList, list_view);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationList, search_results);
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, stop_search_cb);
  gtk_widget_class_bind_template_callback (widget_class, search_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, user_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, setup_cb);
  gtk_widget_class_bind_template_callback (widget_class, bind_cb);
  gtk_widget_class_bind_template_callback (widget_class, unbind_cb);
}

static void
chat_conversation_list_init (ChatConversationList *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->selection = gtk_single_selection_new (NULL);
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  g_signal_connect_swapped (self->selection, "notify::selected", G_CALLBACK (selection_changed_cb),
                            self);
  g_signal_connect_swapped (self->selection, "items-changed", G_CALLBACK (items_changed_cb), self);
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (self->selection));
  update_page (self);
}

void
chat_conversation_list_set_account (ChatConversationList *self, ChatAccount *account)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_LIST (self));

  if (!g_set_object (&self->account, account))
    return;
  g_clear_pointer (&self->selected_peer, g_free);
  if (self->selection != NULL)
    gtk_single_selection_set_model (self->selection,
                                    account ? chat_account_get_conversations (account) : NULL);
  if (self->search_entry != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
  if (self->stack != NULL)
    update_page (self);
}

void
chat_conversation_list_select (ChatConversationList *self, const char *peer)
{
  GListModel *model;
  guint n;

  g_return_if_fail (CHAT_IS_CONVERSATION_LIST (self));

  if (peer != self->selected_peer)
    {
      g_free (self->selected_peer);
      self->selected_peer = g_strdup (peer);
    }
  model = G_LIST_MODEL (self->selection);
  n = g_list_model_get_n_items (model);
  self->selecting = TRUE;
  gtk_single_selection_set_selected (self->selection, GTK_INVALID_LIST_POSITION);
  for (guint i = 0; peer != NULL && i < n; i++)
    {
      g_autoptr (ChatConversation) item = g_list_model_get_item (model, i);

      if (g_ascii_strcasecmp (chat_conversation_get_user (item), peer) == 0)
        gtk_single_selection_set_selected (self->selection, i);
    }
  self->selecting = FALSE;
}

void
chat_conversation_list_start_search (ChatConversationList *self)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_LIST (self));
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

void
chat_conversation_list_set_search_text (ChatConversationList *self, const char *text)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_LIST (self));

  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), text);
  search_changed_cb (self);
}

GtkWidget *
chat_conversation_list_get_search_entry (ChatConversationList *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_LIST (self), NULL);
  return GTK_WIDGET (self->search_entry);
}

ChatSearchResults *
chat_conversation_list_get_search_results (ChatConversationList *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_LIST (self), NULL);
  return self->search_results;
}

gboolean
chat_conversation_list_get_search_done (ChatConversationList *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_LIST (self), FALSE);
  return self->search_done;
}

void
chat_conversation_list_focus (ChatConversationList *self)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_LIST (self));
  gtk_widget_grab_focus (GTK_WIDGET (self->list_view));
}
