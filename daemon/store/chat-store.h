/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: one server's SQLite database — the replicated log, the chat state, the replay
 * queue — over one connection (docs/storage.md, "The store's parts"). */
#pragma once

#include "chat-store-types.h"

#include "chat-store-log.h"
#include "chat-store-replay.h"
#include "chat-store-state.h"

G_BEGIN_DECLS

/* Opens (creating or migrating) state_dir/chatd.db: WAL, schema by PRAGMA user_version. */
ChatStore *chat_store_open (const char *state_dir, GError **error);
const char *chat_store_get_path (ChatStore *self);

/* Called in the main context of the store's opener when a requested sync is done: every
 * commit made before the request of `ticket` (and of every earlier ticket) is durable, or
 * error says why not (the server must stop: a failed fsync leaves the disk unknown). */
typedef void (*ChatStoreSyncedFunc) (guint64 ticket, gint64 duration_us, const GError *error,
                                     gpointer user_data);
void chat_store_set_synced_func (ChatStore *self, ChatStoreSyncedFunc func, gpointer user_data);
/* Asks the store's sync thread for an fsync of the WAL; returns the ticket it reports. */
guint64 chat_store_request_sync (ChatStore *self);

/* Whether the writes should wait (the main loop going on meanwhile): past the WAL's bound,
 * the checkpoint thread copies the WAL's last pages, and the next write, if none came in
 * between, starts it over. A hold ends when that checkpoint does, within half a second;
 * past twice the bound, when the disk has caught up. Writes that come anyway are safe;
 * the WAL then waits for the next hold (docs/storage.md, "The WAL's bound"). */
gboolean chat_store_writes_held (ChatStore *self);

/* One read transaction on the database: the health check that gates the service
 * watchdog, so that systemd restarts a server whose database SQLite cannot read. */
gboolean chat_store_probe (ChatStore *self, GError **error);

G_END_DECLS
