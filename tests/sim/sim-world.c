/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulated world: event queue, network, partitions, clients and the main loop. */
#include "sim-private.h"

#include <stdio.h>
#include <string.h>

#define CLIENT_TIMEOUT_MS 1500

void
sim_options_init (SimOptions *opt)
{
  *opt = (SimOptions){ 0 };
  opt->n_servers = 3;
  opt->mode = CHAT_REPL_MODE_AVAILABLE;
  opt->n_clients = 4;
  opt->ops_per_client = 12;
  opt->fault_ms = 4000;
  opt->settle_ms = 20000;
}

guint64
sim_random (SimWorld *w, guint64 lo, guint64 hi)
{
  guint64 z = (w->rng += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  z ^= z >> 31;
  return hi <= lo ? lo : lo + z % (hi - lo + 1);
}

char *
sim_node_set_format (ChatReplNodeSet set)
{
  GString *s = g_string_new ("{");

  for (guint id = 1; id <= 64; id++)
    {
      if (CHAT_REPL_NODE_SET_HAS (set, id))
        g_string_append_printf (s, "%s%u", s->len > 1 ? "," : "", id);
    }
  g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}

void
sim_trace (SimWorld *w, guint id, const char *fmt, ...)
{
  g_autofree char *body = NULL;
  g_autofree char *line = NULL;
  va_list ap;

  if (!w->opt.trace && w->trace_buf == NULL)
    return;
  va_start (ap, fmt);
  body = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (id > 0)
    line = g_strdup_printf ("[%6" G_GUINT64_FORMAT "ms] s%u: %s\n", w->now, id, body);
  else
    line = g_strdup_printf ("[%6" G_GUINT64_FORMAT "ms] %s\n", w->now, body);
  if (w->opt.trace)
    fputs (line, stdout);
  if (w->trace_buf != NULL)
    g_string_append (w->trace_buf, line);
}

void
sim_violation (SimWorld *w, const char *fmt, ...)
{
  g_autofree char *body = NULL;
  va_list ap;

  va_start (ap, fmt);
  body = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (w->violation == NULL)
    {
      w->violation = g_string_new (body);
      sim_trace (w, 0, "VIOLATION: %s", body);
    }
}

/* ---- event heap ---- */

/* By time, then by when the event was first due (a starved server's deferred events keep
 * the order in which they reached it, however often its stall grew), then by creation. */
static gboolean
ev_before (const SimEvent *a, const SimEvent *b)
{
  if (a->time != b->time)
    return a->time < b->time;
  if (a->first_due != b->first_due)
    return a->first_due < b->first_due;
  return a->seq < b->seq;
}

static void
ev_push (SimWorld *w, SimEvent *ev)
{
  GPtrArray *h = w->heap;
  guint i;

  g_ptr_array_add (h, ev);
  for (i = h->len - 1; i > 0; i = (i - 1) / 2)
    {
      SimEvent *parent = h->pdata[(i - 1) / 2];

      if (!ev_before (ev, parent))
        break;
      h->pdata[i] = parent;
      h->pdata[(i - 1) / 2] = ev;
    }
}

SimEvent *
sim_event_new (SimWorld *w, guint64 time, SimEventKind kind, guint server)
{
  SimEvent *ev = g_new0 (SimEvent, 1);

  ev->time = time;
  ev->first_due = time;
  ev->seq = w->seq++;
  ev->kind = kind;
  ev->server = server;
  ev->incarnation = server > 0 ? w->servers[server].incarnation : 0;
  ev_push (w, ev);
  return ev;
}

static SimEvent *
ev_pop (SimWorld *w)
{
  GPtrArray *h = w->heap;
  SimEvent *top = h->pdata[0];
  SimEvent *last = g_ptr_array_steal_index (h, h->len - 1);
  guint i = 0;

  if (h->len == 0)
    return top;
  h->pdata[0] = last;
  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, m = i;

      if (l < h->len && ev_before (h->pdata[l], h->pdata[m]))
        m = l;
      if (r < h->len && ev_before (h->pdata[r], h->pdata[m]))
        m = r;
      if (m == i)
        break;
      h->pdata[i] = h->pdata[m];
      h->pdata[m] = last;
      i = m;
    }
  return top;
}

static void
ev_free (SimEvent *ev)
{
  if (ev->msg != NULL)
    chat_repl_message_unref (ev->msg);
  g_free (ev);
}

/* ---- network ---- */

gboolean
sim_link_ok (SimWorld *w, guint a, guint b)
{
  return w->side[a] == w->side[b];
}

void
sim_net_send (SimWorld *w, ChatReplMessage *m)
{
  guint copies = 1;

  if (m->to < 1 || m->to > w->opt.n_servers || !sim_link_ok (w, m->from, m->to))
    return;
  if (w->loss_pct > 0 && sim_random (w, 1, 100) <= w->loss_pct)
    return;
  if (w->dup_pct > 0 && sim_random (w, 1, 100) <= w->dup_pct)
    copies = 2;
  for (guint i = 0; i < copies; i++)
    {
      SimEvent *ev = sim_event_new (w, w->now + sim_random (w, w->delay_min, w->delay_max),
                                    EV_DELIVER, m->to);

      /* For the process that runs there now: on real servers a link dies with its
       * process, so a restarted one never reads what was sent to its predecessor. */
      ev->msg = chat_repl_message_ref (m);
    }
}

void
sim_partition (SimWorld *w, guint mask)
{
  GString *a = g_string_new (NULL), *b = g_string_new (NULL);

  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      w->side[id] = (mask >> (id - 1)) & 1;
      g_string_append_printf (w->side[id] ? a : b, " s%u", id);
    }
  w->partitioned_ever = TRUE;
  sim_trace (w, 0, "partition:%s |%s", b->str, a->str);
  g_string_free (a, TRUE);
  g_string_free (b, TRUE);
}

void
sim_heal (SimWorld *w)
{
  memset (w->side, 0, sizeof w->side);
  sim_trace (w, 0, "partition healed");
}

/* ---- clients ---- */

static void
client_send (SimWorld *w, SimClient *c)
{
  SimEvent *ev;

  c->pid = ++w->next_pid;
  c->waiting = TRUE;
  g_hash_table_insert (w->pid_key, GSIZE_TO_POINTER (c->pid), GSIZE_TO_POINTER (c->key));
  ev = sim_event_new (w, w->now + sim_random (w, 1, 5), EV_PROPOSE, 0);
  ev->server = c->target;
  ev->incarnation = 0;
  ev->client = c->id;
  ev->pid = c->pid;
  ev = sim_event_new (w, w->now + CLIENT_TIMEOUT_MS, EV_CLIENT_TIMEOUT, 0);
  ev->client = c->id;
  ev->pid = c->pid;
}

static void
client_next_op (SimWorld *w, SimClient *c)
{
  if (c->next_op >= c->n_ops)
    {
      c->done = TRUE;
      c->waiting = FALSE;
      return;
    }
  c->key = ((guint64)c->id << 32) | ++c->next_op;
  client_send (w, c);
}

static void
client_retry_later (SimWorld *w, SimClient *c, guint64 delay)
{
  SimEvent *ev = sim_event_new (w, w->now + delay, EV_CLIENT_RETRY, 0);

  c->waiting = FALSE;
  c->retries++;
  ev->client = c->id;
  ev->pid = c->pid;
}

/* The next operation after a pause, so that writes spread over the faults. */
static void
client_think (SimWorld *w, SimClient *c)
{
  SimEvent *ev;

  if (c->next_op >= c->n_ops)
    {
      c->done = TRUE;
      return;
    }
  ev = sim_event_new (w, w->now + sim_random (w, 20, 400), EV_CLIENT_NEXT, 0);
  ev->client = c->id;
}

static void
client_result (SimWorld *w, SimEvent *ev)
{
  SimClient *c = &w->clients[ev->client];
  guint64 key = GPOINTER_TO_SIZE (g_hash_table_lookup (w->pid_key, GSIZE_TO_POINTER (ev->pid)));

  if (c->done || key != c->key)
    return;
  if (ev->result.code == CHAT_REPL_RESULT_OK)
    {
      sim_trace (w, 0, "client c%u: op %u ok at index %" G_GUINT64_FORMAT, c->id, c->next_op,
                 ev->result.index);
      c->waiting = FALSE;
      client_think (w, c);
      return;
    }
  if (ev->pid != c->pid || !c->waiting)
    return;
  if (ev->result.code == CHAT_REPL_RESULT_NOT_LEADER && ev->result.leader != 0)
    c->target = ev->result.leader;
  else if (ev->result.code == CHAT_REPL_RESULT_NOT_LEADER)
    c->target = c->target % w->opt.n_servers + 1;
  client_retry_later (w, c, ev->result.leader != 0 ? 5 : 100);
}

static void
client_timeout (SimWorld *w, SimEvent *ev)
{
  SimClient *c = &w->clients[ev->client];

  if (c->done || !c->waiting || ev->pid != c->pid)
    return;
  c->target = c->target % w->opt.n_servers + 1;
  client_retry_later (w, c, 1);
}

void
sim_clients_start (SimWorld *w, guint n_clients, guint ops_per_client)
{
  for (guint i = 1; i <= n_clients && i <= SIM_MAX_CLIENTS; i++)
    {
      SimClient *c = &w->clients[i];

      *c = (SimClient){ .id = i, .n_ops = ops_per_client };
      c->target = (guint)sim_random (w, 1, w->opt.n_servers);
      w->opt.n_clients = MAX (w->opt.n_clients, i);
      client_next_op (w, c);
    }
}

void
sim_clients_more (SimWorld *w, guint n_ops)
{
  for (guint i = 1; i <= SIM_MAX_CLIENTS; i++)
    {
      SimClient *c = &w->clients[i];

      if (c->id == 0 || !c->done)
        continue;
      c->n_ops += n_ops;
      c->done = FALSE;
      client_next_op (w, c);
    }
}

gboolean
sim_clients_done (SimWorld *w)
{
  for (guint i = 1; i <= SIM_MAX_CLIENTS; i++)
    {
      if (w->clients[i].id != 0 && !w->clients[i].done)
        return FALSE;
    }
  return TRUE;
}

/* ---- main loop ---- */

static void
run_event (SimWorld *w, SimEvent *ev)
{
  SimServer *s = ev->server > 0 ? &w->servers[ev->server] : NULL;
  ChatReplEvent cev = { CHAT_REPL_EVENT_TICK, w->now };

  switch (ev->kind)
    {
      case EV_TICK:
        if (s->up && ev->incarnation == s->incarnation && ev->time == s->tick_at)
          sim_server_step (w, s, &cev);
        break;
      case EV_DELIVER:
        if (s->up && ev->incarnation == s->incarnation
            && sim_link_ok (w, ev->msg->from, ev->msg->to))
          {
            cev.type = CHAT_REPL_EVENT_MESSAGE;
            cev.message = ev->msg;
            sim_server_step (w, s, &cev);
          }
        break;
      case EV_FLUSH:
        if (s->up && ev->incarnation == s->incarnation && s->writes.length > 0)
          sim_disk_flush (w, s);
        break;
      case EV_PROPOSE:
        if (s->up)
          {
            guint64 key
                = GPOINTER_TO_SIZE (g_hash_table_lookup (w->pid_key, GSIZE_TO_POINTER (ev->pid)));
            guint8 buf[8];
            g_autoptr (GBytes) data = NULL;

            for (guint i = 0; i < 8; i++)
              buf[i] = (guint8)(key >> (8 * i));
            data = g_bytes_new (buf, sizeof buf);
            cev.type = CHAT_REPL_EVENT_PROPOSE;
            cev.proposal_id = ev->pid;
            cev.data = data;
            sim_server_step (w, s, &cev);
          }
        break;
      case EV_RESULT:
        client_result (w, ev);
        break;
      case EV_CLIENT_RETRY:
        if (!w->clients[ev->client].done && ev->pid == w->clients[ev->client].pid)
          client_send (w, &w->clients[ev->client]);
        break;
      case EV_CLIENT_TIMEOUT:
        client_timeout (w, ev);
        break;
      case EV_CLIENT_NEXT:
        client_next_op (w, &w->clients[ev->client]);
        break;
      case EV_REPLAY:
        sim_replay_send (w, s);
        break;
      case EV_REPLAY_RESULT:
        sim_replay_result (w, s, ev);
        break;
      default:
        break;
    }
}

static gint
ev_compare (gconstpointer a, gconstpointer b)
{
  const SimEvent *x = *(SimEvent *const *)a, *y = *(SimEvent *const *)b;

  return ev_before (x, y) ? -1 : ev_before (y, x) ? 1 : 0;
}

/* What the starved server had sent but not yet written out waits for the stall's end: a
 * main loop stopped mid-iteration holds its queued writes. Every message of it still in
 * flight is held, the worst case for it (its followers miss the appends it made just
 * before, so its log ends past theirs when it runs again). */
static void
hold_unsent (SimWorld *w, guint id)
{
  guint64 until = w->servers[id].stalled_until;

  for (guint i = 0; i < w->heap->len; i++)
    {
      SimEvent *ev = w->heap->pdata[i];

      if (ev->kind == EV_DELIVER && ev->msg != NULL && ev->msg->from == id && ev->time < until)
        ev->time = ev->first_due = until + (ev->time - MIN (ev->time, w->now));
    }
  /* A sorted array is a heap. */
  g_ptr_array_sort (w->heap, ev_compare);
}

void
sim_stall (SimWorld *w, guint id, guint64 ms)
{
  /* A stall never shortens one under way: what the first deferred would otherwise run
   * after newer events, and a starved host still handles its queue in order. */
  w->servers[id].stalled_until = MAX (w->servers[id].stalled_until, w->now + ms);
  sim_trace (w, id, "stalled for %" G_GUINT64_FORMAT " ms", ms);
  hold_unsent (w, id);
}

/* An event of a starved server waits for the end of the stall, in the order in which the
 * events reached it (also when the stall grew while they waited). Its timer runs first
 * and the rest 1 ms later, the worst order for it: the timer finds its deadline long
 * past before the queued messages can show that the others are alive. */
static gboolean
defer_if_stalled (SimWorld *w, SimEvent *ev)
{
  SimServer *s = &w->servers[ev->server];
  SimEvent *later;

  if (ev->kind == EV_RESULT || ev->kind >= EV_CLIENT_RETRY || ev->server == 0
      || s->stalled_until <= ev->time)
    return FALSE;
  later = g_new0 (SimEvent, 1);
  *later = *ev;
  later->time = s->stalled_until + (ev->kind != EV_TICK);
  ev->msg = NULL;
  ev_push (w, later);
  if (ev->kind == EV_TICK && ev->time == s->tick_at)
    s->tick_at = s->stalled_until;
  return TRUE;
}

gboolean
sim_run_until_true (SimWorld *w, guint64 until, SimCondition done, gpointer data)
{
  if (done (w, data))
    return TRUE;
  while (w->heap->len > 0 && w->violation == NULL)
    {
      SimEvent *ev = w->heap->pdata[0];

      if (ev->time > until)
        break;
      ev = ev_pop (w);
      w->now = MAX (w->now, ev->time);
      if (!defer_if_stalled (w, ev))
        run_event (w, ev);
      ev_free (ev);
      if (done (w, data))
        return TRUE;
    }
  if (w->violation == NULL)
    w->now = MAX (w->now, until);
  return FALSE;
}

static gboolean
never (SimWorld *w, gpointer data)
{
  return FALSE;
}

void
sim_run_until (SimWorld *w, guint64 until)
{
  sim_run_until_true (w, until, never, NULL);
}

guint
sim_leader (SimWorld *w)
{
  guint best = 0;
  guint64 best_term = 0;

  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      SimServer *s = &w->servers[id];

      if (s->up && chat_repl_get_role (s->repl) == CHAT_REPL_ROLE_LEADER
          && chat_repl_get_term (s->repl) >= best_term)
        {
          best = id;
          best_term = chat_repl_get_term (s->repl);
        }
    }
  return best;
}

guint64
sim_latest_set_index (SimServer *s)
{
  ChatReplStatus st;

  chat_repl_get_status (s->repl, &st);
  for (guint64 i = st.last_index; i > st.snapshot_index; i--)
    {
      const ChatReplEntry *e = chat_repl_get_entry (s->repl, i);

      if (e->type == CHAT_REPL_ENTRY_IN_SYNC_SET)
        return i;
    }
  return 0;
}

gboolean
sim_converged (SimWorld *w)
{
  guint leader = sim_leader (w);
  ChatReplStatus st;

  if (leader == 0)
    return FALSE;
  chat_repl_get_status (w->servers[leader].repl, &st);
  if (st.commit_index != st.last_index)
    return FALSE;
  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      SimServer *s = &w->servers[id];

      if (!s->up || s->sm_applied != st.commit_index || s->sm_hash != w->servers[leader].sm_hash
          || s->replay->len > 0)
        return FALSE;
    }
  return TRUE;
}

SimWorld *
sim_world_new (const SimOptions *opt)
{
  SimWorld *w = g_new0 (SimWorld, 1);

  w->opt = *opt;
  w->rng = opt->seed * G_GUINT64_CONSTANT (0x2545f4914f6cdd1d) + 1;
  w->heap = g_ptr_array_new ();
  w->pid_key = g_hash_table_new (NULL, NULL);
  w->replay_pid = g_hash_table_new (NULL, NULL);
  sim_check_init (w);
  w->committed = g_array_new (FALSE, TRUE, sizeof (guint64));
  w->term_leader = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  w->acked = g_hash_table_new (NULL, NULL);
  w->delay_min = 1;
  w->delay_max = 10;
  w->fsync_min = 1;
  w->fsync_max = 8;
  w->max_down = opt->n_servers - 1;
  for (guint id = 1; id <= opt->n_servers; id++)
    {
      SimServer *s = &w->servers[id];

      s->id = id;
      s->store_id = (opt->seed << 16) ^ ((guint64)id << 8);
      s->d_entries = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
      g_queue_init (&s->writes);
      s->sm_ops = g_hash_table_new (NULL, NULL);
      s->sm_order = g_array_new (FALSE, FALSE, sizeof (guint64));
      s->chain = g_array_new (FALSE, FALSE, sizeof (guint64));
      s->replay = g_array_new (FALSE, FALSE, sizeof (guint64));
    }
  if (opt->capture)
    w->trace_buf = g_string_new (NULL);
  for (guint id = 1; id <= opt->n_servers; id++)
    sim_server_boot (w, &w->servers[id], id == 1 && !w->opt.no_primary);
  return w;
}

void
sim_world_free (SimWorld *w)
{
  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      SimServer *s = &w->servers[id];

      g_clear_pointer (&s->repl, chat_repl_free);
      sim_server_drop_writes (s);
      g_ptr_array_unref (s->d_entries);
      g_clear_pointer (&s->d_snap_data, g_bytes_unref);
      g_hash_table_unref (s->sm_ops);
      g_array_unref (s->sm_order);
      g_array_unref (s->chain);
      g_array_unref (s->replay);
    }
  while (w->heap->len > 0)
    ev_free (ev_pop (w));
  g_ptr_array_unref (w->heap);
  g_hash_table_unref (w->pid_key);
  g_hash_table_unref (w->replay_pid);
  g_hash_table_unref (w->entry_chain);
  g_array_unref (w->committed);
  g_hash_table_unref (w->term_leader);
  g_hash_table_unref (w->acked);
  if (w->violation != NULL)
    g_string_free (w->violation, TRUE);
  if (w->trace_buf != NULL)
    g_string_free (w->trace_buf, TRUE);
  g_free (w);
}
