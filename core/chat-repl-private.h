/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal state of the replication core, shared by its source files. */
#pragma once

#include "chat-repl.h"

G_BEGIN_DECLS

/* Rules the simulator may break on purpose to prove that its checkers catch the bug.
 * Only a build with CHAT_REPL_ENABLE_BREAK_RULES (the simulator's second core library)
 * can switch one on; the real core compiles every check to FALSE. */
typedef enum
{
  CHAT_REPL_BREAK_NONE,
  CHAT_REPL_BREAK_COMMIT_BEFORE_ISR,
  CHAT_REPL_BREAK_VOTE_NOT_UP_TO_DATE,
} ChatReplBreakRule;

#ifdef CHAT_REPL_ENABLE_BREAK_RULES
extern ChatReplBreakRule chat_repl_break_rule;
#define CHAT_REPL_BROKEN(rule) (chat_repl_break_rule == (rule))
#else
#define CHAT_REPL_BROKEN(rule) FALSE
#endif

typedef struct
{
  guint64 next_index;
  guint64 match_index;
  guint64 last_ack_ms;
  gboolean up;
  gboolean vote_answered;
  gboolean vote_granted;
  /* The grant came from a store that holds nothing of its own yet (A6, A13): last index 0. */
  gboolean vote_from_new_store;
  /* The grant vouches for our log (A6, chat_repl_vouches_for()). */
  gboolean vote_vouches;
  gboolean prevote_answered;
  gboolean prevote_granted;
  gboolean prevote_vouches;
  /* The image being sent (chat-repl-snapshot.c): kept until the follower has it, even when
   * a newer one comes, so that a transfer is not started over every snapshot interval. */
  gboolean sending_snapshot;
  guint64 snapshot_index;
  guint64 snapshot_term;
  ChatReplNodeSet snapshot_isr;
  GBytes *snapshot_data;
  guint64 snapshot_offset;   /* the next byte to send */
  guint64 snapshot_acked;    /* bytes the follower said it holds */
  guint64 snapshot_moved_ms; /* when snapshot_acked last grew (or the transfer began) */
  guint64 last_send_ms;
  gboolean emptied; /* a new incarnation: out of the in-sync set at once (A12) */
  /* Last index of each append with entries not yet acknowledged, oldest first; a
   * rejection, step-down or silence (peer down) forgets them. */
  guint64 in_flight[CHAT_REPL_MAX_APPENDS_IN_FLIGHT];
  guint n_in_flight;
} ChatReplPeer;

typedef struct
{
  guint64 proposal_id;
  guint64 index;
  guint64 term;
} ChatReplPending;

struct _ChatRepl
{
  ChatReplConfig config;
  guint64 now;
  guint64 rng;
  gboolean started;

  /* hard state */
  guint64 term;
  guint vote;
  gboolean hard_state_pending; /* handed out, no PERSISTED since */
  gboolean campaign_forced;    /* --primary bootstrap or force-leader: no votes needed */

  ChatReplRole role;
  guint leader;
  gboolean recovering;
  /* While recovering: the leader that talked to us again after we had said nothing to it
   * for about a failure timeout, when that is the only reason (0 otherwise). */
  guint unheard_by;
  /* The rejoin under way (A7 a): an id drawn when this process starts and again after a
   * stall of a failure timeout, never 0; how many were drawn. */
  guint64 rejoin_id;
  guint rejoins;
  /* Hard state (A13): this store started empty and has not caught up under a leader yet.
   * The sets in its log were copied from a leader as they were then, so they say nothing
   * of what it may do now: it is neither a member nor a last survivor by them. */
  gboolean rebuilding;
  /* An empty server learned that a cluster exists (a leader, or a voter with a history):
   * it no longer runs for the bootstrap of a new one. */
  gboolean cluster_known;
  guint64 vote_resend_due; /* bootstrap campaign: ask the silent servers again */
  guint64 cluster_id;      /* hard state: the cluster this store belongs to (0: none) */

  /* When each peer was last heard from (any message), for the reason a server waits;
   * what was last said about that in a notice; peers of another cluster already named. */
  guint64 peer_heard[CHAT_REPL_MAX_NODES + 1];
  /* When we last sent each peer anything: a leader times our silence from our last
   * answer, not from our last step (C13). */
  guint64 peer_told[CHAT_REPL_MAX_NODES + 1];
  ChatReplWait wait_noticed;
  ChatReplNodeSet wait_noticed_set;
  guint64 foreign_noticed[CHAT_REPL_MAX_NODES + 1];

  /* log: entry i (index) is log->pdata[i - snapshot_index - 1] */
  GPtrArray *log;
  guint64 snapshot_index;
  guint64 snapshot_term;
  ChatReplNodeSet snapshot_isr;
  GBytes *snapshot_data;
  /* The newest image of the state machine held for lagging followers: the snapshot, or a
   * newer one that may not compact the log yet (chat-repl-heal.c). Committed state only. */
  guint64 image_index;
  guint64 image_term;
  ChatReplNodeSet image_isr;
  GBytes *image_data;
  guint64 commit;
  guint64 applied;
  guint64 persisted;

  /* entries up to here are on a majority of the servers, and on all (chat-repl-heal.c) */
  guint64 majority_index;
  guint64 everywhere_index;

  /* latest in-sync set in the log (or the snapshot's), and where it is */
  ChatReplNodeSet isr;
  guint64 isr_index;

  ChatReplPeer peers[CHAT_REPL_MAX_NODES + 1];
  /* Each peer's store as its messages name it, and the one it replaced (A12). */
  guint64 peer_incarnation[CHAT_REPL_MAX_NODES + 1];
  guint64 peer_retired[CHAT_REPL_MAX_NODES + 1];
  /* Each peer's rejoin as its latest message names it, echoed in our appends (A7 a). */
  guint64 peer_rejoin[CHAT_REPL_MAX_NODES + 1];

  /* timers (absolute ms) */
  guint64 election_deadline;
  guint64 heartbeat_due;
  guint64 campaign_start;
  guint64 leader_contact;
  guint64 quorum_check_due;
  guint64 suppress_until;
  guint64 wakeup_due; /* the TICK time we asked the host for */

  /* pre-vote round (C11): the term we would run for (0: none), and when it began */
  guint64 prevote_term;
  guint64 prevote_start;

  /* follower: highest index known to equal the current leader's log; the highest commit
   * index of that leader's appends that answer our rejoin and name us in its set (A7 a) */
  guint64 leader_match;
  guint64 rejoin_commit;

  /* leader */
  guint64 first_index_of_term;
  guint64 leader_since;
  guint64 held_addition; /* an in-sync set addition not yet on our disk: not sent (A11) */
  GArray *pending;       /* ChatReplPending, by index */
  guint transfer_target;
  guint64 transfer_deadline;

  /* follower: incoming snapshot */
  GByteArray *snap_in;
  guint64 snap_in_index;
  guint64 snap_in_term;
  ChatReplNodeSet snap_in_isr;
  guint64 snap_in_leader_term;
  gboolean snap_in_waiting; /* installed, answer once persisted */
  guint snap_in_from;

  ChatReplUpdate *u; /* the update of the current step */
};

/* chat-repl.c */
guint64 chat_repl_random_range (ChatRepl *repl, guint64 lo, guint64 hi);
void chat_repl_notice (ChatRepl *repl, ChatReplNoticeType type, guint node, guint64 index,
                       ChatReplNodeSet set);
void chat_repl_send (ChatRepl *repl, ChatReplMessage *message);
void chat_repl_set_hard_state (ChatRepl *repl, guint64 term, guint vote);
void chat_repl_adopt_cluster (ChatRepl *repl, const ChatReplMessage *msg);
void chat_repl_rebuilt (ChatRepl *repl);
gboolean chat_repl_set_is_own (ChatRepl *repl);
void chat_repl_begin_rejoin (ChatRepl *repl);
void chat_repl_reset_election_timer (ChatRepl *repl);
void chat_repl_become_follower (ChatRepl *repl, guint64 term, guint leader);
void chat_repl_fail_pending (ChatRepl *repl);
ChatReplNodeSet chat_repl_all_nodes (ChatRepl *repl);

/* chat-repl-log.c */
guint64 chat_repl_last_index (ChatRepl *repl);
guint64 chat_repl_last_term (ChatRepl *repl);
/* The term at index, or G_MAXUINT64 when unknown (compacted or past the end). */
guint64 chat_repl_term_at (ChatRepl *repl, guint64 index);
ChatReplEntry *chat_repl_log_get (ChatRepl *repl, guint64 index);
void chat_repl_log_append (ChatRepl *repl, ChatReplEntry *entry);
guint64 chat_repl_log_append_new (ChatRepl *repl, ChatReplEntryType type, GBytes *data);
void chat_repl_log_truncate (ChatRepl *repl, guint64 from);
void chat_repl_log_compact (ChatRepl *repl, guint64 upto);
void chat_repl_log_reset (ChatRepl *repl, guint64 index, guint64 term, ChatReplNodeSet isr);
ChatReplNodeSet chat_repl_isr_at (ChatRepl *repl, guint64 index);
void chat_repl_refresh_isr (ChatRepl *repl);
gboolean chat_repl_log_up_to_date (ChatRepl *repl, guint64 last_term, guint64 last_index);
void chat_repl_apply_committed (ChatRepl *repl);

/* chat-repl-election.c */
gboolean chat_repl_bootstrapping (ChatRepl *repl);
void chat_repl_candidate_tick (ChatRepl *repl);
gboolean chat_repl_can_campaign (ChatRepl *repl);
void chat_repl_campaign (ChatRepl *repl, gboolean transfer, gboolean forced);
void chat_repl_check_election (ChatRepl *repl);
void chat_repl_become_leader (ChatRepl *repl, ChatReplNodeSet down);
void chat_repl_handle_vote_request (ChatRepl *repl, const ChatReplMessage *msg);
void chat_repl_handle_vote_response (ChatRepl *repl, const ChatReplMessage *msg);
void chat_repl_handle_timeout_now (ChatRepl *repl, const ChatReplMessage *msg);
gboolean chat_repl_heard_from_leader (ChatRepl *repl);
gboolean chat_repl_needs_every_vote (ChatRepl *repl);
gboolean chat_repl_vouched (ChatRepl *repl, gboolean prevote);
gboolean chat_repl_vouches_for (ChatRepl *repl, guint candidate);
gboolean chat_repl_silent_since (ChatRepl *repl, guint id, guint64 since);
void chat_repl_found_cluster (ChatRepl *repl);
ChatReplWait chat_repl_waiting (ChatRepl *repl, ChatReplNodeSet *silent);
void chat_repl_notice_waiting (ChatRepl *repl);
void chat_repl_admin (ChatRepl *repl, const ChatReplEvent *event);

/* chat-repl-prevote.c */
void chat_repl_pre_vote_start (ChatRepl *repl);
void chat_repl_pre_vote_check (ChatRepl *repl);
void chat_repl_pre_vote_cancel (ChatRepl *repl);
void chat_repl_handle_pre_vote_request (ChatRepl *repl, const ChatReplMessage *msg);
void chat_repl_handle_pre_vote_response (ChatRepl *repl, const ChatReplMessage *msg);

/* chat-repl-replicate.c */
void chat_repl_send_append (ChatRepl *repl, guint peer);
/* An append without entries: does the follower's log match ours before next_index? */
void chat_repl_send_probe (ChatRepl *repl, guint peer);
void chat_repl_forget_in_flight (ChatReplPeer *p);
void chat_repl_broadcast_append (ChatRepl *repl);
void chat_repl_handle_append (ChatRepl *repl, const ChatReplMessage *msg);
void chat_repl_handle_append_response (ChatRepl *repl, const ChatReplMessage *msg);
void chat_repl_advance_commit (ChatRepl *repl);
void chat_repl_persisted (ChatRepl *repl, guint64 index, guint64 term);
void chat_repl_propose (ChatRepl *repl, guint64 proposal_id, GBytes *data);
void chat_repl_ack_leader (ChatRepl *repl);
void chat_repl_leader_tick (ChatRepl *repl);

/* chat-repl-isr.c */
gboolean chat_repl_isr_check_incarnation (ChatRepl *repl, const ChatReplMessage *msg);
void chat_repl_isr_tick (ChatRepl *repl);
void chat_repl_isr_heard_leader (ChatRepl *repl, const ChatReplMessage *append);
void chat_repl_isr_check_rejoined (ChatRepl *repl);
ChatReplNodeSet chat_repl_isr_initial (ChatRepl *repl, ChatReplNodeSet presumed_down);
void chat_repl_isr_append (ChatRepl *repl, ChatReplNodeSet set);
gboolean chat_repl_isr_membership_settled (ChatRepl *repl);
guint64 chat_repl_isr_sendable_last (ChatRepl *repl);
void chat_repl_isr_persisted (ChatRepl *repl);

/* chat-repl-snapshot.c */
void chat_repl_take_snapshot (ChatRepl *repl, guint64 index, GBytes *data);
void chat_repl_image_from_snapshot (ChatRepl *repl);
gboolean chat_repl_snapshot_needed (ChatRepl *repl, guint peer);
gboolean chat_repl_snapshot_cheaper (ChatRepl *repl, guint peer, guint64 from);
void chat_repl_send_snapshot_chunks (ChatRepl *repl, guint peer);
void chat_repl_snapshot_stop (ChatReplPeer *p);
void chat_repl_handle_snapshot (ChatRepl *repl, const ChatReplMessage *msg);
void chat_repl_handle_snapshot_response (ChatRepl *repl, const ChatReplMessage *msg);
void chat_repl_snapshot_persisted (ChatRepl *repl, guint64 index);
void chat_repl_diverge (ChatRepl *repl, guint64 from, guint winner);

/* chat-repl-heal.c: which side wins after a partition in available mode */
gboolean chat_repl_heal_outranks (ChatRepl *repl, const ChatReplMessage *msg);
gboolean chat_repl_heal_may_compact (ChatRepl *repl, guint64 index);
guint64 chat_repl_heal_unsafe_from (ChatRepl *repl);
void chat_repl_heal_truncating (ChatRepl *repl, guint64 from);
guint64 chat_repl_heal_majority_index (ChatRepl *repl);
gboolean chat_repl_heal_yields (ChatRepl *repl, const ChatReplMessage *msg);
gboolean chat_repl_heal_must_wait (ChatRepl *repl);
void chat_repl_heal_follow_leader (ChatRepl *repl, const ChatReplMessage *append);
guint64 chat_repl_heal_everywhere_index (ChatRepl *repl);
guint64 chat_repl_heal_reject_hint (ChatRepl *repl, guint64 prev);
gboolean chat_repl_heal_lacks_history (ChatRepl *repl, const ChatReplMessage *msg);
void chat_repl_heal_yield (ChatRepl *repl, guint follower);

G_END_DECLS
