/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Elections of the replication core: campaigns, votes, transfer and operator overrides. */
#include "chat-repl-private.h"

static gboolean
is_quorum (ChatRepl *repl)
{
  return repl->config.mode == CHAT_REPL_MODE_QUORUM;
}

static guint
self_id (ChatRepl *repl)
{
  return repl->config.node_id;
}

/* Whether this candidate needs the vote of every member of its latest in-sync set (A6): a
 * recovering server; one that is not a member (it may hold entries the members lack, but
 * only their votes can show that it holds everything they acknowledged); and a member whose
 * membership is not settled (A5: neither known to be committed nor anchored on the disks of
 * the other members, so a server may still lead under the set from before it joined).
 * An empty server founding a cluster needs every configured server's vote, --primary or
 * not (A8): a silent server may hold a cluster's data, and a lost disk is empty too. So
 * does a new store that has not caught up yet (A13): its sets are copies. */
gboolean
chat_repl_needs_every_vote (ChatRepl *repl)
{
  if (chat_repl_bootstrapping (repl))
    return TRUE;
  return !chat_repl_set_is_own (repl) || !chat_repl_isr_membership_settled (repl);
}

/* A server with an empty log in available mode: it knows no in-sync set and no cluster. */
static gboolean
log_empty (ChatRepl *repl)
{
  return chat_repl_last_index (repl) == 0;
}

/* Whether a member of our latest set granted its vote from a new store (empty, or still
 * copying its log, A13). Such a grant vouches for nothing: the member's old disk may have
 * been the only one of our set to persist the sets and commits that came after it (A6). */
static gboolean
granted_by_new_store (ChatRepl *repl)
{
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      ChatReplPeer *p = &repl->peers[id];

      if (id != self_id (repl) && CHAT_REPL_NODE_SET_HAS (repl->isr, id) && p->vote_granted
          && p->vote_from_new_store)
        return TRUE;
    }
  return FALSE;
}

/* Whether this server is a live member (A5): a member of its own latest set, whose
 * membership is settled. Every commit made while it lived is then on its disk. */
static gboolean
is_live_member (ChatRepl *repl)
{
  return !is_quorum (repl) && !chat_repl_needs_every_vote (repl);
}

/* Whether our grant to candidate vouches for its log (A6), the candidate checking that our
 * latest set is its own: we are a live member, or we would be but for the silence of the
 * leader we followed, and the candidate is that leader. We recover because it may have
 * removed us and committed without us; its latest set, which names us, and its log, which
 * holds ours (C2) and so every removal it made, say that it did not. So the leader starved
 * past the failure timeout (C13) gets the vote that counts from the follower that its
 * silence put into recovery too, and one of them leads while the third server is down. */
gboolean
chat_repl_vouches_for (ChatRepl *repl, guint candidate)
{
  if (is_live_member (repl))
    return TRUE;
  return !is_quorum (repl) && repl->recovering && !repl->rebuilding && repl->unheard_by != 0
         && repl->unheard_by == candidate && chat_repl_isr_membership_settled (repl);
}

/* Whether a member whose latest set is ours vouched for our log with its grant
 * (chat_repl_vouches_for(); prevote: in the pre-vote round). Its grant says that our log
 * holds its log (C2), so ours holds every commit too, and a candidate that needs every
 * vote (A6) may then count silent members as crashed, as a live member does: that member
 * could have led itself with the same members silent, and we hold all it holds. This
 * keeps a leader starved past the failure timeout (C13) from waiting for a crashed
 * follower while the other one cannot win either, refused for lacking what the stall kept
 * from being sent. Never for a founding or a new store (their logs are not their own),
 * nor once a member granted from a new store (A6: its old disk may have held more). */
gboolean
chat_repl_vouched (ChatRepl *repl, gboolean prevote)
{
  if (chat_repl_bootstrapping (repl) || repl->rebuilding || granted_by_new_store (repl))
    return FALSE;
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      ChatReplPeer *p = &repl->peers[id];
      gboolean vouches
          = prevote ? p->prevote_granted && p->prevote_vouches : p->vote_granted && p->vote_vouches;

      if (id != self_id (repl) && CHAT_REPL_NODE_SET_HAS (repl->isr, id) && vouches)
        return TRUE;
    }
  return FALSE;
}

/* The set whose members a candidate needs (or may count as silent): every configured
 * server for an empty log (A8) and for a new store still copying its log (A13), whose
 * latest set may be one the cluster left long ago, even one that names it alone; and for
 * a candidate that needs every vote (A6) once a member granted it from a new store: the
 * server that holds what that member's lost disk held may be outside our set. */
static ChatReplNodeSet
electorate_of (ChatRepl *repl)
{
  if (is_quorum (repl))
    return repl->isr;
  if (log_empty (repl) || repl->rebuilding)
    return chat_repl_all_nodes (repl);
  if (granted_by_new_store (repl) && chat_repl_needs_every_vote (repl))
    return chat_repl_all_nodes (repl);
  return repl->isr;
}

/* Available mode, an empty log: this server may only found a new cluster, with the votes
 * of other empty servers (A8). Its "latest set" is then every configured server. */
gboolean
chat_repl_bootstrapping (ChatRepl *repl)
{
  return !is_quorum (repl) && log_empty (repl);
}

/* The founder of a cluster (available mode, an empty log) makes its id as it first leads;
 * the others adopt it from its messages before they hold any of its entries (A8). So every
 * server with a history of that cluster has its id. 63 bits, never 0. An id kept from a
 * founding whose entries never reached a disk is founded again. */
void
chat_repl_found_cluster (ChatRepl *repl)
{
  if (repl->cluster_id != 0 || !chat_repl_bootstrapping (repl))
    return;
  repl->cluster_id = chat_repl_random_range (repl, 1, G_MAXINT64);
  repl->cluster_known = TRUE;
  repl->hard_state_pending = TRUE;
  repl->u->hard_state_changed = TRUE;
  repl->u->term = repl->term;
  repl->u->vote = repl->vote;
}

/* Silent (or since we started) for longer than a whole round of elections: servers that
 * are up but have no leader either speak only in their own rounds (a pre-vote every
 * election timeout plus failure timeout), and naming them would make the reason flicker. */
static ChatReplNodeSet
silent_servers (ChatRepl *repl, ChatReplNodeSet among)
{
  ChatReplNodeSet silent = 0;
  guint64 window = repl->config.election_timeout_max_ms + 2 * repl->config.failure_timeout_ms;

  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (id != self_id (repl) && CHAT_REPL_NODE_SET_HAS (among, id)
          && repl->now >= repl->peer_heard[id] + window)
        silent |= CHAT_REPL_NODE_BIT (id);
    }
  return silent;
}

/* Why this server can neither lead nor follow yet: it has no leader, and it needs a vote
 * that a silent server would have to give (or it is empty in an existing cluster). */
ChatReplWait
chat_repl_waiting (ChatRepl *repl, ChatReplNodeSet *silent)
{
  *silent = 0;
  if (is_quorum (repl) || repl->role == CHAT_REPL_ROLE_LEADER || chat_repl_heard_from_leader (repl)
      || repl->config.n_nodes == 1)
    return CHAT_REPL_WAIT_NONE;
  if (log_empty (repl) && repl->cluster_known)
    {
      *silent = silent_servers (repl, chat_repl_all_nodes (repl));
      return CHAT_REPL_WAIT_CLUSTER;
    }
  if (!chat_repl_needs_every_vote (repl))
    return CHAT_REPL_WAIT_NONE;
  *silent = silent_servers (repl, electorate_of (repl));
  if (*silent == 0)
    return CHAT_REPL_WAIT_NONE;
  return chat_repl_bootstrapping (repl) ? CHAT_REPL_WAIT_FOUND : CHAT_REPL_WAIT_IN_SYNC;
}

/* Says in the journal why this server waits, once per reason and set of silent servers. */
void
chat_repl_notice_waiting (ChatRepl *repl)
{
  ChatReplNodeSet silent = 0;
  ChatReplWait wait = chat_repl_waiting (repl, &silent);

  if (wait == repl->wait_noticed && silent == repl->wait_noticed_set)
    return;
  repl->wait_noticed = wait;
  repl->wait_noticed_set = silent;
  if (wait == CHAT_REPL_WAIT_FOUND)
    chat_repl_notice (repl, CHAT_REPL_NOTICE_WAITING_TO_FOUND, 0, 0, silent);
  else if (wait == CHAT_REPL_WAIT_IN_SYNC)
    chat_repl_notice (repl, CHAT_REPL_NOTICE_WAITING_FOR_IN_SYNC, 0, 0, silent);
}

/* Available mode: a server with an empty log runs only to found a new cluster, and only
 * until it learns that one exists (then it waits for its leader); a server that knows no
 * in-sync set otherwise waits too. The others may run (see won_available() for what they
 * need to win). */
gboolean
chat_repl_can_campaign (ChatRepl *repl)
{
  if (repl->now < repl->suppress_until)
    return FALSE;
  if (is_quorum (repl) || repl->config.n_nodes == 1)
    return TRUE;
  if (log_empty (repl))
    return !repl->cluster_known;
  if (repl->rebuilding)
    return TRUE;
  if (repl->isr == 0)
    return FALSE;
  /* The last survivor: its own durable in-sync set names it alone, so nobody else can
   * have acknowledged anything it lacks. */
  if (repl->recovering && repl->isr == CHAT_REPL_NODE_BIT (self_id (repl)))
    {
      repl->recovering = FALSE;
      chat_repl_notice (repl, CHAT_REPL_NOTICE_REJOIN_DONE, 0, chat_repl_last_index (repl),
                        repl->isr);
    }
  return TRUE;
}

static void
request_vote (ChatRepl *repl, guint id, gboolean transfer)
{
  ChatReplMessage *m
      = chat_repl_message_new (CHAT_REPL_MSG_VOTE_REQUEST, self_id (repl), id, repl->term);

  m->last_index = chat_repl_last_index (repl);
  m->last_term = chat_repl_last_term (repl);
  m->transfer = transfer;
  chat_repl_send (repl, m);
}

/* forced: win without votes (--primary on an empty disk, or force-leader). Either way the
 * candidate leads only once its new term is durable, so that a crash cannot make it lead
 * the same term twice with different entries. */
void
chat_repl_campaign (ChatRepl *repl, gboolean transfer, gboolean forced)
{
  guint64 term = CHAT_REPL_TERM_MAKE (CHAT_REPL_TERM_COUNTER (repl->term) + 1, self_id (repl));

  if (repl->role == CHAT_REPL_ROLE_LEADER)
    chat_repl_become_follower (repl, repl->term, 0);
  chat_repl_set_hard_state (repl, term, self_id (repl));
  repl->role = CHAT_REPL_ROLE_CANDIDATE;
  repl->leader = 0;
  repl->leader_match = 0;
  repl->campaign_start = repl->now;
  repl->campaign_forced = forced;
  chat_repl_pre_vote_cancel (repl);
  chat_repl_reset_election_timer (repl);
  if (!is_quorum (repl))
    repl->election_deadline += repl->config.failure_timeout_ms;
  chat_repl_notice (repl, CHAT_REPL_NOTICE_ELECTION_STARTED, self_id (repl), 0, repl->isr);

  repl->vote_resend_due = repl->now + repl->config.heartbeat_ms;
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      repl->peers[id].vote_answered = FALSE;
      repl->peers[id].vote_granted = FALSE;
      repl->peers[id].vote_from_new_store = FALSE;
      repl->peers[id].vote_vouches = FALSE;
      if (id != self_id (repl))
        request_vote (repl, id, transfer);
    }
  chat_repl_check_election (repl);
}

/* A bootstrap candidate asks again at every heartbeat: at a cluster's first start the
 * links come up one by one, and a request sent before a link was up is lost. It asks
 * those that granted too: the repeated request keeps their timers from firing while it
 * waits for a late server (a voter's own bootstrap campaign in a higher term would depose
 * it the moment it wins), and their answers show that they are still there. */
void
chat_repl_candidate_tick (ChatRepl *repl)
{
  if (repl->role != CHAT_REPL_ROLE_CANDIDATE || !chat_repl_bootstrapping (repl)
      || repl->hard_state_pending || repl->now < repl->vote_resend_due)
    return;
  repl->vote_resend_due = repl->now + repl->config.heartbeat_ms;
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (id != self_id (repl))
        request_vote (repl, id, FALSE);
    }
}

static gboolean
won_quorum (ChatRepl *repl)
{
  guint votes = 1;

  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (id != self_id (repl) && repl->peers[id].vote_granted)
        votes++;
    }
  return votes * 2 > repl->config.n_nodes;
}

/* Whether a peer said nothing at all since `since`: no message of any kind, in any term.
 * A refusal in a lower term (a leader's, or a server that still hears one, C3) is not an
 * answer to our vote request, but it shows that the peer is alive (A5). */
gboolean
chat_repl_silent_since (ChatRepl *repl, guint id, guint64 since)
{
  return repl->peer_heard[id] < since;
}

/* Every other member of our latest in-sync set granted, or (when we are a live member)
 * said nothing at all for the failure timeout, which under fail-stop means it is down. */
static gboolean
won_available (ChatRepl *repl, ChatReplNodeSet *down)
{
  gboolean waited = repl->now >= repl->campaign_start + repl->config.failure_timeout_ms;
  gboolean strict = chat_repl_needs_every_vote (repl) && !chat_repl_vouched (repl, FALSE);
  ChatReplNodeSet electorate = electorate_of (repl);

  *down = 0;
  if (chat_repl_heal_must_wait (repl) && !waited && !repl->campaign_forced)
    return FALSE;
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      ChatReplPeer *p = &repl->peers[id];

      if (id == self_id (repl) || !CHAT_REPL_NODE_SET_HAS (electorate, id) || p->vote_granted)
        continue;
      if (p->vote_answered || strict || !waited
          || !chat_repl_silent_since (repl, id, repl->campaign_start))
        return FALSE;
      *down |= CHAT_REPL_NODE_BIT (id);
    }
  return TRUE;
}

void
chat_repl_check_election (ChatRepl *repl)
{
  ChatReplNodeSet down = 0;

  if (repl->role != CHAT_REPL_ROLE_CANDIDATE || repl->hard_state_pending)
    return;
  if (!repl->campaign_forced
      && (is_quorum (repl) ? !won_quorum (repl) : !won_available (repl, &down)))
    return;
  chat_repl_become_leader (repl, down);
}

/* down: members of the in-sync set presumed crashed during the election. */
void
chat_repl_become_leader (ChatRepl *repl, ChatReplNodeSet down)
{
  gboolean forced = repl->campaign_forced;
  guint64 last;

  chat_repl_found_cluster (repl);
  repl->role = CHAT_REPL_ROLE_LEADER;
  repl->leader = self_id (repl);
  repl->leader_since = repl->now;
  repl->transfer_target = 0;
  repl->held_addition = 0;
  chat_repl_pre_vote_cancel (repl);
  chat_repl_rebuilt (repl);
  last = chat_repl_last_index (repl);
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      ChatReplPeer *p = &repl->peers[id];
      /* A12: a member whose new store we heard of while campaigning has lost its disk;
       * the first tick takes it out of the set, as it would have as our follower. */
      gboolean emptied = p->emptied;

      chat_repl_snapshot_stop (p);
      *p = (ChatReplPeer){ .next_index = last + 1, .last_ack_ms = repl->now, .up = TRUE };
      p->emptied = emptied;
    }
  repl->quorum_check_due = repl->now + repl->config.election_timeout_max_ms;
  if (repl->recovering)
    {
      repl->recovering = FALSE;
      chat_repl_notice (repl, CHAT_REPL_NOTICE_REJOIN_DONE, 0, last, repl->isr);
    }
  chat_repl_notice (repl, CHAT_REPL_NOTICE_LEADER_ELECTED, self_id (repl), last, repl->isr);
  /* A NOOP of the new term commits what earlier terms left uncommitted. */
  repl->first_index_of_term = chat_repl_log_append_new (repl, CHAT_REPL_ENTRY_NOOP, NULL);
  if (!is_quorum (repl))
    {
      ChatReplNodeSet isr
          = forced ? CHAT_REPL_NODE_BIT (self_id (repl)) : chat_repl_isr_initial (repl, down);

      if (isr != repl->isr)
        chat_repl_isr_append (repl, isr);
    }
  chat_repl_broadcast_append (repl);
  chat_repl_advance_commit (repl);
}

gboolean
chat_repl_heard_from_leader (ChatRepl *repl)
{
  if (repl->role == CHAT_REPL_ROLE_LEADER)
    return TRUE;
  return repl->leader != 0
         && repl->now < repl->leader_contact + repl->config.election_timeout_min_ms;
}

static void
answer_vote (ChatRepl *repl, const ChatReplMessage *msg, gboolean granted)
{
  ChatReplMessage *m
      = chat_repl_message_new (CHAT_REPL_MSG_VOTE_RESPONSE, self_id (repl), msg->from, repl->term);

  m->granted = granted;
  /* Tells an empty candidate whether this server already belongs to a cluster (so does
   * the cluster id every message carries), and a candidate that needs every vote whether
   * ours vouches for a history: a new store still copying its log (A13) says 0, since
   * what it holds is a copy, not what its old disk acknowledged (A6). Once it holds
   * entries it holds the cluster id too, which tells an empty candidate the rest. */
  m->last_index = repl->rebuilding ? 0 : chat_repl_last_index (repl);
  m->vouch = granted && chat_repl_vouches_for (repl, msg->from) ? repl->isr : 0;
  chat_repl_send (repl, m);
}

void
chat_repl_handle_vote_request (ChatRepl *repl, const ChatReplMessage *msg)
{
  gboolean granted = FALSE;

  /* A server that hears from a live leader ignores candidates (and their terms): a
   * restarted or partitioned server must not depose a working leader. */
  if (msg->term < repl->term || (!msg->transfer && chat_repl_heard_from_leader (repl)))
    {
      answer_vote (repl, msg, FALSE);
      return;
    }
  if (CHAT_REPL_TERM_NODE (msg->term) != msg->from)
    return;
  /* Founding a cluster needs empty servers; a server that belongs to one is not, even
   * before its first entry is on its disk (it only helps found that one again). */
  if (msg->last_index == 0 && repl->cluster_id != 0 && msg->cluster != repl->cluster_id)
    {
      answer_vote (repl, msg, FALSE);
      return;
    }
  if (msg->term > repl->term)
    chat_repl_become_follower (repl, msg->term, 0);
  if ((repl->vote == 0 || repl->vote == msg->from)
      && chat_repl_log_up_to_date (repl, msg->last_term, msg->last_index))
    {
      granted = TRUE;
      chat_repl_set_hard_state (repl, repl->term, msg->from);
      chat_repl_reset_election_timer (repl);
      /* In available mode the candidate may wait a failure timeout for silent members;
       * do not start a rival campaign in the meantime. */
      if (!is_quorum (repl))
        repl->election_deadline += repl->config.failure_timeout_ms;
    }
  answer_vote (repl, msg, granted);
}

void
chat_repl_handle_vote_response (ChatRepl *repl, const ChatReplMessage *msg)
{
  ChatReplPeer *p = &repl->peers[msg->from];

  /* A voter with a history: a cluster exists, an empty server waits for its leader. */
  if (!msg->granted
      && (msg->last_index > 0 || (msg->cluster != 0 && msg->cluster != repl->cluster_id))
      && chat_repl_bootstrapping (repl))
    {
      if (!repl->cluster_known)
        chat_repl_notice (repl, CHAT_REPL_NOTICE_CLUSTER_EXISTS, msg->from, msg->last_index, 0);
      repl->cluster_known = TRUE;
      if (repl->role == CHAT_REPL_ROLE_CANDIDATE)
        chat_repl_become_follower (repl, MAX (msg->term, repl->term), 0);
      return;
    }
  if (msg->term > repl->term)
    {
      chat_repl_become_follower (repl, msg->term, 0);
      return;
    }
  if (repl->role != CHAT_REPL_ROLE_CANDIDATE || msg->term != repl->term)
    return;
  if (chat_repl_heal_yields (repl, msg))
    {
      chat_repl_become_follower (repl, repl->term, 0);
      /* The majority's side is alive: let it elect. Its servers may have granted our vote
       * (they cannot see our set while we recover), which holds their own campaigns back;
       * running again at our next timeout would do so forever. */
      repl->suppress_until
          = repl->now + repl->config.failure_timeout_ms + 2 * repl->config.election_timeout_max_ms;
      return;
    }
  p->vote_answered = TRUE;
  p->vote_granted = msg->granted;
  p->vote_from_new_store = msg->last_index == 0;
  p->vote_vouches = msg->vouch != 0 && msg->vouch == repl->isr;
  chat_repl_check_election (repl);
}

void
chat_repl_handle_timeout_now (ChatRepl *repl, const ChatReplMessage *msg)
{
  if (msg->term != repl->term || repl->role != CHAT_REPL_ROLE_FOLLOWER || repl->leader != msg->from)
    return;
  chat_repl_campaign (repl, TRUE, FALSE);
}

static void
admin_transfer (ChatRepl *repl, guint target)
{
  if (repl->role != CHAT_REPL_ROLE_LEADER || target < 1 || target > repl->config.n_nodes
      || target == self_id (repl))
    return;
  repl->transfer_target = target;
  repl->transfer_deadline = repl->now + repl->config.election_timeout_max_ms;
  chat_repl_notice (repl, CHAT_REPL_NOTICE_TRANSFER_STARTED, target, 0, 0);
  chat_repl_send_append (repl, target);
}

static void
admin_force (ChatRepl *repl)
{
  /* Quorum mode keeps its guarantees: force means "campaign now", votes still count. */
  repl->suppress_until = 0;
  if (is_quorum (repl))
    {
      chat_repl_campaign (repl, TRUE, FALSE);
      return;
    }
  if (repl->role == CHAT_REPL_ROLE_LEADER)
    return;
  chat_repl_notice (repl, CHAT_REPL_NOTICE_FORCED_LEADER, self_id (repl),
                    chat_repl_last_index (repl), repl->isr);
  repl->recovering = FALSE;
  chat_repl_rebuilt (repl);
  chat_repl_campaign (repl, TRUE, TRUE);
}

void
chat_repl_admin (ChatRepl *repl, const ChatReplEvent *event)
{
  switch (event->admin)
    {
      case CHAT_REPL_ADMIN_STEP_DOWN:
        if (repl->role != CHAT_REPL_ROLE_LEADER)
          return;
        chat_repl_become_follower (repl, repl->term, 0);
        /* Give the others a full election timeout to take over before we run again. */
        repl->suppress_until = repl->now + repl->config.election_timeout_max_ms;
        break;
      case CHAT_REPL_ADMIN_TRANSFER:
        admin_transfer (repl, event->target);
        break;
      case CHAT_REPL_ADMIN_FORCE_LEADER:
        admin_force (repl);
        break;
      case CHAT_REPL_ADMIN_SNAPSHOT:
        chat_repl_take_snapshot (repl, event->index, event->data);
        break;
      default:
        break;
    }
}
