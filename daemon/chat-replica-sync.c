/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica: log appends written without waiting for the disk, made durable by the
 * store's sync thread, and reported to the core as PERSISTED once they are. */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-replica-private.h"

typedef struct
{
  guint64 ticket;        /* the store's sync that makes it durable */
  guint64 truncate_from; /* 0: none */
  guint64 index;         /* last entry written, 0 for a truncation alone */
  guint64 term;
} UnsyncedAppend;

void
chat_replica_sync_init (ChatReplica *self)
{
  self->unsynced = g_array_new (FALSE, FALSE, sizeof (UnsyncedAppend));
}

void
chat_replica_sync_clear (ChatReplica *self)
{
  g_clear_pointer (&self->unsynced, g_array_unref);
}

gboolean
chat_replica_sync_append (ChatReplica *self, ChatReplUpdate *update, GError **error)
{
  UnsyncedAppend append = { 0 };

  if (update->truncate_from == 0 && update->entries->len == 0)
    return TRUE;
  if (!chat_replica_disk_append (self, update, FALSE, error))
    return FALSE;
  if (update->entries->len > 0)
    {
      ChatReplEntry *last = g_ptr_array_index (update->entries, update->entries->len - 1);

      append.index = last->index;
      append.term = last->term;
    }
  append.truncate_from = update->truncate_from;
  append.ticket = chat_store_request_sync (self->store);
  g_array_append_val (self->unsynced, append);
  return TRUE;
}

gboolean
chat_replica_sync_take (ChatReplica *self, guint64 ticket, guint64 *index, guint64 *term)
{
  gboolean found = FALSE;
  guint n = 0;

  for (; n < self->unsynced->len; n++)
    {
      UnsyncedAppend *append = &g_array_index (self->unsynced, UnsyncedAppend, n);

      if (append->ticket > ticket)
        break;
      /* A later append may have truncated an earlier one's entries. */
      if (append->truncate_from != 0 && found && *index >= append->truncate_from)
        found = FALSE;
      if (append->index != 0)
        {
          *index = append->index;
          *term = append->term;
          found = TRUE;
        }
    }
  g_array_remove_range (self->unsynced, 0, n);
  return found;
}

gboolean
chat_replica_sync_waiting (ChatReplica *self)
{
  return self->unsynced->len > 0;
}
