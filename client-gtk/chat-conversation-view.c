/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConversationView: a GtkListView of bubbles that loads older pages when scrolled up. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-conversation-view.h"
#include "chat-message-row.h"

/* Start loading the previous page this close to the top (in pixels). */
#define LOAD_MARGIN 600.0
/* Within this distance of the bottom, new messages keep the view at the bottom. */
#define STICK_MARGIN 48.0
/* The height of the shortest row, a one-line bubble with its time (about 48 px at 11 pt): the
 * first page is sized so that rows of this height fill the window. */
#define SHORTEST_ROW_HEIGHT 48
/* Rows fetched beyond those that fit, so the first page can be scrolled a little. */
#define EXTRA_FIRST_ROWS 4

struct _ChatConversationView
{
  GtkWidget parent_instance;
  GtkStack *stack;
  GtkScrolledWindow *scrolled_window;
  GtkListView *list_view;
  ChatComposer *composer;

  ChatAccount *account;
  ChatMessageList *messages;
  GtkSingleSelection *selection;
  char *peer;
  gboolean stick_to_bottom;
};

G_DEFINE_FINAL_TYPE (ChatConversationView, chat_conversation_view, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_PEER,
  PROP_SELECTED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GtkAdjustment *
get_vadjustment (ChatConversationView *self)
{
  return gtk_scrolled_window_get_vadjustment (self->scrolled_window);
}

static void
scroll_to_bottom (ChatConversationView *self)
{
  GtkAdjustment *adj = get_vadjustment (self);

  gtk_adjustment_set_value (adj,
                            gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
}

/* Near the top, or the page does not fill the view yet: fetch older messages. */
static void
maybe_load_older (ChatConversationView *self)
{
  GtkAdjustment *adj = get_vadjustment (self);

  if (self->messages == NULL || !chat_message_list_get_loaded (self->messages))
    return;
  if (gtk_adjustment_get_upper (adj) <= gtk_adjustment_get_page_size (adj))
    chat_message_list_load_older (self->messages);
  /* At the bottom the view follows new messages; older pages load once the user scrolls up. */
  else if (!self->stick_to_bottom && gtk_adjustment_get_value (adj) < LOAD_MARGIN)
    chat_message_list_load_older (self->messages);
}

static void
value_changed_cb (ChatConversationView *self)
{
  GtkAdjustment *adj = get_vadjustment (self);
  double bottom = gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj);

  self->stick_to_bottom = gtk_adjustment_get_value (adj) >= bottom - STICK_MARGIN;
  maybe_load_older (self);
}

static void
upper_changed_cb (ChatConversationView *self)
{
  if (self->stick_to_bottom)
    scroll_to_bottom (self);
  maybe_load_older (self);
}

static void
selected_cb (ChatConversationView *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECTED]);
}

static void
send_cb (ChatConversationView *self, const char *text)
{
  if (self->account == NULL || self->peer == NULL)
    return;
  self->stick_to_bottom = TRUE;
  chat_account_send (self->account, self->peer, text);
}

static void
setup_cb (GtkListItemFactory *factory, GtkListItem *list_item)
{
  gtk_list_item_set_child (list_item, GTK_WIDGET (chat_message_row_new ()));
}

static void
bind_cb (GtkListItemFactory *factory, GtkListItem *list_item)
{
  chat_message_row_set_item (CHAT_MESSAGE_ROW (gtk_list_item_get_child (list_item)),
                             gtk_list_item_get_item (list_item));
}

static void
unbind_cb (GtkListItemFactory *factory, GtkListItem *list_item)
{
  chat_message_row_set_item (CHAT_MESSAGE_ROW (gtk_list_item_get_child (list_item)), NULL);
}

static void
chat_conversation_view_get_property (GObject *object, guint prop_id, GValue *value,
                                     GParamSpec *pspec)
{
  ChatConversationView *self = CHAT_CONVERSATION_VIEW (object);

  switch (prop_id)
    {
      case PROP_PEER:
        g_value_set_string (value, self->peer);
        break;
      case PROP_SELECTED:
        g_value_set_object (value, chat_conversation_view_get_selected (self));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_conversation_view_dispose (GObject *object)
{
  ChatConversationView *self = CHAT_CONVERSATION_VIEW (object);

  chat_conversation_view_set_account (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (object), CHAT_TYPE_CONVERSATION_VIEW);
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (object)));)
    gtk_widget_unparent (child);
  g_clear_object (&self->selection);
  G_OBJECT_CLASS (chat_conversation_view_parent_class)->dispose (object);
}

static void
chat_conversation_view_finalize (GObject *object)
{
  g_free (CHAT_CONVERSATION_VIEW (object)->peer);
  G_OBJECT_CLASS (chat_conversation_view_parent_class)->finalize (object);
}

static void
chat_conversation_view_class_init (ChatConversationViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = chat_conversation_view_get_property;
  object_class->dispose = chat_conversation_view_dispose;
  object_class->finalize = chat_conversation_view_finalize;
  properties[PROP_PEER] = g_param_spec_string ("peer", NULL, NULL, NULL, flags);
  properties[PROP_SELECTED]
      = g_param_spec_object ("selected", NULL, NULL, CHAT_TYPE_MESSAGE_ITEM, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (CHAT_TYPE_COMPOSER);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/chatd/Chat/chat-conversation-view.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatConversationView, stack);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationView, scrolled_window);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationView, list_view);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationView, composer);
  gtk_widget_class_bind_template_callback (widget_class, send_cb);
  gtk_widget_class_bind_template_callback (widget_class, setup_cb);
  gtk_widget_class_bind_template_callback (widget_class, bind_cb);
  gtk_widget_class_bind_template_callback (widget_class, unbind_cb);
}

static void
chat_conversation_view_init (ChatConversationView *self)
{
  GtkAdjustment *adj;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->selection = gtk_single_selection_new (NULL);
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  g_signal_connect_swapped (self->selection, "notify::selected-item", G_CALLBACK (selected_cb),
                            self);
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (self->selection));
  adj = get_vadjustment (self);
  g_signal_connect_swapped (adj, "value-changed", G_CALLBACK (value_changed_cb), self);
  g_signal_connect_swapped (adj, "notify::upper", G_CALLBACK (upper_changed_cb), self);
  g_signal_connect_swapped (adj, "notify::page-size", G_CALLBACK (upper_changed_cb), self);
  self->stick_to_bottom = TRUE;
}

void
chat_conversation_view_set_account (ChatConversationView *self, ChatAccount *account)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_VIEW (self));

  if (self->account == account)
    return;
  chat_conversation_view_set_peer (self, NULL);
  g_set_object (&self->account, account);
}

static void
loaded_cb (ChatConversationView *self)
{
  self->stick_to_bottom = TRUE;
  scroll_to_bottom (self);
}

/* How many of the shortest rows fit in the window: the first page need not be bigger, and each
 * row laid out costs first-paint time. The window's height, not the list's: the list may not be
 * allocated yet while the "empty" page is shown. */
static guint
rows_that_fit (ChatConversationView *self)
{
  GtkNative *native = gtk_widget_get_native (GTK_WIDGET (self));
  int height = native ? gtk_widget_get_height (GTK_WIDGET (native)) : 0;

  if (height <= 0)
    return CHAT_MESSAGE_LIST_FIRST_PAGE;
  return (height + SHORTEST_ROW_HEIGHT - 1) / SHORTEST_ROW_HEIGHT + EXTRA_FIRST_ROWS;
}

void
chat_conversation_view_set_peer (ChatConversationView *self, const char *peer)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_VIEW (self));

  if (g_strcmp0 (self->peer, peer) == 0)
    return;
  if (self->messages != NULL)
    g_signal_handlers_disconnect_by_data (self->messages, self);
  g_free (self->peer);
  self->peer = g_strdup (peer);
  if (peer != NULL && self->account != NULL)
    chat_account_set_first_page_size (self->account, rows_that_fit (self));
  self->messages = (peer && self->account) ? chat_account_get_messages (self->account, peer) : NULL;
  self->stick_to_bottom = TRUE;
  if (self->selection != NULL)
    gtk_single_selection_set_model (self->selection, G_LIST_MODEL (self->messages));
  if (self->messages != NULL)
    g_signal_connect_swapped (self->messages, "notify::loaded", G_CALLBACK (loaded_cb), self);
  if (self->stack != NULL)
    gtk_stack_set_visible_child_name (self->stack, self->messages ? "conversation" : "empty");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECTED]);
}

const char *
chat_conversation_view_get_peer (ChatConversationView *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_VIEW (self), NULL);
  return self->peer;
}

ChatMessageItem *
chat_conversation_view_get_selected (ChatConversationView *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_VIEW (self), NULL);

  if (self->selection == NULL)
    return NULL;
  return gtk_single_selection_get_selected_item (self->selection);
}

void
chat_conversation_view_select (ChatConversationView *self, guint position)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_VIEW (self));
  gtk_single_selection_set_selected (self->selection, position);
}

ChatMessageList *
chat_conversation_view_get_messages (ChatConversationView *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_VIEW (self), NULL);
  return self->messages;
}

ChatComposer *
chat_conversation_view_get_composer (ChatConversationView *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_VIEW (self), NULL);
  return self->composer;
}

GtkScrolledWindow *
chat_conversation_view_get_scrolled_window (ChatConversationView *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_VIEW (self), NULL);
  return self->scrolled_window;
}

void
chat_conversation_view_send (ChatConversationView *self)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_VIEW (self));
  chat_composer_submit (self->composer);
}

void
chat_conversation_view_focus_composer (ChatConversationView *self)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_VIEW (self));
  chat_composer_focus (self->composer);
}
