/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica: the replication state written without waiting for the disk, made durable by
 * the store's sync thread; the messages that must not lead the disk wait for it, and the
 * core hears PERSISTED once it is done. */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-replica-private.h"

typedef struct
{
  guint64 ticket; /* the store's sync that makes it durable */
  gboolean hard_state;
  guint64 truncate_from; /* 0: none */
  guint64 index;         /* last entry written, 0: none */
  guint64 term;
} UnsyncedWrite;

typedef struct
{
  guint64 ticket; /* they leave once this sync is done */
  GPtrArray *messages;
} HeldMessages;

static void
held_messages_clear (gpointer data)
{
  HeldMessages *held = data;

  g_clear_pointer (&held->messages, g_ptr_array_unref);
}

void
chat_replica_sync_init (ChatReplica *self)
{
  self->unsynced = g_array_new (FALSE, FALSE, sizeof (UnsyncedWrite));
  self->held = g_array_new (FALSE, FALSE, sizeof (HeldMessages));
  g_array_set_clear_func (self->held, held_messages_clear);
}

void
chat_replica_sync_clear (ChatReplica *self)
{
  g_clear_pointer (&self->unsynced, g_array_unref);
  g_clear_pointer (&self->held, g_array_unref);
}

static guint64
newest_ticket (ChatReplica *self)
{
  guint64 ticket = 0;

  if (self->unsynced->len > 0)
    ticket = g_array_index (self->unsynced, UnsyncedWrite, self->unsynced->len - 1).ticket;
  if (self->held->len > 0)
    ticket = MAX (ticket, g_array_index (self->held, HeldMessages, self->held->len - 1).ticket);
  return ticket;
}

gboolean
chat_replica_sync_write (ChatReplica *self, ChatReplUpdate *update, GError **error)
{
  UnsyncedWrite write
      = { .hard_state = update->hard_state_changed, .truncate_from = update->truncate_from };

  if (!write.hard_state && write.truncate_from == 0 && update->entries->len == 0)
    return TRUE;
  if (write.hard_state && !chat_replica_disk_save_hard_state (self, update, FALSE, error))
    return FALSE;
  if ((write.truncate_from != 0 || update->entries->len > 0)
      && !chat_replica_disk_append (self, update, FALSE, error))
    return FALSE;
  if (update->entries->len > 0)
    {
      ChatReplEntry *last = g_ptr_array_index (update->entries, update->entries->len - 1);

      write.index = last->index;
      write.term = last->term;
    }
  write.ticket = chat_store_request_sync (self->store);
  g_array_append_val (self->unsynced, write);
  return TRUE;
}

void
chat_replica_sync_hold (ChatReplica *self, GPtrArray *messages)
{
  HeldMessages held = { newest_ticket (self), NULL };

  if (messages->len == 0)
    return;
  /* Callers hold only behind a write or other held messages. */
  g_return_if_fail (held.ticket != 0);
  held.messages = g_ptr_array_new_full (messages->len, (GDestroyNotify)chat_repl_message_unref);
  for (guint i = 0; i < messages->len; i++)
    g_ptr_array_add (held.messages, chat_repl_message_ref (g_ptr_array_index (messages, i)));
  g_ptr_array_set_size (messages, 0);
  g_array_append_val (self->held, held);
}

gboolean
chat_replica_sync_holding (ChatReplica *self)
{
  return self->held->len > 0;
}

GPtrArray *
chat_replica_sync_release (ChatReplica *self, guint64 ticket)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  guint n = 0;

  for (; n < self->held->len; n++)
    {
      HeldMessages *held = &g_array_index (self->held, HeldMessages, n);

      if (held->ticket > ticket)
        break;
      g_ptr_array_extend_and_steal (out, g_steal_pointer (&held->messages));
    }
  g_array_remove_range (self->held, 0, n);
  return out;
}

/* A hard state written after ticket is not durable yet. */
static gboolean
hard_state_after (ChatReplica *self, guint64 ticket)
{
  for (guint i = 0; i < self->unsynced->len; i++)
    {
      UnsyncedWrite *write = &g_array_index (self->unsynced, UnsyncedWrite, i);

      if (write->ticket > ticket && write->hard_state)
        return TRUE;
    }
  return FALSE;
}

gboolean
chat_replica_sync_take (ChatReplica *self, guint64 ticket, guint64 *index, guint64 *term)
{
  guint n = 0;

  *index = *term = 0;
  if (hard_state_after (self, ticket))
    return FALSE;
  for (; n < self->unsynced->len; n++)
    {
      UnsyncedWrite *write = &g_array_index (self->unsynced, UnsyncedWrite, n);

      if (write->ticket > ticket)
        break;
      /* A later write may have truncated an earlier one's entries. */
      if (write->truncate_from != 0 && *index >= write->truncate_from)
        *index = *term = 0;
      if (write->index != 0)
        {
          *index = write->index;
          *term = write->term;
        }
    }
  g_array_remove_range (self->unsynced, 0, n);
  return n > 0;
}

gboolean
chat_replica_sync_waiting (ChatReplica *self)
{
  return self->unsynced->len > 0;
}
