/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatWindow: logging in, the account's live state, the connection banner, notifications. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-account-cache.h"
#include "chat-session-store.h"
#include "chat-window-private.h"

G_DEFINE_FINAL_TYPE (ChatWindow, chat_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  PROP_0,
  PROP_ACCOUNT,
  PROP_RECONNECTING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

void
chat_window_show_toast (ChatWindow *self, const char *text)
{
  AdwToast *toast = adw_toast_new (text);

  adw_toast_set_timeout (toast, 3);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

char *
chat_window_dup_health_text (ChatWindow *self)
{
  guint total = 0;
  guint up;
  const char *leader;

  g_return_val_if_fail (CHAT_IS_WINDOW (self), NULL);

  if (self->client == NULL)
    return g_strdup (_ ("Not connected"));
  up = chat_client_count_servers_up (self->client, &total);
  leader = chat_client_get_leader (self->client);
  if (total == 0)
    return g_strdup (_ ("Cluster state unknown"));
  if (leader == NULL)
    /* Translators: a cluster health line, e.g. "2 of 3 servers up" */
    return g_strdup_printf (ngettext ("%u of %u server up", "%u of %u servers up", total), up,
                            total);
  /* Translators: a cluster health line, e.g. "2 of 3 servers up · leader 127.0.0.1:5555" */
  return g_strdup_printf (
      ngettext ("%u of %u server up · leader %s", "%u of %u servers up · leader %s", total), up,
      total, leader);
}

static void
update_title (ChatWindow *self)
{
  guint unread = self->account ? chat_account_get_unread (self->account) : 0;
  g_autofree char *subtitle = NULL;
  g_autofree char *title = NULL;

  if (unread == 0)
    {
      subtitle = g_strdup (_ ("No unread messages"));
      title = g_strdup (_ ("Chat"));
    }
  else
    {
      subtitle
          = g_strdup_printf (ngettext ("%u unread message", "%u unread messages", unread), unread);
      /* Translators: the window title with the unread count, e.g. "Chat (3)" */
      title = g_strdup_printf (_ ("Chat (%u)"), unread);
    }
  adw_window_title_set_subtitle (self->sidebar_title, subtitle);
  gtk_window_set_title (GTK_WINDOW (self), title);
}

static void
update_health (ChatWindow *self)
{
  g_autofree char *text = chat_window_dup_health_text (self);

  gtk_label_set_label (self->health_label, text);
}

/* The strip under the header bars: a failover under way, or the cache shown offline. */
static void
update_banners (ChatWindow *self)
{
  gboolean offline = chat_window_get_offline (self);
  ChatConnectionBanner *banners[] = { self->sidebar_banner, self->conversation_banner };

  for (guint i = 0; i < G_N_ELEMENTS (banners); i++)
    {
      chat_connection_banner_set_offline (banners[i], offline);
      chat_connection_banner_set_revealed (banners[i], offline || self->reconnecting);
    }
  chat_conversation_view_set_read_only (self->conversation_view, offline);
}

static void
set_reconnecting (ChatWindow *self, gboolean reconnecting)
{
  if (self->reconnecting == reconnecting)
    return;
  self->reconnecting = reconnecting;
  update_banners (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECONNECTING]);
}

static void
connection_state_cb (ChatClient *client, ChatConnectionState state, ChatWindow *self)
{
  update_health (self);
  if (state == CHAT_CONNECTION_STATE_CONNECTED)
    {
      if (self->reconnecting && chat_client_get_server (client) != NULL)
        {
          /* Translators: shown after a failover, %s is "host:port" */
          g_autofree char *text
              = g_strdup_printf (_ ("Connected to %s"), chat_client_get_server (client));
          chat_window_show_toast (self, text);
        }
      self->was_connected = TRUE;
      set_reconnecting (self, FALSE);
      return;
    }
  if (self->was_connected && state != CHAT_CONNECTION_STATE_OFFLINE)
    set_reconnecting (self, TRUE);
}

static void
leader_changed_cb (ChatClient *client, const char *leader, ChatWindow *self)
{
  update_health (self);
}

static char *
notification_id (const char *peer)
{
  g_autofree char *key = g_ascii_strdown (peer, -1);

  return g_strconcat ("conversation-", key, NULL);
}

static void
message_arrived_cb (ChatAccount *account, ChatMessage *message, ChatWindow *self)
{
  GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  g_autoptr (GNotification) notification = NULL;
  g_autofree char *id = NULL;
  const char *peer = chat_message_get_from (message);

  if (app == NULL || gtk_window_is_active (GTK_WINDOW (self)))
    return;
  if (!g_settings_get_boolean (chat_application_get_settings (CHAT_APPLICATION (app)),
                               "notifications"))
    return;
  notification = g_notification_new (peer);
  g_notification_set_body (notification, chat_message_get_body (message));
  g_notification_set_category (notification, "im.received");
  g_notification_set_default_action_and_target (notification, "app.open-conversation", "s", peer);
  id = notification_id (peer);
  g_application_send_notification (app, id, notification);
}

static void
conversation_read_cb (ChatAccount *account, const char *peer, ChatWindow *self)
{
  GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  g_autofree char *id = notification_id (peer);

  if (app != NULL)
    g_application_withdraw_notification (app, id);
}

/* The refused text goes back into the box, unless the user has started another message. */
static void
send_failed_cb (ChatAccount *account, const char *peer, const char *body, const GError *error,
                ChatWindow *self)
{
  /* Translators: %s is the server's explanation */
  g_autofree char *text = g_strdup_printf (_ ("Message not sent: %s"), error->message);
  ChatComposer *composer = chat_conversation_view_get_composer (self->conversation_view);
  g_autofree char *typed = chat_composer_dup_text (composer);

  if (g_strcmp0 (chat_conversation_view_get_peer (self->conversation_view), peer) != 0)
    chat_window_open_conversation (self, peer);
  if (*typed == '\0')
    chat_composer_set_text (composer, body);
  chat_window_show_toast (self, text);
}

static void
hello_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatWindow) self = user_data;
  g_autoptr (ChatHelloInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  info = chat_client_hello_finish (CHAT_CLIENT (source), result, &error);
  if (info == NULL)
    g_debug ("Cluster health: %s", error->message);
  if (self->client == CHAT_CLIENT (source))
    update_health (self);
}

/* The health line comes from the leader's hello: asked again each time the menu opens, since
 * a follower can go down while the connection to the leader stays up. */
static void
refresh_health (ChatWindow *self)
{
  update_health (self);
  if (self->client != NULL)
    chat_client_hello_async (self->client, self->cancellable, hello_cb, g_object_ref (self));
}

static void
peer_deleted_cb (ChatAccount *account, const char *peer, ChatWindow *self)
{
  /* Translators: %s is a username */
  g_autofree char *text = g_strdup_printf (_ ("%s deleted their account"), peer);

  chat_window_show_toast (self, text);
}

static void
session_ended_cb (ChatAccount *account, const char *reason, ChatWindow *self)
{
  if (g_strcmp0 (reason, "account_deleted") == 0)
    chat_window_log_out_done (self, _ ("Your account was deleted"));
  else if (g_strcmp0 (reason, "expired") == 0)
    chat_window_log_out_done (self, _ ("Your session expired; please log in again"));
  else
    chat_window_log_out_done (self, _ ("You were logged out"));
}

/* The window follows its own focus: the conversation on screen is read while focused. */
static void
update_active_peer (ChatWindow *self)
{
  const char *peer = chat_conversation_view_get_peer (self->conversation_view);
  gboolean visible = adw_leaflet_get_visible_child (self->leaflet) == self->content_box
                     || !adw_leaflet_get_folded (self->leaflet);

  if (self->account == NULL)
    return;
  if (!gtk_window_is_active (GTK_WINDOW (self)) || !visible)
    peer = NULL;
  chat_account_set_active_peer (self->account, peer);
}

static void
set_account (ChatWindow *self, ChatAccount *account)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));

  /* The rows of the old account's lists go: none may keep the focus (GTK 4.8 would keep a
   * pointer to a row it disposed). */
  if (focus != NULL && gtk_widget_is_ancestor (focus, GTK_WIDGET (self->leaflet)))
    gtk_root_set_focus (GTK_ROOT (self), NULL);
  if (self->account != NULL)
    g_signal_handlers_disconnect_by_data (self->account, self);
  g_set_object (&self->account, account);
  chat_conversation_list_set_account (self->conversation_list, account);
  chat_conversation_view_set_account (self->conversation_view, account);
  if (account != NULL)
    {
      g_signal_connect_object (account, "notify::unread", G_CALLBACK (update_title), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (account, "message-arrived", G_CALLBACK (message_arrived_cb), self,
                               0);
      g_signal_connect_object (account, "conversation-read", G_CALLBACK (conversation_read_cb),
                               self, 0);
      g_signal_connect_object (account, "send-failed", G_CALLBACK (send_failed_cb), self, 0);
      g_signal_connect_object (account, "peer-deleted", G_CALLBACK (peer_deleted_cb), self, 0);
      g_signal_connect_object (account, "session-ended", G_CALLBACK (session_ended_cb), self, 0);
      gtk_label_set_label (self->user_label, chat_account_get_username (account));
    }
  adw_window_title_set_title (self->conversation_title, "");
  update_title (self);
  update_health (self);
  update_banners (self);
  chat_window_update_actions (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACCOUNT]);
}

static void
set_client (ChatWindow *self, ChatClient *client)
{
  if (self->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->client, self);
      chat_client_disconnect (self->client);
    }
  g_set_object (&self->client, client);
  self->was_connected = FALSE;
  set_reconnecting (self, FALSE);
  if (client == NULL)
    return;
  chat_client_set_client_name (client, "chat-gtk " PACKAGE_VERSION);
  g_signal_connect_object (client, "connection-state-changed", G_CALLBACK (connection_state_cb),
                           self, 0);
  g_signal_connect_object (client, "leader-changed", G_CALLBACK (leader_changed_cb), self, 0);
}

/* The keyring entry's key: the server list, so each cluster keeps its own session. NULL when
 * the user turned remembering off. */
static char *
dup_session_key (ChatWindow *self)
{
  ChatApplication *app = CHAT_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  g_auto (GStrv) servers = NULL;

  if (app == NULL
      || !g_settings_get_boolean (chat_application_get_settings (app), "remember-session"))
    return NULL;
  servers = chat_application_dup_servers (app);
  return g_strjoinv (",", servers);
}

/* Where the conversations of username are kept for an offline start: only with a kept
 * session (the cache is what that session shows), NULL otherwise. */
static char *
dup_cache_path (ChatWindow *self, const char *username)
{
  g_autofree char *key = dup_session_key (self);

  if (key == NULL || username == NULL)
    return NULL;
  return chat_account_cache_path (key, username);
}

void
chat_window_log_out_done (ChatWindow *self, const char *message)
{
  g_autofree char *key = dup_session_key (self);
  g_autofree char *cache = NULL;

  if (self->account != NULL)
    {
      /* Nothing of the account stays on this computer after it logs out. */
      cache = dup_cache_path (self, chat_account_get_username (self->account));
      chat_account_set_cache_path (self->account, NULL);
    }
  if (cache != NULL)
    chat_account_cache_remove (cache);
  if (key != NULL)
    chat_session_store_clear (key);
  set_account (self, NULL);
  set_client (self, NULL);
  chat_login_page_reset (self->login_page);
  gtk_stack_set_visible_child_name (self->main_stack, "login");
  if (message != NULL)
    chat_window_show_toast (self, message);
}

/* Shows peer's conversation again in a new account, where the user left the old one. */
static void
restore_conversation (ChatWindow *self, const char *peer)
{
  if (peer == NULL)
    return;
  chat_account_ensure_conversation (self->account, peer);
  chat_conversation_list_select (self->conversation_list, peer);
  chat_conversation_view_set_peer (self->conversation_view, peer);
  adw_window_title_set_title (self->conversation_title, peer);
  update_active_peer (self);
  chat_window_update_actions (self);
}

static void
logged_in (ChatWindow *self)
{
  g_autoptr (ChatAccount) account = chat_account_new (self->client);
  g_autofree char *key = dup_session_key (self);
  g_autofree char *cache = dup_cache_path (self, chat_client_get_username (self->client));
  /* Going live after an offline start: the user stays in the conversation they opened. */
  g_autofree char *peer = g_strdup (chat_conversation_view_get_peer (self->conversation_view));
  gboolean was_offline = chat_window_get_offline (self);

  if (key != NULL && chat_client_get_session (self->client) != NULL)
    chat_session_store_save (key, chat_client_get_username (self->client),
                             chat_client_get_session (self->client));

  self->was_connected = TRUE;
  chat_account_set_cache_path (account, cache);
  set_account (self, account);
  chat_login_page_set_busy (self->login_page, FALSE);
  gtk_stack_set_visible_child_name (self->main_stack, "chats");
  if (was_offline)
    {
      restore_conversation (self, peer);
      if (peer != NULL)
        chat_conversation_view_focus_composer (self->conversation_view);
      chat_window_show_toast (self, _ ("Connected"));
      return;
    }
  gtk_widget_grab_focus (GTK_WIDGET (self->conversation_list));
}

static void
auth_done (ChatWindow *self, gboolean ok, GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (!ok)
    {
      chat_login_page_set_busy (self->login_page, FALSE);
      chat_login_page_set_error (self->login_page, error);
      return;
    }
  logged_in (self);
}

static void
login_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = chat_client_login_finish (CHAT_CLIENT (source), result, NULL, &error);

  auth_done (user_data, ok, error);
}

static void
signup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = chat_client_signup_finish (CHAT_CLIENT (source), result, &error);

  auth_done (user_data, ok, error);
}

static void
start_auth (ChatWindow *self, const char *username, const char *password, gboolean signup)
{
  ChatApplication *app = CHAT_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  g_auto (GStrv) servers = chat_application_dup_servers (app);
  g_autoptr (ChatClient) client = chat_client_new ((const char *const *)servers);

  chat_client_set_tls_database (client, chat_application_get_tls_database (app));
  set_client (self, client);
  chat_login_page_set_busy (self->login_page, TRUE);
  if (signup)
    chat_client_signup_async (client, username, password, self->cancellable, signup_cb, self);
  else
    chat_client_login_async (client, username, password, self->cancellable, login_cb, self);
}

static void
log_in_cb (ChatLoginPage *page, const char *username, const char *password, ChatWindow *self)
{
  start_auth (self, username, password, FALSE);
}

static void
sign_up_cb (ChatLoginPage *page, const char *username, const char *password, ChatWindow *self)
{
  start_auth (self, username, password, TRUE);
}

void
chat_window_open_conversation (ChatWindow *self, const char *peer)
{
  g_return_if_fail (CHAT_IS_WINDOW (self));

  if (self->account == NULL || peer == NULL)
    return;
  chat_account_ensure_conversation (self->account, peer);
  chat_conversation_list_select (self->conversation_list, peer);
  chat_conversation_view_set_peer (self->conversation_view, peer);
  adw_window_title_set_title (self->conversation_title, peer);
  adw_leaflet_set_visible_child (self->leaflet, self->content_box);
  update_active_peer (self);
  /* Offline the message box is read-only: the focus stays in the sidebar, not on a message
   * (a focused label selects its whole text). */
  if (chat_window_get_offline (self))
    chat_conversation_list_focus (self->conversation_list);
  else
    chat_conversation_view_focus_composer (self->conversation_view);
  chat_window_update_actions (self);
}

static void
selection_changed_cb (ChatWindow *self)
{
  chat_window_update_actions (self);
}

static void
conversation_activated_cb (ChatConversationList *list, const char *peer, ChatWindow *self)
{
  chat_window_open_conversation (self, peer);
}

static void
chat_window_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ChatWindow *self = CHAT_WINDOW (object);

  switch (prop_id)
    {
      case PROP_ACCOUNT:
        g_value_set_object (value, self->account);
        break;
      case PROP_RECONNECTING:
        g_value_set_boolean (value, self->reconnecting);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_window_dispose (GObject *object)
{
  ChatWindow *self = CHAT_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  if (self->account != NULL)
    g_signal_handlers_disconnect_by_data (self->account, self);
  g_clear_object (&self->account);
  set_client (self, NULL);
  g_clear_object (&self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), CHAT_TYPE_WINDOW);
  G_OBJECT_CLASS (chat_window_parent_class)->dispose (object);
}

static void
bind_template (GtkWidgetClass *widget_class)
{
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/chatd/Chat/chat-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, login_page);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, sidebar_box);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, sidebar_title);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, account_button);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, sidebar_banner);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, conversation_list);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, content_box);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, conversation_title);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, conversation_banner);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, conversation_view);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, account_box);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, user_label);
  gtk_widget_class_bind_template_child (widget_class, ChatWindow, health_label);
  gtk_widget_class_bind_template_callback (widget_class, log_in_cb);
  gtk_widget_class_bind_template_callback (widget_class, sign_up_cb);
  gtk_widget_class_bind_template_callback (widget_class, conversation_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, update_active_peer);
  gtk_widget_class_bind_template_callback (widget_class, selection_changed_cb);
}

static void
chat_window_class_init (ChatWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = chat_window_get_property;
  object_class->dispose = chat_window_dispose;

  properties[PROP_ACCOUNT]
      = g_param_spec_object ("account", NULL, NULL, CHAT_TYPE_ACCOUNT,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_RECONNECTING]
      = g_param_spec_boolean ("reconnecting", NULL, NULL, FALSE,
                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (CHAT_TYPE_CONNECTION_BANNER);
  g_type_ensure (CHAT_TYPE_CONVERSATION_LIST);
  g_type_ensure (CHAT_TYPE_CONVERSATION_VIEW);
  g_type_ensure (CHAT_TYPE_LOGIN_PAGE);
  bind_template (GTK_WIDGET_CLASS (klass));
  chat_window_install_actions (klass);
}

static void
chat_window_init (ChatWindow *self)
{
  GtkPopover *popover;

  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
  popover = gtk_menu_button_get_popover (self->account_button);
  gtk_popover_menu_add_child (GTK_POPOVER_MENU (popover), self->account_box, "account");
  g_signal_connect_object (popover, "show", G_CALLBACK (refresh_health), self, G_CONNECT_SWAPPED);
  g_signal_connect_swapped (self, "notify::is-active", G_CALLBACK (update_active_peer), self);
  chat_login_page_focus (self->login_page);
  update_title (self);
  update_health (self);
  chat_window_update_actions (self);
}

static void
resume_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (chat_client_resume_finish (CHAT_CLIENT (source), result, NULL, &error))
    {
      if (self->client == CHAT_CLIENT (source))
        logged_in (self);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      || self->client != CHAT_CLIENT (source))
    return;
  g_debug ("Kept session not resumed: %s", error->message);
  if (chat_window_get_offline (self)
      && !g_error_matches (error, CHAT_ERROR, CHAT_ERROR_UNAUTHENTICATED))
    return; /* a queued resume fails only when refused; keep showing the cache */
  /* Expired or unknown: forget it. The cluster out of reach: keep it for the next start. */
  if (g_error_matches (error, CHAT_ERROR, CHAT_ERROR_UNAUTHENTICATED))
    chat_window_log_out_done (self, NULL);
  else
    {
      set_client (self, NULL);
      chat_login_page_set_busy (self->login_page, FALSE);
    }
}

/* An offline start: the conversations kept last time, read-only until the session resumes.
 * FALSE when there is no usable cache (the login page waits for the resume instead). */
static gboolean
show_cache (ChatWindow *self, const char *username)
{
  g_autofree char *path = dup_cache_path (self, username);
  g_autoptr (JsonObject) cache = NULL;
  g_autoptr (ChatAccount) account = NULL;
  g_autoptr (GError) error = NULL;

  if (path == NULL)
    return FALSE;
  cache = chat_account_cache_read (path, &error);
  if (cache != NULL)
    account = chat_account_new_from_cache (self->client, username, cache, &error);
  if (account == NULL)
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_debug ("Offline cache not used: %s", error->message);
      return FALSE;
    }
  set_account (self, account);
  gtk_stack_set_visible_child_name (self->main_stack, "chats");
  chat_conversation_list_focus (self->conversation_list);
  return TRUE;
}

static void
session_found_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *username = NULL;
  g_autofree char *session = NULL;
  ChatApplication *app = CHAT_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  g_auto (GStrv) servers = NULL;
  g_autoptr (ChatClient) client = NULL;

  if (!chat_session_store_lookup_finish (result, &username, &session, &error))
    {
      if (error != NULL)
        g_debug ("No keyring: %s", error->message);
      return;
    }
  if (self->client != NULL || app == NULL)
    return; /* the user logs in by hand meanwhile */
  servers = chat_application_dup_servers (app);
  client = chat_client_new ((const char *const *)servers);
  chat_client_set_tls_database (client, chat_application_get_tls_database (app));
  set_client (self, client);
  chat_login_page_set_credentials (self->login_page, username, "");
  if (show_cache (self, username))
    {
      /* Live by itself once a server answers, however long that takes. */
      chat_client_resume_queued_async (client, session, self->cancellable, resume_cb,
                                       g_object_ref (self));
      return;
    }
  chat_login_page_set_busy (self->login_page, TRUE);
  chat_client_resume_async (client, session, self->cancellable, resume_cb, g_object_ref (self));
}

ChatWindow *
chat_window_new (ChatApplication *app)
{
  ChatWindow *self = g_object_new (CHAT_TYPE_WINDOW, "application", app, NULL);
  g_autofree char *key = dup_session_key (self);

  /* Stay logged in: resume the session the keyring kept, if any. */
  if (key != NULL)
    chat_session_store_lookup_async (key, self->cancellable, session_found_cb, g_object_ref (self));
  return self;
}

ChatAccount *
chat_window_get_account (ChatWindow *self)
{
  g_return_val_if_fail (CHAT_IS_WINDOW (self), NULL);
  return self->account;
}

gboolean
chat_window_get_offline (ChatWindow *self)
{
  g_return_val_if_fail (CHAT_IS_WINDOW (self), FALSE);
  return self->account != NULL && chat_account_get_offline (self->account);
}

gboolean
chat_window_get_reconnecting (ChatWindow *self)
{
  g_return_val_if_fail (CHAT_IS_WINDOW (self), FALSE);
  return self->reconnecting;
}
