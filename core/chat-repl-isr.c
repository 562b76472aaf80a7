/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Available mode: the in-sync set kept as log entries, its shrinking, growing and rejoins. */
#include "chat-repl-private.h"

static ChatReplNodeSet
self_bit (ChatRepl *repl)
{
  return CHAT_REPL_NODE_BIT (repl->config.node_id);
}

/* The bit of a node id read from a log entry's term: 0 for an id outside the cluster. */
static ChatReplNodeSet
node_bit (ChatRepl *repl, guint id)
{
  return id >= 1 && id <= repl->config.n_nodes ? CHAT_REPL_NODE_BIT (id) : 0;
}

/* The set a new leader starts with: its log's set minus members that stayed silent during
 * the election. A fresh cluster (no set yet) starts with every server that voted for the
 * bootstrap, so that no write is acknowledged on fewer disks than the servers that are up;
 * the silent ones join once they have caught up. */
ChatReplNodeSet
chat_repl_isr_initial (ChatRepl *repl, ChatReplNodeSet presumed_down)
{
  if (repl->isr == 0)
    return (chat_repl_all_nodes (repl) & ~presumed_down) | self_bit (repl);
  return (repl->isr & ~presumed_down) | self_bit (repl);
}

/* The new set counts from the moment it is in the leader's log: the entry itself (and
 * everything after it) commits once every member of the new set has persisted it. */
void
chat_repl_isr_append (ChatRepl *repl, ChatReplNodeSet set)
{
  g_autoptr (GBytes) data = NULL;

  set |= self_bit (repl);
  if (set == repl->isr)
    return;
  data = chat_repl_node_set_to_bytes (set);
  chat_repl_log_append_new (repl, CHAT_REPL_ENTRY_IN_SYNC_SET, data);
  chat_repl_notice (repl, CHAT_REPL_NOTICE_IN_SYNC_CHANGED, repl->config.node_id, repl->isr_index,
                    set);
}

/* A12: a peer whose messages name a new store lost its disk. What the leader knew of it
 * is void: it has nothing (match 0, the next append goes back to the start, or the
 * snapshot), and it leaves the in-sync set at once, since commits counted its old disk. */
static void
peer_emptied (ChatRepl *repl, guint id)
{
  ChatReplPeer *p = &repl->peers[id];

  p->match_index = 0;
  p->next_index = chat_repl_last_index (repl) + 1;
  chat_repl_snapshot_stop (p);
  chat_repl_forget_in_flight (p);
  p->emptied = CHAT_REPL_NODE_SET_HAS (repl->isr, id);
  if (repl->role != CHAT_REPL_ROLE_LEADER)
    return;
  if (repl->transfer_target == id)
    repl->transfer_target = 0;
  chat_repl_notice (repl, CHAT_REPL_NOTICE_PEER_EMPTIED, id, 0, repl->isr);
}

/* FALSE: drop the message, it comes from a store that has since been replaced. */
gboolean
chat_repl_isr_check_incarnation (ChatRepl *repl, const ChatReplMessage *msg)
{
  guint id = msg->from;
  guint64 known = repl->peer_incarnation[id];

  if (msg->incarnation == 0 || msg->incarnation == known)
    return TRUE;
  if (msg->incarnation == repl->peer_retired[id])
    return FALSE;
  repl->peer_retired[id] = known;
  repl->peer_incarnation[id] = msg->incarnation;
  if (known != 0)
    peer_emptied (repl, id);
  return TRUE;
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

  /* Only a leader whose own membership is settled may change the set: otherwise
   * removing the members that voted for it would hand the set over without any of them
   * having it on disk, and one of them could come back as the "last survivor". A leader
   * stuck that way for long makes room for a member (a member may have died meanwhile). */
  if (!chat_repl_isr_membership_settled (repl))
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
          && (repl->now >= repl->peers[id].last_ack_ms + failure || repl->peers[id].emptied))
        want &= ~CHAT_REPL_NODE_BIT (id);
      if (!CHAT_REPL_NODE_SET_HAS (want, id))
        repl->peers[id].emptied = FALSE;
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
          /* A11: the addition reaches nobody before it is on our own disk. */
          repl->held_addition = repl->isr_index;
          chat_repl_broadcast_append (repl);
          return;
        }
    }
}

/* What an append of the leader we follow says of our rejoin (A7 a). It counts only when
 * it was sent after the leader heard from us in this rejoin (it echoes the rejoin's id) and
 * the leader's latest set named us then: from then on the leader removes us only after a
 * failure timeout of silence, a crash or a stall, and either begins a new rejoin here. An
 * older append, or the set in our own log, may be from before a removal that the silence
 * which began this rejoin caused: a starved host finds such appends in its queue. */
void
chat_repl_isr_heard_leader (ChatRepl *repl, const ChatReplMessage *append)
{
  if (chat_repl_set_is_own (repl) || append->rejoin_heard != repl->rejoin_id
      || !(append->isr & self_bit (repl)))
    return;
  repl->rejoin_commit = MAX (repl->rejoin_commit, append->commit);
}

/* A recovering follower (A7), or a new store (A13), is back once it holds everything the
 * live leader had committed, by an append that answers its rejoin, and that leader's set
 * names it: from then on every commit waits for it, and the sets in its log are its own. */
void
chat_repl_isr_check_rejoined (ChatRepl *repl)
{
  guint64 seen = repl->rejoin_commit;

  if (chat_repl_set_is_own (repl) || repl->role != CHAT_REPL_ROLE_FOLLOWER || repl->leader == 0
      || seen == 0)
    return;
  if (!(repl->isr & self_bit (repl)) || repl->persisted < seen || repl->leader_match < seen)
    return;
  chat_repl_rebuilt (repl);
  if (!repl->recovering)
    return;
  repl->recovering = FALSE;
  chat_repl_notice (repl, CHAT_REPL_NOTICE_REJOIN_DONE, repl->leader, repl->persisted, repl->isr);
}

/* The last entry a leader may send: all of its log, except an addition to the in-sync set
 * that is not on its own disk yet and what follows it (A11). So whoever holds an addition,
 * the leader that made it holds it on disk, and never comes back with the set before it. */
guint64
chat_repl_isr_sendable_last (ChatRepl *repl)
{
  guint64 last = chat_repl_last_index (repl);

  if (repl->held_addition != 0)
    last = MIN (last, repl->held_addition - 1);
  return last;
}

/* Our disk caught up with a held addition: send it now, not at the next heartbeat. */
void
chat_repl_isr_persisted (ChatRepl *repl)
{
  if (repl->held_addition == 0 || repl->persisted < repl->held_addition)
    return;
  repl->held_addition = 0;
  chat_repl_broadcast_append (repl);
}

/* The entry that last added this server to the in-sync set: going back from the latest
 * set, the oldest of the set entries that all name it. 0 when those entries reach back
 * into the snapshot (the addition is committed then, and so known to be). */
static guint64
own_addition_index (ChatRepl *repl)
{
  guint64 found = 0;

  for (guint64 i = chat_repl_last_index (repl); i > repl->snapshot_index; i--)
    {
      ChatReplEntry *e = chat_repl_log_get (repl, i);

      if (e->type != CHAT_REPL_ENTRY_IN_SYNC_SET)
        continue;
      if (!(chat_repl_entry_get_node_set (e) & self_bit (repl)))
        return found;
      found = i;
    }
  return (repl->snapshot_isr & self_bit (repl)) ? 0 : found;
}

/* Servers known to hold the entry at `index`: the leader of every term with an entry after
 * it in our log (its log held that entry when it appended), and every server added to the
 * set after it (an addition waits for the set before it to be committed, and the newcomer
 * has caught up with the commit index on its disk). */
static ChatReplNodeSet
holders_after (ChatRepl *repl, guint64 index)
{
  ChatReplNodeSet previous = chat_repl_isr_at (repl, index);
  ChatReplNodeSet known = 0;

  for (guint64 i = index + 1; i <= chat_repl_last_index (repl); i++)
    {
      ChatReplEntry *e = chat_repl_log_get (repl, i);

      known |= node_bit (repl, CHAT_REPL_TERM_NODE (e->term));
      if (e->type == CHAT_REPL_ENTRY_IN_SYNC_SET)
        {
          ChatReplNodeSet set = chat_repl_entry_get_node_set (e);

          known |= set & ~previous;
          previous = set;
        }
    }
  return known;
}

/* A5 (b), an anchored membership: we hold on disk the entry that added us; another server
 * made it by A3, so that server was a member of the set before it and, by A11, had the
 * entry on its own disk before anyone else had it; and every other member of our latest
 * set is known to hold the entry too. Then no server leads under the set from before we
 * joined while we are alive: it would need the adder's vote, or be a live member that
 * lacks the entry, and each of those holds it (docs/replication.md, after A6). */
static gboolean
membership_anchored (ChatRepl *repl)
{
  guint64 added = own_addition_index (repl);
  ChatReplNodeSet vouched;
  guint adder;

  if (added == 0 || added > repl->persisted)
    return FALSE;
  adder = CHAT_REPL_TERM_NODE (chat_repl_log_get (repl, added)->term);
  if (adder == repl->config.node_id)
    return FALSE;
  /* The founding set of a fresh cluster (A8): no set came before it, and a server that
   * lacks it cannot lead at all (a log without a set never runs; an empty one needs the
   * vote of every server that answers, and we refuse it). */
  if (chat_repl_isr_at (repl, added - 1) == 0)
    return TRUE;
  if (!(chat_repl_isr_at (repl, added - 1) & node_bit (repl, adder)))
    return FALSE;
  vouched = self_bit (repl) | node_bit (repl, adder) | holders_after (repl, added);
  return (repl->isr & ~vouched) == 0;
}

/* Whether this server's place in its latest in-sync set is settled (A5): committed as far
 * as it knows, or anchored. A member that is not settled added itself by its own election
 * (A6: its voters may lack that entry), or shares its set with an older member that may
 * have missed its addition and could lead alone under the set from before it. */
gboolean
chat_repl_isr_membership_settled (ChatRepl *repl)
{
  if (!(repl->isr & self_bit (repl)))
    return FALSE;
  if (chat_repl_isr_at (repl, repl->commit) & self_bit (repl))
    return TRUE;
  return membership_anchored (repl);
}
