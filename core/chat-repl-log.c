/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The in-memory log of the replication core: lookup, append, truncation and compaction. */
#include "chat-repl-private.h"

guint64
chat_repl_last_index (ChatRepl *repl)
{
  return repl->snapshot_index + repl->log->len;
}

guint64
chat_repl_last_term (ChatRepl *repl)
{
  if (repl->log->len == 0)
    return repl->snapshot_term;
  return ((ChatReplEntry *)g_ptr_array_index (repl->log, repl->log->len - 1))->term;
}

ChatReplEntry *
chat_repl_log_get (ChatRepl *repl, guint64 index)
{
  if (index <= repl->snapshot_index || index > chat_repl_last_index (repl))
    return NULL;
  return g_ptr_array_index (repl->log, index - repl->snapshot_index - 1);
}

guint64
chat_repl_term_at (ChatRepl *repl, guint64 index)
{
  ChatReplEntry *e;

  if (index == repl->snapshot_index)
    return repl->snapshot_term;
  e = chat_repl_log_get (repl, index);
  return e != NULL ? e->term : G_MAXUINT64;
}

/* Hands the entry to the update too, so the host persists exactly what the log holds. */
void
chat_repl_log_append (ChatRepl *repl, ChatReplEntry *entry)
{
  g_ptr_array_add (repl->log, chat_repl_entry_ref (entry));
  g_ptr_array_add (repl->u->entries, chat_repl_entry_ref (entry));
  if (entry->type == CHAT_REPL_ENTRY_IN_SYNC_SET)
    {
      repl->isr = chat_repl_entry_get_node_set (entry);
      repl->isr_index = entry->index;
    }
}

guint64
chat_repl_log_append_new (ChatRepl *repl, ChatReplEntryType type, GBytes *data)
{
  guint64 index = chat_repl_last_index (repl) + 1;
  g_autoptr (ChatReplEntry) e = chat_repl_entry_new (repl->term, index, type, data);

  chat_repl_log_append (repl, e);
  return index;
}

/* Drops entries >= from, in memory and (through the update) on the host's disk. */
void
chat_repl_log_truncate (ChatRepl *repl, guint64 from)
{
  ChatReplUpdate *u = repl->u;

  if (from <= repl->snapshot_index || from > chat_repl_last_index (repl))
    return;
  g_ptr_array_set_size (repl->log, from - repl->snapshot_index - 1);
  repl->persisted = MIN (repl->persisted, from - 1);
  repl->leader_match = MIN (repl->leader_match, from - 1);

  /* Entries of this same update are not on disk yet: drop them from the update. Older
   * ones are, so the host must delete them. */
  if (u->entries->len > 0 && ((ChatReplEntry *)g_ptr_array_index (u->entries, 0))->index <= from)
    {
      guint keep = 0;

      while (keep < u->entries->len
             && ((ChatReplEntry *)g_ptr_array_index (u->entries, keep))->index < from)
        keep++;
      g_ptr_array_set_size (u->entries, keep);
    }
  else
    {
      g_ptr_array_set_size (u->entries, 0);
      u->truncate_from = u->truncate_from == 0 ? from : MIN (u->truncate_from, from);
    }
  chat_repl_refresh_isr (repl);
}

/* Forgets entries <= upto; they live on in the snapshot. */
void
chat_repl_log_compact (ChatRepl *repl, guint64 upto)
{
  guint64 term = chat_repl_term_at (repl, upto);
  ChatReplNodeSet isr = chat_repl_isr_at (repl, upto);

  if (upto <= repl->snapshot_index || upto > chat_repl_last_index (repl))
    return;
  g_ptr_array_remove_range (repl->log, 0, upto - repl->snapshot_index);
  repl->snapshot_index = upto;
  repl->snapshot_term = term;
  repl->snapshot_isr = isr;
  chat_repl_refresh_isr (repl);
}

/* Replaces the whole log by a snapshot position (snapshot install). */
void
chat_repl_log_reset (ChatRepl *repl, guint64 index, guint64 term, ChatReplNodeSet isr)
{
  g_ptr_array_set_size (repl->log, 0);
  g_ptr_array_set_size (repl->u->entries, 0);
  repl->u->truncate_from = 0;
  repl->snapshot_index = index;
  repl->snapshot_term = term;
  repl->snapshot_isr = isr;
  repl->persisted = MIN (repl->persisted, index);
  chat_repl_refresh_isr (repl);
}

/* The in-sync set in force at index: the last IN_SYNC_SET entry at or before it. */
ChatReplNodeSet
chat_repl_isr_at (ChatRepl *repl, guint64 index)
{
  guint64 i = MIN (index, chat_repl_last_index (repl));

  for (; i > repl->snapshot_index; i--)
    {
      ChatReplEntry *e = chat_repl_log_get (repl, i);

      if (e->type == CHAT_REPL_ENTRY_IN_SYNC_SET)
        return chat_repl_entry_get_node_set (e);
    }
  return repl->snapshot_isr;
}

void
chat_repl_refresh_isr (ChatRepl *repl)
{
  guint64 i = chat_repl_last_index (repl);

  for (; i > repl->snapshot_index; i--)
    {
      ChatReplEntry *e = chat_repl_log_get (repl, i);

      if (e->type == CHAT_REPL_ENTRY_IN_SYNC_SET)
        {
          repl->isr = chat_repl_entry_get_node_set (e);
          repl->isr_index = i;
          return;
        }
    }
  repl->isr = repl->snapshot_isr;
  repl->isr_index = repl->snapshot_index;
}

/* Raft's vote restriction: the candidate's last (term, index) is at least ours. */
gboolean
chat_repl_log_up_to_date (ChatRepl *repl, guint64 last_term, guint64 last_index)
{
  guint64 my_term = chat_repl_last_term (repl);

  if (CHAT_REPL_BROKEN (CHAT_REPL_BREAK_VOTE_NOT_UP_TO_DATE))
    return TRUE;
  if (last_term != my_term)
    return last_term > my_term;
  return last_index >= chat_repl_last_index (repl);
}

static void
answer_proposals (ChatRepl *repl)
{
  guint done = 0;

  while (done < repl->pending->len)
    {
      ChatReplPending *p = &g_array_index (repl->pending, ChatReplPending, done);
      ChatReplProposalResult r = { p->proposal_id, CHAT_REPL_RESULT_OK, p->index, 0 };

      if (p->index > repl->applied)
        break;
      if (chat_repl_term_at (repl, p->index) != p->term)
        {
          r.code = CHAT_REPL_RESULT_NOT_LEADER;
          r.leader = repl->leader;
        }
      g_array_append_val (repl->u->results, r);
      done++;
    }
  g_array_remove_range (repl->pending, 0, done);
}

/* Hands committed entries to the host; never past what is durable here, so that what a
 * server applied survives its crash. */
void
chat_repl_apply_committed (ChatRepl *repl)
{
  guint64 upto = MIN (repl->commit, repl->persisted);

  while (repl->applied < upto)
    {
      ChatReplEntry *e = chat_repl_log_get (repl, repl->applied + 1);

      if (e == NULL)
        break;
      g_ptr_array_add (repl->u->committed, chat_repl_entry_ref (e));
      repl->applied++;
    }
  if (repl->role == CHAT_REPL_ROLE_LEADER)
    answer_proposals (repl);
}
