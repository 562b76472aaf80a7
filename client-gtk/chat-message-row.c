/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessageRow: renders one ChatMessageItem as a chat bubble. Built in code, not from a
 * template: GtkListView in GTK 4.8 keeps up to 200 rows alive, and parsing a template for
 * each costs more than the whole first paint may take. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-message-row.h"
#include "chat-row-item.h"

struct _ChatMessageRow
{
  GtkWidget parent_instance;
  GtkLabel *day_label;
  GtkWidget *bubble;
  GtkLabel *body_label;
  GtkLabel *meta_label;
  ChatMessageItem *item;
};

G_DEFINE_FINAL_TYPE (ChatMessageRow, chat_message_row, GTK_TYPE_WIDGET)

const char *
chat_message_row_describe_state (ChatMessageItem *item)
{
  if (!chat_message_item_get_outgoing (item))
    return "";
  switch (chat_message_item_get_state (item))
    {
      case CHAT_DELIVERY_PENDING:
        return _ ("Sending…");
      case CHAT_DELIVERY_SENT:
        return _ ("Sent");
      case CHAT_DELIVERY_READ:
        return _ ("Read");
      case CHAT_DELIVERY_FAILED:
      default:
        return _ ("Not sent");
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
update_state (ChatMessageRow *self)
{
  g_autoptr (GDateTime) time = chat_message_item_dup_time (self->item);
  g_autofree char *clock = g_date_time_format (time, "%H:%M");
  const char *state = chat_message_row_describe_state (self->item);
  g_autofree char *meta = NULL;

  if (*state != '\0')
    meta = g_strdup_printf ("%s · %s", clock, state);
  else
    meta = g_strdup (clock);
  gtk_label_set_label (self->meta_label, meta);
  if (chat_message_item_get_state (self->item) == CHAT_DELIVERY_PENDING)
    gtk_widget_add_css_class (self->bubble, "pending");
  else
    gtk_widget_remove_css_class (self->bubble, "pending");
  if (chat_message_item_get_state (self->item) == CHAT_DELIVERY_FAILED)
    gtk_widget_add_css_class (self->bubble, "failed");
  else
    gtk_widget_remove_css_class (self->bubble, "failed");
}

/* Most rows have no separator: their label is left as it is, hidden. */
static void
update_day (ChatMessageRow *self)
{
  gboolean show_day = chat_message_item_get_show_day (self->item);

  if (show_day)
    {
      g_autoptr (GDateTime) time = chat_message_item_dup_time (self->item);
      g_autofree char *day = format_day (time);

      gtk_label_set_label (self->day_label, day);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->day_label), show_day);
}

static void
update (ChatMessageRow *self)
{
  gboolean outgoing = chat_message_item_get_outgoing (self->item);

  gtk_label_set_label (self->body_label, chat_message_item_get_body (self->item));
  gtk_widget_set_halign (self->bubble, outgoing ? GTK_ALIGN_END : GTK_ALIGN_START);
  if (outgoing)
    {
      gtk_widget_add_css_class (self->bubble, "outgoing");
      gtk_widget_remove_css_class (self->bubble, "incoming");
    }
  else
    {
      gtk_widget_add_css_class (self->bubble, "incoming");
      gtk_widget_remove_css_class (self->bubble, "outgoing");
    }
  update_state (self);
  update_day (self);
}

static void
chat_message_row_dispose (GObject *object)
{
  GtkWidget *child;

  chat_message_row_set_item (CHAT_MESSAGE_ROW (object), NULL);
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

/* A day separator over a bubble holding the text and a "time · state" line. */
static void
chat_message_row_init (ChatMessageRow *self)
{
  GtkWidget *widget = GTK_WIDGET (self);

  gtk_orientable_set_orientation (GTK_ORIENTABLE (gtk_widget_get_layout_manager (widget)),
                                  GTK_ORIENTATION_VERTICAL);
  gtk_widget_set_margin_start (widget, 12);
  gtk_widget_set_margin_end (widget, 12);
  gtk_widget_set_margin_top (widget, 2);
  gtk_widget_set_margin_bottom (widget, 2);

  self->day_label = new_label ("day-separator", 0.5);
  gtk_widget_add_css_class (GTK_WIDGET (self->day_label), "caption-heading");
  gtk_widget_set_halign (GTK_WIDGET (self->day_label), GTK_ALIGN_CENTER);
  gtk_widget_set_margin_top (GTK_WIDGET (self->day_label), 12);
  gtk_widget_set_margin_bottom (GTK_WIDGET (self->day_label), 6);
  gtk_widget_set_visible (GTK_WIDGET (self->day_label), FALSE);
  gtk_widget_set_parent (GTK_WIDGET (self->day_label), widget);

  self->bubble = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_add_css_class (self->bubble, "message-bubble");
  gtk_widget_set_parent (self->bubble, widget);

  self->body_label = new_label (NULL, 0);
  gtk_label_set_wrap (self->body_label, TRUE);
  gtk_label_set_wrap_mode (self->body_label, PANGO_WRAP_WORD_CHAR);
  gtk_label_set_max_width_chars (self->body_label, 52);
  gtk_box_append (GTK_BOX (self->bubble), GTK_WIDGET (self->body_label));

  self->meta_label = new_label ("caption", 1);
  gtk_widget_add_css_class (GTK_WIDGET (self->meta_label), "message-meta");
  gtk_box_append (GTK_BOX (self->bubble), GTK_WIDGET (self->meta_label));
}

ChatMessageRow *
chat_message_row_new (void)
{
  return g_object_new (CHAT_TYPE_MESSAGE_ROW, NULL);
}

void
chat_message_row_set_item (ChatMessageRow *self, ChatMessageItem *item)
{
  g_return_if_fail (CHAT_IS_MESSAGE_ROW (self));

  if (!chat_row_item_swap (self, (GObject **)&self->item, item))
    return;
  g_signal_connect_swapped (item, "notify::state", G_CALLBACK (update_state), self);
  g_signal_connect_swapped (item, "notify::show-day", G_CALLBACK (update_day), self);
  update (self);
}

ChatMessageItem *
chat_message_row_get_item (ChatMessageRow *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ROW (self), NULL);
  return self->item;
}
