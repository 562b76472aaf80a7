/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Available mode: the in-sync set kept as log entries, its shrinking, growing and rejoins. */
#include "chat-repl-private.h"

static ChatReplNodeSet
self_bit (ChatRepl *repl)
{
  return CHAT_REPL_NODE_BIT (repl->config.node_id);
}

/* The set a new leader starts with: its log's set minus members that stayed silent during
 * the election; a fresh cluster (no set yet) starts with the leader alone and lets the
 * others in once they have caught up. */
ChatReplNodeSet
chat_repl_isr_initial (ChatRepl *repl, ChatReplNodeSet presumed_down)
{
  if (repl->isr == 0)
    return self_bit (repl);
  return (repl->isr & ~presumed_down) | self_bit (repl);
}

/* The new set counts from the moment it is in the leader's log: the entry itself (and
 * everything after it) commits once every member of the new set has persisted it. */
void
chat_repl_isr_append (ChatRepl *repl, ChatReplNodeSet set)
{
  set |= self_bit (repl);
  if (set == repl->isr)
    return;
  chat_repl_log_append_new (repl, CHAT_REPL_ENTRY_IN_SYNC_SET, chat_repl_node_set_to_bytes (set));
  chat_repl_notice (repl, CHAT_REPL_NOTICE_IN_SYNC_CHANGED, repl->config.node_id, repl->isr_index,
                    set);
}

static gboolean
caught_up (ChatRepl *repl, guint id)
{
  ChatReplPeer *p = &repl->peers[id];

  return p->up && !p->sending_snapshot && p->match_index >= repl->commit
         && repl->now < p->last_ack_ms + 3 * repl->config.heartbeat_ms;
}

void
chat_repl_isr_tick (ChatRepl *repl)
{
  ChatReplNodeSet want = repl->isr;
  guint64 failure = repl->config.failure_timeout_ms;

  /* Only a leader whose own membership is committed may change the set: otherwise
   * removing the members that voted for it would hand the set over without any of them
   * having it on disk, and one of them could come back as the "last survivor". A leader
   * stuck that way for long makes room for a member (a member may have died meanwhile). */
  if (!CHAT_REPL_NODE_SET_HAS (chat_repl_isr_at (repl, repl->commit), repl->config.node_id))
    {
      if (repl->now >= repl->leader_since + 2 * failure)
        {
          chat_repl_become_follower (repl, repl->term, 0);
          repl->suppress_until = repl->now + repl->config.election_timeout_max_ms;
        }
      return;
    }
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (id != repl->config.node_id && CHAT_REPL_NODE_SET_HAS (want, id)
          && repl->now >= repl->peers[id].last_ack_ms + failure)
        want &= ~CHAT_REPL_NODE_BIT (id);
    }
  /* Removals go in at once: commits wait for every member, so a dead one blocks them. */
  if (want != repl->isr)
    {
      chat_repl_isr_append (repl, want);
      chat_repl_broadcast_append (repl);
      chat_repl_advance_commit (repl);
      return;
    }
  /* Additions one at a time, once the previous change and our own term are committed. */
  if (repl->isr_index > repl->commit || repl->commit < repl->first_index_of_term)
    return;
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (!CHAT_REPL_NODE_SET_HAS (want, id) && caught_up (repl, id))
        {
          chat_repl_isr_append (repl, want | CHAT_REPL_NODE_BIT (id));
          chat_repl_broadcast_append (repl);
          return;
        }
    }
}

/* A recovering follower is back once it holds everything the live leader had committed
 * and that leader's set names it: from then on every commit waits for it. */
void
chat_repl_isr_check_rejoined (ChatRepl *repl)
{
  guint64 seen = repl->leader_commit_seen;

  if (!repl->recovering || repl->role != CHAT_REPL_ROLE_FOLLOWER || repl->leader == 0 || seen == 0)
    return;
  if (!(repl->isr & self_bit (repl)) || repl->persisted < seen || repl->leader_match < seen)
    return;
  repl->recovering = FALSE;
  chat_repl_notice (repl, CHAT_REPL_NOTICE_REJOIN_DONE, repl->leader, repl->persisted, repl->isr);
}
