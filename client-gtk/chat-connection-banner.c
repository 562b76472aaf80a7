/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConnectionBanner: tells, without blocking anything, that a failover is under way. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-connection-banner.h"

struct _ChatConnectionBanner
{
  AdwBin parent_instance;
  GtkRevealer *revealer;
  GtkSpinner *spinner;
  GtkLabel *label;
  gboolean offline;
};

G_DEFINE_FINAL_TYPE (ChatConnectionBanner, chat_connection_banner, ADW_TYPE_BIN)

enum
{
  PROP_0,
  PROP_REVEALED,
  PROP_OFFLINE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
chat_connection_banner_get_property (GObject *object, guint prop_id, GValue *value,
                                     GParamSpec *pspec)
{
  switch (prop_id)
    {
      case PROP_REVEALED:
        g_value_set_boolean (value,
                             chat_connection_banner_get_revealed (CHAT_CONNECTION_BANNER (object)));
        break;
      case PROP_OFFLINE:
        g_value_set_boolean (value, CHAT_CONNECTION_BANNER (object)->offline);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_connection_banner_set_property (GObject *object, guint prop_id, const GValue *value,
                                     GParamSpec *pspec)
{
  switch (prop_id)
    {
      case PROP_REVEALED:
        chat_connection_banner_set_revealed (CHAT_CONNECTION_BANNER (object),
                                             g_value_get_boolean (value));
        break;
      case PROP_OFFLINE:
        chat_connection_banner_set_offline (CHAT_CONNECTION_BANNER (object),
                                            g_value_get_boolean (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_connection_banner_class_init (ChatConnectionBannerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = chat_connection_banner_get_property;
  object_class->set_property = chat_connection_banner_set_property;

  properties[PROP_REVEALED]
      = g_param_spec_boolean ("revealed", NULL, NULL, FALSE,
                              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_OFFLINE]
      = g_param_spec_boolean ("offline", NULL, NULL, FALSE,
                              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/chatd/Chat/chat-connection-banner.ui");
  gtk_widget_class_bind_template_child (widget_class, ChatConnectionBanner, revealer);
  gtk_widget_class_bind_template_child (widget_class, ChatConnectionBanner, spinner);
  gtk_widget_class_bind_template_child (widget_class, ChatConnectionBanner, label);
}

static void
chat_connection_banner_init (ChatConnectionBanner *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

gboolean
chat_connection_banner_get_revealed (ChatConnectionBanner *self)
{
  g_return_val_if_fail (CHAT_IS_CONNECTION_BANNER (self), FALSE);
  return gtk_revealer_get_reveal_child (self->revealer);
}

void
chat_connection_banner_set_revealed (ChatConnectionBanner *self, gboolean revealed)
{
  g_return_if_fail (CHAT_IS_CONNECTION_BANNER (self));

  if (chat_connection_banner_get_revealed (self) == !!revealed)
    return;
  gtk_revealer_set_reveal_child (self->revealer, revealed);
  gtk_spinner_set_spinning (self->spinner, revealed);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVEALED]);
}

gboolean
chat_connection_banner_get_offline (ChatConnectionBanner *self)
{
  g_return_val_if_fail (CHAT_IS_CONNECTION_BANNER (self), FALSE);
  return self->offline;
}

void
chat_connection_banner_set_offline (ChatConnectionBanner *self, gboolean offline)
{
  g_return_if_fail (CHAT_IS_CONNECTION_BANNER (self));

  offline = !!offline;
  if (self->offline == offline)
    return;
  self->offline = offline;
  gtk_label_set_label (self->label,
                       offline ? _ ("Offline — waiting for the servers") : _ ("Reconnecting…"));
  gtk_accessible_update_property (
      GTK_ACCESSIBLE (self->label), GTK_ACCESSIBLE_PROPERTY_LABEL,
      offline ? _ ("Offline: showing the conversations kept on this computer until the servers "
                   "answer")
              : _ ("Connection lost, reconnecting to the cluster"),
      -1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OFFLINE]);
}
