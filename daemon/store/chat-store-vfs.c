/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A SQLite VFS over the default one that writes a transaction's WAL frames in a few large
 * writes instead of two small ones per page. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-vfs.h"

#include <sqlite3.h>
#include <string.h>

/* SQLite writes each WAL frame as two writes: its 24-byte header, then the page. A batch
 * of messages dirties a few hundred index pages, so a commit cost several hundred pwrite
 * calls, which were a fifth of the main loop's time (docs/benchmarks.md). Frames that
 * follow each other are gathered here and written at once:
 * - when the page of the frame that commits the transaction has been gathered (its
 *   header's second word, the database's size after the commit, is not zero), so the
 *   commit is in the file before SQLite publishes it to other connections and before
 *   the store's sync thread fsyncs the file, and a failed write fails that commit;
 * - before any other use of the file (a read, a sync, a truncation, its size, closing),
 *   and before a write elsewhere in the file;
 * - at once for a frame header that starts no run (below);
 * - when the gathered bytes would pass CHAT_STORE_VFS_BATCH_BYTES, the most the default
 *   VFS writes in one call (its unix write masks the length to 17 bits, 0x1ffff, and a
 *   longer write comes back short, which it reports as SQLITE_FULL).
 * Only frames of the transaction under way wait here, which no other connection reads
 * (they read up to the last commit), so a crash loses nothing that was committed. */
#define CHAT_STORE_VFS_NAME "chatd-wal-batch"
#define CHAT_STORE_VFS_BATCH_BYTES 0x1ffff
#define WAL_FRAME_HEADER_BYTES 24

typedef struct
{
  sqlite3_file base; /* first: SQLite sees this */
  sqlite3_io_methods methods;
  sqlite3_file *real;
  guint8 *pending;
  gsize pending_len;
  sqlite3_int64 pending_offset;
  gboolean commit_page_next; /* the last write was the header of a commit frame */
} BatchFile;

static sqlite3_vfs batch_vfs;
static sqlite3_vfs *real_vfs;
static gint flush_count;

#define REAL(file) (((BatchFile *)(file))->real)

static int
flush (BatchFile *self)
{
  int rc = SQLITE_OK;

  if (self->pending_len == 0)
    return SQLITE_OK;
  rc = self->real->pMethods->xWrite (self->real, self->pending, (int)self->pending_len,
                                     self->pending_offset);
  self->pending_len = 0;
  g_atomic_int_inc (&flush_count);
  return rc;
}

static gboolean
is_commit_header (const void *data, int amount)
{
  const guint8 *bytes = data;

  return amount == WAL_FRAME_HEADER_BYTES && (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
}

static int
batch_write (sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset)
{
  BatchFile *self = (BatchFile *)file;
  gboolean ends_commit = self->commit_page_next;
  int rc = SQLITE_OK;

  if (self->pending_len > 0
      && (offset != self->pending_offset + (sqlite3_int64)self->pending_len
          || self->pending_len + (gsize)amount > CHAT_STORE_VFS_BATCH_BYTES))
    if ((rc = flush (self)) != SQLITE_OK)
      return rc;
  self->commit_page_next = is_commit_header (data, amount);
  /* A frame header that starts no run is written at once: it may be one that SQLite
   * rewrites with new checksums after the commit frame (a transaction that spilled pages
   * before its commit), which no page follows and nothing else would write out. */
  if ((gsize)amount > CHAT_STORE_VFS_BATCH_BYTES
      || (amount == WAL_FRAME_HEADER_BYTES && self->pending_len == 0))
    return self->real->pMethods->xWrite (self->real, data, amount, offset);
  if (self->pending_len == 0)
    self->pending_offset = offset;
  memcpy (self->pending + self->pending_len, data, (gsize)amount);
  self->pending_len += (gsize)amount;
  return ends_commit ? flush (self) : SQLITE_OK;
}

static int
batch_close (sqlite3_file *file)
{
  BatchFile *self = (BatchFile *)file;
  int rc = flush (self);
  int close_rc = self->real->pMethods->xClose (self->real);

  g_free (self->pending);
  self->pending = NULL;
  return rc != SQLITE_OK ? rc : close_rc;
}

static int
batch_read (sqlite3_file *file, void *data, int amount, sqlite3_int64 offset)
{
  int rc = flush ((BatchFile *)file);

  return rc != SQLITE_OK ? rc : REAL (file)->pMethods->xRead (REAL (file), data, amount, offset);
}

static int
batch_truncate (sqlite3_file *file, sqlite3_int64 size)
{
  int rc = flush ((BatchFile *)file);

  return rc != SQLITE_OK ? rc : REAL (file)->pMethods->xTruncate (REAL (file), size);
}

static int
batch_sync (sqlite3_file *file, int flags)
{
  int rc = flush ((BatchFile *)file);

  return rc != SQLITE_OK ? rc : REAL (file)->pMethods->xSync (REAL (file), flags);
}

static int
batch_file_size (sqlite3_file *file, sqlite3_int64 *size)
{
  int rc = flush ((BatchFile *)file);

  return rc != SQLITE_OK ? rc : REAL (file)->pMethods->xFileSize (REAL (file), size);
}

static int
batch_file_control (sqlite3_file *file, int op, void *arg)
{
  int rc = flush ((BatchFile *)file);

  return rc != SQLITE_OK ? rc : REAL (file)->pMethods->xFileControl (REAL (file), op, arg);
}

static int
batch_fetch (sqlite3_file *file, sqlite3_int64 offset, int amount, void **out)
{
  int rc = flush ((BatchFile *)file);

  return rc != SQLITE_OK ? rc : REAL (file)->pMethods->xFetch (REAL (file), offset, amount, out);
}

/* The rest touch no bytes of the file: passed through. */

static int
batch_lock (sqlite3_file *file, int level)
{
  return REAL (file)->pMethods->xLock (REAL (file), level);
}

static int
batch_unlock (sqlite3_file *file, int level)
{
  return REAL (file)->pMethods->xUnlock (REAL (file), level);
}

static int
batch_check_reserved_lock (sqlite3_file *file, int *out)
{
  return REAL (file)->pMethods->xCheckReservedLock (REAL (file), out);
}

static int
batch_sector_size (sqlite3_file *file)
{
  return REAL (file)->pMethods->xSectorSize (REAL (file));
}

static int
batch_device_characteristics (sqlite3_file *file)
{
  return REAL (file)->pMethods->xDeviceCharacteristics (REAL (file));
}

static int
batch_shm_map (sqlite3_file *file, int region, int size, int extend, void volatile **out)
{
  return REAL (file)->pMethods->xShmMap (REAL (file), region, size, extend, out);
}

static int
batch_shm_lock (sqlite3_file *file, int offset, int n, int flags)
{
  return REAL (file)->pMethods->xShmLock (REAL (file), offset, n, flags);
}

static void
batch_shm_barrier (sqlite3_file *file)
{
  REAL (file)->pMethods->xShmBarrier (REAL (file));
}

static int
batch_shm_unmap (sqlite3_file *file, int delete_flag)
{
  return REAL (file)->pMethods->xShmUnmap (REAL (file), delete_flag);
}

static int
batch_unfetch (sqlite3_file *file, sqlite3_int64 offset, void *page)
{
  return REAL (file)->pMethods->xUnfetch (REAL (file), offset, page);
}

static const sqlite3_io_methods batch_methods = {
  .iVersion = 3,
  .xClose = batch_close,
  .xRead = batch_read,
  .xWrite = batch_write,
  .xTruncate = batch_truncate,
  .xSync = batch_sync,
  .xFileSize = batch_file_size,
  .xLock = batch_lock,
  .xUnlock = batch_unlock,
  .xCheckReservedLock = batch_check_reserved_lock,
  .xFileControl = batch_file_control,
  .xSectorSize = batch_sector_size,
  .xDeviceCharacteristics = batch_device_characteristics,
  .xShmMap = batch_shm_map,
  .xShmLock = batch_shm_lock,
  .xShmBarrier = batch_shm_barrier,
  .xShmUnmap = batch_shm_unmap,
  .xFetch = batch_fetch,
  .xUnfetch = batch_unfetch,
};

/* The real file lives right after ours in the memory SQLite gives xOpen (szOsFile). */
static int
batch_open (sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
  BatchFile *self = (BatchFile *)file;
  int rc = SQLITE_OK;

  if ((flags & SQLITE_OPEN_WAL) == 0)
    return real_vfs->xOpen (real_vfs, name, file, flags, out_flags);
  memset (self, 0, sizeof *self);
  self->real = (sqlite3_file *)(self + 1);
  rc = real_vfs->xOpen (real_vfs, name, self->real, flags, out_flags);
  if (rc != SQLITE_OK)
    return rc; /* base.pMethods stays NULL: SQLite does not close what did not open */
  if (self->real->pMethods->iVersion < 3)
    {
      self->real->pMethods->xClose (self->real);
      return SQLITE_CANTOPEN;
    }
  self->pending = g_malloc (CHAT_STORE_VFS_BATCH_BYTES);
  self->base.pMethods = &batch_methods;
  return SQLITE_OK;
}

static gpointer
register_vfs (gpointer data)
{
  /* Before SQLite initializes (the lookup below does): without the memory statistics,
   * which nothing here reads, each of SQLite's allocations and frees no longer takes a
   * process-wide mutex. Too late only where SQLite was used first, as tests may. */
  sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0);
  real_vfs = sqlite3_vfs_find (NULL);
  batch_vfs = *real_vfs;
  batch_vfs.zName = CHAT_STORE_VFS_NAME;
  batch_vfs.szOsFile = (int)(sizeof (BatchFile) + (gsize)real_vfs->szOsFile);
  batch_vfs.pNext = NULL;
  batch_vfs.xOpen = batch_open;
  if (sqlite3_vfs_register (&batch_vfs, 0) != SQLITE_OK)
    g_error ("Registering the SQLite VFS “%s” failed", CHAT_STORE_VFS_NAME);
  return NULL;
}

const char *
chat_store_vfs_name (void)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, register_vfs, NULL);
  return CHAT_STORE_VFS_NAME;
}

guint
chat_store_vfs_flushes (void)
{
  return (guint)g_atomic_int_get (&flush_count);
}
