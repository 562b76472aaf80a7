/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's replay of a diverged history, as chatd does it
 * (daemon/replication/chat-replica-replay.c): a durable queue per server, one operation at a time
 * through the leader it knows, again after a refusal, a lost link or a timeout, until the leader
 * answers that it committed. */
#include "sim-private.h"

#define REPLAY_TIMEOUT_MS 3000
#define REPLAY_RETRY_MS 100

static void
kick (SimWorld *w, SimServer *s, guint64 delay)
{
  sim_event_new (w, w->now + delay, EV_REPLAY, s->id);
}

static gboolean
queued (SimServer *s, guint64 key)
{
  for (guint i = 0; i < s->replay->len; i++)
    {
      if (g_array_index (s->replay, guint64, i) == key)
        return TRUE;
    }
  return FALSE;
}

/* Queues the OP entries of u->diverged (durably: the queue survives a crash, as chatd's
 * replay table is written before the reset that follows). */
void
sim_replay_queue (SimWorld *w, SimServer *s, const ChatReplUpdate *u)
{
  guint added = 0;

  for (guint i = 0; i < u->diverged->len; i++)
    {
      guint64 key = sim_op_key_of (u->diverged->pdata[i]);

      if (key == 0 || queued (s, key))
        continue;
      g_array_append_val (s->replay, key);
      added++;
    }
  if (u->diverged->len == 0)
    return;
  sim_trace (w, s->id, "replays %u operation(s) dropped by the split brain (%u new)",
             u->diverged->len, added);
  kick (w, s, 1);
}

void
sim_replay_resume (SimWorld *w, SimServer *s)
{
  s->replay_pid = 0;
  if (s->replay->len > 0)
    kick (w, s, 1);
}

/* EV_REPLAY: the oldest queued operation goes to the leader, over the peer link. */
void
sim_replay_send (SimWorld *w, SimServer *s)
{
  guint leader;
  guint64 key;
  SimEvent *ev;

  if (!s->up || s->replay->len == 0 || s->replay_pid != 0)
    return;
  leader = chat_repl_get_role (s->repl) == CHAT_REPL_ROLE_LEADER ? s->id
                                                                 : chat_repl_get_leader (s->repl);
  if (leader == 0)
    {
      kick (w, s, REPLAY_RETRY_MS);
      return;
    }
  key = g_array_index (s->replay, guint64, 0);
  s->replay_pid = ++w->next_pid;
  g_hash_table_insert (w->pid_key, GSIZE_TO_POINTER (s->replay_pid), GSIZE_TO_POINTER (key));
  g_hash_table_insert (w->replay_pid, GSIZE_TO_POINTER (s->replay_pid), GUINT_TO_POINTER (s->id));
  if (sim_link_ok (w, s->id, leader))
    {
      ev = sim_event_new (w, w->now + sim_random (w, 1, 5), EV_PROPOSE, leader);
      ev->incarnation = 0;
      ev->pid = s->replay_pid;
    }
  ev = sim_event_new (w, w->now + REPLAY_TIMEOUT_MS, EV_REPLAY_RESULT, s->id);
  ev->pid = s->replay_pid;
  ev->result.code = CHAT_REPL_RESULT_UNAVAILABLE;
}

/* The leader answered a replayed proposal: hands the answer to the server that replays. */
void
sim_replay_answer (SimWorld *w, const ChatReplProposalResult *r)
{
  guint owner
      = GPOINTER_TO_UINT (g_hash_table_lookup (w->replay_pid, GSIZE_TO_POINTER (r->proposal_id)));
  SimEvent *ev;

  if (owner == 0)
    return;
  ev = sim_event_new (w, w->now + sim_random (w, 1, 5), EV_REPLAY_RESULT, owner);
  ev->pid = r->proposal_id;
  ev->result = *r;
}

/* EV_REPLAY_RESULT: an answer, or the timeout of that attempt. */
void
sim_replay_result (SimWorld *w, SimServer *s, const SimEvent *ev)
{
  if (!s->up || ev->incarnation != s->incarnation || ev->pid != s->replay_pid)
    return;
  s->replay_pid = 0;
  if (ev->result.code != CHAT_REPL_RESULT_OK)
    {
      kick (w, s, REPLAY_RETRY_MS);
      return;
    }
  g_array_remove_index (s->replay, 0);
  if (s->replay->len > 0)
    kick (w, s, 1);
  else
    sim_trace (w, s->id, "replay done");
}
