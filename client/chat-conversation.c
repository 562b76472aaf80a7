/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConversation: a conversation summary (peer, last message, unread count). */
#define G_LOG_DOMAIN "libchat"

#include "chat-conversation.h"
#include "chat-error.h"
#include "chat-json.h"

#define MAX_NAME_BYTES 256

struct _ChatConversation
{
  GObject parent_instance;
  char *user;
  ChatMessage *last_message;
  guint unread;
};

G_DEFINE_FINAL_TYPE (ChatConversation, chat_conversation, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_USER,
  PROP_LAST_MESSAGE,
  PROP_UNREAD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
chat_conversation_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ChatConversation *self = CHAT_CONVERSATION (object);

  switch (prop_id)
    {
      case PROP_USER:
        g_value_set_string (value, self->user);
        break;
      case PROP_LAST_MESSAGE:
        g_value_set_object (value, self->last_message);
        break;
      case PROP_UNREAD:
        g_value_set_uint (value, self->unread);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_conversation_set_property (GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
  ChatConversation *self = CHAT_CONVERSATION (object);

  switch (prop_id)
    {
      case PROP_LAST_MESSAGE:
        chat_conversation_set_last_message (self, g_value_get_object (value));
        break;
      case PROP_UNREAD:
        chat_conversation_set_unread (self, g_value_get_uint (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_conversation_finalize (GObject *object)
{
  ChatConversation *self = CHAT_CONVERSATION (object);

  g_free (self->user);
  g_clear_object (&self->last_message);
  G_OBJECT_CLASS (chat_conversation_parent_class)->finalize (object);
}

static void
chat_conversation_class_init (ChatConversationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = chat_conversation_get_property;
  object_class->set_property = chat_conversation_set_property;
  object_class->finalize = chat_conversation_finalize;

  properties[PROP_USER]
      = g_param_spec_string ("user", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_LAST_MESSAGE]
      = g_param_spec_object ("last-message", NULL, NULL, CHAT_TYPE_MESSAGE,
                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_UNREAD]
      = g_param_spec_uint ("unread", NULL, NULL, 0, G_MAXUINT, 0,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
chat_conversation_init (ChatConversation *self)
{
}

ChatConversation *
chat_conversation_new (const char *user, ChatMessage *last_message, guint unread)
{
  ChatConversation *self = g_object_new (CHAT_TYPE_CONVERSATION, NULL);

  self->user = g_strdup (user != NULL ? user : "");
  self->last_message = last_message != NULL ? g_object_ref (last_message) : NULL;
  self->unread = unread;
  return self;
}

ChatConversation *
chat_conversation_new_from_json (JsonObject *object, GError **error)
{
  const char *user = NULL;
  guint64 unread = 0;
  g_autoptr (ChatMessage) last = NULL;
  JsonNode *node = json_object_get_member (object, "last_message");

  if (!chat_json_get_string (object, "user", TRUE, MAX_NAME_BYTES, &user, error)
      || !chat_json_get_uint (object, "unread", FALSE, G_MAXUINT, &unread, error))
    return NULL;
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      last = chat_message_new_from_json (json_node_get_object (node), error);
      if (last == NULL)
        {
          g_prefix_error (error, "In “last_message”: ");
          return NULL;
        }
    }
  return chat_conversation_new (user, last, (guint)unread);
}

const char *
chat_conversation_get_user (ChatConversation *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION (self), NULL);
  return self->user;
}

ChatMessage *
chat_conversation_get_last_message (ChatConversation *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION (self), NULL);
  return self->last_message;
}

guint
chat_conversation_get_unread (ChatConversation *self)
{
  g_return_val_if_fail (CHAT_IS_CONVERSATION (self), 0);
  return self->unread;
}

void
chat_conversation_set_last_message (ChatConversation *self, ChatMessage *last_message)
{
  g_return_if_fail (CHAT_IS_CONVERSATION (self));
  g_return_if_fail (last_message == NULL || CHAT_IS_MESSAGE (last_message));

  if (g_set_object (&self->last_message, last_message))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_MESSAGE]);
}

void
chat_conversation_set_unread (ChatConversation *self, guint unread)
{
  g_return_if_fail (CHAT_IS_CONVERSATION (self));

  if (self->unread == unread)
    return;
  self->unread = unread;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
}

JsonObject *
chat_conversation_to_json (ChatConversation *self)
{
  JsonObject *object = NULL;

  g_return_val_if_fail (CHAT_IS_CONVERSATION (self), NULL);

  object = json_object_new ();
  json_object_set_string_member (object, "user", self->user);
  if (self->last_message != NULL)
    json_object_set_object_member (object, "last_message",
                                   chat_message_to_json (self->last_message));
  json_object_set_int_member (object, "unread", self->unread);
  return object;
}
