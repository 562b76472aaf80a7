/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Watches the free space of the state directory's file system against a reserve. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-disk-guard.h"

#include <sys/statvfs.h>

struct _ChatDiskGuard
{
  char *path;
  guint64 reserve;
  ChatDiskGuardFunc func;
  gpointer user_data;
  guint timer;
  gboolean full;
};

guint64
chat_disk_space_available (const char *path)
{
  struct statvfs info;

  if (statvfs (path, &info) != 0)
    return G_MAXUINT64;
  return (guint64)info.f_bavail * (guint64)info.f_frsize;
}

/* Full below the reserve; not full again before twice the reserve, so a server at the
 * edge does not flap between refusing and taking writes. */
static void
check (ChatDiskGuard *self)
{
  guint64 available = chat_disk_space_available (self->path);
  gboolean full = self->full ? available < 2 * self->reserve : available < self->reserve;

  if (full == self->full)
    return;
  self->full = full;
  if (self->func != NULL)
    self->func (full, available, self->user_data);
}

static gboolean
on_timer (gpointer user_data)
{
  check (user_data);
  return G_SOURCE_CONTINUE;
}

ChatDiskGuard *
chat_disk_guard_new (const char *path, guint64 reserve_bytes, ChatDiskGuardFunc func,
                     gpointer user_data)
{
  ChatDiskGuard *self = g_new0 (ChatDiskGuard, 1);

  self->path = g_strdup (path);
  self->reserve = reserve_bytes;
  self->func = func;
  self->user_data = user_data;
  self->timer = g_timeout_add (CHAT_DISK_GUARD_INTERVAL_MS, on_timer, self);
  check (self);
  return self;
}

void
chat_disk_guard_free (ChatDiskGuard *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->timer, g_source_remove);
  g_free (self->path);
  g_free (self);
}

gboolean
chat_disk_guard_is_full (ChatDiskGuard *self)
{
  if (self == NULL)
    return FALSE;
  /* One statvfs per proposal costs microseconds next to the fsync that follows, and
   * leaves no window in which a disk another program filled takes a write. */
  check (self);
  return self->full;
}
