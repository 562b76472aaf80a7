/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulated servers: disk with fsync delay, the application state machine, the host
 * side of chat_repl_step() (persist, send, apply), crashes and restarts. */
#include "sim-private.h"

/* ---- disk ---- */

static void
write_free (SimWrite *wr)
{
  if (wr->snapshot != NULL)
    {
      g_bytes_unref (wr->snapshot->data);
      g_free (wr->snapshot);
    }
  g_ptr_array_unref (wr->entries);
  g_ptr_array_unref (wr->messages);
  g_free (wr);
}

static gboolean
write_needs_barrier (SimWrite *wr)
{
  return wr->hard_state || wr->snapshot != NULL;
}

static void
queue_write (SimWorld *w, SimServer *s, const ChatReplUpdate *u)
{
  SimWrite *wr;
  SimWrite *tail = g_queue_peek_tail (&s->writes);
  gboolean barrier_pending = FALSE;

  for (GList *l = s->writes.head; l != NULL; l = l->next)
    barrier_pending |= write_needs_barrier (l->data);

  wr = g_new0 (SimWrite, 1);
  wr->hard_state = u->hard_state_changed;
  wr->term = u->term;
  wr->vote = u->vote;
  wr->cluster = u->cluster_id;
  wr->rebuilding = u->rebuilding;
  wr->truncate_from = u->truncate_from;
  wr->entries = g_ptr_array_ref (u->entries);
  wr->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  if (u->snapshot != NULL)
    {
      wr->snapshot = g_memdup2 (u->snapshot, sizeof *u->snapshot);
      wr->snapshot->data = g_bytes_ref (u->snapshot->data);
    }
  wr->done_at
      = MAX (w->now, tail != NULL ? tail->done_at : 0) + sim_random (w, w->fsync_min, w->fsync_max);
  /* The host contract: messages wait for every hard state and snapshot handed out. */
  if (write_needs_barrier (wr) || barrier_pending)
    {
      for (guint i = 0; i < u->messages->len; i++)
        g_ptr_array_add (wr->messages, chat_repl_message_ref (u->messages->pdata[i]));
    }
  else
    {
      for (guint i = 0; i < u->messages->len; i++)
        sim_net_send (w, u->messages->pdata[i]);
    }
  g_queue_push_tail (&s->writes, wr);
  sim_event_new (w, wr->done_at, EV_FLUSH, s->id);
}

static void
disk_apply (SimWorld *w, SimServer *s, SimWrite *wr)
{
  if (wr->snapshot != NULL)
    {
      g_clear_pointer (&s->d_snap_data, g_bytes_unref);
      s->d_snap_data = g_bytes_ref (wr->snapshot->data);
      if (wr->snapshot->install)
        g_ptr_array_set_size (s->d_entries, 0);
      else
        {
          guint drop = 0;

          while (drop < s->d_entries->len
                 && ((ChatReplEntry *)s->d_entries->pdata[drop])->index <= wr->snapshot->index)
            drop++;
          g_ptr_array_remove_range (s->d_entries, 0, drop);
        }
      s->d_snap_index = wr->snapshot->index;
      s->d_snap_term = wr->snapshot->term;
      s->d_snap_isr = wr->snapshot->isr;
    }
  if (wr->hard_state)
    {
      s->d_term = wr->term;
      s->d_vote = wr->vote;
      s->d_cluster = wr->cluster;
      s->d_rebuilding = wr->rebuilding;
    }
  if (wr->truncate_from > s->d_snap_index)
    g_ptr_array_set_size (s->d_entries,
                          MIN (s->d_entries->len, wr->truncate_from - s->d_snap_index - 1));
  for (guint i = 0; i < wr->entries->len; i++)
    {
      ChatReplEntry *e = wr->entries->pdata[i];
      guint64 want = s->d_snap_index + s->d_entries->len + 1;

      if (e->index != want)
        {
          sim_violation (w,
                         "s%u: disk write of index %" G_GUINT64_FORMAT
                         " does not follow the disk log (next %" G_GUINT64_FORMAT ")",
                         s->id, e->index, want);
          return;
        }
      g_ptr_array_add (s->d_entries, chat_repl_entry_ref (e));
    }
}

static gboolean
hard_state_queued (SimServer *s)
{
  for (GList *l = s->writes.head; l != NULL; l = l->next)
    {
      if (((SimWrite *)l->data)->hard_state)
        return TRUE;
    }
  return FALSE;
}

void
sim_disk_flush (SimWorld *w, SimServer *s)
{
  SimWrite *wr = g_queue_pop_head (&s->writes);
  ChatReplEvent ev = { CHAT_REPL_EVENT_PERSISTED, w->now };

  disk_apply (w, s, wr);
  for (guint i = 0; i < wr->messages->len; i++)
    sim_net_send (w, wr->messages->pdata[i]);
  if (wr->snapshot != NULL)
    {
      ChatReplEvent sev = { CHAT_REPL_EVENT_SNAPSHOT_PERSISTED, w->now };

      sev.index = wr->snapshot->index;
      sim_server_step (w, s, &sev);
    }
  if (wr->entries->len > 0)
    {
      ChatReplEntry *last = wr->entries->pdata[wr->entries->len - 1];

      ev.index = last->index;
      ev.term = last->term;
    }
  /* PERSISTED says that every hard state handed out so far is durable: not while a later
   * write with one is still waiting for the disk; that write's PERSISTED then reports the
   * durable log's last entry, which covers this one. */
  if (hard_state_queued (s))
    s->persisted_owed = TRUE;
  else
    {
      if (s->persisted_owed && ev.index == 0 && s->d_entries->len > 0)
        {
          ChatReplEntry *last = g_ptr_array_index (s->d_entries, s->d_entries->len - 1);

          ev.index = last->index;
          ev.term = last->term;
        }
      s->persisted_owed = FALSE;
      sim_server_step (w, s, &ev);
    }
  write_free (wr);
}

/* ---- state machine (the application) ---- */

static guint64
mix (guint64 h, guint64 v)
{
  h ^= v + G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
  return h * G_GUINT64_CONSTANT (0x100000001b3);
}

guint64
sim_op_key_of (const ChatReplEntry *e)
{
  gsize size = 0;
  const guint8 *p = g_bytes_get_data (e->data, &size);
  guint64 key = 0;

  if (size != 8)
    return 0;
  for (guint i = 0; i < 8; i++)
    key |= (guint64)p[i] << (8 * i);
  return key;
}

static void
sm_reset (SimServer *s)
{
  g_hash_table_remove_all (s->sm_ops);
  g_array_set_size (s->sm_order, 0);
  s->sm_applied = 0;
  s->sm_hash = 0;
}

static void
sm_add (SimServer *s, guint64 key, guint64 index)
{
  g_hash_table_insert (s->sm_ops, GSIZE_TO_POINTER (key), GSIZE_TO_POINTER (index));
  g_array_append_val (s->sm_order, key);
  s->sm_hash = mix (s->sm_hash, key);
}

static GBytes *
sm_serialize (SimServer *s)
{
  GArray *buf = g_array_new (FALSE, FALSE, sizeof (guint64));
  gsize len = 0;
  gpointer data;

  g_array_append_val (buf, s->sm_applied);
  /* Each op with the index that first applied it: the id a client was given. */
  for (guint i = 0; i < s->sm_order->len; i++)
    {
      guint64 key = g_array_index (s->sm_order, guint64, i);
      guint64 index = GPOINTER_TO_SIZE (g_hash_table_lookup (s->sm_ops, GSIZE_TO_POINTER (key)));

      g_array_append_val (buf, key);
      g_array_append_val (buf, index);
    }
  data = g_array_steal (buf, &len);
  g_array_unref (buf);
  return g_bytes_new_take (data, len * sizeof (guint64));
}

static void
sm_load (SimServer *s, GBytes *data)
{
  gsize size = 0;
  const guint64 *p = data != NULL ? g_bytes_get_data (data, &size) : NULL;

  sm_reset (s);
  if (p == NULL || size < sizeof (guint64))
    return;
  for (gsize i = 1; i + 1 < size / sizeof (guint64); i += 2)
    sm_add (s, p[i], p[i + 1]);
  s->sm_applied = p[0];
}

static void
sm_apply (SimWorld *w, SimServer *s, const ChatReplEntry *e)
{
  guint64 key;

  if (e->index != s->sm_applied + 1)
    {
      sim_violation (w, "s%u: applies index %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT, s->id,
                     e->index, s->sm_applied);
      return;
    }
  sim_check_apply (w, s, e);
  s->sm_applied = e->index;
  if (e->type != CHAT_REPL_ENTRY_OP)
    return;
  key = sim_op_key_of (e);
  /* The application's dedup rule: a retried (client, op) is applied once. */
  if (!g_hash_table_contains (s->sm_ops, GSIZE_TO_POINTER (key)))
    sm_add (s, key, e->index);
}

/* ---- servers ---- */

static void
trace_notice (SimWorld *w, SimServer *s, const ChatReplNotice *n)
{
  char term[32];
  g_autofree char *set = sim_node_set_format (n->set);

  chat_repl_term_format (n->term, term, sizeof term);
  switch (n->type)
    {
      case CHAT_REPL_NOTICE_ELECTION_STARTED:
        sim_trace (w, s->id, "election timeout -> term %s (in-sync %s)", term, set);
        break;
      case CHAT_REPL_NOTICE_LEADER_ELECTED:
        sim_trace (w, s->id, "leader of term %s (last index %" G_GUINT64_FORMAT ")", term,
                   n->index);
        break;
      case CHAT_REPL_NOTICE_IN_SYNC_CHANGED:
        sim_trace (w, s->id, "in-sync set -> %s", set);
        break;
      case CHAT_REPL_NOTICE_PEER_DOWN:
      case CHAT_REPL_NOTICE_PEER_UP:
      case CHAT_REPL_NOTICE_SNAPSHOT_SENT:
      case CHAT_REPL_NOTICE_SNAPSHOT_INSTALLED:
      case CHAT_REPL_NOTICE_TRANSFER_STARTED:
      case CHAT_REPL_NOTICE_PEER_EMPTIED:
      case CHAT_REPL_NOTICE_CLUSTER_EXISTS:
        sim_trace (w, s->id, "%s s%u (index %" G_GUINT64_FORMAT ")",
                   chat_repl_notice_to_string (n->type), n->node, n->index);
        break;
      case CHAT_REPL_NOTICE_FORCED_LEADER:
        sim_trace (w, s->id, "WARNING forced-leader in term %s: may lose writes", term);
        break;
      default:
        sim_trace (w, s->id, "%s (term %s, in-sync %s)", chat_repl_notice_to_string (n->type), term,
                   set);
        break;
    }
}

static void
schedule_tick (SimWorld *w, SimServer *s, guint64 at)
{
  if (s->tick_at > w->now && s->tick_at <= at)
    return;
  s->tick_at = at;
  sim_event_new (w, at, EV_TICK, s->id);
}

/* The id the client hears: the index that first applied the op (a retry that was
 * committed again answers with the original, like chatd's send). */
static guint64
sm_id_of (SimServer *s, gpointer key, guint64 index)
{
  gpointer first = g_hash_table_lookup (s->sm_ops, key);

  return first != NULL ? GPOINTER_TO_SIZE (first) : index;
}

static void
deliver_results (SimWorld *w, SimServer *s, const ChatReplUpdate *u)
{
  for (guint i = 0; i < u->results->len; i++)
    {
      ChatReplProposalResult *r = &g_array_index (u->results, ChatReplProposalResult, i);
      gpointer key = g_hash_table_lookup (w->pid_key, GSIZE_TO_POINTER (r->proposal_id));
      SimEvent *ev;

      if (r->code == CHAT_REPL_RESULT_OK)
        sim_check_ack (w, s, GPOINTER_TO_SIZE (key), r->index, sm_id_of (s, key, r->index));
      sim_replay_answer (w, r);
      ev = sim_event_new (w, w->now + sim_random (w, 1, 5), EV_RESULT, 0);
      ev->result = *r;
      ev->pid = r->proposal_id;
      ev->client = (guint)(GPOINTER_TO_SIZE (key) >> 32);
    }
}

static void
handle_update (SimWorld *w, SimServer *s, ChatReplUpdate *u)
{
  if (u->snapshot != NULL && u->snapshot->install)
    {
      sm_load (s, u->snapshot->data);
      if (s->sm_applied != u->snapshot->index)
        sim_violation (w, "s%u: snapshot data does not match its index", s->id);
      sim_chain_reset (w, s, u->snapshot->index, u->snapshot->term);
    }
  sim_check_entries (w, s, u);
  if (u->role_changed && u->role == CHAT_REPL_ROLE_LEADER)
    sim_check_leader (w, s);
  if (u->hard_state_changed || u->entries->len > 0 || u->snapshot != NULL || u->truncate_from)
    queue_write (w, s, u);
  else
    {
      gboolean barrier = FALSE;

      for (GList *l = s->writes.head; l != NULL; l = l->next)
        barrier |= write_needs_barrier (l->data);
      for (guint i = 0; i < u->messages->len; i++)
        {
          if (barrier)
            g_ptr_array_add (((SimWrite *)g_queue_peek_tail (&s->writes))->messages,
                             chat_repl_message_ref (u->messages->pdata[i]));
          else
            sim_net_send (w, u->messages->pdata[i]);
        }
    }
  for (guint i = 0; i < u->committed->len; i++)
    sm_apply (w, s, u->committed->pdata[i]);
  deliver_results (w, s, u);
  for (guint i = 0; i < u->notices->len; i++)
    trace_notice (w, s, &g_array_index (u->notices, ChatReplNotice, i));
  sim_replay_queue (w, s, u);
  schedule_tick (w, s, u->next_wakeup_ms);
}

void
sim_server_step (SimWorld *w, SimServer *s, const ChatReplEvent *ev)
{
  g_auto (ChatReplUpdate) u;

  chat_repl_update_init (&u);
  if (!s->up || w->violation != NULL)
    return;
  chat_repl_step (s->repl, ev, &u);
  w->steps++;
  handle_update (w, s, &u);
}

static ChatReplConfig
server_config (SimWorld *w, SimServer *s, gboolean primary)
{
  ChatReplConfig c;

  chat_repl_config_init (&c, s->id, w->opt.n_servers);
  /* The timeouts the schedules were made with (heartbeat 100 ms, election 500-1000 ms,
   * failure 1000 ms), kept so that a seed replays as it always did. */
  c.heartbeat_ms = 100;
  c.election_timeout_min_ms = 500;
  c.election_timeout_max_ms = 1000;
  c.failure_timeout_ms = 1000;
  c.mode = w->opt.mode;
  c.primary = primary;
  c.seed = w->opt.seed * 7919 + s->id * 131 + s->incarnation;
  c.incarnation = s->store_id;
  /* Small chunks so that snapshot installs take several round trips. */
  c.snapshot_chunk_bytes = 64;
  c.max_append_entries = 16;
  /* Catch-up appends a few times bigger, so a lagging server gets several in flight. */
  c.catch_up_append_entries = 64;
  /* A server away for a few dozen entries is given up on (snapshots again), so that both
   * retention and snapshot installs happen in the schedules. */
  c.max_retained_entries = w->opt.max_retained != 0 ? w->opt.max_retained : 24;
  if (w->opt.ship_images)
    {
      c.snapshot_over_log_percent = 10;
      c.snapshot_chunks_in_flight = 3;
    }
  return c;
}

void
sim_server_boot (SimWorld *w, SimServer *s, gboolean primary)
{
  ChatReplConfig c = server_config (w, s, primary);
  ChatReplPersistedState st = { 0 };
  ChatReplEvent ev = { CHAT_REPL_EVENT_TICK, w->now };

  st.term = s->d_term;
  st.vote = s->d_vote;
  st.snapshot_index = s->d_snap_index;
  st.snapshot_term = s->d_snap_term;
  st.snapshot_isr = s->d_snap_isr;
  st.snapshot_data = s->d_snap_data;
  st.entries = s->d_entries;
  st.applied_index = s->d_snap_index;
  st.cluster_id = s->d_cluster;
  st.rebuilding = s->d_rebuilding;
  s->repl = chat_repl_new (&c, &st);
  s->up = TRUE;
  s->tick_at = 0;
  sm_load (s, s->d_snap_data);
  s->sm_applied = s->d_snap_index;
  sim_chain_reset (w, s, s->d_snap_index, s->d_snap_term);
  {
    ChatReplUpdate fake = { 0 };

    fake.entries = s->d_entries;
    sim_check_entries (w, s, &fake);
  }
  sim_server_step (w, s, &ev);
}

void
sim_crash (SimWorld *w, guint id)
{
  SimServer *s = &w->servers[id];

  if (!s->up)
    return;
  sim_trace (w, id, "crash (%u write(s) not yet durable are lost)", s->writes.length);
  s->up = FALSE;
  s->persisted_owed = FALSE;
  s->incarnation++;
  s->stalled_until = 0;
  g_clear_pointer (&s->repl, chat_repl_free);
  sim_server_drop_writes (s);
  sm_reset (s);
  s->replay_pid = 0;
}

static guint64
new_store_id (SimWorld *w, SimServer *s)
{
  return (w->opt.seed << 16) ^ ((guint64)s->id << 8) ^ ++s->wipes;
}

void
sim_wipe (SimWorld *w, guint id)
{
  SimServer *s = &w->servers[id];

  sim_crash (w, id);
  sim_trace (w, id, "disk lost");
  s->d_term = 0;
  s->d_vote = 0;
  s->d_cluster = 0;
  s->d_rebuilding = FALSE;
  s->d_snap_index = 0;
  s->d_snap_term = 0;
  s->d_snap_isr = 0;
  g_clear_pointer (&s->d_snap_data, g_bytes_unref);
  g_ptr_array_set_size (s->d_entries, 0);
  s->store_id = new_store_id (w, s);
  s->emptied = TRUE;
}

guint
sim_count_emptied (SimWorld *w)
{
  guint n = 0;

  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      SimServer *s = &w->servers[id];
      ChatReplStatus st;

      if (s->emptied && s->up)
        {
          /* Its own view is not enough: while it copies the log, the latest set in it may
           * be an old one that names it (the copy itself is what A13 is about). */
          chat_repl_get_status (s->repl, &st);
          if (CHAT_REPL_NODE_SET_HAS (st.in_sync, id) && st.commit_index >= sim_latest_set_index (s)
              && sim_latest_set_index (s) > 0 && st.persisted_index >= w->max_committed)
            s->emptied = FALSE;
        }
      n += s->emptied;
    }
  return n;
}

void
sim_restart (SimWorld *w, guint id)
{
  sim_restart_as (w, id, FALSE);
}

void
sim_restart_as (SimWorld *w, guint id, gboolean primary)
{
  SimServer *s = &w->servers[id];
  char term[32];

  if (s->up)
    return;
  s->incarnation++;
  s->restarts++;
  sim_trace (w, id, "restart (term %s, last index %" G_GUINT64_FORMAT ")",
             chat_repl_term_format (s->d_term, term, sizeof term),
             s->d_snap_index + s->d_entries->len);
  sim_server_boot (w, s, primary);
  sim_replay_resume (w, s);
}

void
sim_admin (SimWorld *w, guint id, ChatReplAdminOp op, guint target)
{
  ChatReplEvent ev = { CHAT_REPL_EVENT_ADMIN, w->now };
  static const char *const names[] = { "step-down", "transfer", "force-leader", "snapshot" };

  ev.admin = op;
  ev.target = target;
  sim_trace (w, id, "admin %s%s", names[op], target ? " (target set)" : "");
  sim_server_step (w, &w->servers[id], &ev);
}

void
sim_take_snapshot (SimWorld *w, guint id)
{
  SimServer *s = &w->servers[id];
  ChatReplEvent ev = { CHAT_REPL_EVENT_ADMIN, w->now };
  g_autoptr (GBytes) data = NULL;

  if (!s->up || s->sm_applied == 0)
    return;
  data = sm_serialize (s);
  ev.admin = CHAT_REPL_ADMIN_SNAPSHOT;
  ev.index = s->sm_applied;
  ev.data = data;
  sim_trace (w, id, "snapshot at index %" G_GUINT64_FORMAT, s->sm_applied);
  sim_server_step (w, s, &ev);
}

void
sim_server_drop_writes (SimServer *s)
{
  g_queue_clear_full (&s->writes, (GDestroyNotify)write_free);
}
