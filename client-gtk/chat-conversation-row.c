/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConversationRow: renders libchat's ChatConversation and follows its notifications. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-conversation-row.h"
#include "chat-row-item.h"

struct _ChatConversationRow
{
  GtkWidget parent_instance;
  AdwAvatar *avatar;
  GtkLabel *name_label;
  GtkLabel *time_label;
  GtkLabel *preview_label;
  GtkLabel *badge;
  ChatConversation *item;
};

G_DEFINE_FINAL_TYPE (ChatConversationRow, chat_conversation_row, GTK_TYPE_WIDGET)

/* The last message's text, or NULL. */
static const char *
get_preview (ChatConversation *item)
{
  ChatMessage *last = chat_conversation_get_last_message (item);

  return last != NULL ? chat_message_get_body (last) : NULL;
}

/* The last message's time as a short label: "14:05" today, "Mon" this week, "3 Mar" before. */
static char *
format_time (ChatConversation *item)
{
  ChatMessage *last = chat_conversation_get_last_message (item);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autoptr (GDateTime) local = NULL;
  GTimeSpan age;

  if (last == NULL || (local = chat_message_dup_sent_at_local (last)) == NULL)
    return g_strdup ("");
  age = g_date_time_difference (now, local);
  if (g_date_time_get_day_of_year (now) == g_date_time_get_day_of_year (local)
      && g_date_time_get_year (now) == g_date_time_get_year (local))
    /* Translators: the time of today's last message, see g_date_time_format() */
    return g_date_time_format (local, _ ("%H:%M"));
  if (age < 6 * G_TIME_SPAN_DAY)
    /* Translators: the weekday of this week's last message */
    return g_date_time_format (local, _ ("%a"));
  /* Translators: the date of an older last message */
  return g_date_time_format (local, _ ("%-d %b"));
}

/* What a screen reader says for the row: the name, the unread count, the last message. */
static void
update_accessible_label (ChatConversationRow *self, guint unread)
{
  const char *user = chat_conversation_get_user (self->item);
  const char *preview = get_preview (self->item);
  g_autofree char *label = NULL;

  if (unread > 0)
    /* Translators: a conversation in the sidebar, read aloud: name, count, last message */
    label = g_strdup_printf (
        ngettext ("%s, %u unread message: %s", "%s, %u unread messages: %s", unread), user, unread,
        preview ? preview : "");
  else
    /* Translators: a conversation in the sidebar, read aloud: name and last message */
    label = g_strdup_printf (_ ("%s: %s"), user, preview ? preview : _ ("No messages yet"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
}

static void
update (ChatConversationRow *self)
{
  g_autofree char *time = NULL;
  g_autofree char *unread = NULL;
  g_autofree char *description = NULL;
  const char *preview;
  guint n;

  if (self->item == NULL)
    return;
  time = format_time (self->item);
  preview = get_preview (self->item);
  n = chat_conversation_get_unread (self->item);
  unread = g_strdup_printf ("%u", n);
  adw_avatar_set_text (self->avatar, chat_conversation_get_user (self->item));
  gtk_label_set_label (self->name_label, chat_conversation_get_user (self->item));
  gtk_label_set_label (self->time_label, time);
  if (preview != NULL)
    {
      /* One line: a multi-line message previews with spaces. */
      g_autofree char *line = g_strdelimit (g_strdup (preview), "\r\n", ' ');
      gtk_label_set_label (self->preview_label, line);
    }
  else
    gtk_label_set_label (self->preview_label, _ ("No messages yet"));
  gtk_label_set_label (self->badge, unread);
  gtk_widget_set_visible (GTK_WIDGET (self->badge), n > 0);
  description = g_strdup_printf (ngettext ("%u unread message", "%u unread messages", n), n);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->badge), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  description, -1);
  update_accessible_label (self, n);
}

static void
chat_conversation_row_dispose (GObject *object)
{
  ChatConversationRow *self = CHAT_CONVERSATION_ROW (object);

  chat_conversation_row_set_item (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (object), CHAT_TYPE_CONVERSATION_ROW);
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (object)));)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (chat_conversation_row_parent_class)->dispose (object);
}

static void
chat_conversation_row_class_init (ChatConversationRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = chat_conversation_row_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/chatd/Chat/chat-conversation-row.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatConversationRow, avatar);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationRow, time_label);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationRow, preview_label);
  gtk_widget_class_bind_template_child (widget_class, ChatConversationRow, badge);
}

static void
chat_conversation_row_init (ChatConversationRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

ChatConversationRow *
chat_conversation_row_new (void)
{
  return g_object_new (CHAT_TYPE_CONVERSATION_ROW, NULL);
}

void
chat_conversation_row_set_item (ChatConversationRow *self, ChatConversation *item)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_ROW (self));

  if (!chat_row_item_swap (self, (GObject **)&self->item, item))
    return;
  g_signal_connect_swapped (item, "notify", G_CALLBACK (update), self);
  update (self);
}
