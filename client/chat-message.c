/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessage: a chat message object built from, and turned back into, its protocol form. */
#define G_LOG_DOMAIN "libchat"

#include "chat-message.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-username.h"

/* Generous bounds for untrusted fields: the server enforces the real limits. */
#define MAX_NAME_BYTES 256
#define MAX_BODY_BYTES (1024 * 1024)

struct _ChatMessage
{
  GObject parent_instance;
  gint64 id;
  gint64 seq;
  char *from;
  char *to;
  char *body;
  gint64 sent_at;
  gboolean read;
  ChatDeliveryState state;
  char *client_msg_id;
};

G_DEFINE_FINAL_TYPE (ChatMessage, chat_message, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (ChatDeliveryState, chat_delivery_state,
                    G_DEFINE_ENUM_VALUE (CHAT_DELIVERY_PENDING, "pending"),
                    G_DEFINE_ENUM_VALUE (CHAT_DELIVERY_SENT, "sent"),
                    G_DEFINE_ENUM_VALUE (CHAT_DELIVERY_READ, "read"),
                    G_DEFINE_ENUM_VALUE (CHAT_DELIVERY_FAILED, "failed"))

enum
{
  PROP_0,
  PROP_ID,
  PROP_SEQ,
  PROP_FROM,
  PROP_TO,
  PROP_BODY,
  PROP_SENT_AT,
  PROP_READ,
  PROP_STATE,
  PROP_CLIENT_MSG_ID,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
chat_message_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ChatMessage *self = CHAT_MESSAGE (object);

  switch (prop_id)
    {
      case PROP_ID:
        g_value_set_int64 (value, self->id);
        break;
      case PROP_SEQ:
        g_value_set_int64 (value, self->seq);
        break;
      case PROP_FROM:
        g_value_set_string (value, self->from);
        break;
      case PROP_TO:
        g_value_set_string (value, self->to);
        break;
      case PROP_BODY:
        g_value_set_string (value, self->body);
        break;
      case PROP_SENT_AT:
        g_value_set_int64 (value, self->sent_at);
        break;
      case PROP_READ:
        g_value_set_boolean (value, self->read);
        break;
      case PROP_STATE:
        g_value_set_enum (value, self->state);
        break;
      case PROP_CLIENT_MSG_ID:
        g_value_set_string (value, self->client_msg_id);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_message_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  ChatMessage *self = CHAT_MESSAGE (object);

  switch (prop_id)
    {
      case PROP_READ:
        chat_message_set_read (self, g_value_get_boolean (value));
        break;
      case PROP_STATE:
        chat_message_set_state (self, g_value_get_enum (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_message_finalize (GObject *object)
{
  ChatMessage *self = CHAT_MESSAGE (object);

  g_free (self->from);
  g_free (self->to);
  g_free (self->body);
  g_free (self->client_msg_id);
  G_OBJECT_CLASS (chat_message_parent_class)->finalize (object);
}

static GParamSpec *
int64_param (const char *name)
{
  return g_param_spec_int64 (name, NULL, NULL, 0, G_MAXINT64, 0,
                             G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
string_param (const char *name)
{
  return g_param_spec_string (name, NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static void
chat_message_class_init (ChatMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = chat_message_get_property;
  object_class->set_property = chat_message_set_property;
  object_class->finalize = chat_message_finalize;

  properties[PROP_ID] = int64_param ("id");
  properties[PROP_SEQ] = int64_param ("seq");
  properties[PROP_FROM] = string_param ("from");
  properties[PROP_TO] = string_param ("to");
  properties[PROP_BODY] = string_param ("body");
  properties[PROP_SENT_AT] = int64_param ("sent-at");
  properties[PROP_READ]
      = g_param_spec_boolean ("read", NULL, NULL, FALSE,
                              G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE]
      = g_param_spec_enum ("state", NULL, NULL, CHAT_TYPE_DELIVERY_STATE, CHAT_DELIVERY_SENT,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CLIENT_MSG_ID] = string_param ("client-msg-id");
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
chat_message_init (ChatMessage *self)
{
  self->state = CHAT_DELIVERY_SENT;
}

ChatMessage *
chat_message_new (gint64 id, gint64 seq, const char *from, const char *to, const char *body,
                  gint64 sent_at, gboolean read)
{
  ChatMessage *self = g_object_new (CHAT_TYPE_MESSAGE, NULL);

  self->id = id;
  self->seq = seq;
  self->from = g_strdup (from != NULL ? from : "");
  self->to = g_strdup (to != NULL ? to : "");
  self->body = g_strdup (body != NULL ? body : "");
  self->sent_at = sent_at;
  self->read = read;
  self->state = read ? CHAT_DELIVERY_READ : CHAT_DELIVERY_SENT;
  return self;
}

ChatMessage *
chat_message_new_pending (const char *from, const char *to, const char *body,
                          const char *client_msg_id)
{
  ChatMessage *self = chat_message_new (0, 0, from, to, body, g_get_real_time () / 1000, FALSE);

  self->state = CHAT_DELIVERY_PENDING;
  self->client_msg_id = g_strdup (client_msg_id);
  return self;
}

static void
set_int64 (ChatMessage *self, gint64 *field, gint64 value, guint prop)
{
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

void
chat_message_commit (ChatMessage *self, ChatMessage *committed)
{
  g_return_if_fail (CHAT_IS_MESSAGE (self));
  g_return_if_fail (CHAT_IS_MESSAGE (committed));

  g_object_freeze_notify (G_OBJECT (self));
  set_int64 (self, &self->id, committed->id, PROP_ID);
  set_int64 (self, &self->seq, committed->seq, PROP_SEQ);
  set_int64 (self, &self->sent_at, committed->sent_at, PROP_SENT_AT);
  chat_message_set_state (self, committed->read ? CHAT_DELIVERY_READ : CHAT_DELIVERY_SENT);
  chat_message_set_read (self, committed->read);
  g_object_thaw_notify (G_OBJECT (self));
}

ChatMessage *
chat_message_new_from_json (JsonObject *object, GError **error)
{
  guint64 id = 0, seq = 0, sent_at = 0;
  const char *from = NULL, *to = NULL, *body = NULL;
  gboolean read = FALSE;

  if (!chat_json_get_uint (object, "id", TRUE, G_MAXINT64, &id, error)
      || !chat_json_get_uint (object, "seq", TRUE, G_MAXINT64, &seq, error)
      || !chat_json_get_string (object, "from", TRUE, MAX_NAME_BYTES, &from, error)
      || !chat_json_get_string (object, "to", TRUE, MAX_NAME_BYTES, &to, error)
      || !chat_json_get_string (object, "body", TRUE, MAX_BODY_BYTES, &body, error)
      || !chat_json_get_uint (object, "sent_at", FALSE, G_MAXINT64, &sent_at, error)
      || !chat_json_get_bool (object, "read", FALSE, &read, error))
    return NULL;
  return chat_message_new ((gint64)id, (gint64)seq, from, to, body, (gint64)sent_at, read);
}

JsonObject *
chat_message_to_json (ChatMessage *self)
{
  JsonObject *object = NULL;

  g_return_val_if_fail (CHAT_IS_MESSAGE (self), NULL);

  object = json_object_new ();
  json_object_set_int_member (object, "id", self->id);
  json_object_set_int_member (object, "seq", self->seq);
  json_object_set_string_member (object, "from", self->from);
  json_object_set_string_member (object, "to", self->to);
  json_object_set_string_member (object, "body", self->body);
  json_object_set_int_member (object, "sent_at", self->sent_at);
  json_object_set_boolean_member (object, "read", self->read);
  return object;
}

gint64
chat_message_get_id (ChatMessage *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE (self), 0);
  return self->id;
}

gint64
chat_message_get_seq (ChatMessage *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE (self), 0);
  return self->seq;
}

const char *
chat_message_get_from (ChatMessage *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE (self), NULL);
  return self->from;
}

const char *
chat_message_get_to (ChatMessage *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE (self), NULL);
  return self->to;
}

const char *
chat_message_get_body (ChatMessage *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE (self), NULL);
  return self->body;
}

gint64
chat_message_get_sent_at (ChatMessage *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE (self), 0);
  return self->sent_at;
}

GDateTime *
chat_message_dup_sent_at_local (ChatMessage *self)
{
  g_autoptr (GDateTime) utc = NULL;

  g_return_val_if_fail (CHAT_IS_MESSAGE (self), NULL);
  utc = g_date_time_new_from_unix_utc (self->sent_at / 1000);
  if (utc == NULL)
    return NULL;
  return g_date_time_to_local (utc);
}

gboolean
chat_message_get_read (ChatMessage *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE (self), FALSE);
  return self->read;
}

void
chat_message_set_read (ChatMessage *self, gboolean read)
{
  g_return_if_fail (CHAT_IS_MESSAGE (self));

  read = !!read;
  if (read && self->state == CHAT_DELIVERY_SENT)
    chat_message_set_state (self, CHAT_DELIVERY_READ);
  if (self->read == read)
    return;
  self->read = read;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_READ]);
}

ChatDeliveryState
chat_message_get_state (ChatMessage *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE (self), CHAT_DELIVERY_SENT);
  return self->state;
}

void
chat_message_set_state (ChatMessage *self, ChatDeliveryState state)
{
  g_return_if_fail (CHAT_IS_MESSAGE (self));

  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

const char *
chat_message_get_client_msg_id (ChatMessage *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE (self), NULL);
  return self->client_msg_id;
}

const char *
chat_message_get_peer (ChatMessage *self, const char *me)
{
  g_autofree char *me_key = NULL;
  g_autofree char *from_key = NULL;

  g_return_val_if_fail (CHAT_IS_MESSAGE (self), NULL);
  if (me == NULL)
    return self->from;
  me_key = chat_username_key (me);
  from_key = chat_username_key (self->from);
  return g_strcmp0 (me_key, from_key) == 0 ? self->to : self->from;
}
