/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessageList: one conversation's messages as a list model, history prepended lazily. */
#define G_LOG_DOMAIN "chat-gtk"

#include "chat-message-list.h"

struct _ChatMessageList
{
  GObject parent_instance;
  ChatClient *client;
  char *me;
  char *peer;
  /* ChatMessage *, owned, newest first: a history page, older than everything listed,
   * is appended in O(page) instead of shifting every listed message. Use item_at(). */
  GPtrArray *items;
  GHashTable *by_id; /* gint64 * -> ChatMessage * (borrowed) */
  GHashTable *flags; /* ChatMessage * (borrowed) -> ChatMessageFlags, when not the default */
  GCancellable *cancellable;
  ChatMessage *marker;     /* borrowed: the message under the "New messages" divider */
  gint64 marker_id;        /* the divider's message chosen by id, 0: from the read flags */
  gboolean marker_pending; /* placed once the first page is in */
  guint first_page_size;
  gboolean loading;
  gboolean loaded;
  gboolean complete;
  gboolean cached; /* shows the offline cache: nothing to fetch */
};

/* The message at a model position (0 = oldest). */
static ChatMessage *
item_at (ChatMessageList *self, guint position)
{
  return g_ptr_array_index (self->items, self->items->len - 1 - position);
}

static void chat_message_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ChatMessageList, chat_message_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      chat_message_list_model_init))

enum
{
  PROP_0,
  PROP_PEER,
  PROP_LOADING,
  PROP_LOADED,
  PROP_COMPLETE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_FLAGS_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* A message's flags unless set otherwise: the last of its group, no separators. */
#define DEFAULT_FLAGS CHAT_MESSAGE_FLAG_GROUP_END

static GType
chat_message_list_get_item_type (GListModel *model)
{
  return CHAT_TYPE_MESSAGE;
}

static guint
chat_message_list_get_n_items (GListModel *model)
{
  return CHAT_MESSAGE_LIST (model)->items->len;
}

static gpointer
chat_message_list_get_item (GListModel *model, guint position)
{
  ChatMessageList *self = CHAT_MESSAGE_LIST (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (item_at (self, position));
}

static void
chat_message_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = chat_message_list_get_item_type;
  iface->get_n_items = chat_message_list_get_n_items;
  iface->get_item = chat_message_list_get_item;
}

static void
chat_message_list_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ChatMessageList *self = CHAT_MESSAGE_LIST (object);

  switch (prop_id)
    {
      case PROP_PEER:
        g_value_set_string (value, self->peer);
        break;
      case PROP_LOADING:
        g_value_set_boolean (value, self->loading);
        break;
      case PROP_LOADED:
        g_value_set_boolean (value, self->loaded);
        break;
      case PROP_COMPLETE:
        g_value_set_boolean (value, self->complete);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_message_list_dispose (GObject *object)
{
  ChatMessageList *self = CHAT_MESSAGE_LIST (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (chat_message_list_parent_class)->dispose (object);
}

static void
chat_message_list_finalize (GObject *object)
{
  ChatMessageList *self = CHAT_MESSAGE_LIST (object);

  g_hash_table_unref (self->by_id);
  g_hash_table_unref (self->flags);
  g_ptr_array_unref (self->items);
  g_free (self->me);
  g_free (self->peer);
  G_OBJECT_CLASS (chat_message_list_parent_class)->finalize (object);
}

static void
chat_message_list_class_init (ChatMessageListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = chat_message_list_get_property;
  object_class->dispose = chat_message_list_dispose;
  object_class->finalize = chat_message_list_finalize;

  properties[PROP_PEER] = g_param_spec_string ("peer", NULL, NULL, NULL, flags);
  properties[PROP_LOADING] = g_param_spec_boolean ("loading", NULL, NULL, FALSE, flags);
  properties[PROP_LOADED] = g_param_spec_boolean ("loaded", NULL, NULL, FALSE, flags);
  properties[PROP_COMPLETE] = g_param_spec_boolean ("complete", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  signals[SIGNAL_FLAGS_CHANGED]
      = g_signal_new ("flags-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, CHAT_TYPE_MESSAGE);
}

static void
chat_message_list_init (ChatMessageList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->flags = g_hash_table_new (NULL, NULL);
  self->cancellable = g_cancellable_new ();
  self->first_page_size = CHAT_MESSAGE_LIST_FIRST_PAGE;
}

ChatMessageList *
chat_message_list_new (ChatClient *client, const char *me, const char *peer)
{
  ChatMessageList *self;

  g_return_val_if_fail (CHAT_IS_CLIENT (client), NULL);
  g_return_val_if_fail (peer != NULL, NULL);

  self = g_object_new (CHAT_TYPE_MESSAGE_LIST, NULL);
  self->client = g_object_ref (client);
  self->me = g_strdup (me);
  self->peer = g_strdup (peer);
  return self;
}

gboolean
chat_message_list_get_loading (ChatMessageList *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), FALSE);
  return self->loading;
}

gboolean
chat_message_list_get_loaded (ChatMessageList *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), FALSE);
  return self->loaded;
}

gboolean
chat_message_list_get_complete (ChatMessageList *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), FALSE);
  return self->complete;
}

void
chat_message_list_set_first_page_size (ChatMessageList *self, guint size)
{
  g_return_if_fail (CHAT_IS_MESSAGE_LIST (self));
  self->first_page_size
      = CLAMP (size, CHAT_MESSAGE_LIST_MIN_FIRST_PAGE, CHAT_MESSAGE_LIST_MAX_FIRST_PAGE);
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
chat_message_list_dup_time (ChatMessage *message)
{
  g_autoptr (GDateTime) utc = NULL;

  g_return_val_if_fail (CHAT_IS_MESSAGE (message), NULL);
  utc = g_date_time_new_from_unix_utc (chat_message_get_sent_at (message) / 1000);
  return utc != NULL ? g_date_time_to_timezone (utc, local_time_zone ()) : NULL;
}

gboolean
chat_message_list_is_outgoing (ChatMessageList *self, ChatMessage *message)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), FALSE);
  return g_ascii_strcasecmp (chat_message_get_from (message), self->me) == 0;
}

ChatMessageFlags
chat_message_list_get_flags (ChatMessageList *self, ChatMessage *message)
{
  gpointer value = NULL;

  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), DEFAULT_FLAGS);
  if (!g_hash_table_lookup_extended (self->flags, message, NULL, &value))
    return DEFAULT_FLAGS;
  return GPOINTER_TO_UINT (value);
}

static gboolean
has_flag (ChatMessageList *self, ChatMessage *message, ChatMessageFlags flag)
{
  return (chat_message_list_get_flags (self, message) & flag) != 0;
}

static void
set_message_flag (ChatMessageList *self, ChatMessage *message, ChatMessageFlags flag,
                  gboolean value)
{
  ChatMessageFlags old = chat_message_list_get_flags (self, message);
  ChatMessageFlags now = value ? (old | flag) : (old & ~flag);

  if (now == old)
    return;
  if (now == DEFAULT_FLAGS)
    g_hash_table_remove (self->flags, message);
  else
    g_hash_table_insert (self->flags, message, GUINT_TO_POINTER (now));
  g_signal_emit (self, signals[SIGNAL_FLAGS_CHANGED], 0, message);
}

static gboolean
same_day (ChatMessage *a, ChatMessage *b)
{
  g_autoptr (GDateTime) ta = chat_message_list_dup_time (a);
  g_autoptr (GDateTime) tb = chat_message_list_dup_time (b);

  return g_date_time_get_year (ta) == g_date_time_get_year (tb)
         && g_date_time_get_day_of_year (ta) == g_date_time_get_day_of_year (tb);
}

/* Consecutive messages of one sender within this many seconds share one time. */
#define GROUP_SECONDS (5 * 60)

static gboolean
same_group (ChatMessageList *self, ChatMessage *a, ChatMessage *b)
{
  g_autoptr (GDateTime) ta = NULL;
  g_autoptr (GDateTime) tb = NULL;

  if (chat_message_list_is_outgoing (self, a) != chat_message_list_is_outgoing (self, b)
      || has_flag (self, b, CHAT_MESSAGE_FLAG_SHOW_DAY)
      || has_flag (self, b, CHAT_MESSAGE_FLAG_FIRST_UNREAD))
    return FALSE;
  ta = chat_message_list_dup_time (a);
  tb = chat_message_list_dup_time (b);
  return g_date_time_difference (tb, ta) < GROUP_SECONDS * G_TIME_SPAN_SECOND;
}

/* Recomputes the day separator of the item at position, and whether the one before it ends
 * a group (which depends on the separator). */
static void
update_show_day (ChatMessageList *self, guint position)
{
  ChatMessage *item;

  if (position >= self->items->len)
    return;
  item = item_at (self, position);
  set_message_flag (self, item, CHAT_MESSAGE_FLAG_SHOW_DAY,
                    position == 0 || !same_day (item_at (self, position - 1), item));
  if (position > 0)
    set_message_flag (self, item_at (self, position - 1), CHAT_MESSAGE_FLAG_GROUP_END,
                      !same_group (self, item_at (self, position - 1), item));
  if (position + 1 == self->items->len)
    set_message_flag (self, item, CHAT_MESSAGE_FLAG_GROUP_END, TRUE);
}

/* Searches from the newest end, where items being sent, committed or deleted usually are. */
static gboolean
find_position (ChatMessageList *self, ChatMessage *item, guint *position)
{
  guint index;

  if (!g_ptr_array_find (self->items, item, &index))
    return FALSE;
  *position = self->items->len - 1 - index;
  return TRUE;
}

static void
remember_id (ChatMessageList *self, ChatMessage *item)
{
  gint64 id = chat_message_get_id (item);

  if (id != 0)
    g_hash_table_insert (self->by_id, g_memdup2 (&id, sizeof id), item);
}

static void
set_flag (ChatMessageList *self, gboolean *flag, gboolean value, guint prop)
{
  if (*flag == value)
    return;
  *flag = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

/* Puts a page of older messages (ascending) in front of what is listed. Only the new items
 * and the one after them get their day separator computed: the rest is unchanged. */
static void
prepend_page (ChatMessageList *self, GPtrArray *messages)
{
  guint before = self->items->len;
  guint added;

  for (guint i = messages->len; i > 0; i--)
    {
      ChatMessage *message = g_ptr_array_index (messages, i - 1);
      gint64 id = chat_message_get_id (message);

      if (g_hash_table_contains (self->by_id, &id))
        continue;
      g_ptr_array_add (self->items, g_object_ref (message));
      remember_id (self, message);
    }
  added = self->items->len - before;
  for (guint i = 0; i <= added; i++)
    update_show_day (self, i);
  if (added > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, 0, added);
}

static void
set_marker (ChatMessageList *self, ChatMessage *item)
{
  ChatMessage *old = self->marker;
  guint position;

  self->marker = item;
  if (old != NULL && old != item)
    {
      set_message_flag (self, old, CHAT_MESSAGE_FLAG_FIRST_UNREAD, FALSE);
      if (find_position (self, old, &position))
        update_show_day (self, position);
    }
  if (item != NULL)
    {
      set_message_flag (self, item, CHAT_MESSAGE_FLAG_FIRST_UNREAD, TRUE);
      if (find_position (self, item, &position))
        update_show_day (self, position);
    }
}

/* The oldest incoming message of the unread run at the end (the user's own replies do not
 * end the run: they are read). NULL when the run reaches past what is loaded: the divider
 * would not be above the first unread message. */
static ChatMessage *
find_first_unread (ChatMessageList *self)
{
  ChatMessage *found = NULL;

  for (guint i = self->items->len; i > 0; i--)
    {
      ChatMessage *item = item_at (self, i - 1);

      if (chat_message_list_is_outgoing (self, item))
        continue;
      if (chat_message_get_id (item) != 0 && chat_message_get_read (item))
        return found;
      found = item;
    }
  return self->complete ? found : NULL;
}

static void
place_marker (ChatMessageList *self)
{
  self->marker_pending = FALSE;
  if (self->marker_id != 0)
    set_marker (self, chat_message_list_find (self, self->marker_id));
  else
    set_marker (self, find_first_unread (self));
}

void
chat_message_list_set_first_unread_id (ChatMessageList *self, gint64 id)
{
  g_return_if_fail (CHAT_IS_MESSAGE_LIST (self));

  self->marker_id = id;
  if (self->loaded)
    place_marker (self);
  else
    self->marker_pending = TRUE;
}

void
chat_message_list_place_unread_marker (ChatMessageList *self)
{
  g_return_if_fail (CHAT_IS_MESSAGE_LIST (self));

  if (self->marker_id != 0 && !self->loaded)
    return; /* an explicit one waits for the first page */
  chat_message_list_set_first_unread_id (self, 0);
}

ChatMessage *
chat_message_list_get_unread_marker (ChatMessageList *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), NULL);
  return self->marker;
}

void
chat_message_list_set_incoming_read (ChatMessageList *self, gint64 up_to)
{
  g_return_if_fail (CHAT_IS_MESSAGE_LIST (self));

  for (guint i = self->items->len; i > 0; i--)
    {
      ChatMessage *message = item_at (self, i - 1);

      if (chat_message_list_is_outgoing (self, message) || chat_message_get_seq (message) > up_to)
        continue;
      if (chat_message_get_read (message))
        break;
      chat_message_set_read (message, TRUE);
    }
}

static void
history_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ChatMessageList) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  gboolean more = FALSE;

  messages = chat_client_history_finish (CHAT_CLIENT (source), result, &more, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_flag (self, &self->loading, FALSE, PROP_LOADING);
  if (messages == NULL)
    {
      g_warning ("Could not load the conversation history: %s", error->message);
      return;
    }
  prepend_page (self, messages);
  set_flag (self, &self->complete, !more, PROP_COMPLETE);
  if (self->marker_pending)
    place_marker (self);
  set_flag (self, &self->loaded, TRUE, PROP_LOADED);
}

void
chat_message_list_load_older (ChatMessageList *self)
{
  gint64 before = 0;

  g_return_if_fail (CHAT_IS_MESSAGE_LIST (self));

  if (self->loading || self->complete || self->cached)
    return;
  for (guint i = 0; i < self->items->len && before == 0; i++)
    before = chat_message_get_seq (item_at (self, i));
  if (before == 0 && self->loaded && self->items->len > 0)
    return;
  set_flag (self, &self->loading, TRUE, PROP_LOADING);
  /* A small first page paints fast; later pages are bigger to scroll far with few requests. */
  chat_client_history_async (self->client, self->peer, before,
                             self->loaded ? CHAT_MESSAGE_LIST_PAGE : self->first_page_size,
                             self->cancellable, history_cb, g_object_ref (self));
}

/* Where a committed message goes: after every message with a lower seq, before pending ones. */
static guint
insert_position (ChatMessageList *self, gint64 seq)
{
  guint position = self->items->len;

  while (position > 0)
    {
      gint64 prev_seq = chat_message_get_seq (item_at (self, position - 1));

      if (prev_seq != 0 && prev_seq < seq)
        break;
      position--;
    }
  return position;
}

static void
insert_item (ChatMessageList *self, ChatMessage *item, guint position)
{
  g_ptr_array_insert (self->items, self->items->len - position, g_object_ref (item));
  remember_id (self, item);
  update_show_day (self, position);
  update_show_day (self, position + 1);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 0, 1);
}

gboolean
chat_message_list_add_message (ChatMessageList *self, ChatMessage *message)
{
  gint64 id;

  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), FALSE);

  id = chat_message_get_id (message);
  if (g_hash_table_contains (self->by_id, &id))
    return FALSE;
  insert_item (self, message, insert_position (self, chat_message_get_seq (message)));
  return TRUE;
}

void
chat_message_list_add_pending (ChatMessageList *self, ChatMessage *item)
{
  g_return_if_fail (CHAT_IS_MESSAGE_LIST (self));
  insert_item (self, item, self->items->len);
}

void
chat_message_list_remove_item (ChatMessageList *self, ChatMessage *item)
{
  guint position;
  gint64 id;

  g_return_if_fail (CHAT_IS_MESSAGE_LIST (self));

  if (!find_position (self, item, &position))
    return;
  id = chat_message_get_id (item);
  if (id != 0 && g_hash_table_lookup (self->by_id, &id) == item)
    g_hash_table_remove (self->by_id, &id);
  if (item == self->marker)
    self->marker = NULL;
  g_hash_table_remove (self->flags, item);
  g_ptr_array_remove_index (self->items, self->items->len - 1 - position);
  update_show_day (self, position);
  if (position > 0 && position == self->items->len)
    set_message_flag (self, item_at (self, position - 1), CHAT_MESSAGE_FLAG_GROUP_END, TRUE);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
}

void
chat_message_list_commit_pending (ChatMessageList *self, ChatMessage *item, ChatMessage *message)
{
  ChatMessage *existing;
  gint64 id;
  guint position;

  g_return_if_fail (CHAT_IS_MESSAGE_LIST (self));

  /* The message may have arrived as an event before the reply to its send: keep the bubble
   * the user watched being sent (and anyone holding it) and drop the copy instead. */
  id = chat_message_get_id (message);
  existing = chat_message_list_find (self, id);
  if (existing != NULL && existing != item)
    chat_message_list_remove_item (self, existing);
  chat_message_commit (item, message);
  remember_id (self, item);
  /* Keep seq order: a message received meanwhile may have a higher seq. */
  if (!find_position (self, item, &position))
    return;
  g_object_ref (item);
  chat_message_list_remove_item (self, item);
  insert_item (self, item, insert_position (self, chat_message_get_seq (message)));
  g_object_unref (item);
}

guint
chat_message_list_remove_ids (ChatMessageList *self, const GArray *ids)
{
  guint removed = 0;

  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), 0);

  for (guint i = 0; i < ids->len; i++)
    {
      ChatMessage *item = chat_message_list_find (self, g_array_index (ids, gint64, i));

      if (item == NULL)
        continue;
      chat_message_list_remove_item (self, item);
      removed++;
    }
  return removed;
}

void
chat_message_list_mark_read_up_to (ChatMessageList *self, gint64 up_to)
{
  g_return_if_fail (CHAT_IS_MESSAGE_LIST (self));

  for (guint i = self->items->len; i > 0; i--)
    {
      ChatMessage *item = item_at (self, i - 1);
      gint64 seq = chat_message_get_seq (item);

      if (!chat_message_list_is_outgoing (self, item) || seq == 0 || seq > up_to)
        continue;
      if (chat_message_get_state (item) == CHAT_DELIVERY_READ)
        break; /* everything older was marked before */
      chat_message_set_read (item, TRUE);
    }
}

ChatMessage *
chat_message_list_find (ChatMessageList *self, gint64 id)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), NULL);
  return g_hash_table_lookup (self->by_id, &id);
}

ChatMessage *
chat_message_list_dup_last (ChatMessageList *self)
{
  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), NULL);

  if (self->items->len == 0)
    return NULL;
  return g_object_ref (item_at (self, self->items->len - 1));
}

void
chat_message_list_add_cached (ChatMessageList *self, GPtrArray *messages)
{
  g_return_if_fail (CHAT_IS_MESSAGE_LIST (self));

  self->cached = TRUE;
  if (messages != NULL)
    prepend_page (self, messages);
  if (self->marker_pending)
    place_marker (self);
  set_flag (self, &self->loaded, TRUE, PROP_LOADED);
}

JsonArray *
chat_message_list_to_json (ChatMessageList *self, guint max)
{
  JsonArray *array = NULL;
  guint first = 0;
  guint count = 0;

  g_return_val_if_fail (CHAT_IS_MESSAGE_LIST (self), NULL);

  /* The newest committed messages, oldest first; pending ones are libchat's to send. */
  for (first = self->items->len; first > 0 && count < max; first--)
    if (chat_message_get_id (item_at (self, first - 1)) != 0)
      count++;
  array = json_array_sized_new (count);
  for (guint i = first; i < self->items->len; i++)
    if (chat_message_get_id (item_at (self, i)) != 0)
      json_array_add_object_element (array, chat_message_to_json (item_at (self, i)));
  return array;
}
