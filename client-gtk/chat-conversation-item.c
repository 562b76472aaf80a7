/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConversationItem: the mutable sidebar state of one conversation. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-conversation-item.h"

struct _ChatConversationItem
{
  GObject parent_instance;
  char *user;
  char *preview;
  gint64 time;
  guint unread;
};

G_DEFINE_FINAL_TYPE (ChatConversationItem, chat_conversation_item, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_USER,
  PROP_PREVIEW,
  PROP_TIME,
  PROP_UNREAD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
chat_conversation_item_get_property (GObject *object, guint prop_id, GValue *value,
                                     GParamSpec *pspec)
{
  ChatConversationItem *self = CHAT_CONVERSATION_ITEM (object);

  switch (prop_id)
    {
      case PROP_USER:
        g_value_set_string (value, self->user);
        break;
      case PROP_PREVIEW:
        g_value_set_string (value, self->preview);
        break;
      case PROP_TIME:
        g_value_set_int64 (value, self->time);
        break;
      case PROP_UNREAD:
        g_value_set_uint (value, self->unread);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_conversation_item_finalize (GObject *object)
{
  ChatConversationItem *self = CHAT_CONVERSATION_ITEM (object);

  g_free (self->user);
  g_free (self->preview);
  G_OBJECT_CLASS (chat_conversation_item_parent_class)->finalize (object);
}

static void
chat_conversation_item_class_init (ChatConversationItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = chat_conversation_item_get_property;
  object_class->finalize = chat_conversation_item_finalize;

  properties[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL, flags);
  properties[PROP_PREVIEW] = g_param_spec_string ("preview", NULL, NULL, NULL, flags);
  properties[PROP_TIME] = g_param_spec_int64 ("time", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_UNREAD] = g_param_spec_uint ("unread", NULL, NULL, 0, G_MAXUINT, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
chat_conversation_item_init (ChatConversationItem *self)
{
}

ChatConversationItem *
chat_conversation_item_new (const char *user)
{
  ChatConversationItem *self = g_object_new (CHAT_TYPE_CONVERSATION_ITEM, NULL);

  self->user = g_strdup (user);
  return self;
}

ChatConversationItem *
chat_conversation_item_new_from_conversation (ChatConversation *conv)
{
  ChatConversationItem *self = chat_conversation_item_new (chat_conversation_get_user (conv));
  ChatMessage *last = chat_conversation_get_last_message (conv);

  if (last != NULL)
    {
      self->preview = g_strdup (chat_message_get_body (last));
      self->time = chat_message_get_sent_at (last);
    }
  self->unread = chat_conversation_get_unread (conv);
  return self;
}

const char *
chat_conversation_item_get_user (ChatConversationItem *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_ITEM (self), NULL);
  return self->user;
}

const char *
chat_conversation_item_get_preview (ChatConversationItem *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_ITEM (self), NULL);
  return self->preview;
}

gint64
chat_conversation_item_get_time (ChatConversationItem *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_ITEM (self), 0);
  return self->time;
}

guint
chat_conversation_item_get_unread (ChatConversationItem *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION_ITEM (self), 0);
  return self->unread;
}

void
chat_conversation_item_set_unread (ChatConversationItem *self, guint unread)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_ITEM (self));

  if (self->unread == unread)
    return;
  self->unread = unread;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
}

void
chat_conversation_item_set_last (ChatConversationItem *self, const char *body, gint64 time)
{
  g_return_if_fail (CHAT_IS_CONVERSATION_ITEM (self));

  if (g_strcmp0 (self->preview, body) != 0)
    {
      g_free (self->preview);
      self->preview = g_strdup (body);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PREVIEW]);
    }
  if (self->time != time)
    {
      self->time = time;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIME]);
    }
}

char *
chat_conversation_item_format_time (ChatConversationItem *self)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autoptr (GDateTime) utc = NULL;
  g_autoptr (GDateTime) local = NULL;
  GTimeSpan age;

  g_return_val_if_fail (CHAT_IS_CONVERSATION_ITEM (self), NULL);

  if (self->time == 0)
    return g_strdup ("");
  utc = g_date_time_new_from_unix_utc (self->time / 1000);
  local = g_date_time_to_local (utc);
  age = g_date_time_difference (now, local);
  if (g_date_time_get_day_of_year (now) == g_date_time_get_day_of_year (local)
      && g_date_time_get_year (now) == g_date_time_get_year (local))
    /* Translators: the time of today's last message, see g_date_time_format() */
    return g_date_time_format (local, _ ("%H:%M"));
  if (age < 6 * G_TIME_SPAN_DAY)
    /* Translators: the weekday of this week's last message */
    return g_date_time_format (local, _ ("%a"));
  /* Translators: the date of an older last message */
  return g_date_time_format (local, _ ("%-d %b"));
}
