/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessageItem: a message with its delivery state, as the conversation view shows it. */
#define G_LOG_DOMAIN "chat-gtk"

#include "chat-message-item.h"

struct _ChatMessageItem
{
  GObject parent_instance;
  ChatMessage *message;
  char *to;
  char *body;
  char *client_msg_id;
  GDateTime *typed_at;
  gboolean outgoing;
  gboolean show_day;
  gboolean first_unread;
  gboolean group_end;
  ChatDeliveryState state;
};

G_DEFINE_FINAL_TYPE (ChatMessageItem, chat_message_item, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_MESSAGE,
  PROP_BODY,
  PROP_OUTGOING,
  PROP_STATE,
  PROP_SHOW_DAY,
  PROP_FIRST_UNREAD,
  PROP_GROUP_END,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
chat_message_item_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ChatMessageItem *self = CHAT_MESSAGE_ITEM (object);

  switch (prop_id)
    {
      case PROP_MESSAGE:
        g_value_set_object (value, self->message);
        break;
      case PROP_BODY:
        g_value_set_string (value, chat_message_item_get_body (self));
        break;
      case PROP_OUTGOING:
        g_value_set_boolean (value, self->outgoing);
        break;
      case PROP_STATE:
        g_value_set_int (value, self->state);
        break;
      case PROP_SHOW_DAY:
        g_value_set_boolean (value, self->show_day);
        break;
      case PROP_FIRST_UNREAD:
        g_value_set_boolean (value, self->first_unread);
        break;
      case PROP_GROUP_END:
        g_value_set_boolean (value, self->group_end);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_message_item_finalize (GObject *object)
{
  ChatMessageItem *self = CHAT_MESSAGE_ITEM (object);

  g_clear_object (&self->message);
  g_free (self->to);
  g_free (self->body);
  g_free (self->client_msg_id);
  g_clear_pointer (&self->typed_at, g_date_time_unref);
  G_OBJECT_CLASS (chat_message_item_parent_class)->finalize (object);
}

static void
chat_message_item_class_init (ChatMessageItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = chat_message_item_get_property;
  object_class->finalize = chat_message_item_finalize;

  properties[PROP_MESSAGE] = g_param_spec_object ("message", NULL, NULL, CHAT_TYPE_MESSAGE, flags);
  properties[PROP_BODY] = g_param_spec_string ("body", NULL, NULL, NULL, flags);
  properties[PROP_OUTGOING] = g_param_spec_boolean ("outgoing", NULL, NULL, FALSE, flags);
  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, CHAT_DELIVERY_PENDING,
                                             CHAT_DELIVERY_FAILED, CHAT_DELIVERY_PENDING, flags);
  properties[PROP_SHOW_DAY] = g_param_spec_boolean ("show-day", NULL, NULL, FALSE, flags);
  properties[PROP_FIRST_UNREAD] = g_param_spec_boolean ("first-unread", NULL, NULL, FALSE, flags);
  properties[PROP_GROUP_END] = g_param_spec_boolean ("group-end", NULL, NULL, TRUE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
chat_message_item_init (ChatMessageItem *self)
{
  self->group_end = TRUE;
}

ChatMessageItem *
chat_message_item_new (ChatMessage *message, gboolean outgoing)
{
  ChatMessageItem *self = g_object_new (CHAT_TYPE_MESSAGE_ITEM, NULL);

  self->message = g_object_ref (message);
  self->outgoing = outgoing;
  if (!outgoing)
    self->state = CHAT_DELIVERY_SENT;
  else
    self->state = chat_message_get_read (message) ? CHAT_DELIVERY_READ : CHAT_DELIVERY_SENT;
  return self;
}

ChatMessageItem *
chat_message_item_new_pending (const char *to, const char *body, const char *client_msg_id)
{
  ChatMessageItem *self = g_object_new (CHAT_TYPE_MESSAGE_ITEM, NULL);

  self->to = g_strdup (to);
  self->body = g_strdup (body);
  self->client_msg_id = g_strdup (client_msg_id);
  self->typed_at = g_date_time_new_now_local ();
  self->outgoing = TRUE;
  self->state = CHAT_DELIVERY_PENDING;
  return self;
}

ChatMessage *
chat_message_item_get_message (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), NULL);
  return self->message;
}

void
chat_message_item_set_message (ChatMessageItem *self, ChatMessage *message)
{
  g_return_if_fail (CHAT_IS_MESSAGE_ITEM (self));

  if (!g_set_object (&self->message, message))
    return;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
  if (self->state == CHAT_DELIVERY_PENDING || self->state == CHAT_DELIVERY_FAILED)
    chat_message_item_set_state (self, chat_message_get_read (message) ? CHAT_DELIVERY_READ
                                                                       : CHAT_DELIVERY_SENT);
}

const char *
chat_message_item_get_body (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), NULL);
  return self->message ? chat_message_get_body (self->message) : self->body;
}

const char *
chat_message_item_get_to (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), NULL);
  return self->message ? chat_message_get_to (self->message) : self->to;
}

const char *
chat_message_item_get_client_msg_id (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), NULL);
  return self->client_msg_id;
}

gboolean
chat_message_item_get_outgoing (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), FALSE);
  return self->outgoing;
}

gint64
chat_message_item_get_id (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), 0);
  return self->message ? chat_message_get_id (self->message) : 0;
}

gint64
chat_message_item_get_seq (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), 0);
  return self->message ? chat_message_get_seq (self->message) : 0;
}

/* Loaded once: GLib 2.74's g_time_zone_new_local() reads the zone from disk again on every
 * call when $TZ is unset, and each day separator of a history page converts two times. */
static GTimeZone *
local_time_zone (void)
{
  static gsize zone;

  if (g_once_init_enter (&zone))
    g_once_init_leave (&zone, (gsize)g_time_zone_new_local ());
  return (GTimeZone *)zone;
}

GDateTime *
chat_message_item_dup_time (ChatMessageItem *self)
{
  g_autoptr (GDateTime) utc = NULL;

  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), NULL);

  if (self->message == NULL)
    return g_date_time_ref (self->typed_at);
  utc = g_date_time_new_from_unix_utc (chat_message_get_sent_at (self->message) / 1000);
  return utc != NULL ? g_date_time_to_timezone (utc, local_time_zone ()) : NULL;
}

ChatDeliveryState
chat_message_item_get_state (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), CHAT_DELIVERY_PENDING);
  return self->state;
}

void
chat_message_item_set_state (ChatMessageItem *self, ChatDeliveryState state)
{
  g_return_if_fail (CHAT_IS_MESSAGE_ITEM (self));

  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

gboolean
chat_message_item_get_show_day (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), FALSE);
  return self->show_day;
}

static void
set_flag (ChatMessageItem *self, gboolean *flag, gboolean value, guint prop)
{
  value = !!value;
  if (*flag == value)
    return;
  *flag = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

void
chat_message_item_set_show_day (ChatMessageItem *self, gboolean show_day)
{
  g_return_if_fail (CHAT_IS_MESSAGE_ITEM (self));
  set_flag (self, &self->show_day, show_day, PROP_SHOW_DAY);
}

gboolean
chat_message_item_get_first_unread (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), FALSE);
  return self->first_unread;
}

void
chat_message_item_set_first_unread (ChatMessageItem *self, gboolean first_unread)
{
  g_return_if_fail (CHAT_IS_MESSAGE_ITEM (self));
  set_flag (self, &self->first_unread, first_unread, PROP_FIRST_UNREAD);
}

gboolean
chat_message_item_get_group_end (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), TRUE);
  return self->group_end;
}

void
chat_message_item_set_group_end (ChatMessageItem *self, gboolean group_end)
{
  g_return_if_fail (CHAT_IS_MESSAGE_ITEM (self));
  set_flag (self, &self->group_end, group_end, PROP_GROUP_END);
}

gboolean
chat_message_item_get_read (ChatMessageItem *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_ITEM (self), FALSE);
  return self->message != NULL && chat_message_get_read (self->message);
}
