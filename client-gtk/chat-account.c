/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatAccount: conversations, message lists and the outbox of a logged-in user. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>

#include "chat-account.h"
#include "chat-account-cache.h"

/* Changes are written to the cache this long after the last one, in one write. */
#define CACHE_SAVE_DELAY_S 2

struct _ChatAccount
{
  GObject parent_instance;
  ChatClient *client;
  char *username;
  char *active_peer;
  GListStore *conversations; /* ChatConversation */
  GHashTable *lists;         /* username key -> ChatMessageList */
  GPtrArray *outbox;         /* pending ChatMessage * waiting for the cluster */
  GCancellable *cancellable;
  guint unread;
  guint first_page_size;
  gboolean offline;            /* shows the cache until the cluster answers; sends nothing */
  GHashTable *cached_messages; /* offline: username key -> GPtrArray of ChatMessage */
  char *cache_path;            /* live: where what is shown is kept for an offline start */
  guint save_source;
};

G_DEFINE_FINAL_TYPE (ChatAccount, chat_account, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_CLIENT,
  PROP_USERNAME,
  PROP_UNREAD,
  PROP_N_PENDING,
  PROP_ACTIVE_PEER,
  PROP_OFFLINE,
  N_PROPS
};

enum
{
  SIGNAL_MESSAGE_ARRIVED,
  SIGNAL_CONVERSATION_READ,
  SIGNAL_PEER_DELETED,
  SIGNAL_SEND_FAILED,
  SIGNAL_SESSION_ENDED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void schedule_save (ChatAccount *self);

static char *
peer_key (const char *peer)
{
  return g_ascii_strdown (peer, -1);
}

static void
update_unread (ChatAccount *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->conversations));
  guint total = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ChatConversation) item
          = g_list_model_get_item (G_LIST_MODEL (self->conversations), i);
      total += chat_conversation_get_unread (item);
    }
  if (total == self->unread)
    return;
  self->unread = total;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
}

static void
item_unread_cb (ChatConversation *item, GParamSpec *pspec, ChatAccount *self)
{
  update_unread (self);
}

ChatConversation *
chat_account_find_conversation (ChatAccount *self, const char *peer)
{
  guint n;

  g_return_val_if_fail (CHAT_IS_ACCOUNT (self), NULL);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->conversations));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ChatConversation) item
          = g_list_model_get_item (G_LIST_MODEL (self->conversations), i);

      if (g_ascii_strcasecmp (chat_conversation_get_user (item), peer) == 0)
        return item; /* the store keeps its reference */
    }
  return NULL;
}

static void
add_conversation (ChatAccount *self, ChatConversation *item, guint position)
{
  g_signal_connect_object (item, "notify::unread", G_CALLBACK (item_unread_cb), self, 0);
  g_signal_connect_object (item, "notify", G_CALLBACK (schedule_save), self, G_CONNECT_SWAPPED);
  g_list_store_insert (self->conversations, position, item);
  update_unread (self);
}

ChatConversation *
chat_account_ensure_conversation (ChatAccount *self, const char *peer)
{
  ChatConversation *item;
  g_autoptr (ChatConversation) created = NULL;

  g_return_val_if_fail (CHAT_IS_ACCOUNT (self), NULL);

  item = chat_account_find_conversation (self, peer);
  if (item != NULL)
    return item;
  created = chat_conversation_new (peer, NULL, 0);
  add_conversation (self, created, 0);
  return created;
}

static void
remove_conversation (ChatAccount *self, const char *peer)
{
  ChatConversation *item = chat_account_find_conversation (self, peer);
  g_autofree char *key = peer_key (peer);
  guint position;

  g_hash_table_remove (self->lists, key);
  if (item == NULL)
    return;
  if (g_list_store_find (self->conversations, item, &position))
    g_list_store_remove (self->conversations, position);
  update_unread (self);
}

/* Moves the conversation of a new message to the top of the sidebar in one items-changed:
 * a selection model finds its selected item among the re-added ones and keeps it, where a
 * remove and an insert would unselect it (and re-selecting it from inside that emission is
 * what crashed GTK). */
static void
touch_conversation (ChatAccount *self, ChatConversation *item, ChatMessage *last)
{
  g_autoptr (GPtrArray) moved = NULL;
  guint position;

  chat_conversation_set_last_message (item, last);
  if (!g_list_store_find (self->conversations, item, &position) || position == 0)
    return;
  moved = g_ptr_array_new_full (position + 1, g_object_unref);
  g_ptr_array_add (moved, g_object_ref (item));
  for (guint i = 0; i < position; i++)
    g_ptr_array_add (moved, g_list_model_get_item (G_LIST_MODEL (self->conversations), i));
  g_list_store_splice (self->conversations, 0, position + 1, moved->pdata, moved->len);
}

static gboolean
is_outgoing (ChatAccount *self, ChatMessage *message)
{
  return g_ascii_strcasecmp (chat_message_get_from (message), self->username) == 0;
}

static void
message_received_cb (ChatClient *client, ChatMessage *message, ChatAccount *self)
{
  const char *peer = chat_message_get_peer (message, self->username);
  ChatConversation *item = chat_account_ensure_conversation (self, peer);
  g_autofree char *key = peer_key (peer);
  ChatMessageList *list = g_hash_table_lookup (self->lists, key);

  if (list != NULL && !chat_message_list_add_message (list, message))
    return; /* already shown (our own send, answered after a failover) */
  touch_conversation (self, item, message);
  if (is_outgoing (self, message) || chat_message_get_read (message))
    return;
  if (self->active_peer != NULL && g_ascii_strcasecmp (self->active_peer, peer) == 0)
    {
      /* Never counted as unread here, so the count cannot say whether to mark it. */
      chat_account_read_conversation (self, peer);
      return;
    }
  chat_conversation_set_unread (item, chat_conversation_get_unread (item) + 1);
  g_signal_emit (self, signals[SIGNAL_MESSAGE_ARRIVED], 0, message);
}

static void
messages_deleted_cb (ChatClient *client, GArray *ids, ChatAccount *self)
{
  GHashTableIter iter;
  gpointer list;

  g_hash_table_iter_init (&iter, self->lists);
  while (g_hash_table_iter_next (&iter, NULL, &list))
    chat_message_list_remove_ids (list, ids);
  chat_account_refresh (self);
}

static void
messages_read_cb (ChatClient *client, const char *by, const char *with, gint64 up_to,
                  ChatAccount *self)
{
  g_autofree char *key = peer_key (by);
  ChatMessageList *list = g_hash_table_lookup (self->lists, key);

  if (list != NULL)
    chat_message_list_mark_read_up_to (list, up_to);
}

static void
account_deleted_cb (ChatClient *client, const char *user, ChatAccount *self)
{
  g_autofree char *peer = g_strdup (user);

  remove_conversation (self, peer);
  g_signal_emit (self, signals[SIGNAL_PEER_DELETED], 0, peer);
}

static void
session_ended_cb (ChatClient *client, const char *reason, ChatAccount *self)
{
  g_signal_emit (self, signals[SIGNAL_SESSION_ENDED], 0, reason);
}

static void
connection_state_cb (ChatClient *client, ChatConnectionState state, ChatAccount *self)
{
  /* Pending sends are libchat's: it sends them again on the new connection by itself. */
  if (state == CHAT_CONNECTION_STATE_CONNECTED)
    chat_account_refresh (self);
}

/* A live account follows the client: the cached one shown offline does not. */
static void
follow_client (ChatAccount *self)
{
  g_signal_connect_object (self->client, "message-received", G_CALLBACK (message_received_cb), self,
                           0);
  g_signal_connect_object (self->client, "messages-deleted", G_CALLBACK (messages_deleted_cb), self,
                           0);
  g_signal_connect_object (self->client, "messages-read", G_CALLBACK (messages_read_cb), self, 0);
  g_signal_connect_object (self->client, "account-deleted", G_CALLBACK (account_deleted_cb), self,
                           0);
  g_signal_connect_object (self->client, "session-ended", G_CALLBACK (session_ended_cb), self, 0);
  g_signal_connect_object (self->client, "connection-state-changed",
                           G_CALLBACK (connection_state_cb), self, 0);
  g_signal_connect_object (self->conversations, "items-changed", G_CALLBACK (schedule_save), self,
                           G_CONNECT_SWAPPED);
  chat_account_refresh (self);
}

static void
chat_account_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ChatAccount *self = CHAT_ACCOUNT (object);

  switch (prop_id)
    {
      case PROP_CLIENT:
        g_value_set_object (value, self->client);
        break;
      case PROP_USERNAME:
        g_value_set_string (value, self->username);
        break;
      case PROP_UNREAD:
        g_value_set_uint (value, self->unread);
        break;
      case PROP_N_PENDING:
        g_value_set_uint (value, self->outbox->len);
        break;
      case PROP_ACTIVE_PEER:
        g_value_set_string (value, self->active_peer);
        break;
      case PROP_OFFLINE:
        g_value_set_boolean (value, self->offline);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_account_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  ChatAccount *self = CHAT_ACCOUNT (object);

  switch (prop_id)
    {
      case PROP_CLIENT:
        self->client = g_value_dup_object (value);
        break;
      case PROP_ACTIVE_PEER:
        chat_account_set_active_peer (self, g_value_get_string (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_account_dispose (GObject *object)
{
  ChatAccount *self = CHAT_ACCOUNT (object);

  /* What changed last is not lost when the window closes within the save delay. */
  if (self->save_source != 0)
    chat_account_save_cache (self);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_pointer (&self->lists, g_hash_table_unref);
  g_clear_pointer (&self->cached_messages, g_hash_table_unref);
  g_clear_object (&self->conversations);
  G_OBJECT_CLASS (chat_account_parent_class)->dispose (object);
}

static void
chat_account_finalize (GObject *object)
{
  ChatAccount *self = CHAT_ACCOUNT (object);

  g_ptr_array_unref (self->outbox);
  g_free (self->username);
  g_free (self->active_peer);
  g_free (self->cache_path);
  G_OBJECT_CLASS (chat_account_parent_class)->finalize (object);
}

static void
install_signals (GObjectClass *object_class)
{
  GType type = G_TYPE_FROM_CLASS (object_class);

  signals[SIGNAL_MESSAGE_ARRIVED]
      = g_signal_new ("message-arrived", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                      1, CHAT_TYPE_MESSAGE);
  signals[SIGNAL_CONVERSATION_READ]
      = g_signal_new ("conversation-read", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_PEER_DELETED] = g_signal_new ("peer-deleted", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                               NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_SEND_FAILED]
      = g_signal_new ("send-failed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                      G_TYPE_STRING, G_TYPE_STRING, G_TYPE_ERROR);
  signals[SIGNAL_SESSION_ENDED] = g_signal_new ("session-ended", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
chat_account_class_init (ChatAccountClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = chat_account_get_property;
  object_class->set_property = chat_account_set_property;
  object_class->dispose = chat_account_dispose;
  object_class->finalize = chat_account_finalize;

  properties[PROP_CLIENT]
      = g_param_spec_object ("client", NULL, NULL, CHAT_TYPE_CLIENT,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_USERNAME] = g_param_spec_string ("username", NULL, NULL, NULL, ro);
  properties[PROP_UNREAD] = g_param_spec_uint ("unread", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_N_PENDING] = g_param_spec_uint ("n-pending", NULL, NULL, 0, G_MAXUINT, 0, ro);
  properties[PROP_ACTIVE_PEER]
      = g_param_spec_string ("active-peer", NULL, NULL, NULL,
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_OFFLINE] = g_param_spec_boolean ("offline", NULL, NULL, FALSE, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  install_signals (object_class);
}

static void
chat_account_init (ChatAccount *self)
{
  self->conversations = g_list_store_new (CHAT_TYPE_CONVERSATION);
  self->lists = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->outbox = g_ptr_array_new_with_free_func (g_object_unref);
  self->cancellable = g_cancellable_new ();
  self->first_page_size = CHAT_MESSAGE_LIST_FIRST_PAGE;
}

ChatAccount *
chat_account_new (ChatClient *client)
{
  ChatAccount *self;

  g_return_val_if_fail (CHAT_IS_CLIENT (client), NULL);

  self = g_object_new (CHAT_TYPE_ACCOUNT, "client", client, NULL);
  self->username = g_strdup (chat_client_get_username (client));
  follow_client (self);
  return self;
}

ChatAccount *
chat_account_new_from_cache (ChatClient *client, const char *username, JsonObject *cache,
                             GError **error)
{
  g_autoptr (ChatAccount) self = NULL;
  g_autoptr (GPtrArray) conversations = NULL;
  g_autoptr (GHashTable) messages = NULL;

  g_return_val_if_fail (CHAT_IS_CLIENT (client), NULL);
  g_return_val_if_fail (username != NULL && cache != NULL, NULL);

  if (!chat_account_cache_parse (cache, &conversations, &messages, error))
    return NULL;
  self = g_object_new (CHAT_TYPE_ACCOUNT, "client", client, NULL);
  self->username = g_strdup (username);
  self->offline = TRUE;
  self->cached_messages = g_steal_pointer (&messages);
  for (guint i = 0; i < conversations->len; i++)
    add_conversation (self, conversations->pdata[i], i);
  return g_steal_pointer (&self);
}

gboolean
chat_account_get_offline (ChatAccount *self)
{
  g_return_val_if_fail (CHAT_IS_ACCOUNT (self), FALSE);
  return self->offline;
}

ChatClient *
chat_account_get_client (ChatAccount *self)
{
  g_return_val_if_fail (CHAT_IS_ACCOUNT (self), NULL);
  return self->client;
}

const char *
chat_account_get_username (ChatAccount *self)
{
  g_return_val_if_fail (CHAT_IS_ACCOUNT (self), NULL);
  return self->username;
}

guint
chat_account_get_unread (ChatAccount *self)
{
  g_return_val_if_fail (CHAT_IS_ACCOUNT (self), 0);
  return self->unread;
}

GListModel *
chat_account_get_conversations (ChatAccount *self)
{
  g_return_val_if_fail (CHAT_IS_ACCOUNT (self), NULL);
  return G_LIST_MODEL (self->conversations);
}

ChatMessageList *
chat_account_get_messages (ChatAccount *self, const char *peer)
{
  g_autofree char *key = NULL;
  ChatMessageList *list;

  g_return_val_if_fail (CHAT_IS_ACCOUNT (self), NULL);
  g_return_val_if_fail (peer != NULL, NULL);

  key = peer_key (peer);
  list = g_hash_table_lookup (self->lists, key);
  if (list != NULL)
    return list;
  list = chat_message_list_new (self->client, self->username, peer);
  chat_message_list_set_first_page_size (list, self->first_page_size);
  if (self->offline)
    chat_message_list_add_cached (list, g_hash_table_lookup (self->cached_messages, key));
  else
    {
      g_signal_connect_object (list, "items-changed", G_CALLBACK (schedule_save), self,
                               G_CONNECT_SWAPPED);
      chat_message_list_load_older (list);
    }
  g_hash_table_insert (self->lists, g_steal_pointer (&key), list);
  return list;
}

void
chat_account_set_first_page_size (ChatAccount *self, guint size)
{
  g_return_if_fail (CHAT_IS_ACCOUNT (self));
  self->first_page_size = size;
}

void
chat_account_set_active_peer (ChatAccount *self, const char *peer)
{
  g_return_if_fail (CHAT_IS_ACCOUNT (self));

  if (g_strcmp0 (self->active_peer, peer) == 0)
    return;
  g_free (self->active_peer);
  self->active_peer = g_strdup (peer);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE_PEER]);
  if (peer != NULL)
    chat_account_mark_read (self, peer);
}

/* Brings the sidebar in line with the server's conversation list. */
static void
merge_conversations (ChatAccount *self, GPtrArray *conversations)
{
  for (guint i = 0; i < conversations->len; i++)
    {
      ChatConversation *conv = g_ptr_array_index (conversations, i);
      const char *user = chat_conversation_get_user (conv);
      ChatConversation *item = chat_account_find_conversation (self, user);

      if (item == NULL)
        {
          add_conversation (self, conv,
                            MIN (i, g_list_model_get_n_items (G_LIST_MODEL (self->conversations))));
          continue;
        }
      /* The listed object stays (rows and the selection hold it); its state follows. */
      chat_conversation_set_last_message (item, chat_conversation_get_last_message (conv));
      chat_conversation_set_unread (item, chat_conversation_get_unread (conv));
    }
  /* What arrived while the conversation was on screen is read, whatever the server thought. */
  if (self->active_peer != NULL)
    chat_account_mark_read (self, self->active_peer);
}

static void
conversations_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) conversations = NULL;
  ChatAccount *self;

  conversations = chat_client_conversations_finish (CHAT_CLIENT (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = CHAT_ACCOUNT (user_data);
  if (conversations == NULL)
    {
      g_debug ("Could not load the conversations: %s", error->message);
      return;
    }
  merge_conversations (self, conversations);
}

void
chat_account_refresh (ChatAccount *self)
{
  g_return_if_fail (CHAT_IS_ACCOUNT (self));
  if (self->offline)
    return;
  chat_client_conversations_async (self->client, self->cancellable, conversations_cb, self);
}

static void
set_outbox_removed (ChatAccount *self, ChatMessage *item)
{
  if (g_ptr_array_remove (self->outbox, item))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_PENDING]);
}

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatMessage) item = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatMessage) message = NULL;
  ChatAccount *self;
  const char *peer = chat_message_get_to (item);

  /* libchat kept it queued across outages: an error here is the cluster's refusal, or the
   * account going away (cancelled, or the client disconnected at log out). */
  message = chat_client_send_finish (CHAT_CLIENT (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return;
  self = g_object_get_data (G_OBJECT (item), "chat-account");
  set_outbox_removed (self, item);
  if (message == NULL)
    {
      /* Refused for good (too large, no such user): the text goes back to the one who typed
       * it, not into a bubble that only looks sent; the sidebar shows the server's last. */
      chat_message_list_remove_item (chat_account_get_messages (self, peer), item);
      chat_account_refresh (self);
      g_signal_emit (self, signals[SIGNAL_SEND_FAILED], 0, peer, chat_message_get_body (item),
                     error);
      return;
    }
  chat_message_list_commit_pending (chat_account_get_messages (self, peer), item, message);
  touch_conversation (self, chat_account_ensure_conversation (self, peer), message);
}

static void
send_item (ChatAccount *self, ChatMessage *item)
{
  g_object_set_data (G_OBJECT (item), "chat-account", self);
  chat_client_send_queued_async (
      self->client, chat_message_get_to (item), chat_message_get_body (item),
      chat_message_get_client_msg_id (item), self->cancellable, send_cb, g_object_ref (item));
}

ChatMessage *
chat_account_send (ChatAccount *self, const char *peer, const char *body)
{
  g_autofree char *client_msg_id = NULL;
  g_autoptr (ChatMessage) item = NULL;

  g_return_val_if_fail (CHAT_IS_ACCOUNT (self), NULL);
  g_return_val_if_fail (peer != NULL && body != NULL, NULL);

  if (self->offline)
    return NULL; /* the composer is read-only until the cluster answers */
  client_msg_id = chat_client_new_client_msg_id (self->client);
  /* Shown at once, in the conversation and the sidebar, as one object that becomes the
   * committed message (id 0 and the time typed until then). */
  item = chat_message_new_pending (self->username, peer, body, client_msg_id);
  chat_message_list_add_pending (chat_account_get_messages (self, peer), item);
  touch_conversation (self, chat_account_ensure_conversation (self, peer), item);
  g_ptr_array_add (self->outbox, g_object_ref (item));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_PENDING]);
  send_item (self, item);
  return item;
}

typedef struct
{
  ChatAccount *self;
  char *peer;
  gint64 up_to;
} MarkReadData;

static void
mark_read_data_free (MarkReadData *data)
{
  g_object_unref (data->self);
  g_free (data->peer);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MarkReadData, mark_read_data_free)

static void
mark_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (MarkReadData) data = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *key = peer_key (data->peer);
  ChatConversation *item;
  ChatMessageList *list;

  if (!chat_client_mark_read_finish (CHAT_CLIENT (source), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Could not mark %s read: %s", data->peer, error->message);
      return;
    }
  item = chat_account_find_conversation (data->self, data->peer);
  if (item != NULL)
    chat_conversation_set_unread (item, 0);
  list = g_hash_table_lookup (data->self->lists, key);
  if (list != NULL)
    chat_message_list_set_incoming_read (list, data->up_to);
  g_signal_emit (data->self, signals[SIGNAL_CONVERSATION_READ], 0, data->peer);
}

void
chat_account_read_conversation (ChatAccount *self, const char *peer)
{
  MarkReadData *data;

  g_return_if_fail (CHAT_IS_ACCOUNT (self));
  g_return_if_fail (peer != NULL);

  if (self->offline)
    return;
  data = g_new0 (MarkReadData, 1);
  data->self = g_object_ref (self);
  data->peer = g_strdup (peer);
  /* Everything seen so far: never marks a message that has not reached this client. */
  data->up_to = chat_client_get_last_seq (self->client);
  chat_client_mark_read_async (self->client, peer, data->up_to, self->cancellable, mark_read_cb,
                               data);
}

void
chat_account_mark_read (ChatAccount *self, const char *peer)
{
  ChatConversation *item;

  g_return_if_fail (CHAT_IS_ACCOUNT (self));

  item = chat_account_find_conversation (self, peer);
  if (item == NULL || chat_conversation_get_unread (item) == 0)
    return;
  chat_account_read_conversation (self, peer);
}

void
chat_account_mark_all_read (ChatAccount *self)
{
  guint n;

  g_return_if_fail (CHAT_IS_ACCOUNT (self));

  n = g_list_model_get_n_items (G_LIST_MODEL (self->conversations));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ChatConversation) item
          = g_list_model_get_item (G_LIST_MODEL (self->conversations), i);

      chat_account_mark_read (self, chat_conversation_get_user (item));
    }
}

static void
delete_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  ChatAccount *self = g_task_get_source_object (task);
  ChatMessage *item = g_task_get_task_data (task);

  if (!chat_client_delete_messages_finish (CHAT_CLIENT (source), result, NULL, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  chat_message_list_remove_item (
      chat_account_get_messages (self, chat_message_get_peer (item, self->username)), item);
  chat_account_refresh (self);
  g_task_return_boolean (task, TRUE);
}

void
chat_account_delete_item (ChatAccount *self, ChatMessage *item, ChatDeleteScope scope,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  gint64 id;

  g_return_if_fail (CHAT_IS_ACCOUNT (self));
  g_return_if_fail (CHAT_IS_MESSAGE (item));

  task = g_task_new (self, self->cancellable, callback, user_data);
  g_task_set_task_data (task, g_object_ref (item), g_object_unref);
  id = chat_message_get_id (item);
  if (id == 0)
    {
      /* Not committed (failed): only this window knows it. */
      set_outbox_removed (self, item);
      chat_message_list_remove_item (chat_account_get_messages (self, chat_message_get_to (item)),
                                     item);
      g_task_return_boolean (task, TRUE);
      return;
    }
  chat_client_delete_messages_async (self->client, &id, 1, scope, self->cancellable, delete_cb,
                                     g_steal_pointer (&task));
}

gboolean
chat_account_delete_item_finish (ChatAccount *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
read_unread_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  ChatAccount *self = g_task_get_source_object (task);

  messages = chat_client_read_unread_finish (CHAT_CLIENT (source), result, &error);
  if (messages == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; i < messages->len; i++)
    {
      ChatMessage *message = g_ptr_array_index (messages, i);
      const char *peer = chat_message_get_peer (message, self->username);
      g_autofree char *key = peer_key (peer);
      ChatMessageList *list = g_hash_table_lookup (self->lists, key);

      if (list != NULL)
        chat_message_list_add_message (list, message);
    }
  chat_account_refresh (self);
  g_task_return_pointer (task, g_steal_pointer (&messages), (GDestroyNotify)g_ptr_array_unref);
}

void
chat_account_read_unread (ChatAccount *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (CHAT_IS_ACCOUNT (self));

  task = g_task_new (self, self->cancellable, callback, user_data);
  /* Only the oldest: its conversation is shown and read as a whole, the others stay unread
   * for the next time. */
  chat_client_read_unread_async (self->client, 1, self->cancellable, read_unread_cb, task);
}

GPtrArray *
chat_account_read_unread_finish (ChatAccount *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
chat_account_save_cache (ChatAccount *self)
{
  g_autoptr (JsonObject) root = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (CHAT_IS_ACCOUNT (self));

  g_clear_handle_id (&self->save_source, g_source_remove);
  if (self->cache_path == NULL || self->offline || self->conversations == NULL)
    return;
  root = chat_account_cache_build (self->username, G_LIST_MODEL (self->conversations), self->lists);
  if (!chat_account_cache_write (self->cache_path, root, &error))
    g_warning ("Cannot keep the conversations for an offline start: %s", error->message);
}

static gboolean
save_cb (gpointer user_data)
{
  ChatAccount *self = user_data;

  self->save_source = 0;
  chat_account_save_cache (self);
  return G_SOURCE_REMOVE;
}

/* Many changes come in bursts (a history page, a sync after a reconnect): one write each. */
static void
schedule_save (ChatAccount *self)
{
  if (self->cache_path == NULL || self->offline || self->save_source != 0)
    return;
  self->save_source = g_timeout_add_seconds (CACHE_SAVE_DELAY_S, save_cb, self);
}

void
chat_account_set_cache_path (ChatAccount *self, const char *path)
{
  g_return_if_fail (CHAT_IS_ACCOUNT (self));

  if (g_strcmp0 (self->cache_path, path) == 0)
    return;
  g_clear_handle_id (&self->save_source, g_source_remove);
  g_free (self->cache_path);
  self->cache_path = g_strdup (path);
  schedule_save (self);
}
