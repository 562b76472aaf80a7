/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica internals shared by its files: the object and its durable state on disk. */
#pragma once

#include "chat-disk-guard.h"

#include "chat-failover.h"
#include "chat-peer.h"
#include "chat-replica.h"

G_BEGIN_DECLS

/* Meta keys of the replication state (the store's own keys start with "store."). */
#define CHAT_REPLICA_META_HARD_STATE "repl.hard_state" /* "term vote" */
#define CHAT_REPLICA_META_SNAPSHOT "repl.snapshot"     /* "index term isr serial" */
/* Before snapshot files (chat-snapshot-file.h): the image itself, with "index term isr". */
#define CHAT_REPLICA_META_SNAPSHOT_DATA "repl.snapshot_data"
#define CHAT_REPLICA_META_INCARNATION "repl.incarnation" /* made once per store */
#define CHAT_REPLICA_META_CLUSTER "repl.cluster" /* made by the founder, adopted by the rest */
/* "1" while a new store copies its log from a leader (docs/replication.md, A13). */
#define CHAT_REPLICA_META_REBUILDING "repl.rebuilding"

typedef struct _ChatReplicaReplay ChatReplicaReplay;

/* Called exactly once per proposal: index and result on success (result belongs to the
 * replica), or error (CHAT_ERROR_NOT_LEADER, _UNAVAILABLE or _INTERNAL: not applied). */
typedef void (*ChatReplicaDoneFunc) (guint64 index, ChatApplyResult *result, const GError *error,
                                     gpointer user_data);

typedef struct
{
  guint64 id;
  JsonObject *op;
  GBytes *data; /* op as the log holds it: the same bytes the core's entry points to */
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
  ChatReplUpdate update;    /* accumulates the steps of one main-loop iteration */
  GPtrArray *apply_entries; /* ChatReplEntry *: committed, not applied yet, in log order */
  GArray *apply_results;    /* ChatReplProposalResult (OK) answered once their entry is */
  ChatPeers *peers;
  GSource *timer;       /* ready time = the core's next wakeup */
  guint stall_probe;    /* a 50 ms timer whose lateness is the main-loop stall metric */
  gint64 probe_last_us; /* when it last ran */
  guint flush_source;
  guint64 recorded_serial; /* file serial of the snapshot row just written (0: none) */
  guint flush_turn;        /* the kind of work the next flush looks at first (chat-replica.c) */
  gsize last_image_bytes;  /* size of the last snapshot image this server wrote */
  guint64 applied_bytes;   /* bytes of entries applied since the last snapshot began */
  gboolean started;
  gboolean serving; /* leader with an entry of its own term applied */
  guint64 snapshot_index;
  gboolean snapshot_running;  /* a worker thread is reading the state for a snapshot */
  guint64 state_generation;   /* bumped when an installed snapshot replaces the state */
  char *snapshot_file;        /* name of the saved snapshot's file (NULL: none) */
  GBytes *written_image;      /* a snapshot a worker already wrote to a file ... */
  guint64 written_index;      /* ... at this index ... */
  guint64 written_serial;     /* ... named by this serial */
  gboolean written_unoffered; /* and the core has not seen it yet (the store held writes) */
  guint64 cluster_id;         /* as saved in the store (0: none yet) */
  guint64 rebuilding;         /* as saved in the store (0: no, or a store from before A13) */
  guint64 status_commit;      /* commit index at the last status-changed */
  guint64 status_ms;          /* when status-changed was last emitted */
  ChatFailover failover;      /* who led before: each leader change is logged once */

  ChatReplicaReplay *replay; /* operations of a diverged history (chat-replica-replay.c) */
  GHashTable *proposals;     /* id -> ChatReplicaProposal */
  guint64 next_proposal_id;

  char **addresses; /* every server's "host:port", by node id - 1 */
  ChatTls *tls;     /* NULL: plaintext peer links */
  gboolean failed;  /* "failed" was emitted: nothing more is done */

  GArray *unsynced;          /* writes not yet fsynced, oldest first (chat-replica-sync.c) */
  GArray *held;              /* messages waiting for them, oldest first */
  ChatDiskGuard *disk_guard; /* free space of the state directory (chat-replica-space.c) */
};

/* chat-replica-space.c: below [limits] disk_reserve_bytes free, writes are refused with
 * "unavailable" and a leader hands over to an in-sync follower; they resume when space
 * returns. */
void chat_replica_space_start (ChatReplica *self);
void chat_replica_space_stop (ChatReplica *self);
gboolean chat_replica_space_refuses_writes (ChatReplica *self);

/* chat-replica-disk.c */
gboolean chat_replica_disk_load (ChatReplica *self, ChatReplPersistedState *state, GError **error);
void chat_replica_disk_state_clear (ChatReplPersistedState *state);
/* The directory of the store, where the snapshot files live. */
char *chat_replica_disk_dir (ChatReplica *self);
/* Removes the file of the image a worker wrote (written_image) that no saved snapshot
 * uses: the core turned it down, or an install replaced it. */
void chat_replica_disk_drop_written (ChatReplica *self);
/* This store's id (docs/replication.md, A12): made at random, and saved, the first time a
 * store is used, so that an emptied state directory shows as a new store to the peers. */
gboolean chat_replica_disk_incarnation (ChatReplica *self, guint64 *incarnation, GError **error);
/* Step 1 and 2 of an update, durably: the diverged operations (queued first), snapshot,
 * hard state, truncation and entries. */
gboolean chat_replica_disk_persist (ChatReplica *self, ChatReplUpdate *update, GError **error);
/* Step 2 for the term, vote and cluster id alone, and for truncation and entries alone;
 * synced: fsynced before they return. */
gboolean chat_replica_disk_save_hard_state (ChatReplica *self, ChatReplUpdate *update,
                                            gboolean synced, GError **error);
gboolean chat_replica_disk_append (ChatReplica *self, ChatReplUpdate *update, gboolean synced,
                                   GError **error);

/* chat-replica-sync.c: step 2 written without waiting for the disk and made durable by the
 * store's sync thread, with the messages that must not leave before it (docs/server.md,
 * "The log's fsync"). Tickets are the store's: a sync completes every earlier one. */
void chat_replica_sync_init (ChatReplica *self);
void chat_replica_sync_clear (ChatReplica *self);
/* Writes the update's hard state, truncation and entries unsynced; asks for a sync. */
gboolean chat_replica_sync_write (ChatReplica *self, ChatReplUpdate *update, GError **error);
/* Keeps messages (taking them) until the writes made before them are durable. */
void chat_replica_sync_hold (ChatReplica *self, GPtrArray *messages);
/* Messages are being held: later ones wait behind them, in order. */
gboolean chat_replica_sync_holding (ChatReplica *self);
/* The held messages that a sync up to ticket releases, oldest first (G_MAXUINT64: every
 * one, after a durable write, which makes the whole WAL durable). */
GPtrArray *chat_replica_sync_release (ChatReplica *self, guint64 ticket);
/* Forgets the writes a sync up to ticket made durable and returns TRUE when the core is to
 * hear PERSISTED, with the newest entry among them in index and term (0: none). FALSE, and
 * nothing forgotten, while a later hard state is not durable yet: PERSISTED says every
 * hard state handed out is. */
gboolean chat_replica_sync_take (ChatReplica *self, guint64 ticket, guint64 *index, guint64 *term);
/* Some write still waits for its sync. */
gboolean chat_replica_sync_waiting (ChatReplica *self);

/* What this server wrote or was about to write to the disk is unknown: emits "failed"
 * (the process is to stop, and a restart recovers from what the disk holds) and from then
 * on steps, flushes and applies nothing. The caller returns at once. */
void chat_replica_fail (ChatReplica *self, const char *what, const GError *error);

/* The proposal behind chat_replica_propose_async(), also used by the replay of a diverged
 * history. done runs exactly once: at once when the replica is not running or its disk is
 * full, else when the entry is applied or the proposal fails. */
void chat_replica_propose (ChatReplica *self, JsonObject *op, ChatReplicaDoneFunc done,
                           gpointer user_data);

/* Steps the core with event (stamped with the time), unless it is not running. */
void chat_replica_step (ChatReplica *self, ChatReplEvent *event);
/* Started, and no storage fault since. */
gboolean chat_replica_running (ChatReplica *self);

/* chat-replica-admin.c: the ChatClusterAdmin interface. */
void chat_replica_admin_init (ChatClusterAdminInterface *iface);

/* chat-replica-status.c: "host:port" of node (1-based), or NULL. */
const char *chat_replica_address_of (ChatReplica *self, guint node);
/* "127.0.0.1:5556, 127.0.0.1:5557": the servers of set, or NULL for an empty set. */
char *chat_replica_describe_set (ChatReplica *self, ChatReplNodeSet set);

/* chat-replica-journal.c: the core's notices of an update, and the leader tracking behind
 * the failover event, which the new leader logs once it serves (or a plain message when
 * it replaced nobody). */
void chat_replica_journal_update (ChatReplica *self, const ChatReplUpdate *u, guint64 now_ms);
void chat_replica_journal_serving (ChatReplica *self, guint64 index, guint64 now_ms);

/* chat-replica-replay.c: the diverged operations of a partition in available mode are
 * queued durably in the store and proposed again through the current leader, forwarded
 * to it over the peer link when this server does not lead (docs/partitions.md). */
ChatReplicaReplay *chat_replica_replay_new (void);
void chat_replica_replay_free (ChatReplicaReplay *replay);
/* At start: counts what an earlier run left queued. */
gboolean chat_replica_replay_load (ChatReplica *self, GError **error);
/* Queues the OP entries of update->diverged durably; called before the reset that
 * throws their history away is written. */
gboolean chat_replica_replay_queue (ChatReplica *self, GPtrArray *diverged, GError **error);
/* Proposes or forwards what is due; cheap when nothing is queued. */
void chat_replica_replay_pump (ChatReplica *self);
/* A peer line the core's codec does not know: TRUE when it was a forward or its answer. */
gboolean chat_replica_replay_handle_line (ChatReplica *self, guint from, const char *line,
                                          gsize len);
/* Stops the timers; pending local proposals are answered by chat_replica_stop. */
void chat_replica_replay_stop (ChatReplica *self);

G_END_DECLS
