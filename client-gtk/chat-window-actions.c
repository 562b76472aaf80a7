/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatWindow actions (win.*): search, read, delete, log out; each with a shortcut. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-delete-account-dialog.h"
#include "chat-window-private.h"

static void
search_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  ChatWindow *self = CHAT_WINDOW (widget);

  adw_leaflet_set_visible_child (self->leaflet, self->sidebar_box);
  chat_conversation_list_start_search (self->conversation_list);
}

static void
read_all_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  ChatWindow *self = CHAT_WINDOW (widget);

  chat_account_mark_all_read (self->account);
}

static void
read_unread_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  ChatMessage *first;
  const char *peer;

  messages = chat_account_read_unread_finish (CHAT_ACCOUNT (source), result, &error);
  if (messages == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        chat_window_show_toast (self, error->message);
      return;
    }
  if (messages->len == 0)
    {
      chat_window_show_toast (self, _ ("No unread messages"));
      return;
    }
  if (self->account == NULL)
    return;
  first = g_ptr_array_index (messages, 0);
  peer = chat_message_get_from (first);
  chat_message_list_set_first_unread_id (chat_account_get_messages (self->account, peer),
                                         chat_message_get_id (first));
  chat_window_open_conversation (self, peer);
  chat_account_read_conversation (self->account, peer);
}

/* The seed's "read unread messages": the conversation of the oldest unread message, shown at
 * that message and read; the next press goes on to the next conversation. */
static void
read_unread_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  ChatWindow *self = CHAT_WINDOW (widget);

  chat_account_read_unread (self->account, read_unread_cb, g_object_ref (self));
}

static void
delete_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!chat_account_delete_item_finish (CHAT_ACCOUNT (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        chat_window_show_toast (self, error->message);
      return;
    }
  chat_window_show_toast (self, _ ("Message deleted"));
}

static void
delete_response_cb (AdwMessageDialog *dialog, const char *response, ChatWindow *self)
{
  ChatMessage *item = g_object_get_data (G_OBJECT (dialog), "chat-item");

  if (g_strcmp0 (response, "delete") != 0 || self->account == NULL)
    return;
  chat_account_delete_item (self->account, item, CHAT_DELETE_SCOPE_EVERYONE, delete_done_cb,
                            g_object_ref (self));
}

static void
confirm_delete_for_everyone (ChatWindow *self, ChatMessage *item)
{
  GtkWidget *dialog;

  dialog = adw_message_dialog_new (GTK_WINDOW (self), _ ("Delete Message?"),
                                   _ ("The message will be deleted for both of you."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _ ("_Cancel"), "delete",
                                    _ ("_Delete"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "delete",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "chat-item", g_object_ref (item), g_object_unref);
  g_signal_connect_object (dialog, "response", G_CALLBACK (delete_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Deleting a message for everyone asks first; hiding one from the user's own view does not
 * touch the other side, so it goes at once. */
static void
delete_item (ChatWindow *self, ChatMessage *item, ChatDeleteScope scope)
{
  if (chat_window_get_offline (self))
    return; /* the cache is read-only */
  if (scope == CHAT_DELETE_SCOPE_DEFAULT)
    scope = g_ascii_strcasecmp (chat_message_get_from (item),
                                chat_account_get_username (self->account))
                    == 0
                ? CHAT_DELETE_SCOPE_EVERYONE
                : CHAT_DELETE_SCOPE_ME;
  if (scope == CHAT_DELETE_SCOPE_EVERYONE)
    confirm_delete_for_everyone (self, item);
  else
    chat_account_delete_item (self->account, item, scope, delete_done_cb, g_object_ref (self));
}

/* From a message's menu: (id, "me" or "everyone"). */
static void
delete_message_for_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  ChatWindow *self = CHAT_WINDOW (widget);
  ChatMessageList *messages = chat_conversation_view_get_messages (self->conversation_view);
  ChatMessage *item;
  const char *scope = NULL;
  gint64 id = 0;

  g_variant_get (param, "(x&s)", &id, &scope);
  item = messages != NULL ? chat_message_list_find (messages, id) : NULL;
  if (item == NULL || self->account == NULL)
    return;
  delete_item (self, item,
               g_str_equal (scope, "everyone") ? CHAT_DELETE_SCOPE_EVERYONE : CHAT_DELETE_SCOPE_ME);
}

static void
delete_message_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  ChatWindow *self = CHAT_WINDOW (widget);
  ChatMessage *item = chat_conversation_view_get_selected (self->conversation_view);

  if (item != NULL && self->account != NULL)
    delete_item (self, item, CHAT_DELETE_SCOPE_DEFAULT);
}

static void
account_deleted_cb (ChatDeleteAccountDialog *dialog, ChatWindow *self)
{
  if (self->account == NULL)
    return; /* the server's session_ended came first */
  chat_window_log_out_done (self, _ ("Your account was deleted"));
}

static void
delete_account_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  ChatWindow *self = CHAT_WINDOW (widget);
  ChatDeleteAccountDialog *dialog;

  dialog = chat_delete_account_dialog_new (GTK_WINDOW (self), self->client);
  g_signal_connect_object (dialog, "deleted", G_CALLBACK (account_deleted_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
logout_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!chat_client_logout_finish (CHAT_CLIENT (source), result, &error))
    g_debug ("Logout: %s", error->message);
  if (self->client == CHAT_CLIENT (source))
    chat_window_log_out_done (self, NULL);
}

static void
logout_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  ChatWindow *self = CHAT_WINDOW (widget);

  if (chat_window_get_offline (self))
    {
      /* No server to tell: forget the session and the cache here, as after a log out. */
      chat_window_log_out_done (self, NULL);
      return;
    }
  if (self->account != NULL)
    g_signal_handlers_disconnect_by_data (self->account, self);
  chat_client_logout_async (self->client, NULL, logout_cb, g_object_ref (self));
}

static void
open_conversation_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  chat_window_open_conversation (CHAT_WINDOW (widget), g_variant_get_string (param, NULL));
}

static void
close_conversation_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  ChatWindow *self = CHAT_WINDOW (widget);

  if (adw_leaflet_get_folded (self->leaflet))
    adw_leaflet_set_visible_child (self->leaflet, self->sidebar_box);
}

static void
insert_emoji_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  ChatWindow *self = CHAT_WINDOW (widget);

  chat_composer_insert_emoji (chat_conversation_view_get_composer (self->conversation_view));
}

static void
send_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  chat_conversation_view_send (CHAT_WINDOW (widget)->conversation_view);
}

void
chat_window_install_actions (ChatWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_activated);
  gtk_widget_class_install_action (widget_class, "win.read-all", NULL, read_all_activated);
  gtk_widget_class_install_action (widget_class, "win.read-unread", NULL, read_unread_activated);
  gtk_widget_class_install_action (widget_class, "win.delete-message", NULL,
                                   delete_message_activated);
  gtk_widget_class_install_action (widget_class, "win.delete-message-for", "(xs)",
                                   delete_message_for_activated);
  gtk_widget_class_install_action (widget_class, "win.delete-account", NULL,
                                   delete_account_activated);
  gtk_widget_class_install_action (widget_class, "win.logout", NULL, logout_activated);
  gtk_widget_class_install_action (widget_class, "win.open-conversation", "s",
                                   open_conversation_activated);
  gtk_widget_class_install_action (widget_class, "win.close-conversation", NULL,
                                   close_conversation_activated);
  gtk_widget_class_install_action (widget_class, "win.send", NULL, send_activated);
  gtk_widget_class_install_action (widget_class, "win.insert-emoji", NULL, insert_emoji_activated);
}

/* Account actions are enabled only while logged in, those that ask the cluster only while
 * live (not on the cache of an offline start); message actions need a selection. */
void
chat_window_update_actions (ChatWindow *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  gboolean in = self->account != NULL;
  gboolean live = in && !chat_window_get_offline (self);
  gboolean peer = live && chat_conversation_view_get_peer (self->conversation_view) != NULL;

  gtk_widget_action_set_enabled (widget, "win.search", live);
  gtk_widget_action_set_enabled (widget, "win.read-all", live);
  gtk_widget_action_set_enabled (widget, "win.read-unread", live);
  gtk_widget_action_set_enabled (widget, "win.delete-account", live);
  gtk_widget_action_set_enabled (widget, "win.logout", in);
  gtk_widget_action_set_enabled (widget, "win.open-conversation", in);
  gtk_widget_action_set_enabled (widget, "win.send", peer);
  gtk_widget_action_set_enabled (widget, "win.insert-emoji", peer);
  gtk_widget_action_set_enabled (
      widget, "win.delete-message",
      peer && chat_conversation_view_get_selected (self->conversation_view) != NULL);
}
