/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seeded random schedules: faults while clients write, then healing, then the checks. */
#include "sim.h"

static guint
pick_server (SimWorld *w, gboolean up)
{
  guint ids[SIM_MAX_SERVERS], n = 0;

  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      if (w->servers[id].up == up)
        ids[n++] = id;
    }
  return n == 0 ? 0 : ids[sim_random (w, 0, n - 1)];
}

/* Servers that are down, or up with an emptied disk they have not refilled yet: a disk
 * loss counts as a failure until the server is a committed member again. */
static guint
count_down (SimWorld *w)
{
  guint n = 0;

  sim_count_emptied (w);
  for (guint id = 1; id <= w->opt.n_servers; id++)
    n += !w->servers[id].up || w->servers[id].emptied;
  return n;
}

/* A disk may go when one more failure is allowed and another disk holds everything: the
 * leader's set has at least two members and is committed (every member has every
 * acknowledged write), and two of them still have the disk that set counted (a starved
 * leader may not have seen yet that a member lost its own). Returns one of those two or
 * more, or 0. */
static guint
disk_to_lose (SimWorld *w, guint leader)
{
  ChatReplStatus st;
  guint members[SIM_MAX_SERVERS], n = 0;

  if (leader == 0 || count_down (w) + 1 > w->max_down)
    return 0;
  chat_repl_get_status (w->servers[leader].repl, &st);
  if (chat_repl_node_set_count (st.in_sync) < 2
      || st.commit_index < sim_latest_set_index (&w->servers[leader]))
    return 0;
  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      if (CHAT_REPL_NODE_SET_HAS (st.in_sync, id) && !w->servers[id].emptied)
        members[n++] = id;
    }
  return n < 2 ? 0 : members[sim_random (w, 0, n - 1)];
}

static gboolean
partitioned (SimWorld *w)
{
  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      if (w->side[id] != 0)
        return TRUE;
    }
  return FALSE;
}

static void
random_partition (SimWorld *w)
{
  guint all = (1u << w->opt.n_servers) - 1;
  guint mask = (guint)sim_random (w, 1, all - 1);

  /* Available mode lets both sides commit: the logs may differ from here on, and what the
   * checks hold to is durability (every acknowledged operation once on every server, the
   * losing side's through its replay) and convergence. */
  if (w->opt.mode == CHAT_REPL_MODE_AVAILABLE)
    w->expect_split = TRUE;
  sim_partition (w, mask);
}

static void
random_fault (SimWorld *w)
{
  guint r = (guint)sim_random (w, 1, 100);
  gboolean quorum = w->opt.mode == CHAT_REPL_MODE_QUORUM;
  guint leader = sim_leader (w);
  guint id;

  if (r <= 8 && leader != 0 && count_down (w) + 2 <= w->max_down)
    {
      /* A correlated failure: the leader and another server at the same instant. */
      sim_crash (w, leader);
      if ((id = pick_server (w, TRUE)) != 0)
        sim_crash (w, id);
    }
  else if (r <= 30)
    {
      if (count_down (w) < w->max_down && (id = pick_server (w, TRUE)) != 0)
        sim_crash (w, id);
    }
  else if (r <= 55)
    {
      if ((id = pick_server (w, FALSE)) != 0)
        sim_restart (w, id);
    }
  else if (r <= 65)
    {
      if ((id = pick_server (w, TRUE)) != 0)
        sim_take_snapshot (w, id);
    }
  else if (r <= 77 && (quorum || w->opt.partitions))
    {
      if (partitioned (w))
        sim_heal (w);
      else
        random_partition (w);
    }
  else if (r <= 81 && leader != 0)
    sim_admin (w, leader, CHAT_REPL_ADMIN_STEP_DOWN, 0);
  else if (r <= 85 && leader != 0)
    sim_admin (w, leader, CHAT_REPL_ADMIN_TRANSFER, (guint)(leader % w->opt.n_servers + 1));
  else if (r <= 91)
    {
      /* A starved main loop, shorter or longer than the timeouts. */
      if ((id = pick_server (w, TRUE)) != 0)
        sim_stall (w, id, sim_random (w, 100, 2500));
    }
  else if (r <= 97 && w->opt.disk_loss && (id = disk_to_lose (w, leader)) != 0)
    sim_wipe (w, id);
}

/* What each server knows of its in-sync set: the latest one, and whether it knows it is
 * committed. A change of either opens the windows the membership rules are about. */
typedef struct
{
  ChatReplNodeSet latest[SIM_MAX_SERVERS + 1];
  gboolean committed[SIM_MAX_SERVERS + 1];
  guint changed;
} SetWatch;

static void
set_view (SimServer *s, ChatReplNodeSet *latest, gboolean *committed)
{
  ChatReplStatus st;

  *latest = 0;
  *committed = FALSE;
  if (!s->up)
    return;
  chat_repl_get_status (s->repl, &st);
  *latest = st.in_sync;
  *committed = st.commit_index >= sim_latest_set_index (s);
}

static gboolean
set_view_changed (SimWorld *w, gpointer data)
{
  SetWatch *watch = data;

  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      ChatReplNodeSet latest;
      gboolean committed;

      set_view (&w->servers[id], &latest, &committed);
      if (latest != watch->latest[id] || committed != watch->committed[id])
        {
          watch->changed = id;
          return TRUE;
        }
    }
  return FALSE;
}

/* Runs until a server's view of its in-sync set changes (at most until `until`), then
 * crashes that server, the leader or any server, at that very step. */
static void
crash_at_set_change (SimWorld *w, guint64 until)
{
  SetWatch watch = { 0 };
  guint id;

  for (guint i = 1; i <= w->opt.n_servers; i++)
    set_view (&w->servers[i], &watch.latest[i], &watch.committed[i]);
  if (!sim_run_until_true (w, until, set_view_changed, &watch))
    return;
  switch (sim_random (w, 0, 2))
    {
      case 0:
        id = watch.changed;
        break;
      case 1:
        id = sim_leader (w);
        break;
      default:
        id = pick_server (w, TRUE);
        break;
    }
  if (id != 0 && count_down (w) < w->max_down)
    sim_crash (w, id);
}

/* The leader and a follower it is sending an image to, if any. */
static gboolean
image_in_flight (SimWorld *w, gpointer data)
{
  guint *pair = data;
  guint leader = sim_leader (w);
  ChatReplStatus st;

  if (leader == 0)
    return FALSE;
  chat_repl_get_status (w->servers[leader].repl, &st);
  for (guint i = 0; i < st.n_peers; i++)
    {
      if (st.peers[i].sending_snapshot && w->servers[st.peers[i].node].up)
        {
          pair[0] = leader;
          pair[1] = st.peers[i].node;
          return TRUE;
        }
    }
  return FALSE;
}

/* Has the leader take a snapshot (kept as an image when it may not compact its log), then
 * runs until an image is in flight (at most until `until`) and crashes its sender or its
 * receiver at that very step. */
static void
crash_while_shipping (SimWorld *w, guint64 until)
{
  guint pair[2] = { 0, 0 };
  guint id;

  if (sim_leader (w) != 0)
    sim_take_snapshot (w, sim_leader (w));
  if (!sim_run_until_true (w, until, image_in_flight, pair))
    return;
  /* A few chunks later, so that the follower holds part of the image. */
  sim_run_until (w, w->now + sim_random (w, 0, 30));
  id = pair[sim_random (w, 0, 1)];
  if (!w->servers[id].up || count_down (w) >= w->max_down)
    return;
  sim_trace (w, 0, "an image in flight from s%u to s%u: crash of s%u", pair[0], pair[1], id);
  sim_crash (w, id);
}

static void
heal_all (SimWorld *w)
{
  if (partitioned (w))
    sim_heal (w);
  w->loss_pct = 0;
  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      if (!w->servers[id].up)
        sim_restart (w, id);
    }
  sim_trace (w, 0, "faults stop");
}

/* Runs until the clients are done or ms pass; whether they are done. */
static gboolean
clients_finish_within (SimWorld *w, guint64 ms)
{
  guint64 deadline = w->now + ms;

  while (w->violation == NULL && w->now < deadline && !sim_clients_done (w))
    sim_run_until (w, w->now + 100);
  return sim_clients_done (w);
}

/* A server other than `except`, at random. */
static guint
other_server (SimWorld *w, guint except)
{
  guint id = (guint)sim_random (w, 1, w->opt.n_servers - 1);

  return id >= except ? id + 1 : id;
}

/* Every server is up and applied the leader's whole log, which is committed; in available
 * mode each is also out of recovery and names every server in its in-sync set. */
static gboolean
all_in_sync (SimWorld *w, gpointer data)
{
  ChatReplNodeSet all = 0;

  if (!sim_converged (w))
    return FALSE;
  /* Quorum mode keeps no set of its own: a majority is enough. */
  if (w->opt.mode == CHAT_REPL_MODE_QUORUM)
    return TRUE;
  for (guint id = 1; id <= w->opt.n_servers; id++)
    all |= CHAT_REPL_NODE_BIT (id);
  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      ChatReplStatus st;

      chat_repl_get_status (w->servers[id].repl, &st);
      if (st.in_sync != all || st.recovering || st.rebuilding)
        return FALSE;
    }
  return TRUE;
}

/* Once every server is in sync again: one crashes, and while clients write, another is
 * slowed by load, for up to 2.5 s (past the failure timeout or not), and a third, if there
 * is one, for less than the failure timeout at some point of that stall. The others must
 * serve every write without the crashed one (available mode: any of them may crash;
 * quorum mode: they are a majority). The simulator used to check liveness only with every
 * server back, which hid a cluster left without a leader by the first two faults. */
static void
crash_one_slow_others (SimWorld *w)
{
  guint down = (guint)sim_random (w, 1, w->opt.n_servers);
  guint slow = other_server (w, down);
  guint third = 0;
  guint64 stall = sim_random (w, 100, 2500);

  if (!sim_run_until_true (w, w->now + w->opt.settle_ms, all_in_sync, NULL))
    {
      sim_violation (w,
                     "liveness: not every server in the in-sync set %" G_GUINT64_FORMAT
                     " ms after the faults stopped",
                     w->opt.settle_ms);
      return;
    }
  sim_trace (w, 0, "one down, others slowed");
  sim_crash (w, down);
  sim_run_until (w, w->now + sim_random (w, 0, 300));
  sim_clients_more (w, 10);
  sim_run_until (w, w->now + sim_random (w, 0, 100));
  sim_stall (w, slow, stall);
  sim_run_until (w, w->now + sim_random (w, 0, stall));
  /* At most 800 ms: with the heartbeat (100 ms) between its last step and the stall, a
   * server silent for the failure timeout (1,000 ms) counts as crashed to the others and
   * to itself (C13); two such overlapping stalls may rightly leave the survivors waiting
   * for the crashed server, which could have removed them both. */
  third = other_server (w, down);
  if (third != slow)
    sim_stall (w, third, sim_random (w, 100, 800));
  if (!clients_finish_within (w, w->opt.settle_ms))
    sim_violation (w,
                   "liveness: operations still pending %" G_GUINT64_FORMAT
                   " ms after s%u crashed and s%u stalled, s%u still down",
                   w->opt.settle_ms, down, slow, down);
  sim_restart (w, down);
}

/* Runs until the clients are done and the servers converged, or settle_ms pass. */
static void
settle (SimWorld *w, const char *after)
{
  guint64 deadline = w->now + w->opt.settle_ms;

  while (w->violation == NULL && w->now < deadline)
    {
      sim_run_until (w, w->now + 100);
      if (sim_clients_done (w) && sim_converged (w))
        break;
    }
  if (w->violation == NULL && !(sim_clients_done (w) && sim_converged (w)))
    sim_violation (w, "liveness: %s %" G_GUINT64_FORMAT " ms after %s",
                   sim_clients_done (w) ? "no convergence" : "operations still pending",
                   w->opt.settle_ms, after);
}

gboolean
sim_run_random (const SimOptions *opt, guint64 *steps)
{
  SimWorld *w = sim_world_new (opt);
  guint64 t = 0;
  gboolean ok;

  if (opt->mode == CHAT_REPL_MODE_QUORUM)
    {
      w->loss_pct = 3;
      w->delay_max = 20;
      w->max_down = opt->n_servers;
    }
  w->dup_pct = 2;
  w->delay_max = MAX (w->delay_max, 20);
  w->fsync_max = 15;
  sim_clients_start (w, opt->n_clients, opt->ops_per_client);
  while (t < opt->fault_ms && w->violation == NULL)
    {
      /* Images need a log that grows between faults: they come further apart. */
      t += opt->ship_images ? sim_random (w, 300, 1200) : sim_random (w, 50, 400);
      if (opt->crash_on_set_change && sim_random (w, 0, 1))
        crash_at_set_change (w, t);
      if (opt->ship_images && sim_random (w, 0, 1))
        crash_while_shipping (w, t);
      sim_run_until (w, t);
      random_fault (w);
    }
  heal_all (w);
  settle (w, "the faults stopped");
  if (w->violation == NULL && opt->n_servers >= 3)
    {
      crash_one_slow_others (w);
      settle (w, "the crashed server came back");
    }
  if (w->violation == NULL)
    sim_check_final (w);
  ok = w->violation == NULL;
  if (!ok && !opt->quiet)
    g_print ("FAIL seed %" G_GUINT64_FORMAT ": %s\n  replay: chat-sim%s%s --mode %s "
             "--servers %u%s%s%s%s --seed %" G_GUINT64_FORMAT " --trace\n",
             opt->seed, w->violation->str, opt->break_rule ? "-broken --break-rule " : "",
             opt->break_rule ? opt->break_rule : "", chat_repl_mode_to_string (opt->mode),
             opt->n_servers, opt->crash_on_set_change ? " --crash-on-set-change" : "",
             opt->disk_loss ? " --disk-loss" : "", opt->partitions ? " --partitions" : "",
             opt->ship_images ? " --ship-images" : "", opt->seed);
  *steps += w->steps;
  sim_world_free (w);
  return ok;
}
