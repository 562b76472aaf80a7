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
  /* Entries written again from here on are not the ones a snapshot covered. */
  if (truncate_from > 0 && self->compact_target >= truncate_from)
    self->compact_target = truncate_from - 1;
  for (guint i = 0; entries != NULL && i < entries->len; i++)
    {
      if (!insert_entry (self, g_ptr_array_index (entries, i), error))
        return FALSE;
    }
  return chat_store_exec (self, "COMMIT", error);
}

static gboolean
append_log (ChatStore *self, guint64 truncate_from, GPtrArray *entries, gboolean durable,
            GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (!chat_store_set_durable (self, durable, error)
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

gboolean
chat_store_append_log (ChatStore *self, guint64 truncate_from, GPtrArray *entries, GError **error)
{
  return append_log (self, truncate_from, entries, TRUE, error);
}

/* synchronous OFF: the commit writes its WAL frames and returns; the store's sync
 * thread makes them durable (chat-store-wal-sync.c). */
gboolean
chat_store_append_log_unsynced (ChatStore *self, guint64 truncate_from, GPtrArray *entries,
                                GError **error)
{
  return append_log (self, truncate_from, entries, FALSE, error);
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

/* One compaction slice deletes entries a hundred at a time until this much time has
 * passed: a snapshot covers ~10,000 entries (10 MB at 1 KiB, overwritten with zeros by
 * SQLite's secure delete), which took 0.3 s in one go on a busy disk. */
#define COMPACT_ROWS_PER_STEP 100
#define COMPACT_SLICE_US (20 * 1000)

/* The lowest index still in the log at or below the compaction target, or 0. */
static gboolean
lowest_compactable (ChatStore *self, guint64 *lowest, GError **error)
{
  g_autoptr (ChatStmt) stmt
      = chat_store_prepare (self, "SELECT min (idx) FROM log WHERE idx <= ?1", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)MIN (self->compact_target, (guint64)G_MAXINT64));
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return chat_store_fail (self, error, "Reading the log");
  *lowest = (guint64)sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

static gboolean
delete_up_to (ChatStore *self, guint64 up_to, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, "DELETE FROM log WHERE idx <= ?1", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)MIN (up_to, (guint64)G_MAXINT64));
  return chat_store_step_done (self, stmt, error);
}

/* Deletes covered entries for one slice of time, inside the caller's transaction. */
static gboolean
compact_slice (ChatStore *self, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  guint64 lowest = 0;

  do
    {
      if (!lowest_compactable (self, &lowest, error))
        return FALSE;
      if (lowest == 0)
        {
          self->compact_target = 0;
          return TRUE;
        }
      if (!delete_up_to (self, MIN (self->compact_target, lowest + COMPACT_ROWS_PER_STEP - 1),
                         error))
        return FALSE;
    }
  while (g_get_monotonic_time () - start < COMPACT_SLICE_US);
  return TRUE;
}

/* Not fsynced (synchronous OFF): the snapshot that covers these entries was saved with
 * an fsync first (docs/storage.md), and a power cut keeps a prefix of the WAL's commits,
 * so a deletion that survives comes with every apply commit before it; one that is lost
 * leaves entries the next compaction removes. */
static gboolean
run_compaction (ChatStore *self, gboolean record, guint64 up_to, gboolean delete, GError **error)
{
  if (!chat_store_set_durable (self, FALSE, error)
      || !chat_store_exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;
  if ((record
       && !chat_store_put_meta_uint (self, CHAT_STORE_META_COMPACTED,
                                     MAX (up_to, self->compacted_index), error))
      || (delete &&!compact_slice (self, error)) || !chat_store_exec (self, "COMMIT", error))
    {
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      self->compact_target = 0;
      return FALSE;
    }
  return TRUE;
}

gboolean
chat_store_compact_log (ChatStore *self, guint64 up_to, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  /* The target is this snapshot's index, not the highest one seen: after an install of
   * index 0 (docs/replication.md §8) the log starts again from 1. */
  self->compact_target = up_to;
  if (!run_compaction (self, TRUE, up_to, FALSE, error))
    {
      g_prefix_error (error, "Compacting the log: ");
      return FALSE;
    }
  self->compacted_index = MAX (up_to, self->compacted_index);
  return refresh_last_index (self, error);
}

gboolean
chat_store_compact_pending (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  return self->compact_target != 0;
}

gboolean
chat_store_compact_more (ChatStore *self, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (self->compact_target == 0)
    return TRUE;
  if (!run_compaction (self, FALSE, 0, TRUE, error))
    {
      g_prefix_error (error, "Compacting the log: ");
      return FALSE;
    }
  return TRUE;
}

guint64
chat_store_last_log_index (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->last_log_index;
}

static gboolean
put_meta (ChatStore *self, const char *key, GBytes *value, gboolean durable, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  gsize len = 0;
  gconstpointer data = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL && value != NULL, FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (!chat_store_set_durable (self, durable, error))
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

gboolean
chat_store_set_meta (ChatStore *self, const char *key, GBytes *value, GError **error)
{
  return put_meta (self, key, value, TRUE, error);
}

gboolean
chat_store_set_meta_unsynced (ChatStore *self, const char *key, GBytes *value, GError **error)
{
  return put_meta (self, key, value, FALSE, error);
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
