/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The replication core: a pure state machine driven by chat_repl_step() (see docs/replication.md).
 */
#pragma once

#include <glib.h>

#include "chat-repl-types.h"

G_BEGIN_DECLS

typedef enum
{
  CHAT_REPL_MODE_AVAILABLE,
  CHAT_REPL_MODE_QUORUM,
} ChatReplMode;

typedef enum
{
  CHAT_REPL_ROLE_FOLLOWER,
  CHAT_REPL_ROLE_CANDIDATE,
  CHAT_REPL_ROLE_LEADER,
} ChatReplRole;

typedef struct
{
  guint node_id; /* 1..n_nodes */
  guint n_nodes; /* 1..CHAT_REPL_MAX_NODES */
  ChatReplMode mode;
  gboolean primary; /* may lead the first term of a fresh cluster at once */
  guint heartbeat_ms;
  guint election_timeout_min_ms;
  guint election_timeout_max_ms;
  guint failure_timeout_ms;
  gsize snapshot_chunk_bytes;
  /* Chunks of a snapshot sent before an answer
   * (pipelining), 1..CHAT_REPL_MAX_SNAPSHOT_CHUNKS_IN_FLIGHT. */
  guint snapshot_chunks_in_flight;
  /* A follower that lacks more log bytes, up to the index of the newest image this leader
   * holds, than this percentage of the image's size gets the image instead of those
   * entries (0: only when its next entry is compacted away). See docs/replication.md, C8. */
  guint snapshot_over_log_percent;
  guint max_append_entries;
  gsize max_append_bytes;
  /* A follower more than one append behind gets bigger ones, and up to
   * catch_up_appends_in_flight of them before an answer (pipelining). */
  guint catch_up_append_entries;
  gsize catch_up_append_bytes;
  guint catch_up_appends_in_flight; /* 1..CHAT_REPL_MAX_APPENDS_IN_FLIGHT */
  /* The host's store: a random id made when its disk was created empty (0: none). Every
   * message carries it, so that a leader sees a peer that lost its disk (docs/replication.md,
   * A12). */
  guint64 incarnation;
  /* Available mode: a snapshot compacts only what every server holds, so that the losing
   * side of a partition can replay its operations; once more than this many entries wait
   * for a server, it compacts what a majority holds (0: no bound). */
  guint64 max_retained_entries;
  guint64 seed; /* the only source of randomness (election timeouts) */
} ChatReplConfig;

/* Defaults: available mode, the timeouts of common/chat-defaults.h (heartbeat 100 ms,
 * election 300-600 ms, failure 400 ms, as config.ini), snapshot chunks of 256 KiB, 4 in
 * flight, the image instead of the log from 100 % of its size; appends of at most 256
 * entries and 256 KiB; catching up, appends of at most 1024 entries and
 * 512 KiB, 2 in flight; 100,000 retained entries. */
void chat_repl_config_init (ChatReplConfig *config, guint node_id, guint n_nodes);

/* What the host loaded from its disk at start. entries follow the snapshot, in order. */
typedef struct
{
  guint64 term;
  guint vote;
  guint64 snapshot_index;
  guint64 snapshot_term;
  ChatReplNodeSet snapshot_isr;
  GBytes *snapshot_data;
  GPtrArray *entries;    /* ChatReplEntry *, may be NULL */
  guint64 applied_index; /* durable applied index of the host's state machine */
  /* The cluster this store belongs to: made by the server that founded it, learned from
   * the first leader a server follows, kept with the hard state (0: none yet, A8). */
  guint64 cluster_id;
  /* Hard state: this store started empty and has not yet caught up under a leader (A13).
   * A host that keeps no such flag passes FALSE; an empty store is rebuilding anyway. */
  gboolean rebuilding;
} ChatReplPersistedState;

typedef enum
{
  CHAT_REPL_EVENT_TICK,
  CHAT_REPL_EVENT_MESSAGE,
  CHAT_REPL_EVENT_PERSISTED,
  CHAT_REPL_EVENT_SNAPSHOT_PERSISTED,
  CHAT_REPL_EVENT_PROPOSE,
  CHAT_REPL_EVENT_ADMIN,
} ChatReplEventType;

typedef enum
{
  CHAT_REPL_ADMIN_STEP_DOWN,
  CHAT_REPL_ADMIN_TRANSFER,
  CHAT_REPL_ADMIN_FORCE_LEADER,
  CHAT_REPL_ADMIN_SNAPSHOT,
} ChatReplAdminOp;

/* Every event carries the host's monotonic time in ms.
 *  MESSAGE            message
 *  PERSISTED          index, term: the log up to this entry (index 0: none) and every hard
 *                     state handed out so far are durable; send it after every write,
 *                     also one of a hard state alone (a candidate leads only once its
 *                     new term is durable)
 *  SNAPSHOT_PERSISTED index: the snapshot of that index is durable
 *  PROPOSE            proposal_id, data (the operation)
 *  ADMIN              admin; target (TRANSFER); index + data (SNAPSHOT: the host's state
 *                     machine at applied index `index`, serialized) */
typedef struct
{
  ChatReplEventType type;
  guint64 now_ms;
  const ChatReplMessage *message;
  guint64 index;
  guint64 term;
  guint64 proposal_id;
  GBytes *data;
  ChatReplAdminOp admin;
  guint target;
} ChatReplEvent;

typedef enum
{
  CHAT_REPL_RESULT_OK,
  CHAT_REPL_RESULT_NOT_LEADER,
  CHAT_REPL_RESULT_UNAVAILABLE,
} ChatReplResultCode;

typedef struct
{
  guint64 proposal_id;
  ChatReplResultCode code;
  guint64 index; /* OK: the committed index */
  guint leader;  /* NOT_LEADER: the known leader, or 0 */
} ChatReplProposalResult;

typedef enum
{
  CHAT_REPL_NOTICE_ELECTION_STARTED,
  CHAT_REPL_NOTICE_LEADER_ELECTED,
  CHAT_REPL_NOTICE_STEPPED_DOWN,
  CHAT_REPL_NOTICE_PEER_DOWN,
  CHAT_REPL_NOTICE_PEER_UP,
  CHAT_REPL_NOTICE_IN_SYNC_CHANGED,
  CHAT_REPL_NOTICE_REJOIN_STARTED,
  CHAT_REPL_NOTICE_REJOIN_DONE,
  CHAT_REPL_NOTICE_SNAPSHOT_SENT,
  CHAT_REPL_NOTICE_SNAPSHOT_INSTALLED,
  CHAT_REPL_NOTICE_FORCED_LEADER,
  CHAT_REPL_NOTICE_TRANSFER_STARTED,
  CHAT_REPL_NOTICE_WAITING_FOR_IN_SYNC,
  CHAT_REPL_NOTICE_DIVERGED,
  CHAT_REPL_NOTICE_PEER_EMPTIED,
  CHAT_REPL_NOTICE_WAITING_TO_FOUND,
  CHAT_REPL_NOTICE_CLUSTER_EXISTS,
  CHAT_REPL_NOTICE_FOREIGN_CLUSTER,
} ChatReplNoticeType;

/* A cluster event for the host's log (journal fields CHATD_EVENT, CHATD_TERM, CHATD_PEER). */
typedef struct
{
  ChatReplNoticeType type;
  guint64 term;
  guint node;          /* the peer concerned, or the leader */
  guint64 index;       /* snapshot index, ... */
  ChatReplNodeSet set; /* IN_SYNC_CHANGED, WAITING_FOR_IN_SYNC, WAITING_TO_FOUND */
} ChatReplNotice;

/* install with index 0 and empty data: reset the state machine and the log to empty (see
 * ChatReplUpdate.diverged). */
typedef struct
{
  guint64 index;
  guint64 term;
  ChatReplNodeSet isr;
  GBytes *data;
  gboolean install; /* TRUE: received from the leader, replaces the state machine */
} ChatReplSnapshot;

/* The host handles an update in this order:
 *  1. snapshot: persist it (install: replace the state machine and drop the whole log;
 *     otherwise drop log entries <= snapshot->index), then SNAPSHOT_PERSISTED;
 *  2. hard state (when hard_state_changed), truncate_from (drop entries >= it, 0 = none),
 *     entries: write them; durability is reported later with PERSISTED (group commit);
 *  3. messages: send them once every hard state and snapshot handed out so far is durable
 *     (when none is waiting for the disk they may go at once, before the entries are);
 *  4. committed: apply in order; 5. results: answer the proposals; 6. notices: log them;
 *  7. diverged: operations this server had committed that a leader of a higher term does
 *     not have (only after a network partition in available mode); the log and state
 *     machine restart from empty (a snapshot install of index 0) and the host should
 *     propose these operations again: they carry their client ids, so replay is idempotent.
 * Fields accumulate over several chat_repl_step() calls until the host clears the update. */
typedef struct
{
  gboolean hard_state_changed;
  guint64 term;
  guint vote;
  guint64 cluster_id;  /* part of the hard state: persist it with term and vote */
  gboolean rebuilding; /* part of the hard state too (A13) */
  guint64 truncate_from;
  GPtrArray *entries; /* ChatReplEntry * */
  ChatReplSnapshot *snapshot;
  GPtrArray *messages;  /* ChatReplMessage * */
  GPtrArray *committed; /* ChatReplEntry * */
  GArray *results;      /* ChatReplProposalResult */
  GArray *notices;      /* ChatReplNotice */
  GPtrArray *diverged;  /* ChatReplEntry * (OP entries) */
  gboolean role_changed;
  ChatReplRole role;
  guint leader;
  guint64 next_wakeup_ms; /* send a TICK at or after this time */
} ChatReplUpdate;

void chat_repl_update_init (ChatReplUpdate *update);
void chat_repl_update_clear (ChatReplUpdate *update);
gboolean chat_repl_update_is_empty (const ChatReplUpdate *update);

typedef enum
{
  CHAT_REPL_WAIT_NONE,
  CHAT_REPL_WAIT_FOUND,   /* empty: a new cluster needs every server up, linked and empty */
  CHAT_REPL_WAIT_CLUSTER, /* empty: the others belong to a cluster; waiting for its leader */
  CHAT_REPL_WAIT_IN_SYNC, /* needs the vote of every member of its in-sync set (A6) */
} ChatReplWait;

typedef struct
{
  guint node;
  guint64 match_index;
  guint64 next_index;
  guint64 lag; /* leader's last index - match index */
  guint64 last_contact_ms;
  gboolean up;
  gboolean in_sync;
  gboolean sending_snapshot;
} ChatReplPeerStatus;

typedef struct
{
  guint node_id;
  ChatReplMode mode;
  ChatReplRole role;
  guint64 term;
  guint leader;
  guint64 commit_index;
  guint64 applied_index;
  guint64 last_index;
  guint64 persisted_index;
  guint64 snapshot_index;
  ChatReplNodeSet in_sync;
  gboolean recovering;
  gboolean rebuilding; /* a new store, not yet caught up under a leader (A13) */
  guint64 cluster_id;  /* 0: this server belongs to no cluster yet */
  /* Why this server can neither lead nor follow anyone yet, and for whom it waits
   * (servers silent for the failure timeout). */
  ChatReplWait waiting;
  ChatReplNodeSet waiting_for;
  guint n_peers;
  ChatReplPeerStatus peers[CHAT_REPL_MAX_NODES]; /* every other node, by id */
} ChatReplStatus;

typedef struct _ChatRepl ChatRepl;

/* state may be NULL for an empty disk. Returns NULL when config is invalid. */
ChatRepl *chat_repl_new (const ChatReplConfig *config, const ChatReplPersistedState *state);
void chat_repl_free (ChatRepl *repl);

/* The single entry point. Appends what the host must do to update; returns TRUE when
 * update is not empty. */
gboolean chat_repl_step (ChatRepl *repl, const ChatReplEvent *event, ChatReplUpdate *update);

void chat_repl_get_status (ChatRepl *repl, ChatReplStatus *status);
ChatReplRole chat_repl_get_role (ChatRepl *repl);
guint64 chat_repl_get_term (ChatRepl *repl);
guint chat_repl_get_leader (ChatRepl *repl);
/* An entry still in the in-memory log, or NULL (compacted, or past the end). */
const ChatReplEntry *chat_repl_get_entry (ChatRepl *repl, guint64 index);

const char *chat_repl_mode_to_string (ChatReplMode mode);
const char *chat_repl_notice_to_string (ChatReplNoticeType type);
/* "counter.node", e.g. "3.2"; returns buf. */
char *chat_repl_term_format (guint64 term, char *buf, gsize size);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatRepl, chat_repl_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ChatReplUpdate, chat_repl_update_clear)

G_END_DECLS
