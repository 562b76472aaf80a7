/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The replication core's entry point: construction, chat_repl_step() dispatch and status. */
#include "chat-repl-private.h"

#include "chat-defaults.h"

#ifdef CHAT_REPL_ENABLE_BREAK_RULES
ChatReplBreakRule chat_repl_break_rule = CHAT_REPL_BREAK_NONE;
#endif

void
chat_repl_config_init (ChatReplConfig *config, guint node_id, guint n_nodes)
{
  *config = (ChatReplConfig){
    .node_id = node_id,
    .n_nodes = n_nodes,
    .mode = CHAT_REPL_MODE_AVAILABLE,
    .heartbeat_ms = CHAT_DEFAULT_HEARTBEAT_MS,
    .election_timeout_min_ms = CHAT_DEFAULT_ELECTION_TIMEOUT_MIN_MS,
    .election_timeout_max_ms = CHAT_DEFAULT_ELECTION_TIMEOUT_MAX_MS,
    .failure_timeout_ms = CHAT_DEFAULT_FAILURE_TIMEOUT_MS,
    .snapshot_chunk_bytes = 256 * 1024,
    .snapshot_chunks_in_flight = 4,
    .snapshot_over_log_percent = 100,
    .max_append_entries = 256,
    .max_append_bytes = 256 * 1024,
    .catch_up_append_entries = 1024,
    .catch_up_append_bytes = 512 * 1024,
    .catch_up_appends_in_flight = 2,
    .max_retained_entries = 100000,
    .seed = node_id,
  };
}

static gboolean
config_valid (const ChatReplConfig *c)
{
  return c->n_nodes >= 1 && c->n_nodes <= CHAT_REPL_MAX_NODES && c->node_id >= 1
         && c->node_id <= c->n_nodes && c->heartbeat_ms > 0
         && c->election_timeout_min_ms > c->heartbeat_ms
         && c->election_timeout_max_ms >= c->election_timeout_min_ms
         && c->failure_timeout_ms > c->heartbeat_ms && c->snapshot_chunk_bytes > 0
         && c->snapshot_chunks_in_flight >= 1
         && c->snapshot_chunks_in_flight <= CHAT_REPL_MAX_SNAPSHOT_CHUNKS_IN_FLIGHT
         && c->max_append_entries > 0 && c->max_append_bytes > 0
         && c->catch_up_append_entries >= c->max_append_entries
         && c->catch_up_append_bytes >= c->max_append_bytes && c->catch_up_appends_in_flight >= 1
         && c->catch_up_appends_in_flight <= CHAT_REPL_MAX_APPENDS_IN_FLIGHT;
}

/* The finalizer of splitmix64. */
static guint64
mix64 (guint64 z)
{
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* splitmix64: deterministic, seeded by the host, good enough for timeouts. */
guint64
chat_repl_random_range (ChatRepl *repl, guint64 lo, guint64 hi)
{
  guint64 z = mix64 (repl->rng += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  if (hi <= lo)
    return lo;
  return lo + z % (hi - lo + 1);
}

ChatReplNodeSet
chat_repl_all_nodes (ChatRepl *repl)
{
  guint n = repl->config.n_nodes;

  return n >= 64 ? G_MAXUINT64 : (CHAT_REPL_NODE_BIT (n) << 1) - 1;
}

static void
load_state (ChatRepl *repl, const ChatReplPersistedState *state)
{
  repl->term = state->term;
  repl->vote = state->vote;
  repl->snapshot_index = state->snapshot_index;
  /* only what they hold is compacted (chat-repl-heal.c) */
  repl->majority_index = state->snapshot_index;
  repl->everywhere_index = state->snapshot_index;
  repl->snapshot_term = state->snapshot_term;
  repl->snapshot_isr = state->snapshot_isr;
  if (state->snapshot_data != NULL)
    repl->snapshot_data = g_bytes_ref (state->snapshot_data);
  chat_repl_image_from_snapshot (repl);
  for (guint i = 0; state->entries != NULL && i < state->entries->len; i++)
    {
      ChatReplEntry *e = g_ptr_array_index (state->entries, i);

      /* A host that hands over a gap or an older entry gets a shorter log, never a
       * corrupt one: stop at the first entry that does not follow. */
      if (e->index != chat_repl_last_index (repl) + 1)
        break;
      g_ptr_array_add (repl->log, chat_repl_entry_ref (e));
    }
  repl->cluster_id = state->cluster_id;
  repl->persisted = chat_repl_last_index (repl);
  repl->applied = MAX (state->snapshot_index, MIN (state->applied_index, repl->persisted));
  repl->commit = repl->applied;
}

ChatRepl *
chat_repl_new (const ChatReplConfig *config, const ChatReplPersistedState *state)
{
  ChatRepl *repl;

  g_return_val_if_fail (config != NULL, NULL);
  if (!config_valid (config))
    return NULL;

  repl = g_new0 (ChatRepl, 1);
  repl->config = *config;
  repl->rng = config->seed ^ (G_GUINT64_CONSTANT (0x5851f42d4c957f2d) * config->node_id);
  repl->log = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  repl->pending = g_array_new (FALSE, FALSE, sizeof (ChatReplPending));
  if (state != NULL)
    load_state (repl, state);
  chat_repl_refresh_isr (repl);
  /* Every start with a history is a restart: such a server may hold less than the
   * others acknowledged while it was down, so it may not lead on its own. */
  repl->recovering = config->mode == CHAT_REPL_MODE_AVAILABLE
                     && (chat_repl_last_index (repl) > 0 || repl->term > 0);
  /* A new store (a fresh cluster, or a lost disk) copies its log from a leader (A13). */
  repl->rebuilding = config->mode == CHAT_REPL_MODE_AVAILABLE
                     && (state == NULL || state->rebuilding
                         || (chat_repl_last_index (repl) == 0 && repl->term == 0));
  return repl;
}

void
chat_repl_free (ChatRepl *repl)
{
  if (repl == NULL)
    return;
  g_ptr_array_unref (repl->log);
  g_array_unref (repl->pending);
  g_clear_pointer (&repl->snapshot_data, g_bytes_unref);
  g_clear_pointer (&repl->image_data, g_bytes_unref);
  g_clear_pointer (&repl->snap_in, g_byte_array_unref);
  for (guint id = 0; id <= CHAT_REPL_MAX_NODES; id++)
    chat_repl_snapshot_stop (&repl->peers[id]);
  g_free (repl);
}

void
chat_repl_update_init (ChatReplUpdate *u)
{
  *u = (ChatReplUpdate){ 0 };
  u->entries = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  u->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  u->committed = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  u->results = g_array_new (FALSE, FALSE, sizeof (ChatReplProposalResult));
  u->notices = g_array_new (FALSE, FALSE, sizeof (ChatReplNotice));
  u->diverged = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
}

static void
snapshot_free (ChatReplSnapshot *snap)
{
  g_bytes_unref (snap->data);
  g_free (snap);
}

void
chat_repl_update_clear (ChatReplUpdate *u)
{
  g_clear_pointer (&u->entries, g_ptr_array_unref);
  g_clear_pointer (&u->messages, g_ptr_array_unref);
  g_clear_pointer (&u->committed, g_ptr_array_unref);
  g_clear_pointer (&u->results, g_array_unref);
  g_clear_pointer (&u->notices, g_array_unref);
  g_clear_pointer (&u->diverged, g_ptr_array_unref);
  g_clear_pointer (&u->snapshot, snapshot_free);
}

gboolean
chat_repl_update_is_empty (const ChatReplUpdate *u)
{
  return !u->hard_state_changed && u->truncate_from == 0 && u->entries->len == 0
         && u->snapshot == NULL && u->messages->len == 0 && u->committed->len == 0
         && u->results->len == 0 && u->notices->len == 0 && u->diverged->len == 0
         && !u->role_changed;
}

void
chat_repl_notice (ChatRepl *repl, ChatReplNoticeType type, guint node, guint64 index,
                  ChatReplNodeSet set)
{
  ChatReplNotice n = { type, repl->term, node, index, set };

  g_array_append_val (repl->u->notices, n);
}

/* Takes ownership of message. */
void
chat_repl_send (ChatRepl *repl, ChatReplMessage *message)
{
  message->incarnation = repl->config.incarnation;
  message->cluster = repl->cluster_id;
  /* A restarted server's set is from before its crash, a new store's a copy: not a side to
   * weigh (chat-repl-heal.c). */
  message->isr = chat_repl_set_is_own (repl) ? repl->isr : 0;
  message->rejoin = chat_repl_set_is_own (repl) ? 0 : repl->rejoin_id;
  if (message->to <= repl->config.n_nodes)
    repl->peer_told[message->to] = repl->now;
  g_ptr_array_add (repl->u->messages, message);
}

/* Some hard state changed: the update carries all of it, durable before messages leave. */
static void
hard_state_touched (ChatRepl *repl)
{
  repl->hard_state_pending = TRUE;
  repl->u->hard_state_changed = TRUE;
  repl->u->term = repl->term;
  repl->u->vote = repl->vote;
}

void
chat_repl_set_hard_state (ChatRepl *repl, guint64 term, guint vote)
{
  if (term == repl->term && vote == repl->vote)
    return;
  repl->term = term;
  repl->vote = vote;
  hard_state_touched (repl);
}

/* A server that belongs to no cluster yet joins the one of the first leader it follows
 * (an append or a snapshot it accepts). The id is hard state: durable before the answer
 * leaves, so that a crash cannot make it forget the cluster it acknowledged entries of. */
void
chat_repl_adopt_cluster (ChatRepl *repl, const ChatReplMessage *msg)
{
  if (repl->cluster_id != 0 || msg->cluster == 0)
    return;
  repl->cluster_id = msg->cluster;
  repl->cluster_known = TRUE;
  hard_state_touched (repl);
}

/* A13: a new store has caught up under a leader (or leads itself): from now on the sets in
 * its log are its own. Hard state, so that a restart in the middle of the copy does not
 * take a copied set for its own. */
void
chat_repl_rebuilt (ChatRepl *repl)
{
  if (!repl->rebuilding)
    return;
  repl->rebuilding = FALSE;
  hard_state_touched (repl);
}

/* Whether the latest set in this server's log says what it may do now: not after a restart
 * (A7, the set is from before the crash) nor in a new store (A13, the set was copied). */
gboolean
chat_repl_set_is_own (ChatRepl *repl)
{
  return !repl->recovering && !repl->rebuilding;
}

/* A7 a: from now on only appends sent after the leader heard this rejoin's id end it.
 * Whatever was sent to us before (a starved host finds it queued when it runs again) may
 * come from a leader that had removed us, or was about to, for the silence that began it.
 * The id differs per process (the host's seed) and per rejoin within one; drawn apart from
 * the timeouts' generator, so that those stay as they were. 63 bits: JSON integers. */
void
chat_repl_begin_rejoin (ChatRepl *repl)
{
  guint64 id = mix64 (repl->config.seed ^ mix64 (repl->now ^ ((guint64)++repl->rejoins << 40)));

  repl->rejoin_id = MAX (id & (guint64)G_MAXINT64, 1);
  repl->rejoin_commit = 0;
}

void
chat_repl_reset_election_timer (ChatRepl *repl)
{
  const ChatReplConfig *c = &repl->config;

  repl->election_deadline
      = repl->now
        + chat_repl_random_range (repl, c->election_timeout_min_ms, c->election_timeout_max_ms);
}

void
chat_repl_fail_pending (ChatRepl *repl)
{
  for (guint i = 0; i < repl->pending->len; i++)
    {
      ChatReplPending *p = &g_array_index (repl->pending, ChatReplPending, i);
      ChatReplProposalResult r = { p->proposal_id, CHAT_REPL_RESULT_NOT_LEADER, 0, repl->leader };

      g_array_append_val (repl->u->results, r);
    }
  g_array_set_size (repl->pending, 0);
}

void
chat_repl_become_follower (ChatRepl *repl, guint64 term, guint leader)
{
  gboolean was_leader = repl->role == CHAT_REPL_ROLE_LEADER;
  gboolean new_term = term > repl->term;

  if (new_term)
    chat_repl_set_hard_state (repl, term, 0);
  /* What we know matches a leader's log holds for its term only: the same server leading
   * a later term may have replaced those entries (seen once pre-vote let a follower go
   * straight from one term of a leader to its next). */
  if (leader != repl->leader || new_term)
    {
      repl->leader_match = 0;
      repl->rejoin_commit = 0;
      /* A new leader's clock of our silence starts at its election, no later than now. */
      if (leader != 0)
        repl->peer_told[leader] = MAX (repl->peer_told[leader], repl->now);
    }
  repl->role = CHAT_REPL_ROLE_FOLLOWER;
  repl->leader = leader;
  repl->transfer_target = 0;
  repl->held_addition = 0;
  chat_repl_pre_vote_cancel (repl);
  if (was_leader)
    {
      chat_repl_notice (repl, CHAT_REPL_NOTICE_STEPPED_DOWN, leader, 0, 0);
      chat_repl_fail_pending (repl);
    }
  chat_repl_reset_election_timer (repl);
}

static void
start (ChatRepl *repl)
{
  repl->started = TRUE;
  chat_repl_begin_rejoin (repl);
  chat_repl_reset_election_timer (repl);
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    repl->peer_heard[id] = repl->now;
  if (repl->recovering)
    chat_repl_notice (repl, CHAT_REPL_NOTICE_REJOIN_STARTED, 0, chat_repl_last_index (repl),
                      repl->isr);
  /* --primary on an empty disk: run for the very first term at once (it still needs the
   * votes of the empty servers that answer, A8). A cluster of one server has nobody to
   * wait for either. */
  if ((repl->config.primary && repl->term == 0 && chat_repl_last_index (repl) == 0)
      || repl->config.n_nodes == 1)
    chat_repl_campaign (repl, FALSE, FALSE);
}

static void
tick (ChatRepl *repl)
{
  if (repl->role == CHAT_REPL_ROLE_LEADER)
    {
      chat_repl_leader_tick (repl);
      return;
    }
  if (repl->role == CHAT_REPL_ROLE_CANDIDATE)
    {
      chat_repl_check_election (repl);
      chat_repl_candidate_tick (repl);
    }
  chat_repl_notice_waiting (repl);
  chat_repl_pre_vote_check (repl);
  if (repl->role != CHAT_REPL_ROLE_LEADER && repl->now >= repl->election_deadline)
    {
      if (chat_repl_can_campaign (repl))
        chat_repl_pre_vote_start (repl);
      else
        {
          if (repl->role == CHAT_REPL_ROLE_CANDIDATE)
            chat_repl_become_follower (repl, repl->term, 0);
          chat_repl_reset_election_timer (repl);
        }
    }
}

/* A server of another cluster (its store was made by another bootstrap) is not a peer:
 * nothing it says counts. Named once per peer and cluster. */
static gboolean
foreign (ChatRepl *repl, const ChatReplMessage *msg)
{
  if (msg->cluster == 0 || repl->cluster_id == 0 || msg->cluster == repl->cluster_id)
    return FALSE;
  if (repl->foreign_noticed[msg->from] != msg->cluster)
    {
      repl->foreign_noticed[msg->from] = msg->cluster;
      chat_repl_notice (repl, CHAT_REPL_NOTICE_FOREIGN_CLUSTER, msg->from, msg->cluster, 0);
    }
  return TRUE;
}

/* Silent for a failure timeout, we were crashed for the others (A2, A5): as after a restart,
 * we may not lead on our own before we have synced (A7). Also when we were recovering
 * already: appends queued meanwhile may answer the rejoin we had, from a leader that
 * removed us since. */
static void
begin_recovery (ChatRepl *repl, guint why)
{
  chat_repl_begin_rejoin (repl);
  if (repl->recovering && repl->unheard_by != why)
    repl->unheard_by = 0;
  if (repl->recovering || chat_repl_last_index (repl) == 0)
    return;
  repl->recovering = TRUE;
  repl->unheard_by = why == repl->config.node_id ? 0 : why;
  /* why: ourselves for "starved", our leader for "unheard by it"; a restart names nobody */
  chat_repl_notice (repl, CHAT_REPL_NOTICE_REJOIN_STARTED, why, chat_repl_last_index (repl),
                    repl->isr);
}

/* Whether the leader we follow may have heard nothing from us for a failure timeout, and
 * so dropped us from the set (A2) and committed without us. It times our silence from the
 * arrival of our last answer, and that answer can have left up to a heartbeat before our
 * last step: so a stall a little short of a failure timeout, timed from our last step, can
 * already be one to the leader (C13). We time it from our last message to the leader, less
 * a heartbeat for the difference of two network delays. */
static gboolean
leader_may_have_dropped_us (ChatRepl *repl)
{
  const ChatReplConfig *c = &repl->config;
  guint64 margin = MIN (c->heartbeat_ms, c->failure_timeout_ms);

  return c->mode == CHAT_REPL_MODE_AVAILABLE && repl->role == CHAT_REPL_ROLE_FOLLOWER
         && repl->leader != 0
         && repl->now >= repl->peer_told[repl->leader] + c->failure_timeout_ms - margin;
}

static void
handle_message (ChatRepl *repl, const ChatReplMessage *msg)
{
  if (msg->from < 1 || msg->from > repl->config.n_nodes || msg->from == repl->config.node_id
      || msg->to != repl->config.node_id)
    return;
  if (foreign (repl, msg))
    return;
  repl->peer_heard[msg->from] = repl->now;
  if (!chat_repl_isr_check_incarnation (repl, msg))
    return;
  repl->peer_rejoin[msg->from] = msg->rejoin;
  if (chat_repl_heal_outranks (repl, msg))
    return;
  /* Our leader talks to us again after we said nothing to it for about a failure timeout
   * (our stall, or its, or lost answers): it may have removed us meanwhile, and what it
   * sent before that, queued here, must not end a rejoin (A7 a). A leader that lived on
   * through our stall sent us heartbeats; the first of them to reach us lands here, even
   * when the removal itself died in its queue. */
  if (msg->from == repl->leader && msg->term == repl->term && leader_may_have_dropped_us (repl))
    begin_recovery (repl, msg->from);
  switch (msg->type)
    {
      case CHAT_REPL_MSG_VOTE_REQUEST:
        chat_repl_handle_vote_request (repl, msg);
        break;
      case CHAT_REPL_MSG_VOTE_RESPONSE:
        chat_repl_handle_vote_response (repl, msg);
        break;
      case CHAT_REPL_MSG_APPEND:
        chat_repl_handle_append (repl, msg);
        break;
      case CHAT_REPL_MSG_APPEND_RESPONSE:
        chat_repl_handle_append_response (repl, msg);
        break;
      case CHAT_REPL_MSG_SNAPSHOT:
        chat_repl_handle_snapshot (repl, msg);
        break;
      case CHAT_REPL_MSG_SNAPSHOT_RESPONSE:
        chat_repl_handle_snapshot_response (repl, msg);
        break;
      case CHAT_REPL_MSG_TIMEOUT_NOW:
        chat_repl_handle_timeout_now (repl, msg);
        break;
      case CHAT_REPL_MSG_PRE_VOTE_REQUEST:
        chat_repl_handle_pre_vote_request (repl, msg);
        break;
      case CHAT_REPL_MSG_PRE_VOTE_RESPONSE:
        chat_repl_handle_pre_vote_response (repl, msg);
        break;
      default:
        break;
    }
}

/* The host ran nothing of ours for a while: its main loop was starved (apply, fsync, a
 * pause). Silence we could not have heard is not the others' silence, so every timer that
 * judges them moves on by that time: a leader does not drop members whose answers wait
 * in its queue, and a follower does not run against a leader whose appends wait there.
 * Only liveness timers move, and only later; the rules that rely on a failure timeout of
 * silence (A5) then wait longer, never less. */
static void
absorb_stall (ChatRepl *repl, guint64 stall, guint64 silent)
{
  gboolean was_leader = repl->role == CHAT_REPL_ROLE_LEADER;
  gboolean starved
      = repl->config.mode == CHAT_REPL_MODE_AVAILABLE && silent >= repl->config.failure_timeout_ms;

  /* Votes for a campaign that old may answer a question nobody asks any more: a leader
   * of a later term may have committed since. Start over (with a pre-vote). */
  if (repl->role == CHAT_REPL_ROLE_CANDIDATE)
    chat_repl_become_follower (repl, repl->term, 0);
  /* Silent for a failure timeout, we were crashed for the others: a leader may have
   * removed us from the set (A2) and committed without us since; a leader may have
   * been replaced by a server that counted it as silent (A5), which may have committed
   * and crashed since, and would then remove its members for a silence that was its
   * own. As after a restart, we may not lead on our own before we have synced (A7). */
  if (starved && was_leader)
    chat_repl_become_follower (repl, repl->term, 0);
  /* A stall a little shorter may still be one by our leader's clock; that shows only if
   * the leader talks to us again (handle_message), not here: a leader that crashed
   * before it could remove us says nothing more either, and a last member must then
   * take over as after a crash without the stall. */
  if (starved)
    begin_recovery (repl, repl->config.node_id);
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      ChatReplPeer *p = &repl->peers[id];

      p->last_ack_ms = MIN (p->last_ack_ms + stall, repl->now);
      repl->peer_heard[id] = MIN (repl->peer_heard[id] + stall, repl->now);
    }
  repl->leader_contact = MIN (repl->leader_contact + stall, repl->now);
  repl->campaign_start = MIN (repl->campaign_start + stall, repl->now);
  repl->prevote_start = MIN (repl->prevote_start + stall, repl->now);
  if (was_leader && repl->role != CHAT_REPL_ROLE_LEADER)
    {
      /* Nobody else may have noticed: ask at once (with every vote, A6) to lead again. */
      repl->election_deadline = repl->now;
      return;
    }
  if (repl->role != CHAT_REPL_ROLE_LEADER)
    {
      guint64 shifted = repl->election_deadline + stall;

      chat_repl_reset_election_timer (repl);
      repl->election_deadline = MAX (repl->election_deadline, shifted);
    }
}

/* How late the host is with the TICK it owes us; a heartbeat of lateness is jitter. We
 * ask for a TICK at least every heartbeat (next_wakeup()), so any stall longer than two
 * shows here at the first step after it, whatever that step is. How long we said nothing
 * to anybody is the time since our previous step. */
static void
check_stall (ChatRepl *repl, guint64 previous_step)
{
  if (!repl->started || repl->wakeup_due == 0
      || repl->now <= repl->wakeup_due + repl->config.heartbeat_ms)
    return;
  absorb_stall (repl, repl->now - repl->wakeup_due, repl->now - previous_step);
  repl->wakeup_due = repl->now;
}

static void
dispatch (ChatRepl *repl, const ChatReplEvent *event)
{
  switch (event->type)
    {
      case CHAT_REPL_EVENT_TICK:
        tick (repl);
        break;
      case CHAT_REPL_EVENT_MESSAGE:
        if (event->message != NULL)
          handle_message (repl, event->message);
        break;
      case CHAT_REPL_EVENT_PERSISTED:
        chat_repl_persisted (repl, event->index, event->term);
        break;
      case CHAT_REPL_EVENT_SNAPSHOT_PERSISTED:
        chat_repl_snapshot_persisted (repl, event->index);
        break;
      case CHAT_REPL_EVENT_PROPOSE:
        chat_repl_propose (repl, event->proposal_id, event->data);
        break;
      case CHAT_REPL_EVENT_ADMIN:
        chat_repl_admin (repl, event);
        break;
      default:
        break;
    }
}

static guint64
next_wakeup (ChatRepl *repl)
{
  guint64 next = repl->election_deadline;

  if (repl->role == CHAT_REPL_ROLE_LEADER)
    next = repl->heartbeat_due;
  else if (repl->role == CHAT_REPL_ROLE_CANDIDATE && repl->config.mode == CHAT_REPL_MODE_AVAILABLE)
    {
      next = MIN (next, repl->campaign_start + repl->config.failure_timeout_ms);
      if (chat_repl_bootstrapping (repl))
        next = MIN (next, repl->vote_resend_due);
    }
  if (repl->prevote_term != 0 && repl->config.mode == CHAT_REPL_MODE_AVAILABLE)
    next = MIN (next, repl->prevote_start + repl->config.failure_timeout_ms);
  /* At least once a heartbeat, so that a starved host shows in the first step after the
   * stall, whichever it is (C13), and not only when a timer was due during it. */
  next = MIN (next, repl->now + repl->config.heartbeat_ms);
  return MAX (next, repl->now + 1);
}

gboolean
chat_repl_step (ChatRepl *repl, const ChatReplEvent *event, ChatReplUpdate *update)
{
  ChatReplRole old_role;
  guint old_leader;
  guint64 previous_step;

  g_return_val_if_fail (repl != NULL && event != NULL && update != NULL, FALSE);
  g_return_val_if_fail (update->entries != NULL, FALSE);

  repl->u = update;
  previous_step = repl->now;
  /* Time never goes backwards inside the core, whatever the host passes. */
  repl->now = MAX (repl->now, event->now_ms);
  old_role = repl->role;
  old_leader = repl->leader;
  if (!repl->started)
    start (repl);
  check_stall (repl, previous_step);
  dispatch (repl, event);
  chat_repl_apply_committed (repl);

  if (repl->role != old_role || repl->leader != old_leader)
    update->role_changed = TRUE;
  update->role = repl->role;
  update->leader = repl->leader;
  update->term = repl->term;
  update->vote = repl->vote;
  update->cluster_id = repl->cluster_id;
  update->rebuilding = repl->rebuilding;
  update->next_wakeup_ms = next_wakeup (repl);
  repl->wakeup_due = update->next_wakeup_ms;
  repl->u = NULL;
  return !chat_repl_update_is_empty (update);
}

static void
peer_status (ChatRepl *repl, guint id, ChatReplPeerStatus *ps)
{
  ChatReplPeer *p = &repl->peers[id];
  gboolean leading = repl->role == CHAT_REPL_ROLE_LEADER;
  guint64 last = chat_repl_last_index (repl);

  *ps = (ChatReplPeerStatus){ 0 };
  ps->node = id;
  ps->in_sync = CHAT_REPL_NODE_SET_HAS (repl->isr, id);
  if (!leading)
    return;
  ps->match_index = p->match_index;
  ps->next_index = p->next_index;
  ps->lag = last > p->match_index ? last - p->match_index : 0;
  ps->last_contact_ms = p->last_ack_ms;
  ps->up = p->up;
  ps->sending_snapshot = p->sending_snapshot;
}

void
chat_repl_get_status (ChatRepl *repl, ChatReplStatus *status)
{
  g_return_if_fail (repl != NULL && status != NULL);

  *status = (ChatReplStatus){ 0 };
  status->node_id = repl->config.node_id;
  status->mode = repl->config.mode;
  status->role = repl->role;
  status->term = repl->term;
  status->leader = repl->leader;
  status->commit_index = repl->commit;
  status->applied_index = repl->applied;
  status->last_index = chat_repl_last_index (repl);
  status->persisted_index = repl->persisted;
  status->snapshot_index = repl->snapshot_index;
  status->in_sync = repl->isr;
  status->recovering = repl->recovering;
  status->rebuilding = repl->rebuilding;
  status->cluster_id = repl->cluster_id;
  if (repl->started)
    status->waiting = chat_repl_waiting (repl, &status->waiting_for);
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (id != repl->config.node_id)
        peer_status (repl, id, &status->peers[status->n_peers++]);
    }
}

ChatReplRole
chat_repl_get_role (ChatRepl *repl)
{
  return repl->role;
}

guint64
chat_repl_get_term (ChatRepl *repl)
{
  return repl->term;
}

guint
chat_repl_get_leader (ChatRepl *repl)
{
  return repl->leader;
}

const ChatReplEntry *
chat_repl_get_entry (ChatRepl *repl, guint64 index)
{
  return chat_repl_log_get (repl, index);
}

const char *
chat_repl_mode_to_string (ChatReplMode mode)
{
  return mode == CHAT_REPL_MODE_QUORUM ? "quorum" : "available";
}

const char *
chat_repl_notice_to_string (ChatReplNoticeType type)
{
  static const char *const names[] = {
    [CHAT_REPL_NOTICE_ELECTION_STARTED] = "election-started",
    [CHAT_REPL_NOTICE_LEADER_ELECTED] = "leader-elected",
    [CHAT_REPL_NOTICE_STEPPED_DOWN] = "stepped-down",
    [CHAT_REPL_NOTICE_PEER_DOWN] = "peer-down",
    [CHAT_REPL_NOTICE_PEER_UP] = "peer-up",
    [CHAT_REPL_NOTICE_IN_SYNC_CHANGED] = "in-sync-changed",
    [CHAT_REPL_NOTICE_REJOIN_STARTED] = "rejoin-started",
    [CHAT_REPL_NOTICE_REJOIN_DONE] = "rejoin-done",
    [CHAT_REPL_NOTICE_SNAPSHOT_SENT] = "snapshot-sent",
    [CHAT_REPL_NOTICE_SNAPSHOT_INSTALLED] = "snapshot-installed",
    [CHAT_REPL_NOTICE_FORCED_LEADER] = "forced-leader",
    [CHAT_REPL_NOTICE_TRANSFER_STARTED] = "transfer-started",
    [CHAT_REPL_NOTICE_WAITING_FOR_IN_SYNC] = "waiting-for-in-sync",
    [CHAT_REPL_NOTICE_DIVERGED] = "diverged",
    [CHAT_REPL_NOTICE_PEER_EMPTIED] = "peer-emptied",
    [CHAT_REPL_NOTICE_WAITING_TO_FOUND] = "waiting-to-found",
    [CHAT_REPL_NOTICE_CLUSTER_EXISTS] = "cluster-exists",
    [CHAT_REPL_NOTICE_FOREIGN_CLUSTER] = "foreign-cluster",
  };

  if ((guint)type >= G_N_ELEMENTS (names))
    return "unknown";
  return names[type];
}

char *
chat_repl_term_format (guint64 term, char *buf, gsize size)
{
  g_snprintf (buf, size, "%" G_GUINT64_FORMAT ".%u", CHAT_REPL_TERM_COUNTER (term),
              CHAT_REPL_TERM_NODE (term));
  return buf;
}
