/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore's replicated log (the core's entries as they are) and its meta values. */
#pragma once

#include "chat-repl-types.h"
#include "chat-store-types.h"

G_BEGIN_DECLS

/* Durably (fsync before returning) removes entries with index >= truncate_from (0: none)
 * and appends entries (ChatReplEntry *), in one transaction. The store keeps each entry's
 * type as a number and does not interpret it. */
gboolean chat_store_append_log (ChatStore *self, guint64 truncate_from, GPtrArray *entries,
                                GError **error);
/* The same, without waiting for the disk: the entries are durable once a sync requested
 * after this call has completed (or once any durable write has returned). */
gboolean chat_store_append_log_unsynced (ChatStore *self, guint64 truncate_from, GPtrArray *entries,
                                         GError **error);
/* Entries with index >= from, ascending (ChatReplEntry *, as stored: a type the core does
 * not know comes back as it was written). */
GPtrArray *chat_store_load_log (ChatStore *self, guint64 from, GError **error);
/* Drops entries with index <= up_to (they are covered by a snapshot): this call records
 * the compaction, and while chat_store_compact_pending, each chat_store_compact_more
 * deletes for a bounded slice of time (~20 ms). Not fsynced (docs/storage.md). Entries
 * left below a snapshot's index are never loaded (the log is read from after it). */
gboolean chat_store_compact_log (ChatStore *self, guint64 up_to, GError **error);
gboolean chat_store_compact_pending (ChatStore *self);
gboolean chat_store_compact_more (ChatStore *self, GError **error);

/* Small durable key/value blobs: hard state, snapshot metadata, node identity. Keys that
 * start with "store." are the store's own. */
gboolean chat_store_set_meta (ChatStore *self, const char *key, GBytes *value, GError **error);
/* The same without an fsync: durable with the next fsynced commit (a log append), and a
 * power cut before it keeps the old value or the new one. */
gboolean chat_store_set_meta_unsynced (ChatStore *self, const char *key, GBytes *value,
                                       GError **error);
GBytes *chat_store_get_meta (ChatStore *self, const char *key);
gboolean chat_store_delete_meta (ChatStore *self, const char *key, GError **error);

G_END_DECLS
