/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshot images as files beside the database: written whole, then named (crash safe). */
#define G_LOG_DOMAIN "chatd-node"

#include "config.h"

#include "chat-snapshot-file.h"
#include "chat-error.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAPSHOT_PREFIX "snapshot-"
#define SNAPSHOT_SUFFIX ".img"
#define TEMP_SUFFIX ".tmp"

char *
chat_snapshot_file_name (guint64 index, guint64 serial)
{
  return g_strdup_printf (
      SNAPSHOT_PREFIX "%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT SNAPSHOT_SUFFIX, index, serial);
}

static gboolean
fail_errno (GError **error, const char *what, const char *path)
{
  int saved = errno;

  g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "%s %s: %s", what, path, g_strerror (saved));
  return FALSE;
}

/* An image goes to the disk 4 MiB at a time (sync_file_range), never all of it at once:
 * written back in one go by the final fsync, the image (hundreds of MB at a large state)
 * kept every fsync of the servers' logs on the same file system waiting behind it. */
#define WRITE_CHUNK (4 * 1024 * 1024)

/* Written from memory: each chunk's writeback starts at once, and the one before it is
 * waited for, so the page cache never holds more than two chunks of it dirty. */
static void
pace_chunk (int fd, gsize offset, gsize len)
{
#ifdef SYNC_FILE_RANGE_WRITE
  sync_file_range (fd, (off_t)offset, (off_t)len, SYNC_FILE_RANGE_WRITE);
  if (offset >= WRITE_CHUNK)
    sync_file_range (fd, (off_t)(offset - WRITE_CHUNK), WRITE_CHUNK,
                     SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE
                         | SYNC_FILE_RANGE_WAIT_AFTER);
#endif
}

/* Written already, the whole image dirty in the page cache (chat_snapshot_file_seal, on a
 * worker thread): each chunk is written back alone, and the disk then left alone for as
 * long as that took. Back to back, the chunks kept the disk busy with images whenever the
 * servers sealed theirs together (they snapshot at the same index), and their log fsyncs
 * waited behind them (docs/benchmarks.md, "The snapshot built in its file"). */
static void
write_back_chunk (int fd, gsize offset, gsize len)
{
#ifdef SYNC_FILE_RANGE_WRITE
  gint64 start = g_get_monotonic_time ();

  sync_file_range (fd, (off_t)offset, (off_t)len,
                   SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE
                       | SYNC_FILE_RANGE_WAIT_AFTER);
  g_usleep ((gulong)(g_get_monotonic_time () - start));
#endif
}

static gboolean
write_chunk (int fd, const guint8 *data, gsize size)
{
  while (size > 0)
    {
      ssize_t n = write (fd, data, size);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      size -= (gsize)n;
    }
  return TRUE;
}

static gboolean
write_all (int fd, const guint8 *data, gsize size)
{
  for (gsize offset = 0; offset < size; offset += WRITE_CHUNK)
    {
      gsize len = MIN (WRITE_CHUNK, size - offset);

      if (!write_chunk (fd, data + offset, len))
        return FALSE;
      pace_chunk (fd, offset, len);
    }
  return TRUE;
}

/* The bytes reach the disk before the rename names them. */
static gboolean
write_synced (const char *path, const guint8 *bytes, gsize size, GError **error)
{
  int fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  gboolean ok;

  if (fd < 0)
    return fail_errno (error, "Creating", path);
  ok = write_all (fd, bytes, size) && fsync (fd) == 0;
  if (!ok)
    fail_errno (error, "Writing", path);
  close (fd);
  return ok;
}

/* The same for a file written already: written back chunk by chunk (write_back_chunk),
 * then fsync. */
static gboolean
sync_written (const char *path, GError **error)
{
  int fd = g_open (path, O_RDWR | O_CLOEXEC, 0);
  struct stat st;
  gboolean ok;

  if (fd < 0)
    return fail_errno (error, "Opening", path);
  ok = fstat (fd, &st) == 0;
  for (gsize offset = 0; ok && offset < (gsize)st.st_size; offset += WRITE_CHUNK)
    write_back_chunk (fd, offset, MIN (WRITE_CHUNK, (gsize)st.st_size - offset));
  ok = ok && fsync (fd) == 0;
  if (!ok)
    fail_errno (error, "Syncing", path);
  close (fd);
  return ok;
}

static gboolean
sync_dir (const char *dir, GError **error)
{
  int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  gboolean ok;

  if (fd < 0)
    return fail_errno (error, "Opening", dir);
  ok = fsync (fd) == 0;
  if (!ok)
    fail_errno (error, "Syncing", dir);
  close (fd);
  return ok;
}

/* A serial no earlier file in dir uses: the clock, moved on past any taken name. */
static guint64
free_serial (const char *dir, guint64 index)
{
  guint64 serial = (guint64)MAX (g_get_real_time (), 1);

  for (;; serial++)
    {
      g_autofree char *name = chat_snapshot_file_name (index, serial);
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        return serial;
    }
}

/* Names the complete, synced file at temp DIR/snapshot-INDEX-SERIAL.img, then fsyncs DIR;
 * temp goes when that fails. */
static gboolean
name_image (const char *dir, const char *temp, guint64 index, guint64 *serial, GError **error)
{
  guint64 chosen = free_serial (dir, index);
  g_autofree char *name = chat_snapshot_file_name (index, chosen);
  g_autofree char *path = g_build_filename (dir, name, NULL);

  if (g_rename (temp, path) != 0)
    {
      fail_errno (error, "Renaming", temp);
      g_unlink (temp);
      return FALSE;
    }
  if (!sync_dir (dir, error))
    return FALSE;
  *serial = chosen;
  return TRUE;
}

gboolean
chat_snapshot_file_write (const char *dir, guint64 index, GBytes *data, guint64 *serial,
                          GError **error)
{
  gsize size = 0;
  const guint8 *bytes = g_bytes_get_data (data, &size);
  g_autofree char *temp = chat_snapshot_file_temp_path (dir);

  if (!write_synced (temp, bytes, size, error))
    {
      g_unlink (temp);
      return FALSE;
    }
  return name_image (dir, temp, index, serial, error);
}

char *
chat_snapshot_file_temp_path (const char *dir)
{
  g_autofree char *name
      = g_strdup_printf (SNAPSHOT_PREFIX "new-%" G_GINT64_FORMAT "-%u" SNAPSHOT_SUFFIX TEMP_SUFFIX,
                         g_get_real_time (), g_random_int ());

  return g_build_filename (dir, name, NULL);
}

gboolean
chat_snapshot_file_seal (const char *dir, const char *temp, guint64 index, guint64 *serial,
                         GError **error)
{
  if (!sync_written (temp, error))
    {
      g_unlink (temp);
      return FALSE;
    }
  return name_image (dir, temp, index, serial, error);
}

GBytes *
chat_snapshot_file_read (const char *dir, guint64 index, guint64 serial, GError **error)
{
  g_autofree char *name = chat_snapshot_file_name (index, serial);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GMappedFile) file = g_mapped_file_new (path, FALSE, error);

  if (file == NULL)
    {
      g_prefix_error (error, "Reading the snapshot: ");
      return NULL;
    }
  return g_mapped_file_get_bytes (file);
}

static gboolean
is_snapshot_file (const char *name)
{
  return g_str_has_prefix (name, SNAPSHOT_PREFIX)
         && (g_str_has_suffix (name, SNAPSHOT_SUFFIX)
             || g_str_has_suffix (name, SNAPSHOT_SUFFIX TEMP_SUFFIX));
}

void
chat_snapshot_file_clean (const char *dir, guint64 index, guint64 serial)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  g_autofree char *keep = serial != 0 ? chat_snapshot_file_name (index, serial) : NULL;
  const char *name;

  if (listing == NULL)
    return;
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = NULL;

      if (!is_snapshot_file (name) || g_strcmp0 (name, keep) == 0)
        continue;
      path = g_build_filename (dir, name, NULL);
      if (g_unlink (path) != 0)
        g_warning ("Cannot remove %s: %s", path, g_strerror (errno));
    }
}

static void
remove_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  const char *path = data;

  if (g_unlink (path) != 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", path, g_strerror (errno));
}

void
chat_snapshot_file_remove_later (const char *path)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, NULL, NULL);

  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, remove_in_thread);
}
