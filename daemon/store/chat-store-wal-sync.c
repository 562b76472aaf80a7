/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: fsyncs of the WAL on a thread of their own, so the main loop never waits on
 * the disk for the log's appends. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-connection.h"
#include "chat-error.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <unistd.h>

/* Why an fsync of our own is enough (docs/storage.md, "The log's fsync"): a commit in WAL
 * mode writes its frames to the -wal file before it returns, and fdatasync() flushes a
 * file's data whichever descriptor wrote it. A power cut keeps a prefix of the WAL's
 * commits, so everything committed before the fsync began is durable when it returns. */
struct _ChatWalSyncer
{
  gint refs; /* the store's, and one per completion on its way to the main loop */
  int wal_fd;
  GThread *thread;
  GMainContext *context;
  GMutex lock;
  GCond wake;
  guint64 requested; /* the newest ticket handed out */
  guint64 synced;    /* every commit before this ticket's request is durable */
  gint64 busy_since; /* monotonic start of the fsync under way, 0 when none */
  gboolean stopping;
  gboolean failed; /* no fsync runs after a failed one: the server stops */
  /* Main thread only; cleared by stop, so completions still on their way do nothing. */
  ChatStoreSyncedFunc func;
  gpointer user_data;
};

typedef struct
{
  ChatWalSyncer *syncer;
  guint64 ticket;
  gint64 duration_us;
  GError *error;
} SyncDone;

static void
syncer_unref (ChatWalSyncer *self)
{
  if (!g_atomic_int_dec_and_test (&self->refs))
    return;
  if (self->wal_fd >= 0)
    close (self->wal_fd);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->wake);
  g_free (self);
}

static void
sync_done_free (SyncDone *done)
{
  g_clear_error (&done->error);
  syncer_unref (done->syncer);
  g_free (done);
}

static gboolean
deliver_in_loop (gpointer data)
{
  SyncDone *done = data;
  ChatWalSyncer *self = done->syncer;

  if (self->func != NULL)
    self->func (done->ticket, done->duration_us, done->error, self->user_data);
  return G_SOURCE_REMOVE;
}

static void
post_done (ChatWalSyncer *self, guint64 ticket, gint64 duration_us, GError *error)
{
  SyncDone *done = g_new0 (SyncDone, 1);
  g_autoptr (GSource) source = NULL;

  g_atomic_int_inc (&self->refs);
  done->syncer = self;
  done->ticket = ticket;
  done->duration_us = duration_us;
  done->error = error;
  /* A source, not g_main_context_invoke(): that would run the callback right here, in
   * this thread, whenever nobody happens to own the context. */
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_name (source, "[chatd] WAL synced");
  g_source_set_callback (source, deliver_in_loop, done, (GDestroyNotify)sync_done_free);
  g_source_attach (source, self->context);
}

/* One fsync, covering every ticket handed out before it began. Called unlocked. */
static void
sync_once (ChatWalSyncer *self, guint64 ticket)
{
  gint64 start = g_get_monotonic_time ();
  int rc = fdatasync (self->wal_fd);
  int saved_errno = errno;
  GError *error = NULL;

  if (rc != 0)
    error = g_error_new (G_IO_ERROR, g_io_error_from_errno (saved_errno),
                         "Syncing the write-ahead log: %s", g_strerror (saved_errno));
  g_mutex_lock (&self->lock);
  self->busy_since = 0;
  if (error == NULL)
    self->synced = ticket;
  else
    self->failed = TRUE;
  g_mutex_unlock (&self->lock);
  post_done (self, ticket, g_get_monotonic_time () - start, error);
}

static gpointer
sync_thread (gpointer data)
{
  ChatWalSyncer *self = data;

  g_mutex_lock (&self->lock);
  while (!self->stopping)
    {
      guint64 ticket = self->requested;

      if (self->failed || ticket == self->synced)
        {
          g_cond_wait (&self->wake, &self->lock);
          continue;
        }
      self->busy_since = g_get_monotonic_time ();
      g_mutex_unlock (&self->lock);
      sync_once (self, ticket);
      g_mutex_lock (&self->lock);
    }
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* The -wal file's name in its directory is made durable once, as SQLite would at the
 * first fsync of a journal it created. */
static gboolean
sync_directory (const char *db_path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (db_path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved_errno = 0;

  if (fd >= 0 && fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved_errno = errno;
  if (fd >= 0)
    close (fd);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "Syncing %s: %s", dir,
               g_strerror (saved_errno));
  return FALSE;
}

/* The store's connections keep the WAL open (SQLite deletes it only when the last one
 * closes), so the file opened here stays the one SQLite writes. */
ChatWalSyncer *
chat_wal_syncer_start (const char *db_path, GError **error)
{
  g_autofree char *wal_path = g_strconcat (db_path, "-wal", NULL);
  int fd = open (wal_path, O_RDONLY | O_CLOEXEC);
  ChatWalSyncer *self = NULL;

  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "Opening %s: %s",
                   wal_path, g_strerror (saved_errno));
      return NULL;
    }
  if (!sync_directory (db_path, error))
    {
      close (fd);
      return NULL;
    }
  self = g_new0 (ChatWalSyncer, 1);
  self->refs = 1;
  self->wal_fd = fd;
  self->context = g_main_context_ref_thread_default ();
  g_mutex_init (&self->lock);
  g_cond_init (&self->wake);
  self->thread = g_thread_new ("chatd-wal-sync", sync_thread, self);
  return self;
}

void
chat_wal_syncer_set_func (ChatWalSyncer *self, ChatStoreSyncedFunc func, gpointer user_data)
{
  self->func = func;
  self->user_data = user_data;
}

guint64
chat_wal_syncer_request (ChatWalSyncer *self)
{
  guint64 ticket = 0;

  g_mutex_lock (&self->lock);
  ticket = ++self->requested;
  g_mutex_unlock (&self->lock);
  /* After the unlock: woken under it, the thread at once blocked again on the lock that
   * this thread still held, two more trips through the kernel per sync. It reads
   * requested under the lock before it waits, so no request goes unseen. */
  g_cond_signal (&self->wake);
  return ticket;
}

gint64
chat_wal_syncer_busy_us (ChatWalSyncer *self)
{
  gint64 since = 0;

  g_mutex_lock (&self->lock);
  since = self->busy_since;
  g_mutex_unlock (&self->lock);
  return since != 0 ? g_get_monotonic_time () - since : 0;
}

/* Waits for an fsync under way: the store closes its connection after this. */
void
chat_wal_syncer_stop (ChatWalSyncer *self)
{
  if (self == NULL)
    return;
  chat_store_thread_join (self->thread, &self->lock, &self->wake, &self->stopping);
  self->func = NULL;
  syncer_unref (self);
}
