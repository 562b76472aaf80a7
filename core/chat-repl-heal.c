/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* After a partition in available mode: the side whose in-sync set is larger wins, and a
 * side that may lose keeps its log until it knows (docs/partitions.md). */
#include "chat-repl-private.h"

static gboolean
is_available (ChatRepl *repl)
{
  return repl->config.mode == CHAT_REPL_MODE_AVAILABLE;
}

static gboolean
is_majority (ChatRepl *repl, ChatReplNodeSet set)
{
  return chat_repl_node_set_count (set) * 2 > repl->config.n_nodes;
}

/* How many servers stand behind the sender of msg, and behind us: the servers only its
 * in-sync set names, and those only ours names. A server both sets name is counted for
 * neither: one of the two views is stale, and we cannot tell which. */
static guint
sender_side (ChatRepl *repl, const ChatReplMessage *msg)
{
  return chat_repl_node_set_count ((msg->isr & ~repl->isr) | CHAT_REPL_NODE_BIT (msg->from));
}

static guint
own_side (ChatRepl *repl, const ChatReplMessage *msg)
{
  return chat_repl_node_set_count ((repl->isr & ~msg->isr)
                                   | CHAT_REPL_NODE_BIT (repl->config.node_id));
}

/* Whether this server's side still has a leader: it leads, or heard its leader lately. A side
 * without one may be a view that is stale (its members went over to another leader while
 * this server was away or down) and must not hold anybody back. */
static gboolean
side_has_leader (ChatRepl *repl)
{
  guint patience = MAX (repl->config.failure_timeout_ms, repl->config.election_timeout_max_ms);

  if (repl->role == CHAT_REPL_ROLE_LEADER)
    return TRUE;
  return repl->leader != 0 && repl->now < repl->leader_contact + patience;
}

/* A server whose latest in-sync set is a majority ignores a higher term from a server outside
 * that set with fewer servers behind it: that server led a minority through a partition, and its
 * side is the one that replays. A vote request is refused (the candidate gives up, see
 * chat_repl_heal_yields()); when the other server leads or answers with its higher term, a
 * leader takes a term above it (an election among its own set), so that it hears a higher
 * term and steps down; anyone else just drops the message, but only while its side has a
 * leader: a server whose set names servers that have gone over to the other leader (it was
 * cut off or down meanwhile) would otherwise ignore the only leader there is, forever, as
 * its own campaign needs their votes. (Its refusal of a vote stays: its own campaign may
 * win.) Returns TRUE when msg must not be handled. */
gboolean
chat_repl_heal_outranks (ChatRepl *repl, const ChatReplMessage *msg)
{
  /* A restarted server's set is from before its crash, a new store's a copy: it neither
   * refuses nor leads until it has synced. */
  if (!is_available (repl) || msg->term <= repl->term || msg->isr == 0
      || !chat_repl_set_is_own (repl))
    return FALSE;
  if (!is_majority (repl, repl->isr) || CHAT_REPL_NODE_SET_HAS (repl->isr, msg->from)
      || sender_side (repl, msg) >= own_side (repl, msg))
    return FALSE;
  if (msg->type == CHAT_REPL_MSG_VOTE_REQUEST)
    {
      /* Refused in the candidate's own term, so that it hears which set it ran against. */
      ChatReplMessage *m = chat_repl_message_new (CHAT_REPL_MSG_VOTE_RESPONSE, repl->config.node_id,
                                                  msg->from, msg->term);

      chat_repl_send (repl, m);
      return TRUE;
    }
  if (!side_has_leader (repl))
    return FALSE;
  if (repl->role == CHAT_REPL_ROLE_LEADER)
    {
      chat_repl_set_hard_state (repl, msg->term, 0);
      chat_repl_campaign (repl, FALSE, FALSE);
    }
  return TRUE;
}

/* A candidate whose latest in-sync set is a minority gives up when a server outside that set
 * answers with a larger one that leaves it out: the majority's side is alive and wins. (A
 * set that still names the candidate is older than the candidate's own: a restarted
 * server's.) */
gboolean
chat_repl_heal_yields (ChatRepl *repl, const ChatReplMessage *msg)
{
  return is_available (repl) && msg->isr != 0 && repl->isr != 0 && !is_majority (repl, repl->isr)
         && is_majority (repl, msg->isr) && !CHAT_REPL_NODE_SET_HAS (repl->isr, msg->from)
         && !CHAT_REPL_NODE_SET_HAS (msg->isr, repl->config.node_id)
         && sender_side (repl, msg) > own_side (repl, msg);
}

/* A candidate that is a member of a minority in-sync set waits the failure timeout before
 * it leads, so that a live majority's refusal reaches it first. */
gboolean
chat_repl_heal_must_wait (ChatRepl *repl)
{
  return is_available (repl) && repl->isr != 0 && !is_majority (repl, repl->isr)
         && CHAT_REPL_NODE_SET_HAS (repl->isr, repl->config.node_id) && repl->config.n_nodes > 1;
}

/* The leader counts its own durable log and its followers' match indexes; a follower takes
 * what its leader says, as far as its own log is known to equal the leader's. The value only
 * grows: an entry on a majority stays there (a heal lets the majority's side win). */
guint64
chat_repl_heal_majority_index (ChatRepl *repl)
{
  guint64 best = 0;

  if (repl->role != CHAT_REPL_ROLE_LEADER)
    return repl->majority_index;
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      guint64 candidate
          = id == repl->config.node_id ? repl->persisted : repl->peers[id].match_index;
      guint holders = 0;

      for (guint other = 1; other <= repl->config.n_nodes; other++)
        {
          guint64 held
              = other == repl->config.node_id ? repl->persisted : repl->peers[other].match_index;

          holders += held >= candidate;
        }
      if (holders * 2 > repl->config.n_nodes)
        best = MAX (best, candidate);
    }
  repl->majority_index = MAX (repl->majority_index, MIN (best, chat_repl_last_index (repl)));
  return repl->majority_index;
}

/* Entries up to here are on every server (the leader's view; a follower's from its leader). */
guint64
chat_repl_heal_everywhere_index (ChatRepl *repl)
{
  guint64 lowest = repl->persisted;

  if (repl->role != CHAT_REPL_ROLE_LEADER)
    return repl->everywhere_index;
  for (guint id = 1; id <= repl->config.n_nodes; id++)
    {
      if (id != repl->config.node_id)
        lowest = MIN (lowest, repl->peers[id].match_index);
    }
  repl->everywhere_index = MAX (repl->everywhere_index, MIN (lowest, chat_repl_last_index (repl)));
  return repl->everywhere_index;
}

void
chat_repl_heal_follow_leader (ChatRepl *repl, const ChatReplMessage *append)
{
  repl->majority_index
      = MAX (repl->majority_index, MIN (append->majority_index, repl->leader_match));
  repl->everywhere_index
      = MAX (repl->everywhere_index, MIN (append->everywhere_index, repl->leader_match));
}

/* Entries up to index go into a snapshot only once every server holds them: whichever side
 * of a partition loses keeps in its log what it must replay. A server that stays away too
 * long (max_retained_entries) is given up on for what a majority holds, which the side of
 * the majority keeps. */
gboolean
chat_repl_heal_may_compact (ChatRepl *repl, guint64 index)
{
  guint64 everywhere = chat_repl_heal_everywhere_index (repl);
  guint64 cap = repl->config.max_retained_entries;

  if (!is_available (repl) || index <= everywhere)
    return TRUE;
  return cap != 0 && index - everywhere > cap && index <= chat_repl_heal_majority_index (repl);
}

/* The first index of our log that a leader's snapshot may lack, or 0: past what every server
 * is known to hold. */
guint64
chat_repl_heal_unsafe_from (ChatRepl *repl)
{
  if (!is_available (repl))
    return 0;
  return MAX (chat_repl_heal_everywhere_index (repl), repl->snapshot_index) + 1;
}

/* Before a leader's entries replace ours from index `from` on (above our commit index): our
 * operations there may have been acknowledged before a restart made us forget our commit
 * index (it is not on disk, and chatd answers a client before it applies), after a
 * partition whose other side won. The host replays them; their client ids make that
 * idempotent, and an operation that was never acknowledged takes effect at most once. */
void
chat_repl_heal_truncating (ChatRepl *repl, guint64 from)
{
  guint n = 0;

  if (!is_available (repl))
    return;
  for (guint64 i = MAX (from, repl->snapshot_index + 1); i <= chat_repl_last_index (repl); i++)
    {
      ChatReplEntry *e = chat_repl_log_get (repl, i);

      if (e->type != CHAT_REPL_ENTRY_OP)
        continue;
      g_ptr_array_add (repl->u->diverged, chat_repl_entry_ref (e));
      n++;
    }
  if (n > 0)
    chat_repl_notice (repl, CHAT_REPL_NOTICE_DIVERGED, repl->leader, from, 0);
}

/* The follower that answered msg holds, in its snapshot, committed entries that our log
 * contradicts or lacks. Only after a partition in available mode: its side compacted what
 * a majority held past what every server held (chat_repl_heal_may_compact: a server that
 * stayed away too long is given up on), and then our side won the heal anyway (the sides
 * looked equal to the servers that decided, or their views disagreed). Entries in a
 * snapshot cannot be replayed; ours, past what every server held, are still in our log and
 * can. Where our own snapshot covers the follower's, it holds what every server held
 * (or what a majority of ours did), and there is nothing to compare. */
gboolean
chat_repl_heal_lacks_history (ChatRepl *repl, const ChatReplMessage *msg)
{
  guint64 theirs = msg->snapshot_index;

  if (!is_available (repl) || theirs == 0 || theirs < repl->snapshot_index)
    return FALSE;
  if (theirs == repl->snapshot_index)
    return msg->snapshot_term != repl->snapshot_term;
  return theirs > chat_repl_last_index (repl)
         || chat_repl_term_at (repl, theirs) != msg->snapshot_term;
}

/* The leader gives way to a history that cannot be replayed (chat_repl_heal_lacks_history):
 * it hands out its own operations past what every server held, for the host to replay on
 * the next leader, and starts over from empty like any loser of a heal. With an empty log it
 * neither campaigns nor wins a vote against a server that holds the compacted history. */
void
chat_repl_heal_yield (ChatRepl *repl, guint follower)
{
  guint64 from = chat_repl_heal_unsafe_from (repl);

  chat_repl_become_follower (repl, repl->term, 0);
  chat_repl_diverge (repl, from, follower);
}

/* Where a follower whose entry at prev conflicts with its leader's asks the leader to go on
 * from (always below prev). Committed entries match any leader's in quorum mode, so the
 * follower's commit index is a safe point to jump to. In available mode the losing side of a
 * partition committed entries of its own, thousands of them, and stepping back one index
 * per round trip took minutes: the follower skips the whole run of its conflicting term
 * (a leader that holds one entry of that run holds its start too), down to what every
 * server held at most. Resending entries that match costs bandwidth only. */
guint64
chat_repl_heal_reject_hint (ChatRepl *repl, guint64 prev)
{
  guint64 hint = MIN (prev > 0 ? prev - 1 : 0, repl->commit);
  guint64 term, first;

  if (!is_available (repl) || prev <= repl->snapshot_index)
    return hint;
  term = chat_repl_term_at (repl, prev);
  first = prev;
  while (first - 1 > repl->snapshot_index && chat_repl_term_at (repl, first - 1) == term)
    first--;
  return MIN (hint, MAX (chat_repl_heal_everywhere_index (repl), first - 1));
}
