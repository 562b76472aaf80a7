/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore's replicated log (the core's entries) and the durable meta blobs. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-connection.h"
#include "chat-error.h"

#include <string.h>

/* REPLACE: rewriting an index the core already sent is harmless; the core decides
 * conflicts and asks for a truncation first when terms differ. */
static gboolean
insert_entry (ChatStore *self, const ChatReplEntry *entry, GError **error)
{
  return chat_store_run (self,
                         "INSERT OR REPLACE INTO log (idx, term, type, data)"
                         " VALUES (?1, ?2, ?3, ?4)",
                         error, CHAT_SQL_INT (entry->index), CHAT_SQL_INT (entry->term),
                         CHAT_SQL_INT (entry->type), CHAT_SQL_BLOB (entry->data));
}

static gboolean
refresh_last_index (ChatStore *self, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, "SELECT max (idx) FROM log", error);
  gint64 last = 0;

  if (stmt == NULL || !chat_store_step_int (self, stmt, &last, "Reading the log", error))
    return FALSE;
  self->last_log_index = MAX ((guint64)last, self->compacted_index);
  return TRUE;
}

gboolean
chat_store_load_log_positions (ChatStore *self, GError **error)
{
  self->compacted_index = chat_store_read_meta_uint (self, CHAT_STORE_META_COMPACTED);
  return refresh_last_index (self, error);
}

typedef struct
{
  guint64 truncate_from;
  GPtrArray *entries;
} Append;

static gboolean
append_entries (ChatStore *self, gpointer data, GError **error)
{
  Append *append = data;

  if (append->truncate_from > 0
      && !chat_store_run (self, "DELETE FROM log WHERE idx >= ?1", error,
                          CHAT_SQL_INT (append->truncate_from)))
    return FALSE;
  /* Entries written again from here on are not the ones a snapshot covered. */
  if (append->truncate_from > 0 && self->compact_target >= append->truncate_from)
    self->compact_target = append->truncate_from - 1;
  for (guint i = 0; append->entries != NULL && i < append->entries->len; i++)
    {
      if (!insert_entry (self, g_ptr_array_index (append->entries, i), error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
append_log (ChatStore *self, guint64 truncate_from, GPtrArray *entries, ChatStoreMode mode,
            GError **error)
{
  Append append = { truncate_from, entries };

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (!chat_store_transaction (self, mode, append_entries, &append, error))
    {
      g_prefix_error (error, "Appending to the log: ");
      refresh_last_index (self, NULL);
      return FALSE;
    }
  return refresh_last_index (self, error);
}

gboolean
chat_store_append_log (ChatStore *self, guint64 truncate_from, GPtrArray *entries, GError **error)
{
  return append_log (self, truncate_from, entries, CHAT_STORE_WRITE_SYNCED, error);
}

/* synchronous OFF: the commit writes its WAL frames and returns; the store's sync
 * thread makes them durable (chat-store-wal-sync.c). */
gboolean
chat_store_append_log_unsynced (ChatStore *self, guint64 truncate_from, GPtrArray *entries,
                                GError **error)
{
  return append_log (self, truncate_from, entries, CHAT_STORE_WRITE_UNSYNCED, error);
}

static gboolean
add_entry (ChatStmt *stmt, gpointer entries, GError **error)
{
  g_autoptr (GBytes) data = chat_store_column_bytes (stmt, 3);

  g_ptr_array_add (entries,
                   chat_repl_entry_new ((guint64)sqlite3_column_int64 (stmt, 0),
                                        (guint64)sqlite3_column_int64 (stmt, 1),
                                        (ChatReplEntryType)sqlite3_column_int (stmt, 2), data));
  return TRUE;
}

GPtrArray *
chat_store_load_log (ChatStore *self, guint64 from, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);

  stmt = chat_store_query (self,
                           "SELECT term, idx, type, data FROM log WHERE idx >= ?1 ORDER BY idx",
                           error, CHAT_SQL_INT (MIN (from, (guint64)G_MAXINT64)));
  return chat_store_collect (self, stmt, add_entry, (GDestroyNotify)chat_repl_entry_unref,
                             "Reading the log", error);
}

/* --- compaction -------------------------------------------------------------------- */

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
      = chat_store_query (self, "SELECT min (idx) FROM log WHERE idx <= ?1", error,
                          CHAT_SQL_INT (MIN (self->compact_target, (guint64)G_MAXINT64)));
  gint64 value = 0;

  if (stmt == NULL || !chat_store_step_int (self, stmt, &value, "Reading the log", error))
    return FALSE;
  *lowest = (guint64)value;
  return TRUE;
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
      if (!chat_store_run (
              self, "DELETE FROM log WHERE idx <= ?1", error,
              CHAT_SQL_INT (MIN (self->compact_target, lowest + COMPACT_ROWS_PER_STEP - 1))))
        return FALSE;
    }
  while (g_get_monotonic_time () - start < COMPACT_SLICE_US);
  return TRUE;
}

typedef struct
{
  gboolean record; /* store up_to as the compacted index */
  guint64 up_to;
  gboolean delete; /* delete a slice of entries */
} Compaction;

static gboolean
compact (ChatStore *self, gpointer data, GError **error)
{
  Compaction *c = data;

  return (!c->record
          || chat_store_put_meta_uint (self, CHAT_STORE_META_COMPACTED,
                                       MAX (c->up_to, self->compacted_index), error))
         && (!c->delete || compact_slice (self, error));
}

/* Not fsynced (synchronous OFF): the snapshot that covers these entries was saved with
 * an fsync first (docs/storage.md), and a power cut keeps a prefix of the WAL's commits,
 * so a deletion that survives comes with every apply commit before it; one that is lost
 * leaves entries the next compaction removes. */
static gboolean
run_compaction (ChatStore *self, Compaction *compaction, GError **error)
{
  if (chat_store_transaction (self, CHAT_STORE_WRITE_UNSYNCED, compact, compaction, error))
    return TRUE;
  self->compact_target = 0;
  g_prefix_error (error, "Compacting the log: ");
  return FALSE;
}

gboolean
chat_store_compact_log (ChatStore *self, guint64 up_to, GError **error)
{
  Compaction compaction = { TRUE, up_to, FALSE };

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  /* The target is this snapshot's index, not the highest one seen: after an install of
   * index 0 (docs/replication.md §8) the log starts again from 1. */
  self->compact_target = up_to;
  if (!run_compaction (self, &compaction, error))
    return FALSE;
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
  Compaction compaction = { FALSE, 0, TRUE };

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (self->compact_target == 0)
    return TRUE;
  return run_compaction (self, &compaction, error);
}

/* --- meta values ------------------------------------------------------------------- */

#define PUT_META_SQL "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"

/* One statement, committed on its own (autocommit) at the durability asked for. */
static gboolean
put_meta (ChatStore *self, const char *key, GBytes *value, gboolean durable, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL && value != NULL, FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (!chat_store_set_durable (self, durable, error))
    return FALSE;
  if (!chat_store_run (self, PUT_META_SQL, error, CHAT_SQL_TEXT (key), CHAT_SQL_BLOB (value)))
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

  stmt
      = chat_store_query (self, "SELECT value FROM meta WHERE key = ?1", NULL, CHAT_SQL_TEXT (key));
  if (stmt == NULL || sqlite3_step (stmt) != SQLITE_ROW)
    return NULL;
  return chat_store_column_bytes (stmt, 0);
}

gboolean
chat_store_delete_meta (ChatStore *self, const char *key, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  return chat_store_set_durable (self, TRUE, error)
         && chat_store_run (self, "DELETE FROM meta WHERE key = ?1", error, CHAT_SQL_TEXT (key));
}

gboolean
chat_store_put_meta_uint (ChatStore *self, const char *key, guint64 value, GError **error)
{
  g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, value);
  g_autoptr (GBytes) bytes = g_bytes_new_static (text, strlen (text));

  return chat_store_run (self, PUT_META_SQL, error, CHAT_SQL_TEXT (key), CHAT_SQL_BLOB (bytes));
}

guint64
chat_store_read_meta_uint (ChatStore *self, const char *key)
{
  g_autoptr (GBytes) value = chat_store_get_meta (self, key);
  g_autofree char *text = NULL;
  gsize len = 0;
  const char *data = NULL;

  if (value == NULL)
    return 0;
  data = g_bytes_get_data (value, &len);
  text = g_strndup (data, len);
  return g_ascii_strtoull (text, NULL, 10);
}
