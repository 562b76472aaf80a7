/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the replication core: starved servers in available mode (docs/replication.md,
 * C13 and A7 a). A stall that may have cost a member its place keeps it from leading alone;
 * one that cannot have does not. */
#include "test-chat-repl-cluster.h"

/* Time passes for the servers of `running` only; messages to or from the others are
 * lost, except that those to `starved` whose sender's set still names it wait in `queue`,
 * as in a starved host's socket. (The later ones never reach it: their sender goes down
 * with them still in its buffers, which the starved server was not reading.) */
static void
cluster_tick_some (Cluster *c, guint64 ms, ChatReplNodeSet running, guint starved, GPtrArray *queue)
{
  for (guint64 t = 0; t < ms; t += 10)
    {
      c->now += 10;
      for (guint id = 1; id <= c->n; id++)
        {
          ChatReplEvent ev = { CHAT_REPL_EVENT_TICK, c->now };

          if (CHAT_REPL_NODE_SET_HAS (running, id))
            cluster_step (c, id, &ev);
        }
      while (c->inbox->len > 0)
        {
          g_autoptr (ChatReplMessage) m = g_ptr_array_steal_index (c->inbox, 0);
          ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, c->now, m };

          if (m->to == starved && CHAT_REPL_NODE_SET_HAS (m->isr, starved))
            g_ptr_array_add (queue, g_steal_pointer (&m));
          else if (CHAT_REPL_NODE_SET_HAS (running, m->to)
                   && CHAT_REPL_NODE_SET_HAS (running, m->from))
            cluster_step (c, m->to, &ev);
        }
    }
}

/* The starved server runs again: its first step shows the stall (C13), then it handles
 * what waited in its queue, in order. */
static void
cluster_wake (Cluster *c, guint starved, GPtrArray *queue)
{
  ChatReplEvent tick = { CHAT_REPL_EVENT_TICK, c->now };

  cluster_step (c, starved, &tick);
  for (guint i = 0; i < queue->len; i++)
    {
      ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, c->now, g_ptr_array_index (queue, i) };

      cluster_step (c, starved, &ev);
    }
  g_ptr_array_set_size (queue, 0);
}

/* Three servers in available mode, s1 leading after 600 ms. */
static void
cluster_init_s1_leads (Cluster *c)
{
  cluster_init (c, 3, CHAT_REPL_MODE_AVAILABLE);
  cluster_tick (c, 600);
  g_assert_cmpint (chat_repl_get_role (c->nodes[1]), ==, CHAT_REPL_ROLE_LEADER);
}

/* s1 is asked to replicate an operation now. */
static void
s1_proposes (Cluster *c)
{
  g_autoptr (GBytes) op = g_bytes_new_static ("op", 2);
  ChatReplEvent propose = { CHAT_REPL_EVENT_PROPOSE, c->now, .proposal_id = 9, .data = op };

  cluster_step (c, 1, &propose);
}

/* s1 leads {1,2,3}; s2 is starved for 1.5 s, during which s1 removes it ({1,3}) and
 * commits an operation without it. Returns that operation's index. */
static guint64
starve_s2_while_s1_commits (Cluster *c, GPtrArray *queue)
{
  ChatReplStatus status;

  cluster_init_s1_leads (c);
  cluster_tick_some (c, 1200, SET (1, 3, 0), 2, queue);
  chat_repl_get_status (c->nodes[1], &status);
  g_assert_cmpuint (status.in_sync, ==, SET (1, 3, 0));
  g_assert_cmpuint (queue->len, >, 0);
  s1_proposes (c);
  cluster_tick_some (c, 300, SET (1, 3, 0), 2, queue);
  g_assert_cmpuint (c->results->len, ==, 1);
  g_assert_cmpint (g_array_index (c->results, ChatReplProposalResult, 0).code, ==,
                   CHAT_REPL_RESULT_OK);
  return g_array_index (c->results, ChatReplProposalResult, 0).index;
}

/* The survivor of seed 16164 of `chat-sim --ship-images`: s2 wakes when s1 and s3 are gone
 * and finds only appends of s1 from before its removal, which name it and whose commit
 * index it holds. They are no live leader's word on its membership now (A7 a): s2 stays
 * recovering and does not lead without the operation committed without it. */
static void
test_starved_member_not_rejoined_by_queue (void)
{
  g_autoptr (GPtrArray) queue
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  Cluster c;
  ChatReplStatus status;

  starve_s2_while_s1_commits (&c, queue);
  cluster_wake (&c, 2, queue);
  cluster_tick_some (&c, 10000, SET (2, 0, 0), 0, queue);
  chat_repl_get_status (c.nodes[2], &status);
  g_assert_cmpint (status.role, !=, CHAT_REPL_ROLE_LEADER);
  g_assert_true (status.recovering);
  cluster_clear (&c);
}

/* The same stall while s1 and s3 live on: s2 catches up, is added back and ends its
 * recovery with s1's answer to it; when s1 and s3 crash then, s2 holds every commit and
 * serves alone (two of three servers down). */
static void
test_starved_member_rejoins_live_leader (void)
{
  g_autoptr (GPtrArray) queue
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  Cluster c;
  ChatReplStatus status;
  guint64 committed;

  committed = starve_s2_while_s1_commits (&c, queue);
  cluster_wake (&c, 2, queue);
  cluster_deliver (&c);
  cluster_tick (&c, 2000);
  chat_repl_get_status (c.nodes[2], &status);
  g_assert_false (status.recovering);
  g_assert_cmpuint (status.in_sync, ==, SET (1, 2, 3));
  cluster_tick_some (&c, 10000, SET (2, 0, 0), 0, queue);
  chat_repl_get_status (c.nodes[2], &status);
  g_assert_cmpint (status.role, ==, CHAT_REPL_ROLE_LEADER);
  g_assert_cmpuint (status.in_sync, ==, SET (2, 0, 0));
  g_assert_cmpuint (status.commit_index, >, committed);
  cluster_clear (&c);
}

/* C13's stall just short of the failure timeout: the leader times s2's silence from its
 * last answer, which can come up to a heartbeat before s2's last step, from which s2 times
 * its stall. For every phase of the heartbeat and stalls of 900-990 ms (failure timeout
 * 1,000 ms), whenever s1 removed s2 and committed without it before s2 woke, s2 must not
 * lead alone once s1 and s3 are gone. Returns how many schedules had such a removal. */
static guint
starve_s2_just_short (guint64 phase_ms, guint64 stall_ms)
{
  g_autoptr (GPtrArray) queue
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  ChatReplStatus status;
  Cluster c;
  gboolean removed;

  cluster_init_s1_leads (&c);
  cluster_tick (&c, phase_ms);
  cluster_tick_some (&c, stall_ms, SET (1, 3, 0), 2, queue);
  chat_repl_get_status (c.nodes[1], &status);
  removed = status.in_sync == SET (1, 3, 0);
  if (removed)
    {
      s1_proposes (&c);
      cluster_tick_some (&c, 10, SET (1, 3, 0), 2, queue);
      g_assert_cmpuint (c.results->len, ==, 1);
    }
  cluster_wake (&c, 2, queue);
  cluster_tick_some (&c, 10000, SET (2, 0, 0), 0, queue);
  chat_repl_get_status (c.nodes[2], &status);
  if (removed)
    g_assert_cmpint (status.role, !=, CHAT_REPL_ROLE_LEADER);
  cluster_clear (&c);
  return removed ? 1 : 0;
}

static void
test_starved_member_just_short (void)
{
  guint removals = 0;

  for (guint64 phase = 0; phase < 100; phase += 10)
    {
      for (guint64 stall = 900; stall < 1000; stall += 10)
        removals += starve_s2_just_short (phase, stall);
    }
  /* The schedules do reach the edge: some stalls short of the timeout cost s2 its place. */
  g_assert_cmpuint (removals, >, 0);
}

/* The other side of that rule: a stall that hears nothing from the leader changes
 * nothing. s3 is down and out of the set, s1 (the leader) crashes, and s2, the last
 * member, is starved for less than a failure timeout at any point of the failure timeout
 * it waits before it takes over, the worst being the end. Nothing of s1 reaches it after
 * the stall, so nothing says s1 lived on to remove it: s2 must lead alone, as after a
 * crash without the stall. It did not when the first step after a stall alone made it
 * count itself as possibly removed: it stayed recovering with nobody left to end it. */
static void
starve_last_member_after_leader_crash (guint64 quiet_ms, guint64 stall_ms)
{
  g_autoptr (GPtrArray) queue
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  ChatReplStatus status;
  Cluster c;

  cluster_init_s1_leads (&c);
  cluster_tick_some (&c, 2000, SET (1, 2, 0), 0, queue);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpuint (status.in_sync, ==, SET (1, 2, 0));
  cluster_tick_some (&c, quiet_ms, SET (2, 0, 0), 0, queue);
  cluster_tick_some (&c, stall_ms, 0, 0, queue);
  cluster_wake (&c, 2, queue);
  cluster_tick_some (&c, 10000, SET (2, 0, 0), 0, queue);
  chat_repl_get_status (c.nodes[2], &status);
  if (status.role != CHAT_REPL_ROLE_LEADER)
    g_error ("s2, starved %" G_GUINT64_FORMAT " ms after %" G_GUINT64_FORMAT
             " ms without its leader, does not lead alone (recovering: %d)",
             stall_ms, quiet_ms, status.recovering);
  g_assert_false (status.recovering);
  cluster_clear (&c);
}

static void
test_last_member_starved_after_leader_crash (void)
{
  for (guint64 quiet = 0; quiet < 1000; quiet += 50)
    {
      for (guint64 stall = 200; stall < 1000; stall += 100)
        starve_last_member_after_leader_crash (quiet, stall);
    }
}

/* s1 leads {1,2,3}; s3 crashes, and 300 ms later (before s1 removes it) s1 appends an
 * operation. Returns s1's commit index before that operation; the appends s1 sent for it
 * wait in the cluster's inbox. */
static guint64
s1_appends_with_s3_down (Cluster *c, GPtrArray *queue)
{
  ChatReplStatus status;

  cluster_init_s1_leads (c);
  cluster_tick_some (c, 300, SET (1, 2, 0), 0, queue);
  chat_repl_get_status (c->nodes[1], &status);
  s1_proposes (c);
  return status.commit_index;
}

/* s1 runs again after its stall: within 10 s, with s3 still down, one of s1 and s2 leads,
 * out of recovery, with every operation committed before the stall. */
static void
assert_s1_or_s2_leads (Cluster *c, GPtrArray *queue, guint64 committed)
{
  ChatReplStatus s1, s2;

  cluster_wake (c, 1, queue);
  cluster_tick_some (c, 10000, SET (1, 2, 0), 0, queue);
  chat_repl_get_status (c->nodes[1], &s1);
  chat_repl_get_status (c->nodes[2], &s2);
  if (s1.role != CHAT_REPL_ROLE_LEADER && s2.role != CHAT_REPL_ROLE_LEADER)
    g_error ("nobody leads 10 s after s1's stall (s1 recovering: %d, log %" G_GUINT64_FORMAT
             "; s2 recovering: %d, log %" G_GUINT64_FORMAT ")",
             s1.recovering, s1.last_index, s2.recovering, s2.last_index);
  g_assert_false (s1.recovering || s2.recovering);
  g_assert_cmpuint (MAX (s1.commit_index, s2.commit_index), >=, committed);
}

/* A leader slowed past the failure timeout while a follower is down: s1's appends for its
 * latest operation had not left it when it stalled for 1.5 s, so its log ends past s2's.
 * s2 campaigns in the stall and loses when s1 answers on waking, refused for its shorter
 * log (C2); s1 is recovering (C13) and would need s3's vote too. s2's grant vouches for s1
 * (A6). */
static void
test_starved_leader_ahead_of_survivor (void)
{
  g_autoptr (GPtrArray) queue
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  Cluster c;
  guint64 committed = s1_appends_with_s3_down (&c, queue);

  g_ptr_array_set_size (c.inbox, 0);
  cluster_tick_some (&c, 1500, SET (2, 0, 0), 1, queue);
  assert_s1_or_s2_leads (&c, queue, committed);
  cluster_clear (&c);
}

/* The same with a stall of 1.1 s, s2 slowed too (its main loop stalled for the last 850 ms
 * of it, short of the failure timeout, so it sends nothing, not even a pre-vote; so it was
 * in one failing run of test-cluster-starved), and s1's appends reaching s2 only as s1 runs
 * again (they waited in s1's buffers): s2 hears its leader again after saying nothing to
 * it for a failure timeout, and recovers too, for fear that s1 removed it (C13). s1's log
 * holds no such removal and its set names s2, so s2's grant still vouches for s1 (A6). */
static void
test_starved_leader_and_unheard_follower (void)
{
  g_autoptr (GPtrArray) queue
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  g_autoptr (GPtrArray) unsent = NULL;
  ChatReplStatus s2;
  Cluster c;
  guint64 committed = s1_appends_with_s3_down (&c, queue);

  unsent = g_steal_pointer (&c.inbox);
  c.inbox = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  cluster_tick_some (&c, 250, SET (2, 0, 0), 1, queue);
  cluster_tick_some (&c, 850, 0, 1, queue);
  for (guint i = 0; i < unsent->len; i++)
    {
      ChatReplMessage *m = g_ptr_array_index (unsent, i);
      ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, c.now, m };

      if (m->to == 2)
        cluster_step (&c, 2, &ev);
    }
  chat_repl_get_status (c.nodes[2], &s2);
  g_assert_true (s2.recovering);
  assert_s1_or_s2_leads (&c, queue, committed);
  cluster_clear (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/repl/available/starved-member-not-rejoined-by-queue",
                   test_starved_member_not_rejoined_by_queue);
  g_test_add_func ("/repl/available/starved-member-rejoins-live-leader",
                   test_starved_member_rejoins_live_leader);
  g_test_add_func ("/repl/available/starved-member-just-short", test_starved_member_just_short);
  g_test_add_func ("/repl/available/last-member-starved-after-leader-crash",
                   test_last_member_starved_after_leader_crash);
  g_test_add_func ("/repl/available/starved-leader-ahead-of-survivor",
                   test_starved_leader_ahead_of_survivor);
  g_test_add_func ("/repl/available/starved-leader-and-unheard-follower",
                   test_starved_leader_and_unheard_follower);
  return g_test_run ();
}
