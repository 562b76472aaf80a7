/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pre-vote: a server asks whether it could win before it raises its term (rule C11). */
#include "chat-repl-private.h"

static guint
self_id (ChatRepl *repl)
{
  return repl->config.node_id;
}

static guint64
next_term (ChatRepl *repl)
{
  return CHAT_REPL_TERM_MAKE (CHAT_REPL_TERM_COUNTER (repl->term) + 1, self_id (repl));
}

void
chat_repl_pre_vote_cancel (ChatRepl *repl)
{
  repl->prevote_term = 0;
}

static gboolean
majority_granted (ChatRepl *repl)
{
  guint granted = 1;

  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (id != self_id (repl))
        granted += repl->peers[id].prevote_granted;
    }
  return granted * 2 > repl->config.n_nodes;
}

/* Available mode judges the answers as won_available() will judge the votes: no member of
 * our in-sync set refused, and each other member granted or (unless we need every vote,
 * A6) stayed silent for a failure timeout. A majority of grants stands in for that wait;
 * the campaign still waits for the silent members itself. So a restarted server cut off
 * from the others, which needs every vote, does not raise its term either. */
static gboolean
pre_vote_passed_available (ChatRepl *repl)
{
  gboolean waited = repl->now >= repl->prevote_start + repl->config.failure_timeout_ms;
  gboolean strict = chat_repl_needs_every_vote (repl) && !chat_repl_vouched (repl, TRUE);
  gboolean majority = majority_granted (repl);

  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      ChatReplPeer *p = &repl->peers[id];

      if (id == self_id (repl) || !CHAT_REPL_NODE_SET_HAS (repl->isr, id) || p->prevote_granted)
        continue;
      if (p->prevote_answered || strict || !(waited || majority))
        return FALSE;
      if (!majority && !chat_repl_silent_since (repl, id, repl->prevote_start))
        return FALSE;
    }
  return TRUE;
}

static gboolean
pre_vote_passed (ChatRepl *repl)
{
  if (repl->config.mode == CHAT_REPL_MODE_QUORUM)
    return majority_granted (repl);
  return pre_vote_passed_available (repl);
}

void
chat_repl_pre_vote_check (ChatRepl *repl)
{
  if (repl->prevote_term == 0 || repl->role == CHAT_REPL_ROLE_LEADER)
    return;
  /* A higher term seen since the round began makes its answers worthless. */
  if (repl->prevote_term != next_term (repl))
    {
      chat_repl_pre_vote_cancel (repl);
      return;
    }
  if (pre_vote_passed (repl))
    chat_repl_campaign (repl, FALSE, FALSE);
}

/* The election timer fired: ask everyone whether they would vote for us in our next term.
 * Nothing changes on disk or in our term, so a server cut off from the leader (or that
 * just restarted) cannot raise the cluster's term and depose a working leader. */
void
chat_repl_pre_vote_start (ChatRepl *repl)
{
  /* A bootstrap (A8) needs no pre-vote: only empty servers can grant it, and a server with
   * a history refuses at once, which makes the empty candidate wait for its leader. */
  if (repl->config.n_nodes == 1 || chat_repl_bootstrapping (repl))
    {
      chat_repl_campaign (repl, FALSE, FALSE);
      return;
    }
  if (repl->role == CHAT_REPL_ROLE_CANDIDATE)
    chat_repl_become_follower (repl, repl->term, 0);
  repl->prevote_term = next_term (repl);
  repl->prevote_start = repl->now;
  chat_repl_reset_election_timer (repl);
  if (repl->config.mode == CHAT_REPL_MODE_AVAILABLE)
    repl->election_deadline += repl->config.failure_timeout_ms;
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      ChatReplMessage *m;

      repl->peers[id].prevote_answered = FALSE;
      repl->peers[id].prevote_granted = FALSE;
      repl->peers[id].prevote_vouches = FALSE;
      if (id == self_id (repl))
        continue;
      m = chat_repl_message_new (CHAT_REPL_MSG_PRE_VOTE_REQUEST, self_id (repl), id,
                                 repl->prevote_term);
      m->last_index = chat_repl_last_index (repl);
      m->last_term = chat_repl_last_term (repl);
      chat_repl_send (repl, m);
    }
  chat_repl_pre_vote_check (repl);
}

/* Granted as the vote would be (C2), except that nothing is recorded and our term stays:
 * only to a term above ours, and never while we hear from a live leader (C3). A refusal
 * carries our term when it is higher, so that a server back from a long absence learns the
 * cluster's term and runs above it next time. */
void
chat_repl_handle_pre_vote_request (ChatRepl *repl, const ChatReplMessage *msg)
{
  gboolean granted = msg->term > repl->term && CHAT_REPL_TERM_NODE (msg->term) == msg->from
                     && !chat_repl_heard_from_leader (repl)
                     && chat_repl_log_up_to_date (repl, msg->last_term, msg->last_index);
  ChatReplMessage *m
      = chat_repl_message_new (CHAT_REPL_MSG_PRE_VOTE_RESPONSE, self_id (repl), msg->from,
                               granted ? msg->term : MAX (msg->term, repl->term));

  m->granted = granted;
  m->vouch = granted && chat_repl_vouches_for (repl, msg->from) ? repl->isr : 0;
  chat_repl_send (repl, m);
}

void
chat_repl_handle_pre_vote_response (ChatRepl *repl, const ChatReplMessage *msg)
{
  ChatReplPeer *p = &repl->peers[msg->from];

  if (repl->role == CHAT_REPL_ROLE_LEADER)
    return;
  /* A term of ours in an answer is the round's (an echo, maybe of a round we have
   * dropped); another server's term above ours is the cluster's: adopt it. */
  if (!msg->granted && msg->term > repl->term && CHAT_REPL_TERM_NODE (msg->term) != self_id (repl))
    {
      chat_repl_become_follower (repl, msg->term, 0);
      return;
    }
  if (repl->prevote_term == 0 || msg->term != repl->prevote_term)
    return;
  p->prevote_answered = TRUE;
  p->prevote_granted = msg->granted;
  p->prevote_vouches = msg->vouch != 0 && msg->vouch == repl->isr;
  chat_repl_pre_vote_check (repl);
}
