/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatApplication: settings, app-wide actions, notifications and the main window. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-application.h"
#include "chat-config.h"
#include "chat-preferences.h"
#include "chat-tls.h"
#include "chat-window.h"

struct _ChatApplication
{
  AdwApplication parent_instance;
  GSettings *settings;
  GTlsDatabase *tls_database; /* config.ini's [tls] ca, loaded once */
  gboolean tls_loaded;
};

G_DEFINE_FINAL_TYPE (ChatApplication, chat_application, ADW_TYPE_APPLICATION)

static ChatWindow *
get_window (ChatApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    {
      window = GTK_WINDOW (chat_window_new (self));
      g_settings_bind (self->settings, "window-width", window, "default-width",
                       G_SETTINGS_BIND_DEFAULT);
      g_settings_bind (self->settings, "window-height", window, "default-height",
                       G_SETTINGS_BIND_DEFAULT);
    }
  return CHAT_WINDOW (window);
}

static void
chat_application_activate (GApplication *app)
{
  gtk_window_present (GTK_WINDOW (get_window (CHAT_APPLICATION (app))));
}

static void
quit_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
preferences_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  ChatApplication *self = user_data;
  ChatPreferences *prefs = chat_preferences_new (self->settings);

  gtk_window_set_transient_for (GTK_WINDOW (prefs), GTK_WINDOW (get_window (self)));
  gtk_window_present (GTK_WINDOW (prefs));
}

static void
about_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  ChatApplication *self = user_data;
  ChatWindow *window = get_window (self);
  const char *developers[] = { "The chatd developers", NULL };
  g_autofree char *health = chat_window_dup_health_text (window);
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW, "transient-for", window, "application-name",
                        _ ("Chat"), "application-icon", CHAT_APPLICATION_ID, "developer-name",
                        _ ("The chatd developers"), "version", PACKAGE_VERSION, "comments",
                        _ ("A chat client for fault-tolerant chatd clusters"), "license-type",
                        GTK_LICENSE_LGPL_2_1, "developers", developers, "debug-info", health, NULL);
  gtk_window_present (GTK_WINDOW (about));
}

/* Activating a notification opens its conversation. */
static void
open_conversation_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  ChatWindow *window = get_window (CHAT_APPLICATION (user_data));

  gtk_window_present (GTK_WINDOW (window));
  chat_window_open_conversation (window, g_variant_get_string (param, NULL));
}

static const GActionEntry app_actions[] = {
  { "quit", quit_activated, NULL, NULL, NULL },
  { "preferences", preferences_activated, NULL, NULL, NULL },
  { "about", about_activated, NULL, NULL, NULL },
  { "open-conversation", open_conversation_activated, "s", NULL, NULL },
};

static void
set_accels (GtkApplication *app)
{
  static const struct
  {
    const char *action;
    const char *accels[3];
  } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "app.preferences", { "<Control>comma", NULL } },
    { "win.search", { "<Control>f", "<Control>k", NULL } },
    { "win.read-all", { "<Control><Shift>r", NULL } },
    { "win.read-unread", { "<Control>u", NULL } },
    { "win.delete-message", { "Delete", NULL } },
    { "win.insert-emoji", { "<Control>period", "<Control>semicolon", NULL } },
    { "win.logout", { "<Control><Shift>q", NULL } },
    { "win.close-conversation", { "Escape", NULL } },
    { "window.close", { "<Control>w", NULL } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (app, accels[i].action, accels[i].accels);
}

static void
chat_application_startup (GApplication *app)
{
  G_APPLICATION_CLASS (chat_application_parent_class)->startup (app);
  /* Notifications are titled with the application's name, not the program's. */
  g_set_application_name (_ ("Chat"));
  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions),
                                   app);
  set_accels (GTK_APPLICATION (app));
}

static void
chat_application_finalize (GObject *object)
{
  ChatApplication *self = CHAT_APPLICATION (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->tls_database);
  G_OBJECT_CLASS (chat_application_parent_class)->finalize (object);
}

static void
chat_application_class_init (ChatApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = chat_application_finalize;
  app_class->activate = chat_application_activate;
  app_class->startup = chat_application_startup;
}

static void
chat_application_init (ChatApplication *self)
{
  self->settings = g_settings_new (CHAT_APPLICATION_ID);
}

ChatApplication *
chat_application_new (void)
{
  return g_object_new (CHAT_TYPE_APPLICATION, "application-id", CHAT_APPLICATION_ID, "flags",
                       G_APPLICATION_DEFAULT_FLAGS, "resource-base-path", "/io/github/chatd/Chat",
                       NULL);
}

GSettings *
chat_application_get_settings (ChatApplication *self)
{
  g_return_val_if_fail (CHAT_IS_APPLICATION (self), NULL);
  return self->settings;
}

/* config.ini's [tls]: its ca (or the system store) when the section is there. */
GTlsDatabase *
chat_application_get_tls_database (ChatApplication *self)
{
  g_autoptr (ChatConfig) config = NULL;
  g_autoptr (ChatTls) tls = NULL;
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (CHAT_IS_APPLICATION (self), NULL);
  if (self->tls_loaded)
    return self->tls_database;
  self->tls_loaded = TRUE;
  config = chat_config_load_default (&error);
  if (config == NULL || !chat_config_tls_enabled (config))
    return NULL;
  tls = chat_tls_new (NULL, NULL, config->tls_ca, &error);
  if (tls == NULL)
    {
      g_warning ("Cannot load the [tls] ca: %s", error->message);
      return NULL;
    }
  self->tls_database = g_object_ref (chat_tls_get_database (tls));
  return self->tls_database;
}

GStrv
chat_application_dup_servers (ChatApplication *self)
{
  g_auto (GStrv) servers = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatConfig) config = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (CHAT_IS_APPLICATION (self), NULL);

  servers = g_settings_get_strv (self->settings, "servers");
  if (servers[0] != NULL)
    return g_steal_pointer (&servers);
  config = chat_config_load_default (&error);
  if (config == NULL)
    {
      g_warning ("Could not read config.ini, using the built-in servers: %s", error->message);
      config = chat_config_new_default ();
    }
  for (guint i = 0; i < config->servers->len; i++)
    {
      g_autofree char *address
          = chat_server_address_to_string (g_ptr_array_index (config->servers, i));
      g_strv_builder_add (builder, address);
    }
  return g_strv_builder_end (builder);
}
