/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: the WAL's length of each open store, for the threads that read the same
 * database through connections of their own (the snapshot worker). */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-connection.h"

struct _ChatWalGauge
{
  char *path;
  gint frames; /* after the store's last commit; atomic */
};

static GMutex gauges_lock;
static GHashTable *gauges; /* path -> ChatWalGauge *, not owned */

ChatWalGauge *
chat_wal_gauge_new (const char *path)
{
  ChatWalGauge *self = g_new0 (ChatWalGauge, 1);

  self->path = g_strdup (path);
  g_mutex_lock (&gauges_lock);
  if (gauges == NULL)
    gauges = g_hash_table_new (g_str_hash, g_str_equal);
  /* Replace, not insert: a store opened again on the same path while the old one still
   * closes takes the key as well as the value. Insert kept the old store's string as the
   * key, which that store then freed, and every later lookup read freed memory. */
  g_hash_table_replace (gauges, self->path, self);
  g_mutex_unlock (&gauges_lock);
  return self;
}

void
chat_wal_gauge_free (ChatWalGauge *self)
{
  if (self == NULL)
    return;
  g_mutex_lock (&gauges_lock);
  if (g_hash_table_lookup (gauges, self->path) == self)
    g_hash_table_remove (gauges, self->path);
  g_mutex_unlock (&gauges_lock);
  g_free (self->path);
  g_free (self);
}

void
chat_wal_gauge_set (ChatWalGauge *self, int frames)
{
  g_atomic_int_set (&self->frames, frames);
}

int
chat_wal_gauge_frames (const char *path)
{
  ChatWalGauge *gauge = NULL;
  int frames = -1;

  g_mutex_lock (&gauges_lock);
  if (gauges != NULL && (gauge = g_hash_table_lookup (gauges, path)) != NULL)
    frames = g_atomic_int_get (&gauge->frames);
  g_mutex_unlock (&gauges_lock);
  return frames;
}
