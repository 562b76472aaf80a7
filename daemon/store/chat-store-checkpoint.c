/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: WAL checkpoints on a thread and a connection of their own, off the main loop. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-connection.h"
#include "chat-error.h"
#include "chat-thread-priority.h"

struct _ChatCheckpointer
{
  sqlite3 *db; /* used by the thread only, once started */
  GThread *thread;
  GMutex lock;
  GCond wake;
  gboolean wanted;
  gboolean running; /* a checkpoint under way: it holds SQLite's checkpoint lock */
  gboolean stopping;
  guint64 done; /* checkpoints run: a hold of the writes ends with the one it asked for */
  int copied;   /* WAL frames that the last one found copied when it ended (0 if it failed) */
};

/* A PASSIVE checkpoint copies what it can from the WAL into the database (fsyncing the WAL
 * before and the database after) without taking the write lock, so the main connection
 * commits while it runs. The WAL restarts at the next commit once everything is copied.
 * Returns how many of the WAL's frames are copied. */
static int
checkpoint_once (ChatCheckpointer *self)
{
  int log_frames = 0, copied = 0;
  gint64 start = g_get_monotonic_time ();
  int rc
      = sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);

  if (rc != SQLITE_OK && rc != SQLITE_BUSY)
    g_warning ("Checkpointing the WAL: %s (SQLite code %d)", sqlite3_errmsg (self->db), rc);
  g_debug ("Checkpointed %d of %d WAL frames in %" G_GINT64_FORMAT " ms", copied, log_frames,
           (g_get_monotonic_time () - start) / 1000);
  return rc == SQLITE_OK ? copied : 0;
}

static gpointer
checkpoint_thread (gpointer data)
{
  ChatCheckpointer *self = data;
  int copied = 0;

  chat_thread_yield_priority ();
  g_mutex_lock (&self->lock);
  while (!self->stopping)
    {
      if (!self->wanted)
        {
          g_cond_wait (&self->wake, &self->lock);
          continue;
        }
      self->wanted = FALSE;
      self->running = TRUE;
      g_mutex_unlock (&self->lock);
      copied = checkpoint_once (self);
      g_mutex_lock (&self->lock);
      self->copied = copied;
      self->running = FALSE;
      self->done++;
    }
  g_mutex_unlock (&self->lock);
  return NULL;
}

ChatCheckpointer *
chat_checkpointer_start (const char *path, GError **error)
{
  ChatCheckpointer *self = g_new0 (ChatCheckpointer, 1);

  if (chat_store_db_open (path, SQLITE_OPEN_READWRITE, &self->db) != SQLITE_OK)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "Opening %s for checkpoints: %s", path,
                   self->db != NULL ? sqlite3_errmsg (self->db) : "out of memory");
      sqlite3_close (self->db);
      g_free (self);
      return NULL;
    }
  /* Never a checkpoint of its own accord (it writes nothing), and FULL: the database is
   * fsynced after the copy, before the WAL may be reused. */
  sqlite3_wal_autocheckpoint (self->db, 0);
  /* A first read opens the WAL, which a checkpoint needs. */
  if (sqlite3_exec (self->db, "PRAGMA synchronous = FULL; SELECT count(*) FROM sqlite_master", NULL,
                    NULL, NULL)
      != SQLITE_OK)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "Preparing %s for checkpoints: %s", path,
                   sqlite3_errmsg (self->db));
      sqlite3_close (self->db);
      g_free (self);
      return NULL;
    }
  g_mutex_init (&self->lock);
  g_cond_init (&self->wake);
  self->thread = g_thread_new ("chatd-checkpoint", checkpoint_thread, self);
  return self;
}

void
chat_checkpointer_request (ChatCheckpointer *self)
{
  g_mutex_lock (&self->lock);
  self->wanted = TRUE;
  g_cond_signal (&self->wake);
  g_mutex_unlock (&self->lock);
}

gboolean
chat_checkpointer_idle (ChatCheckpointer *self)
{
  gboolean idle = FALSE;

  g_mutex_lock (&self->lock);
  idle = !self->running && !self->wanted;
  g_mutex_unlock (&self->lock);
  return idle;
}

guint64
chat_checkpointer_done (ChatCheckpointer *self, int *copied)
{
  guint64 done = 0;

  g_mutex_lock (&self->lock);
  done = self->done;
  if (copied != NULL)
    *copied = self->copied;
  g_mutex_unlock (&self->lock);
  return done;
}

/* Waits for a checkpoint under way (a crash at any point of one is safe: SQLite recovers
 * from the WAL at the next open), then closes the connection. */
void
chat_checkpointer_stop (ChatCheckpointer *self)
{
  if (self == NULL)
    return;
  chat_store_thread_join (self->thread, &self->lock, &self->wake, &self->stopping);
  sqlite3_close (self->db);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->wake);
  g_free (self);
}
