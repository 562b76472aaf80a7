/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatLoginPage: the first page: username and password, "Log In" and "Create Account". */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-error.h"
#include "chat-login-page.h"
#include "chat-username.h"

struct _ChatLoginPage
{
  AdwBin parent_instance;
  AdwEntryRow *username_row;
  AdwPasswordEntryRow *password_row;
  GtkLabel *hint_label;
  GtkLabel *error_label;
  GtkSpinner *spinner;
  gboolean busy;
};

static void name_peek_button (GtkWidget *widget);

G_DEFINE_FINAL_TYPE (ChatLoginPage, chat_login_page, ADW_TYPE_BIN)

enum
{
  SIGNAL_LOG_IN,
  SIGNAL_SIGN_UP,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* A message for people, from the protocol's error codes. */
static const char *
describe_error (const GError *error)
{
  if (error->domain == G_TLS_ERROR)
    return _ ("The server's certificate could not be verified, so the connection was refused. "
              "Ask the administrator for the cluster's CA certificate.");
  if (error->domain != CHAT_ERROR)
    return _ ("Could not reach any server. Check the server list in Preferences.");
  switch (error->code)
    {
      case CHAT_ERROR_BAD_CREDENTIALS:
        return _ ("Wrong username or password.");
      case CHAT_ERROR_USERNAME_TAKEN:
        return _ ("This username is taken. Try another one, or log in.");
      case CHAT_ERROR_INVALID_USERNAME:
        return _ ("This username is not allowed.");
      case CHAT_ERROR_RATE_LIMITED:
        return _ ("Too many failed attempts. Wait a minute and try again.");
      case CHAT_ERROR_UNAVAILABLE:
        return _ ("The servers are not available right now. Try again shortly.");
      default:
        return error->message;
    }
}

/* Inline validation: says what is wrong as the user types, and gates the actions. */
static void
validate (ChatLoginPage *self)
{
  const char *username = gtk_editable_get_text (GTK_EDITABLE (self->username_row));
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));
  gboolean name_ok = chat_username_validate (username, NULL);
  gboolean password_ok = chat_password_validate (password, NULL);
  g_autofree char *hint = NULL;

  if (*username != '\0' && !name_ok)
    /* Translators: the shortest and the longest username */
    hint = g_strdup_printf (_ ("Usernames have %d to %d letters, digits, “_”, “-” or “.”, and "
                               "start with a letter or digit."),
                            CHAT_USERNAME_MIN_CHARS, CHAT_USERNAME_MAX_CHARS);
  else if (*password != '\0' && !password_ok)
    /* Translators: the shortest password */
    hint = g_strdup_printf (_ ("Passwords have at least %d characters."), CHAT_PASSWORD_MIN_BYTES);
  gtk_label_set_label (self->hint_label, hint ? hint : "");
  gtk_widget_set_visible (GTK_WIDGET (self->hint_label), hint != NULL);
  if (*username != '\0' && !name_ok)
    gtk_widget_add_css_class (GTK_WIDGET (self->username_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->username_row), "error");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "login.log-in",
                                 !self->busy && *username != '\0' && password_ok);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "login.sign-up",
                                 !self->busy && name_ok && password_ok);
}

static void
changed_cb (ChatLoginPage *self)
{
  chat_login_page_set_error (self, NULL);
  validate (self);
}

static void
submit (ChatLoginPage *self, guint signal_id)
{
  const char *username = gtk_editable_get_text (GTK_EDITABLE (self->username_row));
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));

  chat_login_page_set_error (self, NULL);
  g_signal_emit (self, signal_id, 0, username, password);
}

static void
log_in_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  submit (CHAT_LOGIN_PAGE (widget), signals[SIGNAL_LOG_IN]);
}

static void
sign_up_activated (GtkWidget *widget, const char *name, GVariant *param)
{
  submit (CHAT_LOGIN_PAGE (widget), signals[SIGNAL_SIGN_UP]);
}

static void
entry_activated_cb (ChatLoginPage *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "login.log-in", NULL);
}

static void
chat_login_page_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), CHAT_TYPE_LOGIN_PAGE);
  G_OBJECT_CLASS (chat_login_page_parent_class)->dispose (object);
}

static void
chat_login_page_class_init (ChatLoginPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = chat_login_page_dispose;

  signals[SIGNAL_LOG_IN]
      = g_signal_new ("log-in", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_SIGN_UP]
      = g_signal_new ("sign-up", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/chatd/Chat/chat-login-page.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatLoginPage, username_row);
  gtk_widget_class_bind_template_child (widget_class, ChatLoginPage, password_row);
  gtk_widget_class_bind_template_child (widget_class, ChatLoginPage, hint_label);
  gtk_widget_class_bind_template_child (widget_class, ChatLoginPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, ChatLoginPage, spinner);
  gtk_widget_class_bind_template_callback (widget_class, changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, entry_activated_cb);
  gtk_widget_class_install_action (widget_class, "login.log-in", NULL, log_in_activated);
  gtk_widget_class_install_action (widget_class, "login.sign-up", NULL, sign_up_activated);
}

static void
chat_login_page_init (ChatLoginPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  name_peek_button (GTK_WIDGET (self->password_row));
  validate (self);
}

void
chat_login_page_set_busy (ChatLoginPage *self, gboolean busy)
{
  g_return_if_fail (CHAT_IS_LOGIN_PAGE (self));

  self->busy = busy;
  gtk_spinner_set_spinning (self->spinner, busy);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->username_row), !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->password_row), !busy);
  validate (self);
}

void
chat_login_page_set_error (ChatLoginPage *self, const GError *error)
{
  g_return_if_fail (CHAT_IS_LOGIN_PAGE (self));

  gtk_label_set_label (self->error_label, error ? describe_error (error) : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), error != NULL);
}

const char *
chat_login_page_get_error_text (ChatLoginPage *self)
{
  g_return_val_if_fail (CHAT_IS_LOGIN_PAGE (self), NULL);
  return gtk_label_get_label (self->error_label);
}

void
chat_login_page_reset (ChatLoginPage *self)
{
  g_return_if_fail (CHAT_IS_LOGIN_PAGE (self));

  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  chat_login_page_set_busy (self, FALSE);
  chat_login_page_set_error (self, NULL);
  chat_login_page_focus (self);
}

void
chat_login_page_focus (ChatLoginPage *self)
{
  g_return_if_fail (CHAT_IS_LOGIN_PAGE (self));
  gtk_widget_grab_focus (GTK_WIDGET (self->username_row));
}

GtkWidget *
chat_login_page_get_username_row (ChatLoginPage *self)
{
  g_return_val_if_fail (CHAT_IS_LOGIN_PAGE (self), NULL);
  return GTK_WIDGET (self->username_row);
}

/* libadwaita 1.2's password row shows its peek toggle with an icon and no name, which a
 * screen reader reads as "GtkImage": name it. */
static void
name_peek_button (GtkWidget *widget)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (GTK_IS_TOGGLE_BUTTON (child))
        gtk_accessible_update_property (GTK_ACCESSIBLE (child), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                        _ ("Show Password"), -1);
      name_peek_button (child);
    }
}

void
chat_login_page_set_credentials (ChatLoginPage *self, const char *username, const char *password)
{
  g_return_if_fail (CHAT_IS_LOGIN_PAGE (self));

  gtk_editable_set_text (GTK_EDITABLE (self->username_row), username);
  gtk_editable_set_text (GTK_EDITABLE (self->password_row), password);
}
