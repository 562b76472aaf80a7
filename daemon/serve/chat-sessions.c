/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The index from sessions and users to live connections, and event delivery through it. */
#define G_LOG_DOMAIN "chatd-sessions"

#include "chat-sessions.h"

#include "chat-connection.h"

struct _ChatSessions
{
  GObject parent_instance;

  GHashTable *by_session; /* session hash → GPtrArray of ChatConnection (not owned) */
  GHashTable *by_user;    /* user key → GPtrArray of ChatConnection (not owned) */
};

G_DEFINE_FINAL_TYPE (ChatSessions, chat_sessions, G_TYPE_OBJECT)

static void
chat_sessions_finalize (GObject *object)
{
  ChatSessions *self = CHAT_SESSIONS (object);

  g_hash_table_unref (self->by_session);
  g_hash_table_unref (self->by_user);
  G_OBJECT_CLASS (chat_sessions_parent_class)->finalize (object);
}

static void
chat_sessions_class_init (ChatSessionsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = chat_sessions_finalize;
}

static void
chat_sessions_init (ChatSessions *self)
{
  self->by_session
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  self->by_user
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
}

ChatSessions *
chat_sessions_new (void)
{
  return g_object_new (CHAT_TYPE_SESSIONS, NULL);
}

static void
index_add (GHashTable *index, const char *key, ChatConnection *conn)
{
  GPtrArray *conns = g_hash_table_lookup (index, key);

  if (conns == NULL)
    {
      conns = g_ptr_array_new ();
      g_hash_table_insert (index, g_strdup (key), conns);
    }
  g_ptr_array_add (conns, conn);
}

static void
index_remove (GHashTable *index, const char *key, ChatConnection *conn)
{
  GPtrArray *conns = key ? g_hash_table_lookup (index, key) : NULL;

  if (conns == NULL)
    return;
  g_ptr_array_remove_fast (conns, conn);
  if (conns->len == 0)
    g_hash_table_remove (index, key);
}

void
chat_sessions_attach (ChatSessions *self, ChatConnection *conn, const char *session_hash,
                      const char *username)
{
  if (chat_connection_is_closed (conn))
    return;
  chat_sessions_detach (self, conn);
  chat_connection_set_session (conn, session_hash, username);
  index_add (self->by_session, session_hash, conn);
  index_add (self->by_user, chat_connection_get_user_key (conn), conn);
}

void
chat_sessions_detach (ChatSessions *self, ChatConnection *conn)
{
  index_remove (self->by_session, chat_connection_get_session_hash (conn), conn);
  index_remove (self->by_user, chat_connection_get_user_key (conn), conn);
  chat_connection_set_session (conn, NULL, NULL);
}

/* A copy of the connections, since sending may close one and change the index. */
static GPtrArray *
connections_of (GHashTable *index, const char *key)
{
  GPtrArray *conns = g_hash_table_lookup (index, key);
  GPtrArray *copy = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; conns != NULL && i < conns->len; i++)
    g_ptr_array_add (copy, g_object_ref (g_ptr_array_index (conns, i)));
  return copy;
}

void
chat_sessions_deliver (ChatSessions *self, const ChatApplyEvent *event)
{
  g_autoptr (GPtrArray) conns = connections_of (self->by_user, event->user_key);
  g_autoptr (GBytes) line = NULL;

  for (guint i = 0; i < conns->len; i++)
    {
      ChatConnection *conn = g_ptr_array_index (conns, i);
      const char *session = chat_connection_get_session_hash (conn);

      if (event->except_session != NULL && g_strcmp0 (session, event->except_session) == 0)
        continue;
      /* Written once, for the first connection told, and shared by the others. */
      if (line == NULL)
        line = chat_apply_event_to_line (event);
      chat_connection_send_line (conn, line);
    }
}

void
chat_sessions_end (ChatSessions *self, const char *session_hash, const char *reason)
{
  g_autoptr (GPtrArray) conns = connections_of (self->by_session, session_hash);
  g_autoptr (JsonObject) event = json_object_new ();

  json_object_set_string_member (event, "event", "session_ended");
  json_object_set_string_member (event, "reason", reason);
  for (guint i = 0; i < conns->len; i++)
    {
      ChatConnection *conn = g_ptr_array_index (conns, i);

      chat_sessions_detach (self, conn);
      chat_connection_send_event (conn, event);
    }
}

void
chat_sessions_deliver_result (ChatSessions *self, JsonObject *op, const ChatApplyResult *result)
{
  const char *name = json_object_get_string_member_with_default (op, "op", "");
  const char *reason = g_str_equal (name, "delete_account") ? "account_deleted" : "logout";

  for (guint i = 0; result->events != NULL && i < result->events->len; i++)
    chat_sessions_deliver (self, g_ptr_array_index (result->events, i));
  for (guint i = 0; result->ended_sessions != NULL && i < result->ended_sessions->len; i++)
    chat_sessions_end (self, g_ptr_array_index (result->ended_sessions, i), reason);
}
