/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: the replay queue, operations of a diverged history waiting for the leader. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-private.h"
#include "chat-error.h"

void
chat_replay_op_free (ChatReplayOp *op)
{
  if (op == NULL)
    return;
  g_bytes_unref (op->op);
  g_free (op);
}

/* The ops already queued, to skip exact copies; NULL on a storage fault. */
static GHashTable *
queued_ops (ChatStore *self, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, "SELECT op FROM replay", error);
  g_autoptr (GHashTable) queued = NULL;
  int rc;

  if (stmt == NULL)
    return NULL;
  queued = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_hash_table_add (
        queued, g_bytes_new (sqlite3_column_blob (stmt, 0), (gsize)sqlite3_column_bytes (stmt, 0)));
  if (rc != SQLITE_DONE)
    {
      chat_store_fail (self, error, "Reading the replay queue");
      return NULL;
    }
  return g_steal_pointer (&queued);
}

static gboolean
insert_op (ChatStore *self, GBytes *op, GError **error)
{
  g_autoptr (ChatStmt) stmt
      = chat_store_prepare (self, "INSERT INTO replay (op) VALUES (?1)", error);
  gsize len = 0;
  gconstpointer data = g_bytes_get_data (op, &len);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_blob64 (stmt, 1, len > 0 ? data : "", len, SQLITE_STATIC);
  return chat_store_step_done (self, stmt, error);
}

static gboolean
insert_new_ops (ChatStore *self, GPtrArray *ops, guint *added, GError **error)
{
  g_autoptr (GHashTable) queued = queued_ops (self, error);

  if (queued == NULL)
    return FALSE;
  for (guint i = 0; i < ops->len; i++)
    {
      GBytes *op = g_ptr_array_index (ops, i);

      if (g_hash_table_contains (queued, op))
        continue;
      if (!insert_op (self, op, error))
        return FALSE;
      g_hash_table_add (queued, g_bytes_ref (op));
      (*added)++;
    }
  return chat_store_exec (self, "COMMIT", error);
}

gboolean
chat_store_add_replay (ChatStore *self, GPtrArray *ops, guint *added, GError **error)
{
  guint count = 0;

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (ops != NULL, FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  /* FULL: the caller throws the history these ops come from away right after. */
  if (!chat_store_set_durable (self, TRUE, error)
      || !chat_store_exec (self, "BEGIN IMMEDIATE", error))
    {
      g_prefix_error (error, "Queueing operations for replay: ");
      return FALSE;
    }
  if (!insert_new_ops (self, ops, &count, error))
    {
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      g_prefix_error (error, "Queueing operations for replay: ");
      return FALSE;
    }
  if (added != NULL)
    *added = count;
  return TRUE;
}

GPtrArray *
chat_store_list_replay (ChatStore *self, guint limit, GError **error)
{
  g_autoptr (GPtrArray) ops = NULL;
  g_autoptr (ChatStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);

  stmt = chat_store_prepare (self, "SELECT id, op FROM replay ORDER BY id LIMIT ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, limit);
  ops = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_replay_op_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      ChatReplayOp *op = g_new0 (ChatReplayOp, 1);

      op->id = sqlite3_column_int64 (stmt, 0);
      op->op = g_bytes_new (sqlite3_column_blob (stmt, 1), (gsize)sqlite3_column_bytes (stmt, 1));
      g_ptr_array_add (ops, op);
    }
  if (rc != SQLITE_DONE)
    {
      chat_store_fail (self, error, "Reading the replay queue");
      return NULL;
    }
  return g_steal_pointer (&ops);
}

static gboolean
delete_rows (ChatStore *self, GArray *ids, GError **error)
{
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr (ChatStmt) stmt
          = chat_store_prepare (self, "DELETE FROM replay WHERE id = ?1", error);

      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, g_array_index (ids, gint64, i));
      if (!chat_store_step_done (self, stmt, error))
        return FALSE;
    }
  return chat_store_exec (self, "COMMIT", error);
}

gboolean
chat_store_delete_replay (ChatStore *self, GArray *ids, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (ids != NULL, FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (ids->len == 0)
    return TRUE;
  if (!chat_store_set_durable (self, FALSE, error)
      || !chat_store_exec (self, "BEGIN IMMEDIATE", error))
    {
      g_prefix_error (error, "Removing replayed operations: ");
      return FALSE;
    }
  if (!delete_rows (self, ids, error))
    {
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      g_prefix_error (error, "Removing replayed operations: ");
      return FALSE;
    }
  return TRUE;
}

guint64
chat_store_count_replay (ChatStore *self, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), 0);

  stmt = chat_store_prepare (self, "SELECT count (*) FROM replay", error);
  if (stmt == NULL)
    return 0;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      chat_store_fail (self, error, "Counting the replay queue");
      return 0;
    }
  return (guint64)sqlite3_column_int64 (stmt, 0);
}