/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatPreferences: edits the "servers" and "notifications" settings. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-config.h"
#include "chat-preferences.h"

struct _ChatPreferences
{
  AdwPreferencesWindow parent_instance;
  AdwEntryRow *servers_row;
  GtkLabel *servers_error;
  GtkSwitch *notifications_switch;
  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (ChatPreferences, chat_preferences, ADW_TYPE_PREFERENCES_WINDOW)

GStrv
chat_preferences_parse_servers (const char *text, GError **error)
{
  g_auto (GStrv) parts = g_regex_split_simple ("[,\\s]+", text, 0, 0);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_autoptr (ChatServerAddress) address = NULL;
      g_autofree char *normal = NULL;

      if (*parts[i] == '\0')
        continue;
      address = chat_server_address_parse (parts[i], error);
      if (address == NULL)
        {
          g_prefix_error (error, "“%s”: ", parts[i]);
          return NULL;
        }
      normal = chat_server_address_to_string (address);
      g_strv_builder_add (builder, normal);
    }
  return g_strv_builder_end (builder);
}

static void
show_servers (ChatPreferences *self)
{
  g_auto (GStrv) servers = g_settings_get_strv (self->settings, "servers");
  g_autofree char *text = g_strjoinv (", ", servers);

  gtk_editable_set_text (GTK_EDITABLE (self->servers_row), text);
}

static void
apply_cb (ChatPreferences *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->servers_row));
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) servers = chat_preferences_parse_servers (text, &error);

  gtk_widget_set_visible (GTK_WIDGET (self->servers_error), servers == NULL);
  if (servers == NULL)
    {
      gtk_label_set_label (self->servers_error, error->message);
      gtk_widget_add_css_class (GTK_WIDGET (self->servers_row), "error");
      return;
    }
  gtk_widget_remove_css_class (GTK_WIDGET (self->servers_row), "error");
  g_settings_set_strv (self->settings, "servers", (const char *const *)servers);
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self),
                                    adw_toast_new (_ ("Servers saved; used at the next log in")));
}

static void
reset_cb (ChatPreferences *self)
{
  g_settings_reset (self->settings, "servers");
  show_servers (self);
}

static void
chat_preferences_dispose (GObject *object)
{
  ChatPreferences *self = CHAT_PREFERENCES (object);

  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (object), CHAT_TYPE_PREFERENCES);
  G_OBJECT_CLASS (chat_preferences_parent_class)->dispose (object);
}

static void
chat_preferences_class_init (ChatPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = chat_preferences_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/chatd/Chat/chat-preferences.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatPreferences, servers_row);
  gtk_widget_class_bind_template_child (widget_class, ChatPreferences, servers_error);
  gtk_widget_class_bind_template_child (widget_class, ChatPreferences, notifications_switch);
  gtk_widget_class_bind_template_callback (widget_class, apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, reset_cb);
}

static void
chat_preferences_init (ChatPreferences *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

ChatPreferences *
chat_preferences_new (GSettings *settings)
{
  ChatPreferences *self = g_object_new (CHAT_TYPE_PREFERENCES, NULL);

  self->settings = g_object_ref (settings);
  g_settings_bind (settings, "notifications", self->notifications_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  show_servers (self);
  return self;
}
