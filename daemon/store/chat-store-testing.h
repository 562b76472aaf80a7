/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the store's unit tests look at and nothing else uses: counters of the WAL's
 * checkpoints and length, and the log's last index. */
#pragma once

#include "chat-store.h"

G_BEGIN_DECLS

/* WAL checkpoints run by the store's checkpoint thread so far, and the ones of those the
 * writes waited for (chat_store_writes_held; docs/storage.md); the WAL's length in frames
 * after the last commit. */
guint64 chat_store_background_checkpoints (ChatStore *self);
guint64 chat_store_write_holds (ChatStore *self);
int chat_store_wal_frames (ChatStore *self);
/* The highest index in the log, or the compacted index when the log is empty. */
guint64 chat_store_last_log_index (ChatStore *self);

G_END_DECLS
