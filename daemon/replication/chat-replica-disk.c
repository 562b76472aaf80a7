/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica on disk: loading the replication state at start and persisting updates. */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-replica-private.h"

#include "chat-error.h"
#include "chat-slice.h"
#include "chat-snapshot-file.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

/* Meta values are a few whole numbers separated by spaces. */
static gboolean
parse_numbers (GBytes *value, guint64 *out, guint n)
{
  gsize size = 0;
  const char *data = value != NULL ? g_bytes_get_data (value, &size) : NULL;
  g_autofree char *text = data != NULL ? g_strndup (data, size) : NULL;
  g_auto (GStrv) parts = text != NULL ? g_strsplit (text, " ", -1) : NULL;

  if (parts == NULL || g_strv_length (parts) != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      if (!g_ascii_string_to_unsigned (parts[i], 10, 0, G_MAXUINT64, &out[i], NULL))
        return FALSE;
    }
  return TRUE;
}

static gboolean
save_numbers_as (ChatReplica *self, const char *key, const guint64 *values, guint n,
                 gboolean synced, GError **error)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GBytes) value = NULL;

  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "%s%" G_GUINT64_FORMAT, i > 0 ? " " : "", values[i]);
  value = g_bytes_new (text->str, text->len);
  if (!synced)
    return chat_store_set_meta_unsynced (self->store, key, value, error);
  return chat_store_set_meta (self->store, key, value, error);
}

static gboolean
save_numbers (ChatReplica *self, const char *key, const guint64 *values, guint n, GError **error)
{
  return save_numbers_as (self, key, values, n, TRUE, error);
}

static gboolean
load_known_numbers (ChatReplica *self, const char *key, guint64 *out, guint n, GError **error)
{
  g_autoptr (GBytes) value = chat_store_get_meta (self->store, key);

  if (value == NULL)
    return TRUE;
  if (parse_numbers (value, out, n))
    return TRUE;
  g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "The stored value of %s is corrupt", key);
  return FALSE;
}

gboolean
chat_replica_disk_incarnation (ChatReplica *self, guint64 *incarnation, GError **error)
{
  guint64 id = 0;

  if (!load_known_numbers (self, CHAT_REPLICA_META_INCARNATION, &id, 1, error))
    return FALSE;
  *incarnation = id;
  if (id != 0)
    return TRUE;
  /* Peers carry it as a JSON integer: 63 bits, never 0 (0 means "none"). */
  while (id == 0)
    id = (((guint64)g_random_int () << 32) | g_random_int ()) & (guint64)G_MAXINT64;
  *incarnation = id;
  return save_numbers (self, CHAT_REPLICA_META_INCARNATION, &id, 1, error);
}

static GPtrArray *
load_entries (ChatReplica *self, guint64 from, GError **error)
{
  GPtrArray *entries = chat_store_load_log (self->store, from, error);

  if (entries == NULL)
    return NULL;
  /* The log ends before an entry of a type this core does not know. */
  for (guint i = 0; i < entries->len; i++)
    {
      ChatReplEntry *e = g_ptr_array_index (entries, i);

      if ((guint)e->type > CHAT_REPL_ENTRY_TYPE_LAST)
        {
          g_ptr_array_set_size (entries, i);
          break;
        }
    }
  return entries;
}

/* A crash between saving a received snapshot and restoring it leaves the chat state
 * behind the snapshot: restore it again now. */
static gboolean
catch_up_with_snapshot (ChatReplica *self, ChatReplPersistedState *state, GError **error)
{
  if (state->snapshot_index == 0 || chat_store_applied_index (self->store) >= state->snapshot_index)
    return TRUE;
  if (state->snapshot_data == NULL)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                   "The snapshot at index %" G_GUINT64_FORMAT " is missing", state->snapshot_index);
      return FALSE;
    }
  g_message ("Restoring the snapshot at index %" G_GUINT64_FORMAT, state->snapshot_index);
  return chat_store_restore (self->store, state->snapshot_data, error);
}

char *
chat_replica_disk_dir (ChatReplica *self)
{
  return g_path_get_dirname (chat_store_get_path (self->store));
}

/* "index term isr serial", where serial names the snapshot file; a store from before
 * snapshot files has "index term isr" and keeps the image in the meta table. */
static gboolean
load_snapshot_meta (ChatReplica *self, guint64 *snap, GError **error)
{
  g_autoptr (GBytes) value = chat_store_get_meta (self->store, CHAT_REPLICA_META_SNAPSHOT);

  if (value == NULL || parse_numbers (value, snap, 4) || parse_numbers (value, snap, 3))
    return TRUE;
  g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "The stored value of %s is corrupt",
               CHAT_REPLICA_META_SNAPSHOT);
  return FALSE;
}

/* The saved snapshot's image, and no other snapshot file: what a crash left behind (a
 * temporary file, a file written but never recorded, one recorded over) goes now. */
static gboolean
load_snapshot_image (ChatReplica *self, ChatReplPersistedState *state, guint64 serial,
                     GError **error)
{
  g_autofree char *dir = chat_replica_disk_dir (self);
  g_autoptr (GError) local = NULL;

  chat_snapshot_file_clean (dir, state->snapshot_index, serial);
  g_clear_pointer (&self->snapshot_file, g_free);
  if (serial != 0)
    self->snapshot_file = chat_snapshot_file_name (state->snapshot_index, serial);
  if (state->snapshot_index == 0)
    return TRUE;
  if (serial == 0)
    {
      state->snapshot_data = chat_store_get_meta (self->store, CHAT_REPLICA_META_SNAPSHOT_DATA);
      return TRUE;
    }
  state->snapshot_data = chat_snapshot_file_read (dir, state->snapshot_index, serial, &local);
  if (state->snapshot_data != NULL)
    return TRUE;
  /* A database copied without its snapshot file (a backup of chatd.db alone): the chat
   * state is there, only a lagging follower's install waits for the next snapshot. */
  if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
      && chat_store_applied_index (self->store) >= state->snapshot_index)
    {
      g_warning ("%s; a follower that needs a snapshot waits for the next one", local->message);
      return TRUE;
    }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

gboolean
chat_replica_disk_load (ChatReplica *self, ChatReplPersistedState *state, GError **error)
{
  guint64 hard[2] = { 0, 0 };
  guint64 snap[4] = { 0, 0, 0, 0 };

  *state = (ChatReplPersistedState){ 0 };
  if (!load_known_numbers (self, CHAT_REPLICA_META_HARD_STATE, hard, 2, error)
      || !load_snapshot_meta (self, snap, error)
      || !load_known_numbers (self, CHAT_REPLICA_META_CLUSTER, &self->cluster_id, 1, error)
      || !load_known_numbers (self, CHAT_REPLICA_META_REBUILDING, &self->rebuilding, 1, error))
    return FALSE;
  state->cluster_id = self->cluster_id;
  state->rebuilding = self->rebuilding != 0;
  state->term = hard[0];
  state->vote = (guint)MIN (hard[1], CHAT_REPL_MAX_NODES);
  state->snapshot_index = snap[0];
  state->snapshot_term = snap[1];
  state->snapshot_isr = snap[2];
  if (!load_snapshot_image (self, state, snap[3], error)
      || !catch_up_with_snapshot (self, state, error))
    return FALSE;
  state->entries = load_entries (self, state->snapshot_index + 1, error);
  if (state->entries == NULL)
    return FALSE;
  state->applied_index = chat_store_applied_index (self->store);
  self->snapshot_index = state->snapshot_index;
  return TRUE;
}

void
chat_replica_disk_state_clear (ChatReplPersistedState *state)
{
  g_clear_pointer (&state->snapshot_data, g_bytes_unref);
  g_clear_pointer (&state->entries, g_ptr_array_unref);
}

/* The image of an empty chat state, from a scratch store (made once). */
static GBytes *
empty_state (GError **error)
{
  static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
  static GBytes *image;
  g_autofree char *dir = NULL;
  g_autofree char *db = NULL;
  g_autoptr (ChatStore) scratch = NULL;
  guint64 applied = 0;

  if (image != NULL)
    return g_bytes_ref (image);
  dir = g_dir_make_tmp ("chatd-empty-XXXXXX", error);
  if (dir == NULL)
    return NULL;
  scratch = chat_store_open (dir, error);
  if (scratch != NULL)
    image = chat_store_snapshot (scratch, &applied, error);
  g_clear_object (&scratch);
  db = g_build_filename (dir, "chatd.db", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *path = g_strconcat (db, suffixes[i], NULL);

      g_unlink (path);
    }
  g_rmdir (dir);
  return image != NULL ? g_bytes_ref (image) : NULL;
}

/* Replaces the chat state: with the snapshot, or with nothing for an install of index 0
 * (the core starts over after a split brain, see docs/replication.md §8). */
static gboolean
restore (ChatReplica *self, const ChatReplSnapshot *snap, GError **error)
{
  g_autoptr (GBytes) empty = NULL;

  if (snap->index > 0)
    return chat_store_restore (self->store, snap->data, error);
  empty = empty_state (error);
  return empty != NULL && chat_store_restore (self->store, empty, error);
}

void
chat_replica_disk_drop_written (ChatReplica *self)
{
  g_autofree char *dir = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;

  if (self->written_image == NULL)
    return;
  dir = chat_replica_disk_dir (self);
  name = chat_snapshot_file_name (self->written_index, self->written_serial);
  path = g_build_filename (dir, name, NULL);
  chat_snapshot_file_remove_later (path);
  g_clear_pointer (&self->written_image, g_bytes_unref);
}

/* The image a worker wrote already (chat-replica.c, maybe_snapshot), or, for a snapshot
 * received from the leader, written now. Either way it is complete on disk before the
 * metadata names it. */
static gboolean
write_image (ChatReplica *self, const ChatReplSnapshot *snap, guint64 *serial, GError **error)
{
  g_autofree char *dir = NULL;

  if (snap->data == self->written_image && snap->index == self->written_index)
    {
      *serial = self->written_serial;
      g_clear_pointer (&self->written_image, g_bytes_unref);
      return TRUE;
    }
  chat_replica_disk_drop_written (self);
  dir = chat_replica_disk_dir (self);
  return chat_snapshot_file_write (dir, snap->index, snap->data, serial, error);
}

/* Removes the file of the snapshot just replaced (only that one: a worker may be writing
 * the next) and remembers the new one. */
static void
forget_file (ChatReplica *self, const char *dir, char *new_file)
{
  if (self->snapshot_file != NULL && g_strcmp0 (self->snapshot_file, new_file) != 0)
    {
      g_autofree char *path = g_build_filename (dir, self->snapshot_file, NULL);

      chat_snapshot_file_remove_later (path);
    }
  g_free (self->snapshot_file);
  self->snapshot_file = new_file;
}

/* One meta row names the new snapshot file, so a crash leaves either the old snapshot
 * with its log or the new one (see catch_up_with_snapshot). synced: the row is fsynced
 * now; otherwise the fsynced commit that follows in the same update makes it durable. */
static gboolean
record_snapshot (ChatReplica *self, const ChatReplSnapshot *snap, gboolean synced, GError **error)
{
  guint64 serial = 0;
  guint64 meta[4] = { snap->index, snap->term, snap->isr, 0 };

  if (snap->index > 0 && !write_image (self, snap, &serial, error))
    return FALSE;
  meta[3] = serial;
  self->recorded_serial = serial;
  return save_numbers_as (self, CHAT_REPLICA_META_SNAPSHOT, meta, 4, synced, error);
}

/* Once the row is durable: the file it replaces, and the image of a store from before
 * snapshot files, go (a power cut before that keeps them, and the old row may need them). */
static gboolean
forget_replaced (ChatReplica *self, const ChatReplSnapshot *snap, GError **error)
{
  g_autofree char *dir = chat_replica_disk_dir (self);
  guint64 serial = self->recorded_serial;

  forget_file (self, dir, serial != 0 ? chat_snapshot_file_name (snap->index, serial) : NULL);
  return chat_store_delete_meta (self->store, CHAT_REPLICA_META_SNAPSHOT_DATA, error);
}

/* The snapshot is saved before the state machine or the log change. */
static gboolean
persist_snapshot (ChatReplica *self, const ChatReplSnapshot *snap, gboolean synced, GError **error)
{
  g_autoptr (GPtrArray) none = g_ptr_array_new ();
  gint64 start = g_get_monotonic_time ();

  if (!record_snapshot (self, snap, synced, error))
    return FALSE;
  chat_slice_note ("recording a snapshot", start, synced);
  if (snap->install)
    {
      start = g_get_monotonic_time ();
      if (!restore (self, snap, error))
        return FALSE;
      /* Installing replaces the whole log. */
      if (!chat_store_append_log (self->store, 1, none, error))
        return FALSE;
      chat_slice_note ("installing a snapshot", start, 0);
    }
  /* Recorded here, deleted a slice per flush from now on (chat_store_compact_more). */
  if (!chat_store_compact_log (self->store, snap->index, error))
    return FALSE;
  self->snapshot_index = snap->index;
  return TRUE;
}

/* The update's truncation and entries, in one commit; synced: fsynced before it returns,
 * otherwise made durable by the store's sync thread (chat-replica-sync.c). */
gboolean
chat_replica_disk_append (ChatReplica *self, ChatReplUpdate *update, gboolean synced,
                          GError **error)
{
  if (!synced)
    return chat_store_append_log_unsynced (self->store, update->truncate_from, update->entries,
                                           error);
  return chat_store_append_log (self->store, update->truncate_from, update->entries, error);
}

/* One number of the hard state that rarely changes: written only when it does. */
static gboolean
save_if_changed (ChatReplica *self, const char *key, guint64 *saved, guint64 value, gboolean synced,
                 GError **error)
{
  if (value == *saved)
    return TRUE;
  if (!save_numbers_as (self, key, &value, 1, synced, error))
    return FALSE;
  *saved = value;
  return TRUE;
}

gboolean
chat_replica_disk_save_hard_state (ChatReplica *self, ChatReplUpdate *update, gboolean synced,
                                   GError **error)
{
  guint64 hard[2] = { update->term, update->vote };

  if (!save_numbers_as (self, CHAT_REPLICA_META_HARD_STATE, hard, 2, synced, error))
    {
      g_prefix_error (error, "Saving the term: ");
      return FALSE;
    }
  if (!save_if_changed (self, CHAT_REPLICA_META_CLUSTER, &self->cluster_id, update->cluster_id,
                        synced, error))
    {
      g_prefix_error (error, "Saving the cluster id: ");
      return FALSE;
    }
  if (!save_if_changed (self, CHAT_REPLICA_META_REBUILDING, &self->rebuilding,
                        update->rebuilding ? 1 : 0, synced, error))
    {
      g_prefix_error (error, "Saving whether the store is rebuilding: ");
      return FALSE;
    }
  return TRUE;
}

gboolean
chat_replica_disk_persist (ChatReplica *self, ChatReplUpdate *update, GError **error)
{
  gint64 start = 0;
  /* An fsynced commit follows the snapshot in this update (an install restores the state
   * and empties the log with fsynced commits of its own): the snapshot's row waits for it
   * instead of an fsync of its own. */
  gboolean synced_after = update->hard_state_changed || update->truncate_from != 0
                          || update->entries->len > 0
                          || (update->snapshot != NULL && update->snapshot->install);

  /* The diverged operations are durable before the install of index 0 below throws away
   * the history that acknowledged them: a crash in between leaves both, and the same
   * history diverges again on restart (queued once, see chat_store_add_replay). */
  if (update->diverged->len > 0 && !chat_replica_replay_queue (self, update->diverged, error))
    {
      g_prefix_error (error, "Queueing the diverged operations: ");
      return FALSE;
    }
  if (update->snapshot != NULL && !persist_snapshot (self, update->snapshot, !synced_after, error))
    {
      g_prefix_error (error, "Saving the snapshot: ");
      return FALSE;
    }
  if (update->hard_state_changed && !chat_replica_disk_save_hard_state (self, update, TRUE, error))
    return FALSE;
  start = g_get_monotonic_time ();
  if ((update->truncate_from != 0 || update->entries->len > 0)
      && !chat_replica_disk_append (self, update, TRUE, error))
    {
      g_prefix_error (error, "Appending to the log: ");
      return FALSE;
    }
  chat_slice_note ("appending to the log", start, update->entries->len);
  if (update->snapshot != NULL && !forget_replaced (self, update->snapshot, error))
    {
      g_prefix_error (error, "Saving the snapshot: ");
      return FALSE;
    }
  return TRUE;
}
