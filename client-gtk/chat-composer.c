/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatComposer: a growing text view and a send button. */
#define G_LOG_DOMAIN "chat-gtk"

#include "chat-composer.h"
#include "chat-message-markup.h"

struct _ChatComposer
{
  GtkWidget parent_instance;
  GtkTextView *text_view;
  GtkButton *send_button;
  GtkLabel *placeholder_label;
};

G_DEFINE_FINAL_TYPE (ChatComposer, chat_composer, GTK_TYPE_WIDGET)

enum
{
  SIGNAL_SEND,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

char *
chat_composer_dup_text (ChatComposer *self)
{
  GtkTextBuffer *buffer;
  GtkTextIter start, end;

  g_return_val_if_fail (CHAT_IS_COMPOSER (self), NULL);

  buffer = gtk_text_view_get_buffer (self->text_view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

void
chat_composer_set_text (ChatComposer *self, const char *text)
{
  g_return_if_fail (CHAT_IS_COMPOSER (self));
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), text, -1);
}

void
chat_composer_submit (ChatComposer *self)
{
  g_autofree char *text = NULL;

  g_return_if_fail (CHAT_IS_COMPOSER (self));

  text = g_strstrip (chat_composer_dup_text (self));
  if (*text == '\0')
    return;
  chat_composer_set_text (self, "");
  g_signal_emit (self, signals[SIGNAL_SEND], 0, text);
}

void
chat_composer_focus (ChatComposer *self)
{
  g_return_if_fail (CHAT_IS_COMPOSER (self));
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

static gboolean
key_pressed_cb (ChatComposer *self, guint keyval, guint keycode, GdkModifierType state)
{
  if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter && keyval != GDK_KEY_ISO_Enter)
    return GDK_EVENT_PROPAGATE;
  if (state & (GDK_SHIFT_MASK | GDK_CONTROL_MASK | GDK_ALT_MASK))
    return GDK_EVENT_PROPAGATE; /* Shift+Enter: a new line */
  chat_composer_submit (self);
  return GDK_EVENT_STOP;
}

static void
buffer_changed_cb (ChatComposer *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  g_autofree char *text = g_strstrip (chat_composer_dup_text (self));

  gtk_widget_set_sensitive (GTK_WIDGET (self->send_button), *text != '\0');
  /* A pasted run of thousands of characters would stall word wrapping (see the header). */
  gtk_text_view_set_wrap_mode (self->text_view, chat_message_markup_has_long_word (text)
                                                    ? GTK_WRAP_CHAR
                                                    : GTK_WRAP_WORD_CHAR);
  gtk_widget_set_visible (GTK_WIDGET (self->placeholder_label),
                          gtk_text_buffer_get_char_count (buffer) == 0);
}

void
chat_composer_set_placeholder (ChatComposer *self, const char *text)
{
  g_return_if_fail (CHAT_IS_COMPOSER (self));
  gtk_label_set_label (self->placeholder_label, text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->text_view),
                                  GTK_ACCESSIBLE_PROPERTY_PLACEHOLDER, text, -1);
}

/* GtkTextView's own chooser, the one Ctrl+. and Ctrl+; open inside the box. */
void
chat_composer_insert_emoji (ChatComposer *self)
{
  g_return_if_fail (CHAT_IS_COMPOSER (self));
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
  g_signal_emit_by_name (self->text_view, "insert-emoji");
}

static void
chat_composer_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), CHAT_TYPE_COMPOSER);
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (object)));)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (chat_composer_parent_class)->dispose (object);
}

static void
chat_composer_class_init (ChatComposerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = chat_composer_dispose;
  signals[SIGNAL_SEND] = g_signal_new ("send", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/chatd/Chat/chat-composer.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatComposer, text_view);
  gtk_widget_class_bind_template_child (widget_class, ChatComposer, send_button);
  gtk_widget_class_bind_template_child (widget_class, ChatComposer, placeholder_label);
  gtk_widget_class_bind_template_callback (widget_class, chat_composer_insert_emoji);
  gtk_widget_class_bind_template_callback (widget_class, key_pressed_cb);
  gtk_widget_class_bind_template_callback (widget_class, chat_composer_submit);
}

static void
chat_composer_init (ChatComposer *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect_swapped (gtk_text_view_get_buffer (self->text_view), "changed",
                            G_CALLBACK (buffer_changed_cb), self);
  buffer_changed_cb (self);
}
