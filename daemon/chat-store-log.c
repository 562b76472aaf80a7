/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: the replicated log and the durable meta blobs (hard state, snapshot metadata). */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-private.h"
#include "chat-error.h"

ChatLogEntry *
chat_log_entry_new (guint64 term, guint64 index, guint type, GBytes *data)
{
  ChatLogEntry *entry = g_new0 (ChatLogEntry, 1);

  entry->term = term;
  entry->index = index;
  entry->type = type;
  entry->data = data != NULL ? g_bytes_ref (data) : g_bytes_new (NULL, 0);
  return entry;
}

void
chat_log_entry_free (ChatLogEntry *entry)
{
  if (entry == NULL)
    return;
  g_bytes_unref (entry->data);
  g_free (entry);
}

static gboolean
insert_entry (ChatStore *self, const ChatLogEntry *entry, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  gsize len = 0;
  gconstpointer data = g_bytes_get_data (entry->data, &len);

  /* REPLACE: rewriting an index the core already sent is harmless; the core
   * decides conflicts and asks for a truncation first when terms differ. */
  stmt = chat_store_prepare (self,
                             "INSERT OR REPLACE INTO log (idx, term, type, data)"
                             " VALUES (?1, ?2, ?3, ?4)",
                             error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)entry->index);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)entry->term);
  sqlite3_bind_int64 (stmt, 3, entry->type);
  sqlite3_bind_blob64 (stmt, 4, len > 0 ? data : "", len, SQLITE_STATIC);
  return chat_store_step_done (self, stmt, error);
}

static gboolean
truncate_log (ChatStore *self, guint64 from, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, "DELETE FROM log WHERE idx >= ?1", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)from);
  return chat_store_step_done (self, stmt, error);
}

static gboolean
refresh_last_index (ChatStore *self, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, "SELECT max (idx) FROM log", error);

  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return chat_store_fail (self, error, "Reading the log");
  self->last_log_index = MAX ((guint64)sqlite3_column_int64 (stmt, 0), self->compacted_index);
  return TRUE;
}

static gboolean
append_entries (ChatStore *self, guint64 truncate_from, GPtrArray *entries, GError **error)
{
  if (truncate_from > 0 && !truncate_log (self, truncate_from, error))
    return FALSE;
  for (guint i = 0; entries != NULL && i < entries->len; i++)
    {
      if (!insert_entry (self, g_ptr_array_index (entries, i), error))
        return FALSE;
    }
  return chat_store_exec (self, "COMMIT", error);
}

gboolean
chat_store_append_log (ChatStore *self, guint64 truncate_from, GPtrArray *entries, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (!chat_store_set_durable (self, TRUE, error)
      || !chat_store_exec (self, "BEGIN IMMEDIATE", error))
    {
      g_prefix_error (error, "Appending to the log: ");
      return FALSE;
    }
  if (!append_entries (self, truncate_from, entries, error))
    {
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      g_prefix_error (error, "Appending to the log: ");
      refresh_last_index (self, NULL);
      return FALSE;
    }
  return refresh_last_index (self, error);
}

GPtrArray *
chat_store_load_log (ChatStore *self, guint64 from, GError **error)
{
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (ChatStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);

  stmt = chat_store_prepare (
      self, "SELECT term, idx, type, data FROM log WHERE idx >= ?1 ORDER BY idx", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)MIN (from, (guint64)G_MAXINT64));
  entries = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_log_entry_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr (GBytes) data
          = g_bytes_new (sqlite3_column_blob (stmt, 3), (gsize)sqlite3_column_bytes (stmt, 3));
      g_ptr_array_add (entries, chat_log_entry_new ((guint64)sqlite3_column_int64 (stmt, 0),
                                                    (guint64)sqlite3_column_int64 (stmt, 1),
                                                    (guint)sqlite3_column_int (stmt, 2), data));
    }
  if (rc != SQLITE_DONE)
    {
      chat_store_fail (self, error, "Reading the log");
      return NULL;
    }
  return g_steal_pointer (&entries);
}

static gboolean
compact_entries (ChatStore *self, guint64 up_to, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, "DELETE FROM log WHERE idx <= ?1", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)up_to);
  if (!chat_store_step_done (self, stmt, error))
    return FALSE;
  if (!chat_store_put_meta_uint (self, CHAT_STORE_META_COMPACTED,
                                 MAX (up_to, self->compacted_index), error))
    return FALSE;
  return chat_store_exec (self, "COMMIT", error);
}

gboolean
chat_store_compact_log (ChatStore *self, guint64 up_to, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  /* Durable: this commit also makes every earlier (NORMAL) apply commit durable,
   * so applied state never falls behind entries that are gone from the log. */
  if (!chat_store_set_durable (self, TRUE, error)
      || !chat_store_exec (self, "BEGIN IMMEDIATE", error))
    {
      g_prefix_error (error, "Compacting the log: ");
      return FALSE;
    }
  if (!compact_entries (self, up_to, error))
    {
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      g_prefix_error (error, "Compacting the log: ");
      return FALSE;
    }
  self->compacted_index = MAX (up_to, self->compacted_index);
  return refresh_last_index (self, error);
}

guint64
chat_store_last_log_index (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->last_log_index;
}

gboolean
chat_store_set_meta (ChatStore *self, const char *key, GBytes *value, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  gsize len = 0;
  gconstpointer data = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL && value != NULL, FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (!chat_store_set_durable (self, TRUE, error))
    return FALSE;
  stmt = chat_store_prepare (self, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                             error);
  if (stmt == NULL)
    return FALSE;
  data = g_bytes_get_data (value, &len);
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob64 (stmt, 2, len > 0 ? data : "", len, SQLITE_STATIC);
  if (!chat_store_step_done (self, stmt, error))
    {
      g_prefix_error (error, "Storing “%s”: ", key);
      return FALSE;
    }
  return TRUE;
}

GBytes *
chat_store_get_meta (ChatStore *self, const char *key)
{
  g_autoptr (ChatStmt) stmt = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  stmt = chat_store_prepare (self, "SELECT value FROM meta WHERE key = ?1", NULL);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return NULL;
  return g_bytes_new (sqlite3_column_blob (stmt, 0), (gsize)sqlite3_column_bytes (stmt, 0));
}

gboolean
chat_store_delete_meta (ChatStore *self, const char *key, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (!chat_store_set_durable (self, TRUE, error))
    return FALSE;
  stmt = chat_store_prepare (self, "DELETE FROM meta WHERE key = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  return chat_store_step_done (self, stmt, error);
}
