/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scripted scenarios: every row of the three-server crash table, read as traces. */
#include "sim-sc.h"

#include <stdio.h>
#include <string.h>

/* ---- fresh clusters (A8) ---- */

static gboolean
first_ack (SimWorld *w, gpointer data)
{
  return w->n_acked > 0;
}

/* Used at once: s1 is killed at the step of its first acknowledgement, before the others
 * can have heard that anything is committed. Its first set already held every server that
 * was up, and that founding set settles their membership (A8), so this is an ordinary
 * failover and nothing is lost. */
static gboolean
fresh_kill_leader (gboolean trace)
{
  Sc sc;
  guint next;

  sc_start (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  if (!sim_run_until_true (sc.w, 2000, first_ack, NULL))
    sc_fail (&sc, "nothing acknowledged");
  sc_expect (&sc, "s1: leader of term 1.1");
  sc_expect (&sc, "s1: in-sync set -> {1,2,3}");
  sim_crash (sc.w, 1);
  sc_run (&sc, 3000);
  next = sc_leader (&sc);
  sc_expect (&sc, "s%u: leader of term 2.%u", next, next);
  return sc_finish (&sc);
}

static void
sc_start_without_primary (Sc *sc, gboolean trace)
{
  SimOptions opt;

  sim_options_init (&opt);
  opt.seed = 42;
  opt.no_primary = TRUE;
  sc_start_with (sc, trace, &opt);
}

/* No --primary anywhere: the first server whose election timeout fires gets every other
 * empty server's vote and leads with all of them in its set. */
static gboolean
fresh_without_primary (gboolean trace)
{
  Sc sc;
  guint leader;

  sc_start_without_primary (&sc, trace);
  sc_run (&sc, 2000);
  leader = sc_leader (&sc);
  sc_expect (&sc, "s%u: leader of term 1.%u", leader, leader);
  sc_expect (&sc, "s%u: in-sync set -> {1,2,3}", leader);
  return sc_finish (&sc);
}

/* No --primary and s3 is not started: nobody may found the cluster (s3 may hold data for
 * all the others know), so nothing is served until s3 is up. */
static gboolean
fresh_without_primary_waits (gboolean trace)
{
  Sc sc;
  guint leader;

  sc_start_without_primary (&sc, trace);
  sim_crash (sc.w, 3);
  sc_run (&sc, 4000);
  sc_no_leader (&sc);
  sim_restart (sc.w, 3);
  sc_run (&sc, 3000);
  leader = sc_leader (&sc);
  sc_expect (&sc, "s%u: in-sync set -> {1,2,3}", leader);
  return sc_finish (&sc);
}

/* A fresh cluster whose s3 starts late: the bootstrap campaign waits for it, and the first
 * leader keeps leading (no election in a higher term deposes it). */
static gboolean
fresh_late_server_at (gboolean trace, guint64 late_ms, guint64 seed)
{
  Sc sc;
  guint leader;

  sc_start_seeded (&sc, trace, CHAT_REPL_MODE_AVAILABLE, seed);
  sim_crash (sc.w, 3);
  sim_run_until (sc.w, late_ms);
  sim_restart (sc.w, 3);
  sc_run (&sc, 3000);
  leader = sc_leader (&sc);
  sc_expect (&sc, "leader of term");
  sc_absent (&sc, "stepped-down");
  sc_absent (&sc, "election timeout");
  if (leader == 0)
    sc_fail (&sc, "no leader");
  return sc_finish (&sc);
}

/* s3 started 1.65 s after the others (seed 17): s2 granted s1's bootstrap vote long before
 * and, with nothing more from s1, its own timer fired just as s1 won: s2's campaign in term
 * 2.2 deposed s1 (term 1.1) within a millisecond of its first leadership. Now s1 asks every
 * server again at each heartbeat, and a repeated request keeps s2's timer from firing. */
static gboolean
fresh_late_server (gboolean trace)
{
  return fresh_late_server_at (trace, 1650, 17);
}

/* s1, the --primary server, loses its disk while s2 and s3 are down and starts again with
 * --primary. An empty server founds a cluster only when every configured server is up,
 * linked and empty (A8): s1 waits and says for whom; once s2 and s3 are back, their
 * history makes it give up founding, and it joins as an empty follower. Before, s1 founded
 * a second history alone after the failure timeout (and led term 1.1 a second time). */
static gboolean
primary_disk_loss_alone (gboolean trace)
{
  Sc sc;
  guint leader;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 2);
  sim_crash (sc.w, 3);
  sc_run (&sc, 50);
  sim_wipe (sc.w, 1);
  sim_restart_as (sc.w, 1, TRUE);
  sc_mark (&sc);
  sc_run (&sc, 5000);
  sc_no_leader (&sc);
  sc_expect (&sc, "s1: waiting-to-found (term 2.1, in-sync {2,3})");
  sc_absent (&sc, "leader of term");
  sim_restart (sc.w, 2);
  sim_restart (sc.w, 3);
  sc_run (&sc, 4000);
  leader = sc_leader (&sc);
  if (leader == 1)
    sc_fail (&sc, "the emptied server leads");
  sc_expect (&sc, "s1: cluster-exists s");
  return sc_finish (&sc);
}

/* ---- disk loss (A12) ---- */

/* s3 loses its disk and is back before the failure timeout: its messages name a new
 * store, so s1 takes it out of the set at once, sends it everything from the start and
 * adds it back once it has caught up. Writes never wait for the empty disk. */
static gboolean
follower_disk_loss (gboolean trace, guint64 down_ms)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sc_expect (&sc, "s1: in-sync set -> {1,2,3}");
  sim_wipe (sc.w, 3);
  sc_run (&sc, down_ms);
  sim_restart (sc.w, 3);
  sc_run (&sc, 3000);
  sc_expect (&sc, "s3: disk lost");
  sc_expect (&sc, "s1: in-sync set -> {1,2}");
  sc_expect (&sc, "s1: in-sync set -> {1,2,3}");
  if (sc_leader (&sc) != 1)
    sc_fail (&sc, "the leader changed after a follower lost its disk");
  return sc_finish (&sc);
}

static gboolean
follower_disk_loss_fast (gboolean trace)
{
  return follower_disk_loss (trace, 200);
}

static gboolean
follower_disk_loss_slow (gboolean trace)
{
  return follower_disk_loss (trace, 1500);
}

/* The leader loses its disk and is back at once. Its new store votes in the election that
 * follows, so the winner hears of that store as a candidate: it must still take s1 out of
 * the set as it leads (A12), since the commits of {1,2,3} counted a disk that is gone.
 * Before, taking the lead forgot it, and s1 counted as in sync while it held nothing. */
static gboolean
leader_disk_loss (gboolean trace)
{
  Sc sc;
  guint leader;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sc_expect (&sc, "s1: in-sync set -> {1,2,3}");
  sim_wipe (sc.w, 1);
  sim_restart (sc.w, 1);
  sc_run (&sc, 3000);
  leader = sc_leader (&sc);
  if (leader == 1)
    sc_fail (&sc, "the emptied server leads");
  sc_expect (&sc, "leader of term");
  sc_expect (&sc, "s%u: in-sync set -> {2,3}", leader);
  sc_expect (&sc, "s%u: in-sync set -> {1,2,3}", leader);
  return sc_finish (&sc);
}

/* A13: a new store copies the leader's log from the start, sets included. Stopped in the
 * middle of that copy, its latest set is one the cluster left long ago. */
typedef struct
{
  guint id;
  ChatReplNodeSet old_set;
} CopyWatch;

static gboolean
copy_holds_old_set (SimWorld *w, gpointer data)
{
  CopyWatch *watch = data;
  ChatReplStatus st;

  if (!w->servers[watch->id].up)
    return FALSE;
  chat_repl_get_status (w->servers[watch->id].repl, &st);
  return st.in_sync == watch->old_set
         && st.persisted_index >= sim_latest_set_index (&w->servers[watch->id]);
}

/* s1 is down for a while, so the log holds the set {2,3} before s1 is added back. Then the
 * follower r (of s2, s3) loses its disk; while it copies the log, with {2,3} its latest
 * durable set so far, it crashes (what was on its way to it is lost with the process) and
 * the leader loses its disk. s1 holds everything: r may not lead with the vote of the
 * leader's empty new store alone, as a member of a set it only copied. Before A13 it did,
 * and everything committed since {1,2,3} was lost. (A real cluster, in the chaos-wipe test,
 * saw acknowledged messages renumbered: the replay proposed them again.) */
static gboolean
rebuild_copies_old_set (gboolean trace)
{
  Sc sc;
  guint leader;
  CopyWatch watch = { 0, CHAT_REPL_NODE_BIT (2) | CHAT_REPL_NODE_BIT (3) };

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 1);
  sc_run (&sc, 6000);
  sc_expect (&sc, "in-sync set -> {2,3}");
  leader = sc_leader (&sc);
  sim_restart (sc.w, 1);
  sc_run (&sc, 2000);
  sc_expect (&sc, "in-sync set -> {1,2,3}");
  if (sc_leader (&sc) != leader || leader == 1)
    sc_fail (&sc, "the leader changed when s1 came back");
  watch.id = sc_other (1, leader);
  sim_wipe (sc.w, watch.id);
  sim_restart (sc.w, watch.id);
  if (!sim_run_until_true (sc.w, sc.w->now + 3000, copy_holds_old_set, &watch))
    sc_fail (&sc, "the new store never held {2,3} as its latest set");
  sim_crash (sc.w, watch.id);
  sim_restart (sc.w, watch.id);
  sim_wipe (sc.w, leader);
  sim_restart (sc.w, leader);
  sc_mark (&sc);
  sc_run (&sc, 4000);
  sc_leader (&sc);
  return sc_finish (&sc);
}

/* ---- single failures ---- */

static gboolean
leader_crash (gboolean trace)
{
  Sc sc;
  guint next;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sc_expect (&sc, "s1: leader of term 1.1");
  sc_expect (&sc, "s1: in-sync set -> {1,2,3}");
  sim_crash (sc.w, 1);
  sc_run (&sc, 3000);
  next = sc_leader (&sc);
  sc_expect (&sc, "s%u: election timeout -> term 2.%u (in-sync {1,2,3})", next, next);
  sc_expect (&sc, "s%u: leader of term 2.%u", next, next);
  sc_expect (&sc, "s%u: in-sync set -> {2,3}", next);
  sim_restart (sc.w, 1);
  sc_run (&sc, 2000);
  sc_expect (&sc, "s1: rejoin-started");
  sc_expect (&sc, "s%u: in-sync set -> {1,2,3}", next);
  sc_expect (&sc, "s1: rejoin-done");
  return sc_finish (&sc);
}

static gboolean
follower_crash (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 3);
  sc_run (&sc, 2000);
  sc_expect (&sc, "s3: crash");
  sc_expect (&sc, "s1: peer-down s3");
  sc_expect (&sc, "s1: in-sync set -> {1,2}");
  if (sc_leader (&sc) != 1)
    sc_fail (&sc, "the leader changed after a follower crash");
  sim_restart (sc.w, 3);
  sc_run (&sc, 2000);
  sc_expect (&sc, "s3: rejoin-started");
  sc_expect (&sc, "s1: peer-up s3");
  sc_expect (&sc, "s1: in-sync set -> {1,2,3}");
  sc_expect (&sc, "s3: rejoin-done");
  return sc_finish (&sc);
}

/* ---- ordered pairs of failures ---- */

static gboolean
leader_then_follower (gboolean trace)
{
  Sc sc;
  guint next, last;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 1);
  sc_run (&sc, 3000);
  next = sc_leader (&sc);
  last = sc_other (1, next);
  sc_expect (&sc, "s%u: leader of term 2.%u", next, next);
  sim_crash (sc.w, last);
  sc_run (&sc, 2000);
  sc_expect (&sc, "s%u: in-sync set -> {%u}", next, next);
  sc_run (&sc, 1000);
  if (sc_leader (&sc) != next)
    sc_fail (&sc, "the survivor stopped leading");
  sim_restart (sc.w, 1);
  sim_restart (sc.w, last);
  sc_run (&sc, 2000);
  sc_expect (&sc, "s1: rejoin-done");
  return sc_finish (&sc);
}

static gboolean
follower_then_leader (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 3);
  sc_run (&sc, 2000);
  sc_expect (&sc, "s1: in-sync set -> {1,2}");
  sim_crash (sc.w, 1);
  sc_run (&sc, 3000);
  sc_expect (&sc, "s2: election timeout -> term 2.2 (in-sync {1,2})");
  sc_expect (&sc, "s2: leader of term 2.2");
  sc_expect (&sc, "s2: in-sync set -> {2}");
  sim_restart (sc.w, 3);
  sim_restart (sc.w, 1);
  sc_run (&sc, 3000);
  sc_expect (&sc, "s2: in-sync set -> {");
  return sc_finish (&sc);
}

static gboolean
two_followers (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 2);
  sc_run (&sc, 500);
  sim_crash (sc.w, 3);
  sc_run (&sc, 2000);
  sc_expect (&sc, "s1: in-sync set -> {1,3}");
  sc_expect (&sc, "s1: in-sync set -> {1}");
  if (sc_leader (&sc) != 1)
    sc_fail (&sc, "the leader changed");
  sim_restart (sc.w, 3);
  sim_restart (sc.w, 2);
  sc_run (&sc, 3000);
  sc_expect (&sc, "s3: rejoin-done");
  return sc_finish (&sc);
}

static gboolean
leader_and_follower_at_once (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 1);
  sim_crash (sc.w, 2);
  sc_run (&sc, 3500);
  sc_expect (&sc, "s3: election timeout -> term 2.3 (in-sync {1,2,3})");
  sc_expect (&sc, "s3: leader of term 2.3");
  sc_expect (&sc, "s3: in-sync set -> {3}");
  sim_restart (sc.w, 2);
  sim_restart (sc.w, 1);
  return sc_finish (&sc);
}

/* ---- whole-cluster stop and restart ---- */

static const guint orders[6][3] = {
  { 1, 2, 3 }, { 1, 3, 2 }, { 2, 1, 3 }, { 2, 3, 1 }, { 3, 1, 2 }, { 3, 2, 1 },
};

/* All three at once (power loss): every durable in-sync set is {1,2,3}, so no server may
 * lead before it has the votes of both others. */
static gboolean
stop_all_at_once (gboolean trace, guint order)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  for (guint id = 1; id <= 3; id++)
    sim_crash (sc.w, id);
  sc_run (&sc, 1000);
  sim_restart (sc.w, orders[order][0]);
  sc_run (&sc, 3000);
  sc_no_leader (&sc);
  sim_restart (sc.w, orders[order][1]);
  sc_run (&sc, 3000);
  sc_no_leader (&sc);
  sc_expect (&sc, "s%u: rejoin-started (term 1.1, in-sync {1,2,3})", orders[order][1]);
  sim_restart (sc.w, orders[order][2]);
  sc_run (&sc, 4000);
  sc_leader (&sc);
  sc_expect (&sc, "leader of term");
  return sc_finish (&sc);
}

/* One after the other, leader last: s1 is the last survivor and its durable set names it
 * alone; whoever comes back first, nothing is served until s1 is back. */
static gboolean
stop_in_turn (gboolean trace, guint order)
{
  Sc sc;
  gboolean s1_back = FALSE;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 3);
  sc_run (&sc, 2000);
  sim_crash (sc.w, 2);
  sc_run (&sc, 2000);
  sc_expect (&sc, "s1: in-sync set -> {1}");
  sim_crash (sc.w, 1);
  sc_run (&sc, 500);
  for (guint i = 0; i < 3; i++)
    {
      sim_restart (sc.w, orders[order][i]);
      s1_back |= orders[order][i] == 1;
      sc_run (&sc, 3000);
      if (!s1_back)
        sc_no_leader (&sc);
    }
  sc_expect (&sc, "s1: rejoin-started (term 1.1, in-sync {1})");
  sc_expect (&sc, "s1: rejoin-done");
  sc_expect (&sc, "s1: leader of term");
  return sc_finish (&sc);
}

#define ORDER_FNS(i)                                                                               \
  static gboolean stop_all_##i (gboolean t)                                                        \
  {                                                                                                \
    return stop_all_at_once (t, i);                                                                \
  }                                                                                                \
  static gboolean stop_turn_##i (gboolean t)                                                       \
  {                                                                                                \
    return stop_in_turn (t, i);                                                                    \
  }
ORDER_FNS (0)
ORDER_FNS (1)
ORDER_FNS (2)
ORDER_FNS (3)
ORDER_FNS (4)
ORDER_FNS (5)

/* ---- the recovering rule, force-leader ---- */

static void
leave_s1_last_survivor (Sc *sc)
{
  sim_crash (sc->w, 3);
  sc_run (sc, 2000);
  sim_crash (sc->w, 2);
  sc_run (sc, 2000);
  sc_expect (sc, "s1: in-sync set -> {1}");
  sim_crash (sc->w, 1);
  sim_restart (sc->w, 2);
  sim_restart (sc->w, 3);
}

static gboolean
recovering_waits (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  leave_s1_last_survivor (&sc);
  sc_run (&sc, 8000);
  sc_expect (&sc, "s2: rejoin-started (term 1.1, in-sync {1,2})");
  sc_expect (&sc, "s3: rejoin-started (term 1.1, in-sync {1,2,3})");
  sc_no_leader (&sc);
  sim_restart (sc.w, 1);
  sc_run (&sc, 3000);
  sc_expect (&sc, "s1: rejoin-started (term 1.1, in-sync {1})");
  sc_expect (&sc, "s1: rejoin-done");
  sc_expect (&sc, "s1: leader of term");
  return sc_finish (&sc);
}

static gboolean
force_leader (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  leave_s1_last_survivor (&sc);
  sc_run (&sc, 3000);
  sc_no_leader (&sc);
  /* The operator accepts losing what s1 acknowledged alone. */
  sc.w->expect_split = TRUE;
  sc.allow_loss = TRUE;
  sim_admin (sc.w, 2, CHAT_REPL_ADMIN_FORCE_LEADER, 0);
  sc_run (&sc, 500);
  sc_expect (&sc, "s2: WARNING forced-leader");
  sc_expect (&sc, "s2: leader of term");
  if (sc_leader (&sc) != 2)
    sc_fail (&sc, "force-leader did not make s2 lead");
  return sc_finish (&sc);
}

/* ---- snapshots, step-down, transfer ---- */

static gboolean
snapshot_install (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 3);
  sc_run (&sc, 3000);
  sim_take_snapshot (sc.w, 1);
  sim_take_snapshot (sc.w, 2);
  sim_restart (sc.w, 3);
  sc_run (&sc, 3000);
  sc_expect (&sc, "s1: snapshot at index");
  sc_expect (&sc, "s3: restart");
  sc_expect (&sc, "s3: snapshot-installed s1");
  sc_expect (&sc, "s1: snapshot-sent s3");
  sc_expect (&sc, "s1: in-sync set -> {1,2,3}");
  sc_expect (&sc, "s3: rejoin-done");
  return sc_finish (&sc);
}

static gboolean
image_in_flight_to_3 (SimWorld *w, gpointer data)
{
  guint leader = sim_leader (w);
  ChatReplStatus st;

  if (leader == 0)
    return FALSE;
  chat_repl_get_status (w->servers[leader].repl, &st);
  for (guint i = 0; i < st.n_peers; i++)
    {
      if (st.peers[i].node == 3 && st.peers[i].sending_snapshot)
        return TRUE;
    }
  return FALSE;
}

/* C8's cost rule: the leader may not compact its log past what the crashed s3 lacks (the
 * retention of chat-repl-heal.c), yet the image it took weighs less than that log, so s3
 * gets the image and then the tail. `crash` (1: the leader, 3: s3, 0: none) strikes in the
 * middle of the transfer; s2 holds an image too, for when it takes over. */
static gboolean
image_over_log (gboolean trace, guint crash)
{
  Sc sc;
  ChatReplStatus st;
  SimOptions opt;

  sim_options_init (&opt);
  opt.seed = 42;
  opt.ship_images = TRUE;
  opt.max_retained = 1000;
  sc_start_with (&sc, trace, &opt);
  sc_run (&sc, 1000);
  sim_crash (sc.w, 3);
  sc_run (&sc, 3000);
  sim_take_snapshot (sc.w, 1);
  sim_take_snapshot (sc.w, 2);
  chat_repl_get_status (sc.w->servers[1].repl, &st);
  if (st.snapshot_index != 0)
    sc_fail (&sc, "s1 compacted its log past what s3 lacks");
  sim_restart (sc.w, 3);
  if (crash != 0)
    {
      if (!sim_run_until_true (sc.w, sc.w->now + 3000, image_in_flight_to_3, NULL))
        sc_fail (&sc, "no image in flight to s3");
      sc_run (&sc, 20);
      sim_crash (sc.w, crash);
      sc_run (&sc, 1500);
      sim_restart (sc.w, crash);
    }
  sc_run (&sc, 4000);
  sc_expect (&sc, "s3: restart");
  /* Its log matched the leader's: nothing of it is handed out for replay. */
  sc_absent (&sc, "s3: replays");
  sc_expect (&sc, "s3: snapshot-installed s%u", crash == 1 ? 2 : 1);
  sc_expect (&sc, "snapshot-sent s3");
  sc_expect (&sc, "s3: rejoin-done");
  return sc_finish (&sc);
}

static gboolean
image_instead_of_log (gboolean trace)
{
  return image_over_log (trace, 0);
}

static gboolean
image_leader_crash (gboolean trace)
{
  return image_over_log (trace, 1);
}

static gboolean
image_receiver_crash (gboolean trace)
{
  return image_over_log (trace, 3);
}

static gboolean
step_down (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_admin (sc.w, 1, CHAT_REPL_ADMIN_STEP_DOWN, 0);
  sc_run (&sc, 2500);
  sc_expect (&sc, "s1: stepped-down");
  sc_expect (&sc, "leader of term 2.");
  if (sc_leader (&sc) == 1)
    sc_fail (&sc, "s1 leads again at once");
  return sc_finish (&sc);
}

static gboolean
transfer (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_admin (sc.w, 1, CHAT_REPL_ADMIN_TRANSFER, 3);
  sc_run (&sc, 500);
  sc_expect (&sc, "s1: transfer-started s3");
  sc_expect (&sc, "s3: election timeout -> term 2.3");
  sc_expect (&sc, "s3: leader of term 2.3");
  if (sc_leader (&sc) != 3)
    sc_fail (&sc, "s3 is not the leader after the transfer");
  return sc_finish (&sc);
}

/* ---- partitions ---- */

static gboolean
quorum_leader_isolated (gboolean trace)
{
  Sc sc;
  guint next;

  sc_init (&sc, trace, CHAT_REPL_MODE_QUORUM);
  sim_partition (sc.w, 1); /* s1 | s2 s3 */
  sc_run (&sc, 3000);
  sc_expect (&sc, "partition: s2 s3 | s1");
  next = sim_leader (sc.w);
  if (next != 2 && next != 3)
    sc_fail (&sc, "the majority side has no leader");
  sc_expect (&sc, "s1: stepped-down");
  sim_heal (sc.w);
  sc_run (&sc, 1000);
  return sc_finish (&sc);
}

static gboolean
quorum_follower_isolated (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_QUORUM);
  sc_mark (&sc);
  sim_partition (sc.w, 4); /* s3 alone */
  sc_run (&sc, 3000);
  if (sc_leader (&sc) != 1)
    sc_fail (&sc, "the leader changed although it kept its majority");
  sim_heal (sc.w);
  sc_run (&sc, 2000);
  /* C11: the cut-off server's term did not climb, so its return deposes nobody. */
  sc_kept_leader (&sc, 1, CHAT_REPL_TERM_MAKE (1, 1));
  return sc_finish (&sc);
}

/* ---- starved and returning servers: a healthy leader keeps leading ---- */

/* A follower restarts while cut off from the others (its peers have not reconnected
 * yet), so its election timer fires before it hears the leader; then the links come up. */
static gboolean
returning_follower (gboolean trace, ChatReplMode mode)
{
  Sc sc;

  sc_init (&sc, trace, mode);
  sc_mark (&sc);
  sim_crash (sc.w, 3);
  sc_run (&sc, 1500);
  sim_partition (sc.w, 4); /* s3 alone */
  sim_restart (sc.w, 3);
  sc_run (&sc, 4000);
  sim_heal (sc.w);
  sc_run (&sc, 2000);
  sc_kept_leader (&sc, 1, CHAT_REPL_TERM_MAKE (1, 1));
  return sc_finish (&sc);
}

static gboolean
returning_follower_available (gboolean trace)
{
  return returning_follower (trace, CHAT_REPL_MODE_AVAILABLE);
}

static gboolean
returning_follower_quorum (gboolean trace)
{
  return returning_follower (trace, CHAT_REPL_MODE_QUORUM);
}

/* A follower's main loop is starved for three seconds (three election timeouts): when it
 * runs again its timer has long expired, but the leader's appends wait in its queue. */
static gboolean
starved_follower (gboolean trace, ChatReplMode mode)
{
  Sc sc;

  sc_init (&sc, trace, mode);
  sc_mark (&sc);
  sim_stall (sc.w, 2, 3000);
  sc_run (&sc, 5000);
  sc_kept_leader (&sc, 1, CHAT_REPL_TERM_MAKE (1, 1));
  return sc_finish (&sc);
}

static gboolean
starved_follower_available (gboolean trace)
{
  return starved_follower (trace, CHAT_REPL_MODE_AVAILABLE);
}

static gboolean
starved_follower_quorum (gboolean trace)
{
  return starved_follower (trace, CHAT_REPL_MODE_QUORUM);
}

static gboolean
quorum_majority_down (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_QUORUM);
  sim_crash (sc.w, 2);
  sim_crash (sc.w, 3);
  sc_run (&sc, 3000);
  sc_expect (&sc, "s1: stepped-down");
  sc_no_leader (&sc);
  sim_restart (sc.w, 3);
  sc_run (&sc, 3000);
  sc_expect (&sc, "leader of term");
  return sc_finish (&sc);
}

/* Available mode is not partition-safe: this pins what happens (docs/replication.md, §8).
 * Each side acknowledges writes and takes snapshots; once healed, the leader of the side
 * with fewer servers behind it finds its log diverged, starts over from the winner's and its
 * host proposes the dropped operations again, so that no acknowledged operation is lost in
 * the end. */
static gboolean
available_split_brain (gboolean trace)
{
  Sc sc;
  guint other_leader;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sc.w->expect_split = TRUE;
  sim_partition (sc.w, 1);
  sc_run (&sc, 4000);
  sc_expect (&sc, "partition: s2 s3 | s1");
  sc_expect (&sc, "s1: in-sync set -> {1}");
  other_leader = sim_leader (sc.w);
  if (other_leader != 2 && other_leader != 3)
    sc_fail (&sc, "the larger side elected no leader");
  else
    sc_expect (&sc, "s%u: in-sync set -> {2,3}", other_leader);
  if (chat_repl_get_role (sc.w->servers[1].repl) != CHAT_REPL_ROLE_LEADER)
    sc_fail (&sc, "s1 should still lead its side");
  /* Snapshots on both sides compact nothing that the other side lacks. */
  for (guint id = 1; id <= 3; id++)
    sim_take_snapshot (sc.w, id);
  sim_heal (sc.w);
  sc_run (&sc, 3000);
  /* The side with more servers behind it wins, whichever term is higher. */
  sc_expect (&sc, "s1: stepped-down");
  sc_expect (&sc, "s1: diverged");
  sc_expect (&sc, "s1: replays");
  if (strstr (sc.w->trace_buf->str, "s2: diverged")
      || strstr (sc.w->trace_buf->str, "s3: diverged"))
    sc_fail (&sc, "the majority's side diverged");
  return sc_finish (&sc);
}

/* ---- a survivor that has not heard yet that its membership is committed ---- */

#define SET_1_2 (CHAT_REPL_NODE_BIT (1) | CHAT_REPL_NODE_BIT (2))
#define SET_1_3 (CHAT_REPL_NODE_BIT (1) | CHAT_REPL_NODE_BIT (3))
#define SET_2_3 (CHAT_REPL_NODE_BIT (2) | CHAT_REPL_NODE_BIT (3))
#define SET_1_2_3 (SET_1_2 | CHAT_REPL_NODE_BIT (3))

typedef struct
{
  guint id;
  ChatReplNodeSet set;
} Watch;

/* The set in force at a server's commit index: what it knows to be committed. */
static ChatReplNodeSet
committed_set (SimServer *s)
{
  ChatReplStatus st;

  chat_repl_get_status (s->repl, &st);
  for (guint64 i = st.commit_index; i > st.snapshot_index; i--)
    {
      const ChatReplEntry *e = chat_repl_get_entry (s->repl, i);

      if (e != NULL && e->type == CHAT_REPL_ENTRY_IN_SYNC_SET)
        return chat_repl_entry_get_node_set (e);
    }
  return 0;
}

static gboolean
has_latest_set (SimWorld *w, gpointer data)
{
  Watch *watch = data;
  SimServer *s = &w->servers[watch->id];
  ChatReplStatus st;

  if (!s->up)
    return FALSE;
  chat_repl_get_status (s->repl, &st);
  return st.in_sync == watch->set;
}

/* The server holds the set as its latest and has it on disk. */
static gboolean
persisted_latest_set (SimWorld *w, gpointer data)
{
  Watch *watch = data;
  SimServer *s = &w->servers[watch->id];
  ChatReplStatus st;

  if (!has_latest_set (w, data))
    return FALSE;
  chat_repl_get_status (s->repl, &st);
  return st.persisted_index >= sim_latest_set_index (s);
}

/* The server leads with the set as its latest and has committed it. */
static gboolean
committed_latest_set (SimWorld *w, gpointer data)
{
  Watch *watch = data;
  SimServer *s = &w->servers[watch->id];
  ChatReplStatus st;

  if (!has_latest_set (w, data) || chat_repl_get_role (s->repl) != CHAT_REPL_ROLE_LEADER)
    return FALSE;
  chat_repl_get_status (s->repl, &st);
  return st.commit_index >= sim_latest_set_index (s);
}

static void
sc_run_until (Sc *sc, guint64 ms, SimCondition done, guint id, ChatReplNodeSet set,
              const char *what)
{
  Watch watch = { id, set };
  g_autofree char *msg = NULL;

  if (sim_run_until_true (sc->w, sc->w->now + ms, done, &watch))
    return;
  msg = g_strdup_printf ("s%u: never %s", id, what);
  sc_fail (sc, msg);
}

/* Records in the trace what the survivor knows when the last other server dies, and checks
 * that the scenario opened the window it is about: the survivor holds `latest` but has not
 * heard that it is committed. */
static void
sc_survivor_view (Sc *sc, guint id, ChatReplNodeSet latest, gboolean self_committed)
{
  SimServer *s = &sc->w->servers[id];
  ChatReplNodeSet committed = committed_set (s);
  g_autofree char *latest_str = sim_node_set_format (latest);
  g_autofree char *committed_str = sim_node_set_format (committed);
  ChatReplStatus st;

  chat_repl_get_status (s->repl, &st);
  sim_trace (sc->w, id, "holds in-sync set %s, knows %s committed (commit %" G_GUINT64_FORMAT ")",
             latest_str, committed_str, st.commit_index);
  if (st.in_sync != latest || committed == latest
      || CHAT_REPL_NODE_SET_HAS (committed, id) != self_committed)
    sc_fail (sc, "the survivor's view is not the one this scenario is about");
}

/* The survivor serves alone: within six seconds (an election and a failure timeout, then
 * clients that time out on the two dead servers first), it leads, drops the dead leader from
 * the set, and acknowledges a client's write. */
static void
sc_expect_alone (Sc *sc, guint id)
{
  sc_run (sc, 6000);
  sc_expect (sc, "s%u: leader of term", id);
  sc_expect (sc, "s%u: in-sync set -> {%u}", id, id);
  sc_expect (sc, "ok at index");
  if (sim_leader (sc->w) != id)
    sc_fail (sc, "the survivor does not lead alone");
}

/* s3 crashes; s1 drops it, commits {1,2} and crashes before s2 hears that. s2 is still a
 * member of {1,2,3}, which it knows to be committed, so it goes on alone by A5 (a), as it
 * always did. */
static gboolean
shrink_then_leader_crash (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 3);
  sc_run_until (&sc, 3000, committed_latest_set, 1, SET_1_2, "committed {1,2}");
  sc_survivor_view (&sc, 2, SET_1_2, TRUE);
  sim_crash (sc.w, 1);
  sc_expect_alone (&sc, 2);
  return sc_finish (&sc);
}

/* s3 crashes and comes back; s1 adds it again, and s2 crashes before it has that set.
 * s1 commits only once it has dropped s2 ({1,3}), and crashes before s3 hears that: s3's
 * committed set is still {1,2}, without itself. */
static gboolean
rejoined_then_two_crash (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 3);
  sc_run_until (&sc, 3000, committed_latest_set, 1, SET_1_2, "committed {1,2}");
  sim_restart (sc.w, 3);
  sc_run_until (&sc, 3000, has_latest_set, 1, SET_1_2_3, "added s3 again");
  sim_crash (sc.w, 2);
  sc_run_until (&sc, 3000, committed_latest_set, 1, SET_1_3, "committed {1,3}");
  sc_survivor_view (&sc, 3, SET_1_3, FALSE);
  sim_crash (sc.w, 1);
  sc_expect_alone (&sc, 3);
  return sc_finish (&sc);
}

/* A fresh cluster: s3 is the last one added ({1,2,3}) and has that entry on disk when s1
 * crashes, before s1 could commit it. s2 takes over with {2,3} and crashes as soon as it
 * has committed that, before s3 hears: s3's committed set is {1,2}. */
static gboolean
growing_set_then_two_crash (gboolean trace)
{
  Sc sc;

  sc_start_growing (&sc, trace, 42);
  sc_run_until (&sc, 2000, persisted_latest_set, 3, SET_1_2_3, "had {1,2,3} on disk");
  sim_crash (sc.w, 1);
  sc_run_until (&sc, 10000, committed_latest_set, 2, SET_2_3, "committed {2,3}");
  sc_expect (&sc, "s2: leader of term");
  sc_survivor_view (&sc, 3, SET_2_3, FALSE);
  sim_crash (sc.w, 2);
  sc_expect_alone (&sc, 3);
  return sc_finish (&sc);
}

/* What a fresh cluster under load can meet (tests/integration/test-cluster-restart.c):
 * s1 crashes as soon as it has added s2 ({1,2}); s2 holds that entry, not the news that it
 * is committed, and goes on alone ({2}); it adds s3 ({2,3}) and crashes as soon as s3 has
 * that entry on disk. Each survivor is anchored by the server that added it. */
static gboolean
late_join_then_two_crash (gboolean trace)
{
  Sc sc;

  sc_start_growing (&sc, trace, 42);
  sc_run_until (&sc, 2000, persisted_latest_set, 2, SET_1_2, "had {1,2} on disk");
  sc_survivor_view (&sc, 2, SET_1_2, FALSE);
  sim_crash (sc.w, 1);
  sc_run_until (&sc, 8000, persisted_latest_set, 3, SET_2_3, "had {2,3} on disk");
  sc_expect (&sc, "s2: leader of term");
  sc_expect (&sc, "s2: in-sync set -> {2}");
  sc_survivor_view (&sc, 3, SET_2_3, FALSE);
  sim_crash (sc.w, 2);
  sc_expect_alone (&sc, 3);
  return sc_finish (&sc);
}

/* What stays as it was: s3 has just joined ({1,2,3}) and has that entry on disk when s1
 * and s2 crash at the same instant, before s3 hears that its joining is committed. s2 was a
 * member before s3 joined and led no term since, so s3 cannot tell whether s2 has the
 * entry (see missed-addition-race): s3 needs every vote of its set (A6), and nothing is
 * served until s1 and s2 are both back. */
static gboolean
join_then_two_at_once (gboolean trace)
{
  Sc sc;

  sc_start_growing (&sc, trace, 42);
  sc_run_until (&sc, 2000, persisted_latest_set, 3, SET_1_2_3, "had {1,2,3} on disk");
  sc_survivor_view (&sc, 3, SET_1_2_3, FALSE);
  sim_crash (sc.w, 1);
  sim_crash (sc.w, 2);
  sc_run (&sc, 6000);
  sc_no_leader (&sc);
  sim_restart (sc.w, 2);
  sc_run (&sc, 4000);
  sc_no_leader (&sc);
  sim_restart (sc.w, 1);
  sc_run (&sc, 4000);
  sc_expect (&sc, "leader of term");
  return sc_finish (&sc);
}

/* s1 serves alone; s3 comes back and s1 adds it again ({1,3}), then crashes before that
 * entry is on its own disk. A11 keeps the entry from leaving s1 before it is durable, so s3
 * never holds it and waits (it is still recovering); s1 comes back as the last survivor.
 * Without A11, s3 would hold {1,3}, lead alone as an anchored member and acknowledge
 * writes that s1, back as the last survivor after s3's crash, does not have. */
static gboolean
addition_then_leader_crash (gboolean trace)
{
  Sc sc;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 2);
  sim_crash (sc.w, 3);
  sc_run_until (&sc, 4000, committed_latest_set, 1, CHAT_REPL_NODE_BIT (1), "committed {1}");
  sim_restart (sc.w, 3);
  sc_run_until (&sc, 3000, has_latest_set, 1, SET_1_3, "added s3 again");
  sim_crash (sc.w, 1);
  sc_expect (&sc, "s1: crash (1 write(s) not yet durable are lost)");
  sc_run (&sc, 4000);
  sc_no_leader (&sc);
  sim_crash (sc.w, 3);
  sim_restart (sc.w, 1);
  sc_run (&sc, 2000);
  sc_expect (&sc, "s1: rejoin-started (term 1.1, in-sync {1})");
  sc_expect (&sc, "s1: leader of term");
  return sc_finish (&sc);
}

/* Why an anchored member needs every other member of its set to be known to hold its
 * addition. s1 adds s3 ({1,2,3}) while s2 misses that append (a short cut between s1 and
 * s2 stands in for an append that arrived out of order, was rejected and never sent again),
 * and s1 crashes. s2, a live member of {1,2}, wins alone and commits. Before pre-vote (C11)
 * s3 campaigned in a higher term a moment later, s2 stepped down without a vote in that
 * term, and s3 would have counted it as silent. s3 must not win: s2 is not known to hold
 * the addition, so s3 needs its vote; its pre-vote, judged by the same rule, now keeps it
 * from even raising its term while s2 leads. */
static gboolean
missed_addition_race (gboolean trace)
{
  Sc sc;

  sc_start_growing (&sc, trace, 655);
  sc_run_until (&sc, 2000, has_latest_set, 1, SET_1_2, "added s2");
  sc_run (&sc, 30);
  sim_partition (sc.w, 2);
  sc_run_until (&sc, 2000, persisted_latest_set, 3, SET_1_2_3, "had {1,2,3} on disk");
  sim_crash (sc.w, 1);
  sim_heal (sc.w);
  sc_run (&sc, 4000);
  sc_expect (&sc, "s2: leader of term 3.2");
  sc_absent (&sc, "s3: election timeout");
  sc_absent (&sc, "s2: stepped-down");
  if (sim_leader (sc.w) != 2)
    sc_fail (&sc, "s2 does not lead again");
  return sc_finish (&sc);
}

/* ---- a member that answers in a lower term is alive (A5) ---- */

static gboolean
is_candidate (SimWorld *w, gpointer data)
{
  SimServer *s = &w->servers[GPOINTER_TO_UINT (data)];

  return s->up && chat_repl_get_role (s->repl) == CHAT_REPL_ROLE_CANDIDATE;
}

/* s1 crashes and L (s2 or s3) leads {2,3}. The other one, F, is starved while L steps down
 * and runs again; F wakes 300 ms into L's campaign and handles its queue: L's old appends
 * (it hears a live leader, C3, and they end its recovery, A7 a), then L's vote request,
 * which it refuses in its older term. L ignores an answer of another term, and counting F
 * as silent it won with the set {L} while F, awake, still held {2,3}; after L's crash F
 * won alone without what L had committed (seed 37253 of the random schedules). Silence
 * now means no message at all since the campaign began: L must wait for F's vote. */
static gboolean
starved_voter_refuses (gboolean trace)
{
  Sc sc;
  guint leader;
  guint follower;
  guint64 deadline;
  g_autofree char *alone = NULL;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sim_crash (sc.w, 1);
  sc_run (&sc, 3000);
  leader = sc_leader (&sc);
  if (leader < 2)
    return sc_finish (&sc);
  follower = sc_other (1, leader);
  sc_mark (&sc);
  sim_stall (sc.w, follower, 200);
  sc_run (&sc, 150); /* L's heartbeats wait in F's queue */
  sim_admin (sc.w, leader, CHAT_REPL_ADMIN_STEP_DOWN, 0);
  deadline = sc.w->now + 5000;
  while (!is_candidate (sc.w, GUINT_TO_POINTER (leader)) && sc.w->now < deadline)
    {
      sim_stall (sc.w, follower, 200);
      sim_run_until_true (sc.w, sc.w->now + 100, is_candidate, GUINT_TO_POINTER (leader));
    }
  if (!is_candidate (sc.w, GUINT_TO_POINTER (leader)))
    sc_fail (&sc, "the old leader never ran again");
  sim_stall (sc.w, follower, 300);
  sc_run (&sc, 1500);
  alone = g_strdup_printf ("s%u: in-sync set -> {%u}", leader, leader);
  sc_absent (&sc, alone);
  sim_crash (sc.w, leader);
  sc_run (&sc, 4000);
  return sc_finish (&sc);
}

/* The leader s1 is starved for 4 s. s2 or s3 wins without it (A5: s1 is silent), commits
 * with {2,3} and then both crash, before s1 runs again. s1 must not go on leading its old
 * term: it would remove s2 and s3 for a silence that was its own and acknowledge writes
 * alone at the indexes of their commits. It steps down and recovers (C13), and waits for
 * them: their commits are not on its disk. The rule must not rest on the new term reaching
 * s1, so s1 is also cut off while it is starved: nothing of term 2.2 waits in its queue
 * (without the rule it leads alone with {1} and acknowledges writes the others lack). */
static gboolean
starved_leader_replaced (gboolean trace)
{
  Sc sc;
  guint leader;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  sc_mark (&sc);
  sim_stall (sc.w, 1, 4000);
  sim_partition (sc.w, 1); /* s1 alone */
  sc_run (&sc, 3000);
  leader = sim_leader (sc.w);
  if (leader != 2 && leader != 3)
    sc_fail (&sc, "nobody took over from the starved leader");
  sc_expect (&sc, "ok at index");
  sim_crash (sc.w, 2);
  sim_crash (sc.w, 3);
  sim_heal (sc.w);
  sc_run (&sc, 4000);
  sc_expect (&sc, "s1: stepped-down");
  sc_expect (&sc, "s1: rejoin-started");
  sc_absent (&sc, "s1: in-sync set -> {1}");
  sc_no_leader (&sc);
  return sc_finish (&sc);
}

/* s3 crashes; while its clients write, the leader s1 is starved for 1.5 s, longer than the
 * failure timeout, with its latest appends not yet sent, so its log ends past s2's. s1
 * steps down and recovers (C13); s2 campaigns in the stall and loses when s1 answers, as
 * s1 refuses a log shorter than its own (C2). s2 is a live member, and its grant vouches
 * for s1's log (A6): one of the two must lead and the clients finish with s3 still down.
 * Before that rule neither led until s3 came back. */
static gboolean
leader_ahead_of_s2 (SimWorld *w, gpointer data)
{
  ChatReplStatus leader, s2;

  chat_repl_get_status (w->servers[1].repl, &leader);
  chat_repl_get_status (w->servers[2].repl, &s2);
  return leader.role == CHAT_REPL_ROLE_LEADER && leader.last_index > s2.last_index;
}

static gboolean
starved_leader_follower_down (gboolean trace)
{
  Sc sc;
  guint64 deadline;

  sc_init (&sc, trace, CHAT_REPL_MODE_AVAILABLE);
  if (sc_leader (&sc) != 1)
    sc_fail (&sc, "s1 does not lead");
  sim_crash (sc.w, 3);
  if (!sim_run_until_true (sc.w, sc.w->now + 5000, leader_ahead_of_s2, NULL))
    sc_fail (&sc, "s1 appended nothing that s2 lacks");
  sc_mark (&sc);
  sim_stall (sc.w, 1, 2500);
  deadline = sc.w->now + 30000;
  while (!sim_clients_done (sc.w) && sc.w->now < deadline)
    sc_run (&sc, 100);
  if (!sim_clients_done (sc.w))
    sc_fail (&sc, "liveness: the clients are not done 30 s after the stall, with s3 down");
  sc_expect (&sc, "stepped-down");
  return sc_finish (&sc);
}

static const SimScenario scenarios[] = {
  { "fresh-kill-leader", "a fresh cluster used at once loses its first leader", fresh_kill_leader },
  { "fresh-without-primary", "no --primary: the cluster forms once all are up and empty",
    fresh_without_primary },
  { "fresh-without-primary-waits", "no --primary, s3 not started: nobody leads until it is",
    fresh_without_primary_waits },
  { "fresh-late-server", "s3 starts late: the first leader is not deposed", fresh_late_server },
  { "primary-disk-loss-alone", "s1 (--primary) loses its disk while s2, s3 are down: it waits",
    primary_disk_loss_alone },
  { "follower-disk-loss-fast", "s3 loses its disk, back within the failure timeout",
    follower_disk_loss_fast },
  { "follower-disk-loss-slow", "s3 loses its disk, back after the failure timeout",
    follower_disk_loss_slow },
  { "leader-disk-loss", "the leader loses its disk and is back at once", leader_disk_loss },
  { "rebuild-copies-old-set", "a new store copying an old set; the leader's disk lost too",
    rebuild_copies_old_set },
  { "leader-crash", "leader crashes; a follower takes over; it rejoins", leader_crash },
  { "follower-crash", "a follower crashes and rejoins; the leader keeps serving", follower_crash },
  { "leader-then-follower", "leader, then a follower: the survivor serves alone",
    leader_then_follower },
  { "follower-then-leader", "a follower, then the leader: the survivor serves alone",
    follower_then_leader },
  { "follower-then-follower", "both followers: the leader serves alone", two_followers },
  { "leader-and-follower-at-once", "two at the same instant: the survivor serves alone",
    leader_and_follower_at_once },
  { "shrink-then-leader-crash", "the leader commits {1,2} and crashes before s2 hears it",
    shrink_then_leader_crash },
  { "rejoined-then-two-crash", "s3 is added again; s2 and s1 crash before s3 hears it",
    rejoined_then_two_crash },
  { "growing-set-then-two-crash", "s3 has just joined; s1, then s2 crash before s3 hears it",
    growing_set_then_two_crash },
  { "late-join-then-two-crash", "s1 crashes as s2 joins; s2 alone adds s3 and crashes",
    late_join_then_two_crash },
  { "join-then-two-at-once", "s3 has just joined; s1 and s2 crash at once: s3 waits",
    join_then_two_at_once },
  { "addition-then-leader-crash", "s1 adds s3 back and crashes before that is on its disk",
    addition_then_leader_crash },
  { "missed-addition-race", "s2 missed s3's addition; s3 may not count s2 as silent",
    missed_addition_race },
  { "starved-voter-refuses", "a starved member refuses in its older term: it is not silent",
    starved_voter_refuses },
  { "starved-leader-replaced", "the leader is starved; its successors commit and crash: it waits",
    starved_leader_replaced },
  { "starved-leader-follower-down",
    "s3 is down; the leader is starved with appends unsent: one of s1, s2 leads",
    starved_leader_follower_down },
  { "stop-all-restart-123", "all at once, back as s1 s2 s3", stop_all_0 },
  { "stop-all-restart-132", "all at once, back as s1 s3 s2", stop_all_1 },
  { "stop-all-restart-213", "all at once, back as s2 s1 s3", stop_all_2 },
  { "stop-all-restart-231", "all at once, back as s2 s3 s1", stop_all_3 },
  { "stop-all-restart-312", "all at once, back as s3 s1 s2", stop_all_4 },
  { "stop-all-restart-321", "all at once, back as s3 s2 s1", stop_all_5 },
  { "stop-in-turn-restart-123", "s3, s2, then s1; back as s1 s2 s3", stop_turn_0 },
  { "stop-in-turn-restart-132", "s3, s2, then s1; back as s1 s3 s2", stop_turn_1 },
  { "stop-in-turn-restart-213", "s3, s2, then s1; back as s2 s1 s3", stop_turn_2 },
  { "stop-in-turn-restart-231", "s3, s2, then s1; back as s2 s3 s1", stop_turn_3 },
  { "stop-in-turn-restart-312", "s3, s2, then s1; back as s3 s1 s2", stop_turn_4 },
  { "stop-in-turn-restart-321", "s3, s2, then s1; back as s3 s2 s1", stop_turn_5 },
  { "recovering-waits", "stale servers wait for the last survivor", recovering_waits },
  { "force-leader", "operator forces a stale server to lead (warning)", force_leader },
  { "snapshot-install", "a follower behind the compacted log gets the snapshot in chunks",
    snapshot_install },
  { "image-instead-of-log", "a follower lacking more log than the leader's image weighs gets it",
    image_instead_of_log },
  { "image-leader-crash", "the leader crashes while it sends its image; the next one sends its own",
    image_leader_crash },
  { "image-receiver-crash", "the follower crashes while it receives the image, and starts over",
    image_receiver_crash },
  { "step-down", "operator asks the leader to step down", step_down },
  { "transfer", "operator transfers leadership to s3", transfer },
  { "quorum-leader-isolated", "quorum: leader cut off in a minority", quorum_leader_isolated },
  { "quorum-follower-isolated", "quorum: a follower cut off", quorum_follower_isolated },
  { "quorum-majority-down", "quorum: two of three down, then one back", quorum_majority_down },
  { "returning-follower-available", "a follower restarts cut off, then returns: no election",
    returning_follower_available },
  { "returning-follower-quorum", "quorum: a follower restarts cut off, then returns",
    returning_follower_quorum },
  { "starved-follower-available", "a follower's steps wait 3 s: the leader stays",
    starved_follower_available },
  { "starved-follower-quorum", "quorum: a follower's steps wait 3 s: the leader stays",
    starved_follower_quorum },
  { "available-split-brain", "available: a partition elects a leader on each side",
    available_split_brain },
  { NULL, NULL, NULL },
};

const SimScenario *
sim_scenarios (guint *n)
{
  *n = G_N_ELEMENTS (scenarios) - 1;
  return scenarios;
}
