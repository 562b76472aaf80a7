/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessageRow: renders one ChatMessage of a ChatMessageList as a chat bubble. Built in code, not
 * from a template: GtkListView in GTK 4.8 keeps up to 200 rows alive, and parsing a template for
 * each costs more than the whole first paint may take. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-message-row.h"
#include "chat-message-markup.h"
#include "chat-row-item.h"

struct _ChatMessageRow
{
  GtkWidget parent_instance;
  GtkLabel *day_label;
  GtkWidget *unread_divider;
  GtkWidget *bubble;
  GtkLabel *body_label;
  GtkWidget *meta_box;
  GtkLabel *time_label;
  GtkImage *state_image;
  ChatMessage *message;
  ChatMessageList *list; /* where message is: its flags and whether it is the user's own */
};

G_DEFINE_FINAL_TYPE (ChatMessageRow, chat_message_row, GTK_TYPE_WIDGET)

/* The state's icon and its spoken and tooltip text: "committed" is stored by every in-sync
 * server of the cluster, which is what the one tick promises. */
static const char *
state_icon (ChatDeliveryState state, const char **text)
{
  switch (state)
    {
      case CHAT_DELIVERY_PENDING:
        *text = _ ("Sending");
        return "chat-sending-symbolic";
      case CHAT_DELIVERY_SENT:
        *text = _ ("Stored on every server");
        return "chat-committed-symbolic";
      case CHAT_DELIVERY_READ:
        *text = _ ("Read");
        return "chat-read-symbolic";
      case CHAT_DELIVERY_FAILED:
      default:
        *text = _ ("Not sent");
        return "dialog-error-symbolic";
    }
}

static char *
format_day (GDateTime *time)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  gint days = g_date_time_get_day_of_year (now) - g_date_time_get_day_of_year (time);

  if (g_date_time_get_year (now) == g_date_time_get_year (time) && days == 0)
    return g_strdup (_ ("Today"));
  if (g_date_time_get_year (now) == g_date_time_get_year (time) && days == 1)
    return g_strdup (_ ("Yesterday"));
  /* Translators: a day separator in a conversation, see g_date_time_format() */
  return g_date_time_format (time, _ ("%A, %-d %B %Y"));
}

static void
set_css_class (GtkWidget *widget, const char *css_class, gboolean set)
{
  if (set)
    gtk_widget_add_css_class (widget, css_class);
  else
    gtk_widget_remove_css_class (widget, css_class);
}

/* The time shows once per group (the last message of a run from one sender); an own
 * message always shows its delivery state. */
static gboolean
has_flag (ChatMessageRow *self, ChatMessageFlags flag)
{
  return (chat_message_list_get_flags (self->list, self->message) & flag) != 0;
}

static void
update_state (ChatMessageRow *self)
{
  ChatDeliveryState state = chat_message_get_state (self->message);
  gboolean outgoing = chat_message_list_is_outgoing (self->list, self->message);
  gboolean group_end = has_flag (self, CHAT_MESSAGE_FLAG_GROUP_END);
  const char *text = NULL;

  if (group_end)
    {
      g_autoptr (GDateTime) time = chat_message_list_dup_time (self->message);
      g_autofree char *clock = g_date_time_format (time, "%H:%M");

      gtk_label_set_label (self->time_label, clock);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->time_label), group_end);
  gtk_widget_set_visible (GTK_WIDGET (self->state_image), outgoing);
  gtk_widget_set_visible (self->meta_box, group_end || outgoing);
  if (outgoing)
    {
      gtk_image_set_from_icon_name (self->state_image, state_icon (state, &text));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->state_image), text);
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->state_image),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
    }
  set_css_class (self->bubble, "pending", state == CHAT_DELIVERY_PENDING);
  set_css_class (self->bubble, "failed", state == CHAT_DELIVERY_FAILED);
  set_css_class (self->bubble, "grouped", !group_end);
}

/* Most rows have no separator: their label is left as it is, hidden. */
static void
update_day (ChatMessageRow *self)
{
  gboolean show_day = has_flag (self, CHAT_MESSAGE_FLAG_SHOW_DAY);

  if (show_day)
    {
      g_autoptr (GDateTime) time = chat_message_list_dup_time (self->message);
      g_autofree char *day = format_day (time);

      gtk_label_set_label (self->day_label, day);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->day_label), show_day);
}

static void
update_divider (ChatMessageRow *self)
{
  gtk_widget_set_visible (self->unread_divider, has_flag (self, CHAT_MESSAGE_FLAG_FIRST_UNREAD));
}

/* Copy and the deletions this message allows, added to the label's own menu (which has
 * Copy for a selection and Select All). */
static GMenuModel *
build_menu (ChatMessageRow *self)
{
  GMenu *menu = g_menu_new ();
  gint64 id = chat_message_get_id (self->message);
  g_autoptr (GMenuItem) entry = NULL;

  g_menu_append (menu, _ ("_Copy Message"), "message.copy");
  if (id == 0)
    return G_MENU_MODEL (menu);
  entry = g_menu_item_new (_ ("Delete for _Me"), NULL);
  g_menu_item_set_action_and_target (entry, "win.delete-message-for", "(xs)", id, "me");
  g_menu_append_item (menu, entry);
  if (chat_message_list_is_outgoing (self->list, self->message))
    {
      g_autoptr (GMenuItem) everyone = g_menu_item_new (_ ("Delete for _Everyone"), NULL);

      g_menu_item_set_action_and_target (everyone, "win.delete-message-for", "(xs)", id,
                                         "everyone");
      g_menu_append_item (menu, everyone);
    }
  return G_MENU_MODEL (menu);
}

static void
update_menu (ChatMessageRow *self)
{
  g_autoptr (GMenuModel) menu = build_menu (self);

  gtk_label_set_extra_menu (self->body_label, menu);
}

static void
update (ChatMessageRow *self)
{
  gboolean outgoing = chat_message_list_is_outgoing (self->list, self->message);
  const char *body = chat_message_get_body (self->message);
  g_autofree char *markup = chat_message_markup_new (body);

  gtk_label_set_wrap_mode (self->body_label, chat_message_markup_has_long_word (body)
                                                 ? PANGO_WRAP_CHAR
                                                 : PANGO_WRAP_WORD_CHAR);
  if (markup != NULL)
    gtk_label_set_markup (self->body_label, markup);
  else
    gtk_label_set_text (self->body_label, body);
  gtk_widget_set_halign (self->bubble, outgoing ? GTK_ALIGN_END : GTK_ALIGN_START);
  gtk_widget_set_halign (self->meta_box, outgoing ? GTK_ALIGN_END : GTK_ALIGN_START);
  set_css_class (self->bubble, "outgoing", outgoing);
  set_css_class (self->bubble, "incoming", !outgoing);
  update_state (self);
  update_day (self);
  update_divider (self);
  update_menu (self);
}

static void
copy_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  ChatMessageRow *self = CHAT_MESSAGE_ROW (widget);

  if (self->message != NULL)
    gdk_clipboard_set_text (gtk_widget_get_clipboard (widget),
                            chat_message_get_body (self->message));
}

static void
chat_message_row_dispose (GObject *object)
{
  GtkWidget *child;

  chat_message_row_set_message (CHAT_MESSAGE_ROW (object), NULL, NULL);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (chat_message_row_parent_class)->dispose (object);
}

static void
chat_message_row_class_init (ChatMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = chat_message_row_dispose;
  gtk_widget_class_install_action (widget_class, "message.copy", NULL, copy_activated);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "chatmessagerow");
}

static GtkLabel *
new_label (const char *css_class, float xalign)
{
  GtkLabel *label = GTK_LABEL (gtk_label_new (NULL));

  gtk_label_set_xalign (label, xalign);
  if (css_class != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (label), css_class);
  return label;
}

static GtkWidget *
new_divider (void)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkLabel *label = new_label ("unread-divider-label", 0.5);

  gtk_label_set_label (label, _ ("New Messages"));
  gtk_widget_add_css_class (box, "unread-divider");
  gtk_box_append (GTK_BOX (box), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (label));
  gtk_box_append (GTK_BOX (box), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL));
  gtk_widget_set_hexpand (gtk_widget_get_first_child (box), TRUE);
  gtk_widget_set_hexpand (gtk_widget_get_last_child (box), TRUE);
  gtk_widget_set_valign (gtk_widget_get_first_child (box), GTK_ALIGN_CENTER);
  gtk_widget_set_valign (gtk_widget_get_last_child (box), GTK_ALIGN_CENTER);
  gtk_widget_set_visible (box, FALSE);
  return box;
}

/* The time and, on own messages, the delivery state icon. */
static void
init_meta (ChatMessageRow *self)
{
  self->meta_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  gtk_widget_add_css_class (self->meta_box, "message-meta");
  self->time_label = new_label ("caption", 1);
  gtk_box_append (GTK_BOX (self->meta_box), GTK_WIDGET (self->time_label));
  self->state_image = GTK_IMAGE (gtk_image_new ());
  gtk_image_set_pixel_size (self->state_image, 12);
  gtk_widget_set_valign (GTK_WIDGET (self->state_image), GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (self->meta_box), GTK_WIDGET (self->state_image));
  gtk_box_append (GTK_BOX (self->bubble), self->meta_box);
}

/* A day separator and the "New messages" divider over a bubble holding the text and a
 * "time ✓" line. */
static void
chat_message_row_init (ChatMessageRow *self)
{
  GtkWidget *widget = GTK_WIDGET (self);

  gtk_orientable_set_orientation (GTK_ORIENTABLE (gtk_widget_get_layout_manager (widget)),
                                  GTK_ORIENTATION_VERTICAL);
  gtk_widget_set_margin_start (widget, 12);
  gtk_widget_set_margin_end (widget, 12);
  gtk_widget_set_margin_top (widget, 1);
  gtk_widget_set_margin_bottom (widget, 1);

  self->day_label = new_label ("day-separator", 0.5);
  gtk_widget_add_css_class (GTK_WIDGET (self->day_label), "caption-heading");
  gtk_widget_set_halign (GTK_WIDGET (self->day_label), GTK_ALIGN_CENTER);
  gtk_widget_set_margin_top (GTK_WIDGET (self->day_label), 12);
  gtk_widget_set_margin_bottom (GTK_WIDGET (self->day_label), 6);
  gtk_widget_set_visible (GTK_WIDGET (self->day_label), FALSE);
  gtk_widget_set_parent (GTK_WIDGET (self->day_label), widget);

  self->unread_divider = new_divider ();
  gtk_widget_set_parent (self->unread_divider, widget);

  self->bubble = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_add_css_class (self->bubble, "message-bubble");
  gtk_widget_set_parent (self->bubble, widget);

  self->body_label = new_label (NULL, 0);
  gtk_label_set_wrap (self->body_label, TRUE);
  gtk_label_set_wrap_mode (self->body_label, PANGO_WRAP_WORD_CHAR);
  gtk_label_set_max_width_chars (self->body_label, 52);
  gtk_label_set_selectable (self->body_label, TRUE);
  gtk_box_append (GTK_BOX (self->bubble), GTK_WIDGET (self->body_label));
  init_meta (self);
}

ChatMessageRow *
chat_message_row_new (void)
{
  return g_object_new (CHAT_TYPE_MESSAGE_ROW, NULL);
}

/* The list changed how a message is drawn (a separator, the divider, its group). */
static void
flags_changed_cb (ChatMessageList *list, ChatMessage *message, ChatMessageRow *self)
{
  if (message != self->message)
    return;
  update_state (self);
  update_day (self);
  update_divider (self);
}

void
chat_message_row_set_message (ChatMessageRow *self, ChatMessageList *list, ChatMessage *message)
{
  g_return_if_fail (CHAT_IS_MESSAGE_ROW (self));
  g_return_if_fail (message == NULL || CHAT_IS_MESSAGE_LIST (list));

  if (self->list != list)
    {
      if (self->list != NULL)
        g_signal_handlers_disconnect_by_data (self->list, self);
      g_set_object (&self->list, list);
      if (list != NULL)
        g_signal_connect (list, "flags-changed", G_CALLBACK (flags_changed_cb), self);
    }
  if (!chat_row_item_swap (self, (GObject **)&self->message, message))
    return;
  g_signal_connect_swapped (message, "notify::state", G_CALLBACK (update_state), self);
  /* Committed: it can be deleted now. */
  g_signal_connect_swapped (message, "notify::id", G_CALLBACK (update_menu), self);
  update (self);
}

ChatMessage *
chat_message_row_get_message (ChatMessageRow *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ROW (self), NULL);
  return self->message;
}
