/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reference-counted log entries and peer messages of the replication core. */
#include "chat-repl-types.h"

ChatReplEntry *
chat_repl_entry_new (guint64 term, guint64 index, ChatReplEntryType type, GBytes *data)
{
  ChatReplEntry *entry = g_rc_box_new0 (ChatReplEntry);

  entry->term = term;
  entry->index = index;
  entry->type = type;
  entry->data = data != NULL ? g_bytes_ref (data) : g_bytes_new (NULL, 0);
  return entry;
}

ChatReplEntry *
chat_repl_entry_ref (ChatReplEntry *entry)
{
  return g_rc_box_acquire (entry);
}

static void
entry_clear (gpointer data)
{
  ChatReplEntry *entry = data;

  g_bytes_unref (entry->data);
}

void
chat_repl_entry_unref (ChatReplEntry *entry)
{
  g_rc_box_release_full (entry, entry_clear);
}

GBytes *
chat_repl_node_set_to_bytes (ChatReplNodeSet set)
{
  guint8 buf[8];

  for (guint i = 0; i < 8; i++)
    buf[i] = (guint8)(set >> (8 * i));
  return g_bytes_new (buf, sizeof buf);
}

ChatReplNodeSet
chat_repl_entry_get_node_set (const ChatReplEntry *entry)
{
  gsize size = 0;
  const guint8 *buf = g_bytes_get_data (entry->data, &size);
  ChatReplNodeSet set = 0;

  if (entry->type != CHAT_REPL_ENTRY_IN_SYNC_SET || size != 8)
    return 0;
  for (guint i = 0; i < 8; i++)
    set |= (ChatReplNodeSet)buf[i] << (8 * i);
  return set;
}

guint
chat_repl_node_set_count (ChatReplNodeSet set)
{
  return (guint)__builtin_popcountll (set);
}

ChatReplMessage *
chat_repl_message_new (ChatReplMessageType type, guint from, guint to, guint64 term)
{
  ChatReplMessage *msg = g_rc_box_new0 (ChatReplMessage);

  msg->type = type;
  msg->from = from;
  msg->to = to;
  msg->term = term;
  msg->entries = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  return msg;
}

ChatReplMessage *
chat_repl_message_ref (ChatReplMessage *message)
{
  return g_rc_box_acquire (message);
}

static void
message_clear (gpointer data)
{
  ChatReplMessage *msg = data;

  g_ptr_array_unref (msg->entries);
  g_clear_pointer (&msg->data, g_bytes_unref);
}

void
chat_repl_message_unref (ChatReplMessage *message)
{
  g_rc_box_release_full (message, message_clear);
}

const char *
chat_repl_message_type_to_string (ChatReplMessageType type)
{
  static const char *const names[] = {
    [CHAT_REPL_MSG_VOTE_REQUEST] = "vote_request",
    [CHAT_REPL_MSG_VOTE_RESPONSE] = "vote_response",
    [CHAT_REPL_MSG_APPEND] = "append",
    [CHAT_REPL_MSG_APPEND_RESPONSE] = "append_response",
    [CHAT_REPL_MSG_SNAPSHOT] = "snapshot",
    [CHAT_REPL_MSG_SNAPSHOT_RESPONSE] = "snapshot_response",
    [CHAT_REPL_MSG_TIMEOUT_NOW] = "timeout_now",
    [CHAT_REPL_MSG_PRE_VOTE_REQUEST] = "pre_vote_request",
    [CHAT_REPL_MSG_PRE_VOTE_RESPONSE] = "pre_vote_response",
  };

  if (type < CHAT_REPL_MSG_VOTE_REQUEST || type > CHAT_REPL_MSG_TYPE_LAST)
    return NULL;
  return names[type];
}
