/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: the object over the database — opening, its threads, the health check. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-connection.h"
#include "chat-store-testing.h"
#include "chat-error.h"

#include <errno.h>
#include <glib/gstdio.h>

G_DEFINE_FINAL_TYPE (ChatStore, chat_store, G_TYPE_OBJECT)

/* An fsync of the log this long under way fails the health check, so that the service
 * watchdog (every 5 s of its 10) restarts a server whose disk hangs: the main loop itself
 * goes on while the sync thread waits. */
#define CHAT_STORE_SYNC_STALL_US (5 * G_USEC_PER_SEC)

static void
chat_store_finalize (GObject *object)
{
  ChatStore *self = CHAT_STORE (object);

  if (self->in_apply)
    g_warning ("Store closed inside an apply batch; the batch is rolled back");
  chat_store_disconnect (self);
  g_free (self->path);
  G_OBJECT_CLASS (chat_store_parent_class)->finalize (object);
}

static void
chat_store_class_init (ChatStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = chat_store_finalize;
}

static void
chat_store_init (ChatStore *self)
{
}

static gboolean
load_positions (ChatStore *self, GError **error)
{
  self->applied_index = chat_store_read_meta_uint (self, CHAT_STORE_META_APPLIED);
  return chat_store_load_log_positions (self, error);
}

ChatStore *
chat_store_open (const char *state_dir, GError **error)
{
  g_autoptr (ChatStore) self = NULL;

  g_return_val_if_fail (state_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "Cannot create %s: %s", state_dir,
                   g_strerror (saved_errno));
      return NULL;
    }
  self = g_object_new (CHAT_TYPE_STORE, NULL);
  self->path = g_build_filename (state_dir, "chatd.db", NULL);
  if (!chat_store_connect (self, error) || !chat_store_migrate (self, error)
      || !load_positions (self, error)
      || (self->checkpointer = chat_checkpointer_start (self->path, error)) == NULL
      || (self->syncer = chat_wal_syncer_start (self->path, error)) == NULL)
    {
      g_prefix_error (error, "%s: ", self->path);
      return NULL;
    }
  g_debug ("Opened %s: applied %" G_GUINT64_FORMAT ", last log index %" G_GUINT64_FORMAT,
           self->path, self->applied_index, self->last_log_index);
  return g_steal_pointer (&self);
}

const char *
chat_store_get_path (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  return self->path;
}

void
chat_store_set_synced_func (ChatStore *self, ChatStoreSyncedFunc func, gpointer user_data)
{
  g_return_if_fail (CHAT_IS_STORE (self));
  chat_wal_syncer_set_func (self->syncer, func, user_data);
}

guint64
chat_store_request_sync (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return chat_wal_syncer_request (self->syncer);
}

gboolean
chat_store_probe (ChatStore *self, GError **error)
{
  g_autoptr (ChatStmt) stmt = NULL;
  gint64 rows = 0;

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);

  if (chat_wal_syncer_busy_us (self->syncer) > CHAT_STORE_SYNC_STALL_US)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                   "An fsync of the write-ahead log has not returned for %d s",
                   CHAT_STORE_SYNC_STALL_US / G_USEC_PER_SEC);
      return FALSE;
    }
  stmt = chat_store_prepare (self, "SELECT count(*) FROM meta", error);
  return stmt != NULL && chat_store_step_int (self, stmt, &rows, "Reading the database", error);
}

/* --- for the unit tests (chat-store-testing.h) ------------------------------------ */

guint64
chat_store_background_checkpoints (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->checkpointer != NULL ? chat_checkpointer_done (self->checkpointer, NULL) : 0;
}

guint64
chat_store_write_holds (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->holds;
}

int
chat_store_wal_frames (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->wal_frames;
}

guint64
chat_store_last_log_index (ChatStore *self)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), 0);
  return self->last_log_index;
}
