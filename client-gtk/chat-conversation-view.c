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
/* The largest first page grown to reach the first unread message. */
#define MAX_UNREAD_FIRST_PAGE 60

struct _ChatConversationView
{
  GtkWidget parent_instance;
  GtkStack *stack;
  GtkScrolledWindow *scrolled_window;
  GtkListView *list_view;
  GtkWidget *jump_button;
  GtkLabel *jump_label;
  ChatComposer *composer;

  ChatAccount *account;
  ChatMessageList *messages;
  GtkSingleSelection *selection;
  char *peer;
  ChatMessage *align_target; /* the divider's row, scrolled to the top once laid out */
  guint align_tick_id;
  guint bottom_tick_id;
  guint align_frames;
  double last_upper;
  double last_page_size;
  guint n_new_below; /* messages that arrived while scrolled up */
  gboolean stick_to_bottom;
  gboolean read_only; /* the offline cache: nothing can be sent */
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

static void stop_aligning (ChatConversationView *self);

static GtkAdjustment *
get_vadjustment (ChatConversationView *self)
{
  return gtk_scrolled_window_get_vadjustment (self->scrolled_window);
}

static gboolean
bottom_tick_cb (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  ChatConversationView *self = user_data;
  GtkAdjustment *adj = get_vadjustment (self);

  self->bottom_tick_id = 0;
  if (self->stick_to_bottom)
    gtk_adjustment_set_value (adj,
                              gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  return G_SOURCE_REMOVE;
}

/* At the next frame: the bounds change while the list view allocates its rows, and a value
 * set from inside that allocation is not the one it lays the rows out from. */
static void
scroll_to_bottom (ChatConversationView *self)
{
  if (self->bottom_tick_id == 0)
    self->bottom_tick_id
        = gtk_widget_add_tick_callback (GTK_WIDGET (self->list_view), bottom_tick_cb, self, NULL);
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
update_jump_button (ChatConversationView *self)
{
  g_autofree char *count = NULL;

  gtk_widget_set_visible (self->jump_button, !self->stick_to_bottom);
  gtk_widget_set_visible (GTK_WIDGET (self->jump_label), self->n_new_below > 0);
  if (self->n_new_below > 0)
    {
      count = g_strdup_printf ("%u", self->n_new_below);
      gtk_label_set_label (self->jump_label, count);
    }
}

static void
set_stick_to_bottom (ChatConversationView *self, gboolean stick)
{
  self->stick_to_bottom = stick;
  if (stick)
    self->n_new_below = 0;
  update_jump_button (self);
}

/* The list view measures rows as they come into view and moves the value with the bounds:
 * only a move with the bounds unchanged is the user's (or ours), and only that one decides
 * whether the view follows new messages. */
static gboolean
bounds_changed (ChatConversationView *self)
{
  GtkAdjustment *adj = get_vadjustment (self);
  gboolean changed = gtk_adjustment_get_upper (adj) != self->last_upper
                     || gtk_adjustment_get_page_size (adj) != self->last_page_size;

  self->last_upper = gtk_adjustment_get_upper (adj);
  self->last_page_size = gtk_adjustment_get_page_size (adj);
  return changed;
}

static void
value_changed_cb (ChatConversationView *self)
{
  GtkAdjustment *adj = get_vadjustment (self);
  double bottom = gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj);

  if (bounds_changed (self))
    {
      if (self->stick_to_bottom && gtk_adjustment_get_value (adj) < bottom)
        scroll_to_bottom (self);
    }
  else
    set_stick_to_bottom (self, gtk_adjustment_get_value (adj) >= bottom - STICK_MARGIN);
  maybe_load_older (self);
}

static void
upper_changed_cb (ChatConversationView *self)
{
  bounds_changed (self);
  if (self->stick_to_bottom)
    scroll_to_bottom (self);
  maybe_load_older (self);
}

static void
jump_to_bottom_cb (ChatConversationView *self)
{
  set_stick_to_bottom (self, TRUE);
  scroll_to_bottom (self);
}

/* Messages added at the end while scrolled up are counted on the jump button. */
static void
messages_changed_cb (ChatConversationView *self, guint position, guint removed, guint added)
{
  if (self->stick_to_bottom || added <= removed
      || position + added != g_list_model_get_n_items (G_LIST_MODEL (self->messages)))
    return;
  self->n_new_below += added - removed;
  update_jump_button (self);
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
bind_cb (GtkListItemFactory *factory, GtkListItem *list_item, ChatConversationView *self)
{
  chat_message_row_set_message (CHAT_MESSAGE_ROW (gtk_list_item_get_child (list_item)),
                                self->messages, gtk_list_item_get_item (list_item));
}

static void
unbind_cb (GtkListItemFactory *factory, GtkListItem *list_item, ChatConversationView *self)
{
  chat_message_row_set_message (CHAT_MESSAGE_ROW (gtk_list_item_get_child (list_item)), NULL, NULL);
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
  stop_aligning (self);
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
      = g_param_spec_object ("selected", NULL, NULL, CHAT_TYPE_MESSAGE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (CHAT_TYPE_COMPOSER);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/chatd/Chat/chat-conversation-view.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatConversationView, stack);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationView, scrolled_window);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationView, list_view);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationView, composer);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationView, jump_button);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationView, jump_label);
  gtk_widget_class_bind_template_callback (widget_class, jump_to_bottom_cb);
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

static gboolean
find_item (GListModel *model, gpointer item, guint *position)
{
  guint n = g_list_model_get_n_items (model);

  /* From the end: the divider is among the newest messages. */
  for (guint i = n; i > 0; i--)
    {
      g_autoptr (GObject) at = g_list_model_get_item (model, i - 1);

      if (at == item)
        {
          *position = i - 1;
          return TRUE;
        }
    }
  return FALSE;
}

static GtkWidget *
find_row (ChatConversationView *self, ChatMessage *item)
{
  for (GtkWidget *cell = gtk_widget_get_first_child (GTK_WIDGET (self->list_view)); cell != NULL;
       cell = gtk_widget_get_next_sibling (cell))
    {
      GtkWidget *row = gtk_widget_get_first_child (cell);

      if (CHAT_IS_MESSAGE_ROW (row)
          && chat_message_row_get_message (CHAT_MESSAGE_ROW (row)) == item)
        return row;
    }
  return NULL;
}

/* Puts the divider's row at the top of the view, once the list has laid it out (a few
 * frames: the rows above it are measured as the list scrolls). */
static gboolean
align_tick_cb (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  ChatConversationView *self = user_data;
  GtkAdjustment *adj = get_vadjustment (self);
  GtkWidget *row = find_row (self, self->align_target);
  graphene_point_t point;
  double bottom = gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj);

  if (row != NULL && gtk_widget_get_mapped (row)
      && gtk_widget_compute_point (row, GTK_WIDGET (self->list_view), &GRAPHENE_POINT_INIT (0, 0),
                                   &point))
    {
      double value = MIN (gtk_adjustment_get_value (adj) + point.y, bottom);

      gtk_adjustment_set_value (adj, value);
      set_stick_to_bottom (self, value >= bottom);
    }
  if (++self->align_frames < 4)
    return G_SOURCE_CONTINUE;
  self->align_tick_id = 0;
  g_clear_object (&self->align_target);
  return G_SOURCE_REMOVE;
}

static void
stop_aligning (ChatConversationView *self)
{
  if (self->bottom_tick_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->list_view), self->bottom_tick_id);
  self->bottom_tick_id = 0;
  if (self->align_tick_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->list_view), self->align_tick_id);
  self->align_tick_id = 0;
  g_clear_object (&self->align_target);
}

/* A conversation opens at its first unread message, under the divider, or at the newest. */
static void
scroll_to_start (ChatConversationView *self)
{
  ChatMessage *marker = chat_message_list_get_unread_marker (self->messages);
  guint position;

  stop_aligning (self);
  if (marker == NULL || !find_item (G_LIST_MODEL (self->messages), marker, &position))
    {
      set_stick_to_bottom (self, TRUE);
      scroll_to_bottom (self);
      return;
    }
  set_stick_to_bottom (self, FALSE);
  gtk_widget_activate_action (GTK_WIDGET (self->list_view), "list.scroll-to-item", "u", position);
  self->align_target = g_object_ref (marker);
  self->align_frames = 0;
  self->align_tick_id
      = gtk_widget_add_tick_callback (GTK_WIDGET (self->list_view), align_tick_cb, self, NULL);
}

static void
loaded_cb (ChatConversationView *self)
{
  scroll_to_start (self);
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

/* Enough for the window, and for every unread message when they are few (the first one
 * opens the view). Many unread messages do not make the first page (and paint) slower: the
 * view opens at the newest then, with no divider, since the first unread one is not loaded. */
static guint
first_page_size (ChatConversationView *self, const char *peer)
{
  ChatConversation *item = chat_account_find_conversation (self->account, peer);
  guint unread = item != NULL ? chat_conversation_get_unread (item) : 0;
  guint fit = rows_that_fit (self);

  if (unread + EXTRA_FIRST_ROWS > MAX_UNREAD_FIRST_PAGE)
    return fit;
  return MAX (fit, unread + EXTRA_FIRST_ROWS);
}

static void
update_placeholder (ChatConversationView *self)
{
  g_autofree char *text = NULL;

  if (self->read_only)
    text = g_strdup (_ ("Offline — waiting for the servers"));
  else if (self->peer != NULL)
    /* Translators: the placeholder of the message box, %s is the other user's name */
    text = g_strdup_printf (_ ("Message %s"), self->peer);
  chat_composer_set_placeholder (self->composer, text);
}

void
chat_conversation_view_set_read_only (ChatConversationView *self, gboolean read_only)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_VIEW (self));

  self->read_only = !!read_only;
  gtk_widget_set_sensitive (GTK_WIDGET (self->composer), !self->read_only);
  update_placeholder (self);
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
  stop_aligning (self);
  if (peer != NULL && self->account != NULL)
    chat_account_set_first_page_size (self->account, first_page_size (self, peer));
  self->messages = (peer && self->account) ? chat_account_get_messages (self->account, peer) : NULL;
  self->n_new_below = 0;
  set_stick_to_bottom (self, TRUE);
  if (self->messages != NULL)
    chat_message_list_place_unread_marker (self->messages);
  if (self->selection != NULL)
    gtk_single_selection_set_model (self->selection, G_LIST_MODEL (self->messages));
  if (self->messages != NULL)
    {
      g_signal_connect_swapped (self->messages, "notify::loaded", G_CALLBACK (loaded_cb), self);
      g_signal_connect_swapped (self->messages, "items-changed", G_CALLBACK (messages_changed_cb),
                                self);
      if (chat_message_list_get_loaded (self->messages))
        scroll_to_start (self);
    }
  update_placeholder (self);
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

ChatMessage *
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
  /* Read-only, the focus stays where it is: on a message it would select the text. */
  if (!self->read_only)
    chat_composer_focus (self->composer);
}
