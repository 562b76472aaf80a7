/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore's replay queue: operations of a diverged history waiting for the leader.
 *
 * After a network partition in available mode, the operations this server had committed
 * that the winning leader does not have (ChatReplUpdate.diverged) wait in the table
 * `replay` until that leader has committed them (docs/partitions.md). Rows are kept in
 * the order they were added; an op is the log entry's payload (compact JSON), stored as
 * is. */
#pragma once

#include "chat-store-types.h"

G_BEGIN_DECLS

typedef struct
{
  gint64 id; /* the row's id: ascending in the order ops were added */
  GBytes *op;
} ChatReplayOp;

void chat_replay_op_free (ChatReplayOp *op);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatReplayOp, chat_replay_op_free)

/* Durably (fsync before returning) appends ops (GBytes *) in one transaction. An op
 * already queued byte for byte is not added again (a crash between queueing and the
 * reset that follows makes the same history diverge twice). added (may be NULL) gets
 * how many rows were added. */
gboolean chat_store_add_replay (ChatStore *self, GPtrArray *ops, guint *added, GError **error);
/* The `limit` oldest queued ops (ChatReplayOp *), oldest first. */
GPtrArray *chat_store_list_replay (ChatStore *self, guint limit, GError **error);
/* Removes the rows with these ids (gint64) in one transaction; ids already gone are
 * ignored. Not fsynced: a removal lost in a power cut only replays an op again, and
 * replay is idempotent. */
gboolean chat_store_delete_replay (ChatStore *self, GArray *ids, GError **error);
/* How many ops are queued. */
guint64 chat_store_count_replay (ChatStore *self, GError **error);

G_END_DECLS
