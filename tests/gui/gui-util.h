/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for the gui suite: waiting on the main loop, screenshots, the app under test. */
#pragma once

#include <adwaita.h>

#include "chat-application.h"
#include "chat-test-cluster.h"
#include "chat-window-private.h"

G_BEGIN_DECLS

/* Iterates the main context until cond is true; fails the test after timeout_ms. */
#define GUI_WAIT_UNTIL(cond, timeout_ms)                                                           \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gint64 gui_end_ = g_get_monotonic_time () + (gint64)(timeout_ms)*1000;                         \
    while (!(cond))                                                                                \
      {                                                                                            \
        if (g_get_monotonic_time () > gui_end_)                                                    \
          g_error ("%s:%d: timed out waiting for %s", __FILE__, __LINE__, #cond);                  \
        gui_iterate ();                                                                            \
      }                                                                                            \
  }                                                                                                \
  G_STMT_END

/* One main context iteration, never blocking more than 10 ms. */
void gui_iterate (void);
/* Runs the main context for ms milliseconds. */
void gui_spin (guint ms);
/* Registers the application (startup: gtk and libadwaita initialised), servers set to the
 * cluster's. */
ChatApplication *gui_app_new (ChatTestCluster *cluster);
ChatWindow *gui_window_new (ChatApplication *app);
/* Fills the login page and activates login.sign-up (or login.log-in). */
void gui_submit_login (ChatWindow *window, const char *username, const char *password,
                       gboolean signup);
/* Renders widget to a PNG in $CHATD_SCREENSHOT_DIR (default: the build dir) as name. */
void gui_save_screenshot (GtkWidget *widget, const char *name);
/* The count of items in list whose body is body. */
guint gui_count_body (ChatMessageList *list, const char *body);
/* The first item in list whose body is body, or NULL. */
ChatMessage *gui_find_body (ChatMessageList *list, const char *body);
/* The first open window of type type transient for parent, or NULL. */
GtkWindow *gui_find_dialog (GtkWindow *parent, GType type);

/* Serves org.gtk.Notifications on the session bus and makes GNotification use it. */
void gui_notifications_start (void);
/* The title of the notification shown under id, or NULL once withdrawn (or never shown). */
const char *gui_notification_get (const char *id);

/* gnome-keyring-daemon on the test's session bus, with an unlocked login keyring in a new
 * temporary data directory (*data_dir): no prompt, and the user's own keyring is never
 * touched. */
GPid gui_keyring_start (char **data_dir);
/* Stops it and removes data_dir. */
void gui_keyring_stop (GPid pid, const char *data_dir);

G_END_DECLS
