/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatDeleteAccountDialog: a destructive confirmation that asks for the password. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-delete-account-dialog.h"

struct _ChatDeleteAccountDialog
{
  AdwMessageDialog parent_instance;
  GtkPasswordEntry *password_entry;
  GtkLabel *error_label;
  ChatClient *client;
  GCancellable *cancellable;
  gboolean busy;
  gboolean done;
};

G_DEFINE_FINAL_TYPE (ChatDeleteAccountDialog, chat_delete_account_dialog, ADW_TYPE_MESSAGE_DIALOG)

enum
{
  SIGNAL_DELETED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
set_busy (ChatDeleteAccountDialog *self, gboolean busy)
{
  self->busy = busy;
  gtk_widget_set_sensitive (GTK_WIDGET (self->password_entry), !busy);
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (self), "delete", !busy);
}

static void
delete_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatDeleteAccountDialog) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!chat_client_delete_account_finish (CHAT_CLIENT (source), result, &error))
    {
      set_busy (self, FALSE);
      if (g_error_matches (error, CHAT_ERROR, CHAT_ERROR_BAD_CREDENTIALS))
        gtk_label_set_label (self->error_label, _ ("Wrong password."));
      else
        gtk_label_set_label (self->error_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
      gtk_widget_grab_focus (GTK_WIDGET (self->password_entry));
      return;
    }
  self->done = TRUE;
  g_signal_emit (self, signals[SIGNAL_DELETED], 0);
  gtk_window_set_focus (GTK_WINDOW (self), NULL);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
response_cb (ChatDeleteAccountDialog *self, const char *response)
{
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_entry));

  if (g_strcmp0 (response, "delete") != 0)
    {
      self->done = TRUE;
      return;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  set_busy (self, TRUE);
  chat_client_delete_account_async (self->client, password, self->cancellable, delete_cb,
                                    g_object_ref (self));
}

/* The message dialog closes after any response: stay open until the server answered. */
static gboolean
close_request_cb (ChatDeleteAccountDialog *self)
{
  return !self->done;
}

static void
password_changed_cb (ChatDeleteAccountDialog *self)
{
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_entry));

  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (self), "delete",
                                           !self->busy && *password != '\0');
}

static void
chat_delete_account_dialog_dispose (GObject *object)
{
  ChatDeleteAccountDialog *self = CHAT_DELETE_ACCOUNT_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  gtk_widget_dispose_template (GTK_WIDGET (object), CHAT_TYPE_DELETE_ACCOUNT_DIALOG);
  G_OBJECT_CLASS (chat_delete_account_dialog_parent_class)->dispose (object);
}

static void
chat_delete_account_dialog_class_init (ChatDeleteAccountDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = chat_delete_account_dialog_dispose;
  signals[SIGNAL_DELETED] = g_signal_new ("deleted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/chatd/Chat/chat-delete-account-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatDeleteAccountDialog, password_entry);
  gtk_widget_class_bind_template_child (widget_class, ChatDeleteAccountDialog, error_label);
  gtk_widget_class_bind_template_callback (widget_class, response_cb);
  gtk_widget_class_bind_template_callback (widget_class, close_request_cb);
  gtk_widget_class_bind_template_callback (widget_class, password_changed_cb);
}

static void
chat_delete_account_dialog_init (ChatDeleteAccountDialog *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
  password_changed_cb (self);
}

ChatDeleteAccountDialog *
chat_delete_account_dialog_new (GtkWindow *parent, ChatClient *client)
{
  ChatDeleteAccountDialog *self;

  self = g_object_new (CHAT_TYPE_DELETE_ACCOUNT_DIALOG, "transient-for", parent, "modal", TRUE,
                       NULL);
  self->client = g_object_ref (client);
  return self;
}

void
chat_delete_account_dialog_confirm (ChatDeleteAccountDialog *self, const char *password)
{
  g_return_if_fail (CHAT_IS_DELETE_ACCOUNT_DIALOG (self));

  gtk_editable_set_text (GTK_EDITABLE (self->password_entry), password);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (self), "delete");
}
