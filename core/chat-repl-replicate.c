/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Log replication: appends, their answers, the commit rule, persistence and proposals. */
#include "chat-repl-private.h"

static guint
self_id (ChatRepl *repl)
{
  return repl->config.node_id;
}

/* An append with entries is in flight until an answer's match index covers its last one.
 * Beyond the window the oldest is forgotten: heartbeats and proposals send regardless. */
static void
note_in_flight (ChatReplPeer *p, guint64 last_index)
{
  if (p->n_in_flight == CHAT_REPL_MAX_APPENDS_IN_FLIGHT)
    {
      memmove (p->in_flight, p->in_flight + 1, (p->n_in_flight - 1) * sizeof (guint64));
      p->n_in_flight--;
    }
  p->in_flight[p->n_in_flight++] = last_index;
}

static void
note_acknowledged (ChatReplPeer *p)
{
  guint done = 0;

  while (done < p->n_in_flight && p->in_flight[done] <= p->match_index)
    done++;
  memmove (p->in_flight, p->in_flight + done, (p->n_in_flight - done) * sizeof (guint64));
  p->n_in_flight -= done;
}

void
chat_repl_forget_in_flight (ChatReplPeer *p)
{
  p->n_in_flight = 0;
}

/* An append from next_index on, with at most max_entries entries (0: a probe, which only
 * asks whether the follower's log matches ours up to next_index - 1). */
static void
send_entries (ChatRepl *repl, guint id, guint max_entries, gsize max_bytes)
{
  ChatReplPeer *p = &repl->peers[id];
  guint64 last = chat_repl_isr_sendable_last (repl);
  gsize bytes = 0;
  ChatReplMessage *m;

  m = chat_repl_message_new (CHAT_REPL_MSG_APPEND, self_id (repl), id, repl->term);
  m->prev_index = p->next_index - 1;
  m->prev_term = chat_repl_term_at (repl, m->prev_index);
  m->commit = repl->commit;
  m->majority_index = chat_repl_heal_majority_index (repl);
  m->everywhere_index = chat_repl_heal_everywhere_index (repl);
  m->rejoin_heard = repl->peer_rejoin[id];
  for (guint64 i = p->next_index; i <= last; i++)
    {
      ChatReplEntry *e = chat_repl_log_get (repl, i);
      gsize size = g_bytes_get_size (e->data);

      if (m->entries->len >= max_entries || (m->entries->len > 0 && bytes + size > max_bytes))
        break;
      bytes += size;
      g_ptr_array_add (m->entries, chat_repl_entry_ref (e));
    }
  /* Pipelining: assume it arrives; a reject moves next_index back. */
  p->next_index = m->prev_index + m->entries->len + 1;
  if (m->entries->len > 0)
    note_in_flight (p, p->next_index - 1);
  p->last_send_ms = repl->now;
  chat_repl_send (repl, m);
}

void
chat_repl_send_probe (ChatRepl *repl, guint id)
{
  send_entries (repl, id, 0, 0);
}

void
chat_repl_send_append (ChatRepl *repl, guint id)
{
  ChatReplPeer *p = &repl->peers[id];
  /* Live traffic keeps small appends; a follower further behind gets bigger ones. */
  gboolean catching_up
      = chat_repl_isr_sendable_last (repl) >= p->next_index + repl->config.max_append_entries;

  if (chat_repl_snapshot_needed (repl, id))
    {
      chat_repl_send_snapshot_chunks (repl, id);
      return;
    }
  /* The image would take the place of what it lacks: its answer to a probe sends it. */
  if (p->next_index == p->match_index + 1 && chat_repl_snapshot_cheaper (repl, id, p->next_index))
    {
      chat_repl_send_probe (repl, id);
      return;
    }
  if (catching_up)
    send_entries (repl, id, repl->config.catch_up_append_entries,
                  repl->config.catch_up_append_bytes);
  else
    send_entries (repl, id, repl->config.max_append_entries, repl->config.max_append_bytes);
}

void
chat_repl_broadcast_append (ChatRepl *repl)
{
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (id != self_id (repl))
        chat_repl_send_append (repl, id);
    }
  repl->heartbeat_due = repl->now + repl->config.heartbeat_ms;
}

static void
answer_append (ChatRepl *repl, guint to, gboolean success, guint64 hint)
{
  ChatReplMessage *m
      = chat_repl_message_new (CHAT_REPL_MSG_APPEND_RESPONSE, self_id (repl), to, repl->term);

  m->success = success;
  if (success)
    m->match_index = MIN (repl->persisted, repl->leader_match);
  else
    m->hint_index = hint;
  /* So that a leader whose log lacks what our snapshot compacted gives way (chat-repl-heal.c). */
  if (repl->config.mode == CHAT_REPL_MODE_AVAILABLE)
    {
      m->snapshot_index = repl->snapshot_index;
      m->snapshot_term = repl->snapshot_term;
    }
  chat_repl_send (repl, m);
}

/* Untrusted input: entries must follow prev_index one by one, with sane terms and types. */
static gboolean
entries_valid (const ChatReplMessage *msg)
{
  for (guint i = 0; i < msg->entries->len; i++)
    {
      ChatReplEntry *e = g_ptr_array_index (msg->entries, i);

      if (e->index != msg->prev_index + 1 + i || e->term > msg->term || e->term == 0
          || e->type > CHAT_REPL_ENTRY_TYPE_LAST)
        return FALSE;
      if (i > 0 && e->term < ((ChatReplEntry *)g_ptr_array_index (msg->entries, i - 1))->term)
        return FALSE;
    }
  return TRUE;
}

static gboolean
store_entries (ChatRepl *repl, const ChatReplMessage *msg)
{
  for (guint i = 0; i < msg->entries->len; i++)
    {
      ChatReplEntry *e = g_ptr_array_index (msg->entries, i);
      guint64 have;

      if (e->index <= repl->snapshot_index)
        continue;
      have = chat_repl_term_at (repl, e->index);
      if (have == e->term)
        continue;
      if (have != G_MAXUINT64)
        {
          /* Committed entries conflict with a leader of a higher term only after a
           * partition in available mode: that leader's history wins. */
          if (e->index <= repl->commit)
            {
              chat_repl_diverge (repl, e->index, repl->leader);
              return FALSE;
            }
          chat_repl_heal_truncating (repl, e->index);
          chat_repl_log_truncate (repl, e->index);
        }
      chat_repl_log_append (repl, e);
    }
  return TRUE;
}

static void
follow (ChatRepl *repl, const ChatReplMessage *msg)
{
  if (msg->term > repl->term || repl->role != CHAT_REPL_ROLE_FOLLOWER || repl->leader != msg->from)
    chat_repl_become_follower (repl, msg->term, msg->from);
  repl->leader_contact = repl->now;
  chat_repl_pre_vote_cancel (repl);
  repl->cluster_known = TRUE;
  chat_repl_adopt_cluster (repl, msg);
  chat_repl_reset_election_timer (repl);
}

void
chat_repl_handle_append (ChatRepl *repl, const ChatReplMessage *msg)
{
  guint64 prev = msg->prev_index;
  guint64 last_new;

  if (msg->term < repl->term)
    {
      answer_append (repl, msg->from, FALSE, chat_repl_last_index (repl));
      return;
    }
  if (CHAT_REPL_TERM_NODE (msg->term) != msg->from || !entries_valid (msg))
    return;
  follow (repl, msg);
  chat_repl_isr_heard_leader (repl, msg);
  if (prev > chat_repl_last_index (repl))
    {
      answer_append (repl, msg->from, FALSE, chat_repl_last_index (repl));
      return;
    }
  if (prev > 0 && prev == repl->snapshot_index && msg->prev_term != repl->snapshot_term)
    {
      /* Our own snapshot holds a history the leader does not: only after a partition in
       * available mode whose winner was not the majority's side. What the snapshot
       * compacted cannot be replayed: the answer, which names our snapshot, makes the
       * leader give way (chat_repl_heal_lacks_history). A quorum leader holds every
       * committed entry, so its history is the one to take there. */
      if (repl->config.mode != CHAT_REPL_MODE_AVAILABLE)
        chat_repl_diverge (repl, prev + 1, repl->leader);
      answer_append (repl, msg->from, FALSE, repl->snapshot_index);
      return;
    }
  if (prev >= repl->snapshot_index && chat_repl_term_at (repl, prev) != msg->prev_term)
    {
      answer_append (repl, msg->from, FALSE, chat_repl_heal_reject_hint (repl, prev));
      return;
    }
  if (!store_entries (repl, msg))
    {
      answer_append (repl, msg->from, FALSE, 0);
      return;
    }
  last_new = prev + msg->entries->len;
  repl->leader_match = MAX (repl->leader_match, MAX (last_new, repl->snapshot_index));
  chat_repl_heal_follow_leader (repl, msg);
  if (msg->commit > repl->commit)
    repl->commit = MAX (repl->commit, MIN (msg->commit, repl->leader_match));
  answer_append (repl, msg->from, TRUE, 0);
  chat_repl_isr_check_rejoined (repl);
}

static void
maybe_transfer (ChatRepl *repl, guint id)
{
  if (repl->transfer_target != id || repl->peers[id].match_index < chat_repl_last_index (repl))
    return;
  chat_repl_send (
      repl, chat_repl_message_new (CHAT_REPL_MSG_TIMEOUT_NOW, self_id (repl), id, repl->term));
}

void
chat_repl_ack_leader (ChatRepl *repl)
{
  if (repl->role == CHAT_REPL_ROLE_FOLLOWER && repl->leader != 0 && repl->leader_match > 0)
    answer_append (repl, repl->leader, TRUE, 0);
}

static void
peer_heard (ChatRepl *repl, guint id)
{
  ChatReplPeer *p = &repl->peers[id];

  p->last_ack_ms = repl->now;
  if (!p->up)
    {
      p->up = TRUE;
      chat_repl_notice (repl, CHAT_REPL_NOTICE_PEER_UP, id, p->match_index, 0);
    }
}

/* A follower that is still behind gets its next appends now, not with the next proposal
 * or heartbeat: up to catch_up_appends_in_flight unanswered ones. */
static void
keep_catching_up (ChatRepl *repl, guint id)
{
  ChatReplPeer *p = &repl->peers[id];

  while (repl->role == CHAT_REPL_ROLE_LEADER && !p->sending_snapshot
         && p->next_index > repl->snapshot_index
         && p->next_index <= chat_repl_isr_sendable_last (repl)
         && p->n_in_flight < repl->config.catch_up_appends_in_flight)
    {
      guint64 before = p->next_index;

      chat_repl_send_append (repl, id);
      if (p->next_index == before)
        break;
    }
}

void
chat_repl_handle_append_response (ChatRepl *repl, const ChatReplMessage *msg)
{
  ChatReplPeer *p = &repl->peers[msg->from];
  guint64 last = chat_repl_last_index (repl);

  if (msg->term > repl->term)
    {
      chat_repl_become_follower (repl, msg->term, 0);
      return;
    }
  if (repl->role != CHAT_REPL_ROLE_LEADER || msg->term != repl->term)
    return;
  peer_heard (repl, msg->from);
  if (chat_repl_heal_lacks_history (repl, msg))
    {
      chat_repl_heal_yield (repl, msg->from);
      return;
    }
  if (!msg->success)
    {
      /* Below what it acknowledged: it found its log diverged and started over from empty. */
      p->match_index = MIN (p->match_index, msg->hint_index);
      p->next_index = MAX (p->match_index + 1, MIN (p->next_index, msg->hint_index + 1));
      chat_repl_forget_in_flight (p);
      /* When the image may take the place of what it lacks, first only make sure that its
       * log matches ours up to there, rather than send entries the image replaces. */
      if (!chat_repl_snapshot_needed (repl, msg->from)
          && chat_repl_snapshot_cheaper (repl, msg->from, p->next_index))
        chat_repl_send_probe (repl, msg->from);
      else
        chat_repl_send_append (repl, msg->from);
      return;
    }
  if (msg->match_index > p->match_index)
    p->match_index = MIN (msg->match_index, last);
  p->next_index = MAX (p->next_index, p->match_index + 1);
  note_acknowledged (p);
  chat_repl_advance_commit (repl);
  maybe_transfer (repl, msg->from);
  if (p->next_index == p->match_index + 1
      && chat_repl_snapshot_cheaper (repl, msg->from, p->next_index))
    chat_repl_send_snapshot_chunks (repl, msg->from);
  else
    keep_catching_up (repl, msg->from);
}

static guint64
match_of (ChatRepl *repl, guint id)
{
  return id == self_id (repl) ? repl->persisted : repl->peers[id].match_index;
}

/* The highest index that a majority (counting ourselves) has on disk. */
static guint64
quorum_commit_point (ChatRepl *repl)
{
  guint n = repl->config.n_nodes;
  guint64 best = 0;

  for (guint a = 1; a <= n; a++)
    {
      guint64 candidate = match_of (repl, a);
      guint count = 0;

      if (candidate <= best)
        continue;
      for (guint b = 1; b <= n; b++)
        count += match_of (repl, b) >= candidate;
      if (count * 2 > n)
        best = candidate;
    }
  return best;
}

/* Available mode: every member of the latest in-sync set in our log has it on disk. */
static guint64
isr_commit_point (ChatRepl *repl)
{
  guint64 point = repl->persisted;

  if (CHAT_REPL_BROKEN (CHAT_REPL_BREAK_COMMIT_BEFORE_ISR))
    return point;
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (CHAT_REPL_NODE_SET_HAS (repl->isr, id))
        point = MIN (point, match_of (repl, id));
    }
  return point;
}

void
chat_repl_advance_commit (ChatRepl *repl)
{
  guint64 point;

  if (repl->role != CHAT_REPL_ROLE_LEADER)
    return;
  point = repl->config.mode == CHAT_REPL_MODE_QUORUM ? quorum_commit_point (repl)
                                                     : isr_commit_point (repl);
  /* Only entries of our own term are counted (Raft); older ones commit with them. */
  if (point > repl->commit && point >= repl->first_index_of_term)
    repl->commit = point;
}

void
chat_repl_persisted (ChatRepl *repl, guint64 index, guint64 term)
{
  repl->hard_state_pending = FALSE;
  if (index > repl->persisted && chat_repl_term_at (repl, index) == term)
    repl->persisted = index;
  if (repl->role == CHAT_REPL_ROLE_CANDIDATE)
    chat_repl_check_election (repl);
  if (repl->role == CHAT_REPL_ROLE_LEADER)
    {
      chat_repl_isr_persisted (repl);
      chat_repl_advance_commit (repl);
    }
  else
    {
      chat_repl_ack_leader (repl);
      chat_repl_isr_check_rejoined (repl);
    }
}

void
chat_repl_propose (ChatRepl *repl, guint64 proposal_id, GBytes *data)
{
  ChatReplProposalResult r = { proposal_id, CHAT_REPL_RESULT_NOT_LEADER, 0, repl->leader };
  ChatReplPending p;

  if (repl->role != CHAT_REPL_ROLE_LEADER || repl->transfer_target != 0)
    {
      if (repl->role == CHAT_REPL_ROLE_LEADER)
        r.code = CHAT_REPL_RESULT_UNAVAILABLE;
      g_array_append_val (repl->u->results, r);
      return;
    }
  p.proposal_id = proposal_id;
  p.index = chat_repl_log_append_new (repl, CHAT_REPL_ENTRY_OP, data);
  p.term = repl->term;
  g_array_append_val (repl->pending, p);
  /* A follower catching up (more than one live append behind) is fed by its answers
   * (keep_catching_up) and the heartbeat: live traffic must not add a catch-up batch per
   * proposal beyond the window. */
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      ChatReplPeer *peer = &repl->peers[id];

      if (id != self_id (repl) && !peer->sending_snapshot
          && peer->next_index + repl->config.max_append_entries > p.index)
        chat_repl_send_append (repl, id);
    }
  chat_repl_advance_commit (repl);
}

static void
check_quorum (ChatRepl *repl)
{
  guint heard = 1;

  if (repl->now < repl->quorum_check_due)
    return;
  repl->quorum_check_due = repl->now + repl->config.election_timeout_max_ms;
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (id != self_id (repl)
          && repl->now < repl->peers[id].last_ack_ms + repl->config.election_timeout_max_ms)
        heard++;
    }
  /* A leader cut off from a majority cannot commit; stepping down sends its clients on. */
  if (heard * 2 <= repl->config.n_nodes)
    chat_repl_become_follower (repl, repl->term, 0);
}

void
chat_repl_leader_tick (ChatRepl *repl)
{
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      ChatReplPeer *p = &repl->peers[id];

      if (id == self_id (repl) || !p->up
          || repl->now < p->last_ack_ms + repl->config.failure_timeout_ms)
        continue;
      p->up = FALSE;
      chat_repl_forget_in_flight (p);
      chat_repl_notice (repl, CHAT_REPL_NOTICE_PEER_DOWN, id, p->match_index, 0);
    }
  if (repl->transfer_target != 0 && repl->now >= repl->transfer_deadline)
    repl->transfer_target = 0;
  if (repl->config.mode == CHAT_REPL_MODE_QUORUM)
    {
      check_quorum (repl);
      if (repl->role != CHAT_REPL_ROLE_LEADER)
        return;
    }
  else
    chat_repl_isr_tick (repl);
  if (repl->role == CHAT_REPL_ROLE_LEADER && repl->now >= repl->heartbeat_due)
    chat_repl_broadcast_append (repl);
}
