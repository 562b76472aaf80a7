/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore's replay queue: operations of a diverged history waiting for the leader. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-connection.h"
#include "chat-error.h"

void
chat_replay_op_free (ChatReplayOp *op)
{
  if (op == NULL)
    return;
  g_bytes_unref (op->op);
  g_free (op);
}

static gboolean
add_queued (ChatStmt *stmt, gpointer queued, GError **error)
{
  g_hash_table_add (queued, chat_store_column_bytes (stmt, 0));
  return TRUE;
}

/* The ops already queued, to skip exact copies; NULL on a storage fault. */
static GHashTable *
queued_ops (ChatStore *self, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, "SELECT op FROM replay", error);
  g_autoptr (GHashTable) queued
      = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);

  if (stmt == NULL
      || !chat_store_each_row (self, stmt, add_queued, queued, "Reading the replay queue", error))
    return NULL;
  return g_steal_pointer (&queued);
}

typedef struct
{
  GPtrArray *ops;
  guint added;
} Queueing;

static gboolean
insert_new_ops (ChatStore *self, gpointer data, GError **error)
{
  Queueing *q = data;
  g_autoptr (GHashTable) queued = queued_ops (self, error);

  if (queued == NULL)
    return FALSE;
  for (guint i = 0; i < q->ops->len; i++)
    {
      GBytes *op = g_ptr_array_index (q->ops, i);

      if (g_hash_table_contains (queued, op))
        continue;
      if (!chat_store_run (self, "INSERT INTO replay (op) VALUES (?1)", error, CHAT_SQL_BLOB (op)))
        return FALSE;
      g_hash_table_add (queued, g_bytes_ref (op));
      q->added++;
    }
  return TRUE;
}

gboolean
chat_store_add_replay (ChatStore *self, GPtrArray *ops, guint *added, GError **error)
{
  Queueing queueing = { ops, 0 };

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (ops != NULL, FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  /* Synced: the caller throws the history these ops come from away right after. */
  if (!chat_store_transaction (self, CHAT_STORE_WRITE_SYNCED, insert_new_ops, &queueing, error))
    {
      g_prefix_error (error, "Queueing operations for replay: ");
      return FALSE;
    }
  if (added != NULL)
    *added = queueing.added;
  return TRUE;
}

static gboolean
add_op (ChatStmt *stmt, gpointer ops, GError **error)
{
  ChatReplayOp *op = g_new0 (ChatReplayOp, 1);

  op->id = sqlite3_column_int64 (stmt, 0);
  op->op = chat_store_column_bytes (stmt, 1);
  g_ptr_array_add (ops, op);
  return TRUE;
}

GPtrArray *
chat_store_list_replay (ChatStore *self, guint limit, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);

  stmt = chat_store_query (self, "SELECT id, op FROM replay ORDER BY id LIMIT ?1", error,
                           CHAT_SQL_INT (limit));
  return chat_store_collect (self, stmt, add_op, (GDestroyNotify)chat_replay_op_free,
                             "Reading the replay queue", error);
}

static gboolean
delete_rows (ChatStore *self, gpointer data, GError **error)
{
  GArray *ids = data;

  for (guint i = 0; i < ids->len; i++)
    {
      if (!chat_store_run (self, "DELETE FROM replay WHERE id = ?1", error,
                           CHAT_SQL_INT (g_array_index (ids, gint64, i))))
        return FALSE;
    }
  return TRUE;
}

gboolean
chat_store_delete_replay (ChatStore *self, GArray *ids, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (ids != NULL, FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (ids->len == 0)
    return TRUE;
  if (!chat_store_transaction (self, CHAT_STORE_WRITE_UNSYNCED, delete_rows, ids, error))
    {
      g_prefix_error (error, "Removing replayed operations: ");
      return FALSE;
    }
  return TRUE;
}

guint64
chat_store_count_replay (ChatStore *self, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  gint64 count = 0;

  g_return_val_if_fail (CHAT_IS_STORE (self), 0);

  stmt = chat_store_prepare (self, "SELECT count (*) FROM replay", error);
  if (stmt == NULL || !chat_store_step_int (self, stmt, &count, "Counting the replay queue", error))
    return 0;
  return (guint64)count;
}
