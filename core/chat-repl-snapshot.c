/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshots: local compaction, chunked sending to a lagging follower, and install. */
#include "chat-repl-private.h"

/* Chunks never exceed this, so the snapshot total is bounded too (1 GiB). */
#define MAX_SNAPSHOT_BYTES (G_GUINT64_CONSTANT (1) << 30)

static guint
self_id (ChatRepl *repl)
{
  return repl->config.node_id;
}

static void
hand_to_host (ChatRepl *repl, gboolean install)
{
  ChatReplSnapshot *snap = g_new0 (ChatReplSnapshot, 1);

  snap->index = repl->snapshot_index;
  snap->term = repl->snapshot_term;
  snap->isr = repl->snapshot_isr;
  snap->data = g_bytes_ref (repl->snapshot_data);
  snap->install = install;
  if (repl->u->snapshot != NULL)
    {
      snap->install |= repl->u->snapshot->install;
      g_bytes_unref (repl->u->snapshot->data);
      g_free (repl->u->snapshot);
    }
  repl->u->snapshot = snap;
}

static void
keep_image (ChatRepl *repl, guint64 index, guint64 term, ChatReplNodeSet isr, GBytes *data)
{
  repl->image_index = index;
  repl->image_term = term;
  repl->image_isr = isr;
  g_clear_pointer (&repl->image_data, g_bytes_unref);
  repl->image_data = data != NULL ? g_bytes_ref (data) : NULL;
}

/* After the snapshot moved (taken, installed, loaded or reset), it is the newest image. */
void
chat_repl_image_from_snapshot (ChatRepl *repl)
{
  keep_image (repl, repl->snapshot_index, repl->snapshot_term, repl->snapshot_isr,
              repl->snapshot_data);
}

/* data is the host's state machine at applied index `index`. An image that may not compact
 * the log (entries some server lacks stay for the losing side of a partition, see
 * chat-repl-heal.c) is still kept, for followers that lack more log than it weighs. */
void
chat_repl_take_snapshot (ChatRepl *repl, guint64 index, GBytes *data)
{
  if (data == NULL || index <= repl->snapshot_index || index > repl->applied)
    return;
  if (!chat_repl_heal_may_compact (repl, index))
    {
      if (index > repl->image_index)
        keep_image (repl, index, chat_repl_term_at (repl, index), chat_repl_isr_at (repl, index),
                    data);
      return;
    }
  chat_repl_log_compact (repl, index);
  g_clear_pointer (&repl->snapshot_data, g_bytes_unref);
  repl->snapshot_data = g_bytes_ref (data);
  if (index >= repl->image_index)
    chat_repl_image_from_snapshot (repl);
  hand_to_host (repl, FALSE);
}

void
chat_repl_snapshot_stop (ChatReplPeer *p)
{
  p->sending_snapshot = FALSE;
  p->snapshot_offset = 0;
  p->snapshot_acked = 0;
  g_clear_pointer (&p->snapshot_data, g_bytes_unref);
}

/* The follower's next entry is compacted away, or it is receiving an image already. */
gboolean
chat_repl_snapshot_needed (ChatRepl *repl, guint id)
{
  ChatReplPeer *p = &repl->peers[id];

  return p->sending_snapshot || p->next_index <= repl->snapshot_index;
}

/* C8: the log entries the follower lacks from `from` up to the image's index weigh more
 * than the configured share of the image. The image replaces the follower's log, so it is
 * sent only once the follower has acknowledged in this term that its log matches ours up
 * to `from` - 1 (the caller's business): an install hands out for replay only what lies
 * past that match (see install below). */
gboolean
chat_repl_snapshot_cheaper (ChatRepl *repl, guint id, guint64 from)
{
  guint64 percent = repl->config.snapshot_over_log_percent;
  guint64 limit, bytes = 0;

  if (percent == 0 || repl->image_data == NULL || repl->peers[id].sending_snapshot
      || from <= repl->snapshot_index || from > repl->image_index)
    return FALSE;
  limit = g_bytes_get_size (repl->image_data) * percent / 100;
  for (guint64 i = from; i <= repl->image_index; i++)
    {
      bytes += g_bytes_get_size (chat_repl_log_get (repl, i)->data);
      if (bytes > limit)
        return TRUE;
    }
  return FALSE;
}

static void
start_sending (ChatRepl *repl, ChatReplPeer *p)
{
  chat_repl_snapshot_stop (p);
  chat_repl_forget_in_flight (p);
  p->sending_snapshot = TRUE;
  p->snapshot_index = repl->image_index;
  p->snapshot_term = repl->image_term;
  p->snapshot_isr = repl->image_isr;
  p->snapshot_data = g_bytes_ref (repl->image_data);
  p->snapshot_moved_ms = repl->now;
}

static void
send_chunk (ChatRepl *repl, guint id)
{
  ChatReplPeer *p = &repl->peers[id];
  gsize total = g_bytes_get_size (p->snapshot_data);
  gsize len;
  ChatReplMessage *m;

  p->snapshot_offset = MIN (p->snapshot_offset, total);
  len = MIN (repl->config.snapshot_chunk_bytes, total - p->snapshot_offset);
  m = chat_repl_message_new (CHAT_REPL_MSG_SNAPSHOT, self_id (repl), id, repl->term);
  m->snapshot_index = p->snapshot_index;
  m->snapshot_term = p->snapshot_term;
  m->snapshot_isr = p->snapshot_isr;
  m->offset = p->snapshot_offset;
  m->total = total;
  m->data = g_bytes_new_from_bytes (p->snapshot_data, p->snapshot_offset, len);
  m->done = p->snapshot_offset + len == total;
  p->snapshot_offset += len;
  p->last_send_ms = repl->now;
  chat_repl_send (repl, m);
}

/* Up to snapshot_chunks_in_flight unanswered chunks; the follower takes them in order
 * only, so when nothing was acknowledged for a heartbeat (a chunk lost, or overtaken by a
 * later one) the sending goes back to what it acknowledged. */
void
chat_repl_send_snapshot_chunks (ChatRepl *repl, guint id)
{
  ChatReplPeer *p = &repl->peers[id];
  guint64 window
      = repl->config.snapshot_chunks_in_flight * (guint64)repl->config.snapshot_chunk_bytes;
  gsize total;

  if (!p->sending_snapshot)
    {
      if (repl->image_data == NULL)
        return;
      start_sending (repl, p);
    }
  else if (repl->now >= p->snapshot_moved_ms + repl->config.heartbeat_ms)
    {
      p->snapshot_offset = p->snapshot_acked;
      p->snapshot_moved_ms = repl->now;
    }
  total = g_bytes_get_size (p->snapshot_data);
  if (total == 0)
    {
      send_chunk (repl, id);
      return;
    }
  while (p->snapshot_offset < total && p->snapshot_offset - p->snapshot_acked < window)
    send_chunk (repl, id);
}

static void
answer_snapshot (ChatRepl *repl, guint to, const ChatReplMessage *msg, guint64 offset,
                 gboolean done)
{
  ChatReplMessage *m
      = chat_repl_message_new (CHAT_REPL_MSG_SNAPSHOT_RESPONSE, self_id (repl), to, repl->term);

  m->snapshot_index = msg->snapshot_index;
  m->snapshot_term = msg->snapshot_term;
  m->offset = offset;
  m->done = done;
  m->success = done;
  chat_repl_send (repl, m);
}

static gboolean
snapshot_valid (const ChatReplMessage *msg)
{
  gsize len = msg->data != NULL ? g_bytes_get_size (msg->data) : 0;

  return CHAT_REPL_TERM_NODE (msg->term) == msg->from && msg->snapshot_index > 0
         && msg->snapshot_term > 0 && msg->snapshot_term <= msg->term
         && msg->total <= MAX_SNAPSHOT_BYTES && msg->offset <= msg->total
         && len <= msg->total - msg->offset && msg->done == (msg->offset + len == msg->total);
}

/* Operations of ours that the leader's snapshot may lack (past what every server holds, see
 * chat-repl-heal.c) are handed out for replay before it replaces them. */
static void
install (ChatRepl *repl, const ChatReplMessage *msg)
{
  GByteArray *data = g_steal_pointer (&repl->snap_in);
  guint64 unsafe_from = chat_repl_heal_unsafe_from (repl);

  /* What our log holds up to the match acknowledged to this leader is its own history: in
   * the snapshot, or in the log it sends after it. */
  if (unsafe_from != 0)
    unsafe_from = MAX (unsafe_from, repl->leader_match + 1);
  if (unsafe_from != 0 && unsafe_from <= chat_repl_last_index (repl))
    chat_repl_diverge (repl, unsafe_from, repl->leader);
  g_clear_pointer (&repl->snapshot_data, g_bytes_unref);
  repl->snapshot_data = g_byte_array_free_to_bytes (data);
  chat_repl_log_reset (repl, msg->snapshot_index, msg->snapshot_term, msg->snapshot_isr);
  repl->commit = MAX (repl->commit, msg->snapshot_index);
  repl->applied = msg->snapshot_index;
  repl->leader_match = msg->snapshot_index;
  chat_repl_image_from_snapshot (repl);
  repl->majority_index = MAX (repl->majority_index, msg->snapshot_index);
  repl->everywhere_index = MAX (repl->everywhere_index, msg->snapshot_index);
  repl->snap_in_waiting = TRUE;
  repl->snap_in_from = msg->from;
  hand_to_host (repl, TRUE);
  chat_repl_notice (repl, CHAT_REPL_NOTICE_SNAPSHOT_INSTALLED, msg->from, msg->snapshot_index,
                    msg->snapshot_isr);
}

static gboolean
assembling_other (ChatRepl *repl, const ChatReplMessage *msg)
{
  return repl->snap_in_index != msg->snapshot_index || repl->snap_in_term != msg->snapshot_term
         || repl->snap_in_leader_term != msg->term;
}

void
chat_repl_handle_snapshot (ChatRepl *repl, const ChatReplMessage *msg)
{
  guint64 idx = msg->snapshot_index;

  if (msg->term < repl->term)
    {
      answer_snapshot (repl, msg->from, msg, 0, FALSE);
      return;
    }
  if (!snapshot_valid (msg))
    return;
  if (msg->term > repl->term || repl->role != CHAT_REPL_ROLE_FOLLOWER || repl->leader != msg->from)
    chat_repl_become_follower (repl, msg->term, msg->from);
  repl->leader_contact = repl->now;
  repl->cluster_known = TRUE;
  chat_repl_adopt_cluster (repl, msg);
  chat_repl_reset_election_timer (repl);
  /* Already there: our log holds that entry durably, so it holds the whole prefix; or our own
   * snapshot covers it, and we compact only what a majority holds (chat-repl-heal.c). */
  if ((idx <= repl->persisted && chat_repl_term_at (repl, idx) == msg->snapshot_term)
      || (idx <= repl->snapshot_index && repl->snapshot_data != NULL))
    {
      repl->leader_match = MAX (repl->leader_match, idx);
      answer_snapshot (repl, msg->from, msg, msg->total, TRUE);
      return;
    }
  if (repl->snap_in_waiting)
    return;
  if (repl->snap_in != NULL && assembling_other (repl, msg))
    g_clear_pointer (&repl->snap_in, g_byte_array_unref);
  if (repl->snap_in == NULL)
    {
      repl->snap_in = g_byte_array_new ();
      repl->snap_in_index = idx;
      repl->snap_in_term = msg->snapshot_term;
      repl->snap_in_leader_term = msg->term;
    }
  if (msg->offset != repl->snap_in->len)
    {
      answer_snapshot (repl, msg->from, msg, repl->snap_in->len, FALSE);
      return;
    }
  if (msg->data != NULL)
    g_byte_array_append (repl->snap_in, g_bytes_get_data (msg->data, NULL),
                         g_bytes_get_size (msg->data));
  if (!msg->done)
    answer_snapshot (repl, msg->from, msg, repl->snap_in->len, FALSE);
  else
    install (repl, msg);
}

static void
snapshot_sent (ChatRepl *repl, guint id)
{
  ChatReplPeer *p = &repl->peers[id];

  p->match_index = MAX (p->match_index, p->snapshot_index);
  p->next_index = MAX (p->next_index, p->snapshot_index + 1);
  chat_repl_snapshot_stop (p);
  chat_repl_notice (repl, CHAT_REPL_NOTICE_SNAPSHOT_SENT, id, p->snapshot_index, 0);
  chat_repl_advance_commit (repl);
  chat_repl_send_append (repl, id);
}

void
chat_repl_handle_snapshot_response (ChatRepl *repl, const ChatReplMessage *msg)
{
  ChatReplPeer *p = &repl->peers[msg->from];

  if (msg->term > repl->term)
    {
      chat_repl_become_follower (repl, msg->term, 0);
      return;
    }
  if (repl->role != CHAT_REPL_ROLE_LEADER || msg->term != repl->term)
    return;
  p->last_ack_ms = repl->now;
  if (!p->sending_snapshot || msg->snapshot_index != p->snapshot_index
      || msg->snapshot_term != p->snapshot_term)
    return;
  if (msg->done && msg->success)
    {
      snapshot_sent (repl, msg->from);
      return;
    }
  /* Nothing held after it had acknowledged a part: it restarted. Its log is durable up to
   * the match it acknowledged; unless that is compacted away here, a probe first makes the
   * new process know that it matches ours, or its install would hand all of it out for
   * replay (see install). */
  if (msg->offset == 0 && p->snapshot_acked > 0 && p->match_index >= repl->snapshot_index)
    {
      chat_repl_snapshot_stop (p);
      p->next_index = p->match_index + 1;
      chat_repl_send_probe (repl, msg->from);
      return;
    }
  /* Less than it acknowledged before: it restarted and starts over (or the answer is a
   * late one, and what it holds already is answered again). */
  if (msg->offset != p->snapshot_acked)
    {
      p->snapshot_moved_ms = repl->now;
      if (msg->offset < p->snapshot_acked)
        p->snapshot_offset = msg->offset;
      p->snapshot_acked = MIN (msg->offset, g_bytes_get_size (p->snapshot_data));
      p->snapshot_offset = MAX (p->snapshot_offset, p->snapshot_acked);
    }
  chat_repl_send_snapshot_chunks (repl, msg->from);
}

/* Hands every operation from `from` on to the host for replay, then starts over from an
 * empty log and state machine; the leader sends everything again (or its snapshot).
 * winner: the server whose history takes the place of ours, for the journal. */
void
chat_repl_diverge (ChatRepl *repl, guint64 from, guint winner)
{
  for (guint64 i = from; i <= chat_repl_last_index (repl); i++)
    {
      ChatReplEntry *e = chat_repl_log_get (repl, i);

      if (e != NULL && e->type == CHAT_REPL_ENTRY_OP)
        g_ptr_array_add (repl->u->diverged, chat_repl_entry_ref (e));
    }
  chat_repl_notice (repl, CHAT_REPL_NOTICE_DIVERGED, winner, from, 0);
  g_ptr_array_set_size (repl->u->committed, 0);
  g_clear_pointer (&repl->snapshot_data, g_bytes_unref);
  repl->snapshot_data = g_bytes_new (NULL, 0);
  chat_repl_log_reset (repl, 0, 0, 0);
  chat_repl_image_from_snapshot (repl);
  repl->commit = 0;
  repl->applied = 0;
  repl->persisted = 0;
  repl->leader_match = 0;
  repl->majority_index = 0;
  repl->everywhere_index = 0;
  g_clear_pointer (&repl->snap_in, g_byte_array_unref);
  repl->snap_in_waiting = FALSE;
  hand_to_host (repl, TRUE);
}

void
chat_repl_snapshot_persisted (ChatRepl *repl, guint64 index)
{
  ChatReplMessage fake = { 0 };

  if (index != repl->snapshot_index)
    return;
  repl->persisted = MAX (repl->persisted, index);
  if (!repl->snap_in_waiting)
    return;
  repl->snap_in_waiting = FALSE;
  if (repl->role != CHAT_REPL_ROLE_FOLLOWER || repl->leader != repl->snap_in_from)
    return;
  fake.snapshot_index = repl->snapshot_index;
  fake.snapshot_term = repl->snapshot_term;
  answer_snapshot (repl, repl->leader, &fake, g_bytes_get_size (repl->snapshot_data), TRUE);
  chat_repl_isr_check_rejoined (repl);
}
