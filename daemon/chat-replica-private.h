/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica internals shared by its files: the object and its durable state on disk. */
#pragma once

#include "chat-peer.h"
#include "chat-replica.h"

G_BEGIN_DECLS

/* Meta keys of the replication state (the store's own keys start with "store."). */
#define CHAT_REPLICA_META_HARD_STATE "repl.hard_state" /* "term vote" */
#define CHAT_REPLICA_META_SNAPSHOT "repl.snapshot"     /* "index term isr" */
#define CHAT_REPLICA_META_SNAPSHOT_DATA "repl.snapshot_data"

typedef struct
{
  guint64 id;
  JsonObject *op;
  ChatReplicaDoneFunc done;
  gpointer user_data;
} ChatReplicaProposal;

struct _ChatReplica
{
  GObject parent_instance;

  ChatStore *store;
  const ChatConfig *config;
  guint node_id;
  gboolean primary;

  ChatRepl *repl;
  ChatReplUpdate update; /* accumulates the steps of one main-loop iteration */
  ChatPeers *peers;
  GSource *timer; /* ready time = the core's next wakeup */
  guint flush_source;
  gboolean started;
  gboolean serving; /* leader with an entry of its own term applied */
  guint64 snapshot_index;
  guint64 status_commit; /* commit index at the last status-changed */
  guint64 status_ms;     /* when status-changed was last emitted */

  GQueue replay;         /* GBytes: operations of a diverged history, to propose again */
  GHashTable *proposals; /* id -> ChatReplicaProposal */
  guint64 next_proposal_id;

  ChatReplicaAppliedFunc applied;
  GCallback status_changed;
  gpointer user_data;
};

/* chat-replica-disk.c */
gboolean chat_replica_disk_load (ChatReplica *self, ChatReplPersistedState *state, GError **error);
void chat_replica_disk_state_clear (ChatReplPersistedState *state);
/* Step 1 and 2 of an update: snapshot, hard state, truncation and entries, durably. */
gboolean chat_replica_disk_persist (ChatReplica *self, ChatReplUpdate *update, GError **error);

G_END_DECLS
