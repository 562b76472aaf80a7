/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for the gui suite: main loop waits, the application, screenshots. */
#include "config.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "chat-fs.h"

#include "gui-util.h"

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

void
gui_iterate (void)
{
  static guint tick;

  if (tick == 0)
    tick = g_timeout_add (10, tick_cb, NULL);
  g_main_context_iteration (NULL, TRUE);
}

void
gui_spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)ms * 1000;

  while (g_get_monotonic_time () < end)
    gui_iterate ();
}

/* As chat-gtk's main() does, but from $CHATD_LOCALEDIR when set: the build tree's po/ holds
 * the compiled catalogs, so LANGUAGE=de runs the tests (and takes screenshots) in German. */
static void
bind_translations (void)
{
  const char *dir = g_getenv ("CHATD_LOCALEDIR");

  bindtextdomain (GETTEXT_PACKAGE, dir != NULL ? dir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

ChatApplication *
gui_app_new (ChatTestCluster *cluster)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) servers = NULL;
  ChatApplication *app;

  bind_translations ();
  app = chat_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  for (guint node = 1; node <= chat_test_cluster_n_servers (cluster); node++)
    {
      g_autofree char *address
          = g_strdup_printf ("127.0.0.1:%u", chat_test_cluster_port (cluster, node));
      g_strv_builder_add (builder, address);
    }
  servers = g_strv_builder_end (builder);
  /* No keyring: each test logs in itself (the stay-logged-in case turns it on). */
  g_settings_set_boolean (chat_application_get_settings (app), "remember-session", FALSE);
  g_settings_set_strv (chat_application_get_settings (app), "servers",
                       (const char *const *)servers);
  return app;
}

ChatWindow *
gui_window_new (ChatApplication *app)
{
  ChatWindow *window = chat_window_new (app);

  gtk_window_set_default_size (GTK_WINDOW (window), 900, 600);
  gtk_window_present (GTK_WINDOW (window));
  GUI_WAIT_UNTIL (gtk_widget_get_mapped (GTK_WIDGET (window)), 5000);
  gui_spin (100);
  return window;
}

void
gui_submit_login (ChatWindow *window, const char *username, const char *password, gboolean signup)
{
  chat_login_page_set_credentials (window->login_page, username, password);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window->login_page),
                                             signup ? "login.sign-up" : "login.log-in", NULL));
}

void
gui_save_screenshot (GtkWidget *widget, const char *name)
{
  const char *dir = g_getenv ("CHATD_SCREENSHOT_DIR");
  g_autofree char *path = NULL;
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GtkSnapshot) snapshot = NULL;
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  int width, height;

  gui_spin (400); /* let transitions and the frame clock settle */
  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (dir == NULL)
    dir = g_getenv ("G_TEST_BUILDDIR");
  if (dir == NULL)
    dir = ".";
  g_mkdir_with_parents (dir, 0755);
  path = g_build_filename (dir, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

ChatMessage *
gui_find_body (ChatMessageList *list, const char *body)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (list));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ChatMessage) item = g_list_model_get_item (G_LIST_MODEL (list), i);

      if (g_strcmp0 (chat_message_get_body (item), body) == 0)
        return item; /* the list keeps it alive */
    }
  return NULL;
}

guint
gui_count_body (ChatMessageList *list, const char *body)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (list));
  guint count = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ChatMessage) item = g_list_model_get_item (G_LIST_MODEL (list), i);

      if (g_strcmp0 (chat_message_get_body (item), body) == 0)
        count++;
    }
  return count;
}

GtkWindow *
gui_find_dialog (GtkWindow *parent, GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels (); /* transfer none */
  guint n = g_list_model_get_n_items (toplevels);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type)
          && gtk_window_get_transient_for (window) == parent
          && gtk_widget_get_visible (GTK_WIDGET (window)))
        return window;
    }
  return NULL;
}

/* A stand-in for the desktop's org.gtk.Notifications, recording what the app shows. */
static GHashTable *notifications; /* id -> title */

static const char notifications_xml[]
    = "<node><interface name='org.gtk.Notifications'>"
      "<method name='AddNotification'><arg type='s' direction='in'/>"
      "<arg type='s' direction='in'/><arg type='a{sv}' direction='in'/></method>"
      "<method name='RemoveNotification'><arg type='s' direction='in'/>"
      "<arg type='s' direction='in'/></method>"
      "</interface></node>";

static void
notifications_method_cb (GDBusConnection *connection, const char *sender, const char *path,
                         const char *interface, const char *method, GVariant *params,
                         GDBusMethodInvocation *invocation, gpointer user_data)
{
  const char *id = NULL;

  if (g_strcmp0 (method, "AddNotification") == 0)
    {
      g_autoptr (GVariant) notification = NULL;
      const char *title = "";

      g_variant_get (params, "(&s&s@a{sv})", NULL, &id, &notification);
      g_variant_lookup (notification, "title", "&s", &title);
      g_hash_table_insert (notifications, g_strdup (id), g_strdup (title));
    }
  else
    {
      g_variant_get (params, "(&s&s)", NULL, &id);
      g_hash_table_remove (notifications, id);
    }
  g_dbus_method_invocation_return_value (invocation, NULL);
}

void
gui_notifications_start (void)
{
  static const GDBusInterfaceVTable vtable = { notifications_method_cb, NULL, NULL, { 0 } };
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notifications_xml, &error);
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);

  g_assert_no_error (error);
  notifications = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_dbus_connection_register_object (bus, "/org/gtk/Notifications", info->interfaces[0], &vtable,
                                     NULL, NULL, &error);
  g_assert_no_error (error);
  g_bus_own_name_on_connection (bus, "org.gtk.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE, NULL,
                                NULL, NULL, NULL);
  g_setenv ("GNOTIFICATION_BACKEND", "gtk", TRUE);
}

const char *
gui_notification_get (const char *id)
{
  return notifications ? g_hash_table_lookup (notifications, id) : NULL;
}

GPid
gui_keyring_start (char **data_dir)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) env = g_get_environ ();
  const char *argv[]
      = { "gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets", NULL };
  GPid pid = 0;
  int in_fd = -1;

  *data_dir = g_dir_make_tmp ("chat-gtk-keyring-XXXXXX", &error);
  g_assert_no_error (error);
  env = g_environ_setenv (env, "XDG_DATA_HOME", *data_dir, TRUE);
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **)argv, env,
                                           /* It prints its environment, which is not TAP. */
                                           G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                           NULL, &pid, &in_fd, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (write (in_fd, "test-password\n", 14), ==, 14);
  close (in_fd);
  gui_spin (1500);
  return pid;
}

void
gui_keyring_stop (GPid pid, const char *data_dir)
{
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
  chat_fs_remove_tree (data_dir);
}
