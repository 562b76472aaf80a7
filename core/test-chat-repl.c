/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the replication core, driven by hand (the simulator covers the rest). */
#include "chat-defaults.h"
#include "test-chat-repl-cluster.h"

#include <string.h>

static void
test_term_encoding (void)
{
  guint64 a = CHAT_REPL_TERM_MAKE (3, 2), b = CHAT_REPL_TERM_MAKE (3, 1);
  char buf[32];

  g_assert_cmpuint (CHAT_REPL_TERM_COUNTER (a), ==, 3);
  g_assert_cmpuint (CHAT_REPL_TERM_NODE (a), ==, 2);
  g_assert_cmpuint (a, >, b);
  g_assert_cmpuint (CHAT_REPL_TERM_MAKE (4, 1), >, a);
  g_assert_cmpstr (chat_repl_term_format (a, buf, sizeof buf), ==, "3.2");
}

/* The core's timeouts are config.ini's (common/chat-defaults.h). */
static void
test_config_defaults (void)
{
  ChatReplConfig config;

  chat_repl_config_init (&config, 2, 3);
  g_assert_cmpuint (config.heartbeat_ms, ==, CHAT_DEFAULT_HEARTBEAT_MS);
  g_assert_cmpuint (config.election_timeout_min_ms, ==, CHAT_DEFAULT_ELECTION_TIMEOUT_MIN_MS);
  g_assert_cmpuint (config.election_timeout_max_ms, ==, CHAT_DEFAULT_ELECTION_TIMEOUT_MAX_MS);
  g_assert_cmpuint (config.failure_timeout_ms, ==, CHAT_DEFAULT_FAILURE_TIMEOUT_MS);
  g_assert_cmpuint (config.node_id, ==, 2);
  g_assert_cmpuint (config.n_nodes, ==, 3);
}

static void
test_config_invalid (void)
{
  ChatReplConfig config;

  story_config_init (&config, 4, 3);
  g_assert_null (chat_repl_new (&config, NULL));
  story_config_init (&config, 1, 3);
  config.election_timeout_max_ms = 10;
  g_assert_null (chat_repl_new (&config, NULL));
}

static void
test_replicate (gconstpointer data)
{
  ChatReplMode mode = GPOINTER_TO_UINT (data);
  Cluster c;
  g_autoptr (GBytes) op = g_bytes_new_static ("op", 2);
  ChatReplEvent propose = { CHAT_REPL_EVENT_PROPOSE, 0 };
  ChatReplStatus status;

  cluster_init (&c, 3, mode);
  cluster_tick (&c, 50);
  g_assert_cmpint (chat_repl_get_role (c.nodes[1]), ==, CHAT_REPL_ROLE_LEADER);
  cluster_tick (&c, 500);
  propose.now_ms = c.now;
  propose.proposal_id = 42;
  propose.data = op;
  cluster_step (&c, 1, &propose);
  cluster_deliver (&c);
  cluster_tick (&c, 300);
  g_assert_cmpuint (c.results->len, ==, 1);
  g_assert_cmpuint (g_array_index (c.results, ChatReplProposalResult, 0).proposal_id, ==, 42);
  g_assert_cmpint (g_array_index (c.results, ChatReplProposalResult, 0).code, ==,
                   CHAT_REPL_RESULT_OK);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpuint (status.n_peers, ==, 2);
  if (mode == CHAT_REPL_MODE_AVAILABLE)
    g_assert_cmpuint (status.in_sync, ==, 7);
  for (guint id = 1; id <= 3; id++)
    g_assert_cmpuint (c.applied[id], ==, c.applied[1]);

  /* A follower answers not_leader and names the leader. */
  propose.proposal_id = 43;
  g_array_set_size (c.results, 0);
  cluster_step (&c, 2, &propose);
  g_assert_cmpint (g_array_index (c.results, ChatReplProposalResult, 0).code, ==,
                   CHAT_REPL_RESULT_NOT_LEADER);
  g_assert_cmpuint (g_array_index (c.results, ChatReplProposalResult, 0).leader, ==, 1);
  cluster_clear (&c);
}

static void
test_vote_restriction (void)
{
  ChatReplConfig config;
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  ChatReplPersistedState state = { 0 };
  g_autoptr (ChatRepl) repl = NULL;
  g_autoptr (ChatReplMessage) req = NULL;
  ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, 10 };
  g_auto (ChatReplUpdate) u;
  ChatReplMessage *answer;

  story_config_init (&config, 1, 3);
  config.mode = CHAT_REPL_MODE_QUORUM;
  g_ptr_array_add (entries,
                   chat_repl_entry_new (CHAT_REPL_TERM_MAKE (1, 1), 1, CHAT_REPL_ENTRY_NOOP, NULL));
  g_ptr_array_add (entries,
                   chat_repl_entry_new (CHAT_REPL_TERM_MAKE (1, 1), 2, CHAT_REPL_ENTRY_OP, NULL));
  state.term = CHAT_REPL_TERM_MAKE (1, 1);
  state.entries = entries;
  repl = chat_repl_new (&config, &state);
  req = chat_repl_message_new (CHAT_REPL_MSG_VOTE_REQUEST, 2, 1, CHAT_REPL_TERM_MAKE (2, 2));
  req->last_index = 1;
  req->last_term = CHAT_REPL_TERM_MAKE (1, 1);
  ev.message = req;
  chat_repl_update_init (&u);
  chat_repl_step (repl, &ev, &u);
  g_assert_cmpuint (u.messages->len, ==, 1);
  answer = g_ptr_array_index (u.messages, 0);
  g_assert_false (answer->granted);
  g_assert_cmpuint (answer->term, ==, CHAT_REPL_TERM_MAKE (2, 2));
}

static void
test_bad_messages (void)
{
  ChatReplConfig config;
  g_autoptr (ChatRepl) repl = NULL;
  g_autoptr (GBytes) junk = g_bytes_new_static ("xyz", 3);

  story_config_init (&config, 2, 3);
  repl = chat_repl_new (&config, NULL);
  for (guint type = 0; type < 10; type++)
    for (guint from = 0; from < 5; from++)
      {
        g_autoptr (ChatReplMessage) m
            = chat_repl_message_new (type, from, 2, CHAT_REPL_TERM_MAKE (from, from));
        ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, 10 * type, m };
        g_auto (ChatReplUpdate) u;

        m->prev_index = from * 7;
        m->offset = 5;
        m->total = 3;
        m->data = g_bytes_ref (junk);
        g_ptr_array_add (m->entries, chat_repl_entry_new (G_MAXUINT64, 1, 99, junk));
        chat_repl_update_init (&u);
        chat_repl_step (repl, &ev, &u);
      }
  g_assert_cmpuint (chat_repl_get_role (repl), ==, CHAT_REPL_ROLE_FOLLOWER);
}

/* A cluster of one leads at once, but only once its new term is durable. */
static void
test_single_node (void)
{
  ChatReplConfig config;
  g_autoptr (ChatRepl) repl = NULL;
  ChatReplEvent tick = { CHAT_REPL_EVENT_TICK, 5 };
  ChatReplEvent persisted = { CHAT_REPL_EVENT_PERSISTED, 6 };
  g_auto (ChatReplUpdate) u;

  story_config_init (&config, 1, 1);
  repl = chat_repl_new (&config, NULL);
  chat_repl_update_init (&u);
  chat_repl_step (repl, &tick, &u);
  g_assert_true (u.hard_state_changed);
  g_assert_cmpuint (u.term, ==, CHAT_REPL_TERM_MAKE (1, 1));
  g_assert_cmpint (chat_repl_get_role (repl), ==, CHAT_REPL_ROLE_CANDIDATE);
  chat_repl_step (repl, &persisted, &u);
  g_assert_cmpint (chat_repl_get_role (repl), ==, CHAT_REPL_ROLE_LEADER);
  g_assert_true (u.role_changed);
  g_assert_cmpuint (u.entries->len, ==, 2); /* NOOP and the in-sync set {1} */
}

/* ---- available mode: a survivor whose membership is settled but not known committed ---- */

#define T11 CHAT_REPL_TERM_MAKE (1, 1)
#define T22 CHAT_REPL_TERM_MAKE (2, 2)
#define T23 CHAT_REPL_TERM_MAKE (2, 3)

/* One server whose peers are all down: what it writes is durable at once, what it sends
 * is lost. Returns the rejoin (A7 a) its last message named, 0 when it sent none. */
static guint64
lone_step (ChatRepl *repl, const ChatReplEvent *ev)
{
  g_auto (ChatReplUpdate) u;
  guint64 rejoin = 0;

  chat_repl_update_init (&u);
  chat_repl_step (repl, ev, &u);
  for (guint i = 0; i < u.messages->len; i++)
    rejoin = ((ChatReplMessage *)g_ptr_array_index (u.messages, i))->rejoin;
  if (u.entries->len > 0 || u.hard_state_changed)
    {
      ChatReplEntry *last
          = u.entries->len > 0 ? g_ptr_array_index (u.entries, u.entries->len - 1) : NULL;
      ChatReplEvent persisted = { CHAT_REPL_EVENT_PERSISTED, ev->now_ms };
      guint64 later;

      persisted.index = last != NULL ? last->index : 0;
      persisted.term = last != NULL ? last->term : 0;
      later = lone_step (repl, &persisted);
      rejoin = later != 0 ? later : rejoin;
    }
  return rejoin;
}

static void
log_add (GPtrArray *entries, guint64 term, ChatReplEntryType type, ChatReplNodeSet set)
{
  g_autoptr (GBytes) data
      = type == CHAT_REPL_ENTRY_IN_SYNC_SET ? chat_repl_node_set_to_bytes (set) : NULL;

  g_ptr_array_add (entries, chat_repl_entry_new (term, entries->len + 1, type, data));
}

/* The latest in-sync set in `log`. */
static ChatReplNodeSet
log_latest_set (GPtrArray *log)
{
  for (guint i = log->len; i > 0; i--)
    {
      ChatReplEntry *e = g_ptr_array_index (log, i - 1);

      if (e->type == CHAT_REPL_ENTRY_IN_SYNC_SET)
        return chat_repl_entry_get_node_set (e);
    }
  return 0;
}

/* One append of the entries of `log` from index `from` on, by the leader of `term`, which
 * had heard the rejoin `heard` from the server; returns the rejoin the answer names. */
static guint64
lone_append_once (ChatRepl *repl, guint64 now, guint64 term, GPtrArray *log, guint64 from,
                  guint64 commit, guint64 heard)
{
  g_autoptr (ChatReplMessage) m
      = chat_repl_message_new (CHAT_REPL_MSG_APPEND, CHAT_REPL_TERM_NODE (term), 3, term);
  ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, now, m };

  m->prev_index = from - 1;
  m->prev_term = from > 1 ? ((ChatReplEntry *)g_ptr_array_index (log, from - 2))->term : 0;
  m->commit = commit;
  m->isr = log_latest_set (log);
  m->rejoin_heard = heard;
  for (guint64 i = from; i <= log->len; i++)
    g_ptr_array_add (m->entries, chat_repl_entry_ref (g_ptr_array_index (log, i - 1)));
  return lone_step (repl, &ev);
}

/* Hands the server the entries of `log` from index `from` on, as the leader of `term`
 * would, with that leader's commit index: an append, and the next one, sent once the
 * leader has heard the server's answer (it echoes the server's rejoin, A7 a). */
static void
lone_append (ChatRepl *repl, guint64 now, guint64 term, GPtrArray *log, guint64 from,
             guint64 commit)
{
  guint64 heard = lone_append_once (repl, now, term, log, from, commit, 0);

  lone_append_once (repl, now, term, log, from, commit, heard);
}

/* Lets ten seconds pass for a server alone; returns its role and in-sync set then. */
static ChatReplRole
lone_wait (ChatRepl *repl, guint64 *now, ChatReplNodeSet *in_sync)
{
  ChatReplStatus status;

  for (guint i = 0; i < 1000; i++)
    {
      ChatReplEvent tick = { CHAT_REPL_EVENT_TICK, *now += 10 };

      lone_step (repl, &tick);
    }
  chat_repl_get_status (repl, &status);
  *in_sync = status.in_sync;
  return status.role;
}

/* s3 joined a fresh cluster last: s1 added it to {1,2} (index 4) and crashed before
 * anyone heard that this was committed; s2 took over with {2,3} (index 6) and crashed as
 * well. s3's committed set is {1,2}, without itself, yet its membership is anchored: s1,
 * which added it, had that entry on disk before sending it (A11), and s2 held it when it
 * led term 2.2. s3 serves alone. Without s2's term, s2 may have missed the addition and
 * led under {1,2} alone: then s3 waits for a vote. */
static void
test_anchored_member (gconstpointer data)
{
  gboolean with_s2_term = GPOINTER_TO_INT (data);
  g_autoptr (GPtrArray) log
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  g_autoptr (ChatRepl) repl = NULL;
  ChatReplConfig config;
  ChatReplNodeSet in_sync = 0;
  guint64 now = 10;

  story_config_init (&config, 3, 3);
  repl = chat_repl_new (&config, NULL);
  log_add (log, T11, CHAT_REPL_ENTRY_NOOP, 0);
  log_add (log, T11, CHAT_REPL_ENTRY_IN_SYNC_SET, SET (1, 0, 0));
  log_add (log, T11, CHAT_REPL_ENTRY_IN_SYNC_SET, SET (1, 2, 0));
  log_add (log, T11, CHAT_REPL_ENTRY_IN_SYNC_SET, SET (1, 2, 3));
  lone_append (repl, now, T11, log, 1, 3);
  if (with_s2_term)
    {
      log_add (log, T22, CHAT_REPL_ENTRY_NOOP, 0);
      log_add (log, T22, CHAT_REPL_ENTRY_IN_SYNC_SET, SET (2, 3, 0));
      lone_append (repl, now += 10, T22, log, 5, 3);
    }
  if (with_s2_term)
    {
      g_assert_cmpint (lone_wait (repl, &now, &in_sync), ==, CHAT_REPL_ROLE_LEADER);
      g_assert_cmpuint (in_sync, ==, SET (3, 0, 0));
    }
  else
    {
      g_assert_cmpint (lone_wait (repl, &now, &in_sync), !=, CHAT_REPL_ROLE_LEADER);
      g_assert_cmpuint (in_sync, ==, SET (1, 2, 3));
    }
}

/* s1 serving alone adds s3 back ({1,3}): s3 serves alone once s1 is gone, whatever it
 * heard of the commit index. */
static void
test_anchored_by_adder_alone (void)
{
  g_autoptr (GPtrArray) log
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  g_autoptr (ChatRepl) repl = NULL;
  ChatReplConfig config;
  ChatReplNodeSet in_sync = 0;
  guint64 now = 10;

  story_config_init (&config, 3, 3);
  repl = chat_repl_new (&config, NULL);
  log_add (log, T11, CHAT_REPL_ENTRY_NOOP, 0);
  log_add (log, T11, CHAT_REPL_ENTRY_IN_SYNC_SET, SET (1, 0, 0));
  log_add (log, T11, CHAT_REPL_ENTRY_IN_SYNC_SET, SET (1, 3, 0));
  lone_append (repl, now, T11, log, 1, 2);
  g_assert_cmpint (lone_wait (repl, &now, &in_sync), ==, CHAT_REPL_ROLE_LEADER);
  g_assert_cmpuint (in_sync, ==, SET (3, 0, 0));
}

/* A TICK every 10 ms until *now reaches until. */
static void
lone_tick_until (ChatRepl *repl, guint64 *now, guint64 until)
{
  while (*now < until)
    {
      ChatReplEvent ev = { CHAT_REPL_EVENT_TICK, *now += 10 };

      lone_step (repl, &ev);
    }
}

/* Server `from` grants s3's pre-vote or vote (type) in term, at time at. A vote's answer
 * carries the voter's last index, voter_last: 0 from an empty store or one still copying
 * its log (A13), whose grant vouches for nothing. */
static void
lone_grant_from (ChatRepl *repl, ChatReplMessageType type, guint from, guint64 term, guint64 at,
                 guint64 voter_last)
{
  g_autoptr (ChatReplMessage) grant = chat_repl_message_new (type, from, 3, term);
  ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, at, grant };

  grant->granted = TRUE;
  if (type == CHAT_REPL_MSG_VOTE_RESPONSE)
    grant->last_index = voter_last;
  lone_step (repl, &ev);
}

/* s1, which holds a history (its first entry at least), grants. */
static void
lone_grant (ChatRepl *repl, ChatReplMessageType type, guint64 term, guint64 at)
{
  lone_grant_from (repl, type, 1, term, at, 1);
}

/* s3, not a member of {1}, is elected with s1's vote (A6) and adds itself ({1,3}); s1
 * dies before that is committed. s3's membership rests on s1 having that entry on disk,
 * which nobody knows: s3 steps down (A4) and does not lead again without s1. (s3's store
 * is an old one, of term 1.1: a new store would need every server's vote, A13.) */
static void
test_self_added_member_waits (void)
{
  g_autoptr (GPtrArray) log
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  g_autoptr (ChatRepl) repl = NULL;
  ChatReplPersistedState old_store = { .term = T11 };
  ChatReplConfig config;
  ChatReplNodeSet in_sync = 0;
  guint64 now = 10;

  story_config_init (&config, 3, 3);
  repl = chat_repl_new (&config, &old_store);
  log_add (log, T11, CHAT_REPL_ENTRY_NOOP, 0);
  log_add (log, T11, CHAT_REPL_ENTRY_IN_SYNC_SET, SET (1, 0, 0));
  lone_append (repl, now, T11, log, 1, 2);
  /* Not a member, it needs s1's vote: its pre-vote waits for s1's grant (C11). */
  lone_tick_until (repl, &now, 2000);
  g_assert_cmpint (chat_repl_get_role (repl), ==, CHAT_REPL_ROLE_FOLLOWER);
  g_assert_cmpuint (chat_repl_get_term (repl), ==, T11);
  lone_grant (repl, CHAT_REPL_MSG_PRE_VOTE_RESPONSE, T23, now += 5);
  g_assert_cmpint (chat_repl_get_role (repl), ==, CHAT_REPL_ROLE_CANDIDATE);
  g_assert_cmpuint (chat_repl_get_term (repl), ==, T23);
  lone_grant (repl, CHAT_REPL_MSG_VOTE_RESPONSE, chat_repl_get_term (repl), now += 5);
  g_assert_cmpint (chat_repl_get_role (repl), ==, CHAT_REPL_ROLE_LEADER);
  g_assert_cmpint (lone_wait (repl, &now, &in_sync), !=, CHAT_REPL_ROLE_LEADER);
  g_assert_cmpuint (in_sync, ==, SET (1, 3, 0));
}

/* The log a new store s3 has copied so far from s2, the leader of term 2.2: s1 was down
 * for a while ({2,3}); the rest of the log, which adds s1 back, has not reached s3. */
static void
copied_old_set (GPtrArray *log)
{
  log_add (log, T11, CHAT_REPL_ENTRY_NOOP, 0);
  log_add (log, T11, CHAT_REPL_ENTRY_IN_SYNC_SET, SET (1, 2, 3));
  log_add (log, T22, CHAT_REPL_ENTRY_NOOP, 0);
  log_add (log, T22, CHAT_REPL_ENTRY_IN_SYNC_SET, SET (2, 3, 0));
}

/* s3 campaigns once s2 is gone, granted by s2, whose vote carries s2_last as its last
 * index (0: its disk was lost, and its new store grants any log), and, when s1_grants, by
 * s1, which holds everything up to index 40. Returns the role s3 ends with. */
static ChatReplRole
campaign_granted_by (ChatRepl *repl, guint64 now, gboolean s1_grants, guint64 s2_last)
{
  ChatReplMessageType types[] = { CHAT_REPL_MSG_PRE_VOTE_RESPONSE, CHAT_REPL_MSG_VOTE_RESPONSE };

  lone_tick_until (repl, &now, now + 2000);
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      /* A pre-vote is for the term after ours; a vote for the term we run in. */
      guint64 term = chat_repl_get_term (repl);

      if (types[i] == CHAT_REPL_MSG_PRE_VOTE_RESPONSE)
        term = CHAT_REPL_TERM_MAKE (CHAT_REPL_TERM_COUNTER (term) + 1, 3);
      for (guint from = s1_grants ? 1 : 2; from <= 2; from++)
        lone_grant_from (repl, types[i], from, term, now += 5, from == 1 ? 40 : s2_last);
    }
  lone_tick_until (repl, &now, now + 200);
  return chat_repl_get_role (repl);
}

/* A new store s3 (no state at start) that has copied the log above from s2, whose commit
 * index, 40, is far past it. */
static ChatRepl *
new_store_mid_copy (void)
{
  g_autoptr (GPtrArray) log
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  ChatReplConfig config;
  ChatRepl *repl = NULL;

  story_config_init (&config, 3, 3);
  repl = chat_repl_new (&config, NULL);
  copied_old_set (log);
  lone_append (repl, 10, T22, log, 1, 40);
  return repl;
}

/* A13: a new store in the middle of its copy is no member of the {2,3} it copied: the vote
 * of s2's empty new store does not make it leader, since s1 may hold what it lacks. */
static void
test_rebuilding_store_waits (void)
{
  g_autoptr (ChatRepl) repl = new_store_mid_copy ();
  ChatReplStatus status;

  g_assert_cmpint (campaign_granted_by (repl, 20, FALSE, 0), !=, CHAT_REPL_ROLE_LEADER);
  chat_repl_get_status (repl, &status);
  g_assert_true (status.rebuilding);
  g_assert_cmpuint (status.in_sync, ==, SET (2, 3, 0));
}

/* The same copy, with s1's vote as well: every configured server granted, so s3 holds all
 * they have, and it leads. */
static void
test_rebuilding_store_leads_with_every_vote (void)
{
  g_autoptr (ChatRepl) repl = new_store_mid_copy ();
  ChatReplStatus status;

  g_assert_cmpint (campaign_granted_by (repl, 20, TRUE, 0), ==, CHAT_REPL_ROLE_LEADER);
  chat_repl_get_status (repl, &status);
  g_assert_false (status.rebuilding);
}

/* s3 of three, restarted on the log of copied_old_set() (mid-copy or its own). */
static ChatRepl *
restart_on_old_set (GPtrArray *log, gboolean rebuilding)
{
  ChatReplPersistedState disk = { .term = T22, .rebuilding = rebuilding };
  ChatReplConfig config;

  story_config_init (&config, 3, 3);
  copied_old_set (log);
  disk.entries = log;
  return chat_repl_new (&config, &disk);
}

/* A restart in the middle of the copy keeps the mark: the hard state carried it, and a
 * store loaded with it is rebuilding although its log is not empty. */
static void
test_rebuilding_survives_restart (void)
{
  g_autoptr (GPtrArray) log
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  g_autoptr (ChatRepl) repl = NULL;
  g_autoptr (ChatRepl) restarted = NULL;
  g_auto (ChatReplUpdate) u;
  ChatReplEvent tick = { CHAT_REPL_EVENT_TICK, 10 };
  ChatReplConfig config;
  ChatReplStatus status;

  story_config_init (&config, 3, 3);
  repl = chat_repl_new (&config, NULL);
  chat_repl_update_init (&u);
  chat_repl_step (repl, &tick, &u);
  g_assert_true (u.rebuilding);
  restarted = restart_on_old_set (log, TRUE);
  chat_repl_get_status (restarted, &status);
  g_assert_true (status.rebuilding);
  g_assert_true (status.recovering);
  g_assert_cmpint (campaign_granted_by (restarted, 20, FALSE, 0), !=, CHAT_REPL_ROLE_LEADER);
}

/* s3 restarts with the log above as its own (not a new store): recovering, with a set
 * {2,3} that may be long gone. s1 was added back since, and the sets after {2,3} may have
 * been persisted by s2 alone of {2,3}: s2's vote vouches for them, but only while s2 has
 * that disk. A grant from s2's new store (last index 0) counts only with every other
 * server's vote too, s1's included (A6): seeds 486, 1389 and 2415 of `chat-sim
 * --ship-images --disk-loss` led without what s1 held. */
typedef struct
{
  gboolean s1_grants;
  guint64 s2_last;
  ChatReplRole role;
} RecoveringCase;

static const RecoveringCase recovering_new_store_alone = { FALSE, 0, CHAT_REPL_ROLE_CANDIDATE };
static const RecoveringCase recovering_new_store_and_s1 = { TRUE, 0, CHAT_REPL_ROLE_LEADER };
static const RecoveringCase recovering_member = { FALSE, 4, CHAT_REPL_ROLE_LEADER };

static void
test_recovering_granted_by (gconstpointer data)
{
  const RecoveringCase *rc = data;
  g_autoptr (GPtrArray) log
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  g_autoptr (ChatRepl) repl = restart_on_old_set (log, FALSE);
  ChatReplStatus status;

  chat_repl_get_status (repl, &status);
  g_assert_true (status.recovering);
  g_assert_false (status.rebuilding);
  g_assert_cmpint (campaign_granted_by (repl, 20, rc->s1_grants, rc->s2_last), ==, rc->role);
}

/* Asks s3 (a follower of s1 in term 1.1) for a pre-vote from s2; returns the answer. */
static gboolean
pre_vote_granted (ChatRepl *repl, guint64 now, GPtrArray *log)
{
  g_autoptr (ChatReplMessage) req
      = chat_repl_message_new (CHAT_REPL_MSG_PRE_VOTE_REQUEST, 2, 3, T22);
  ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, now, req };
  g_auto (ChatReplUpdate) u;
  ChatReplMessage *answer;

  req->last_index = log->len;
  req->last_term = T11;
  chat_repl_update_init (&u);
  chat_repl_step (repl, &ev, &u);
  g_assert_cmpuint (u.messages->len, ==, 1);
  answer = g_ptr_array_index (u.messages, 0);
  g_assert_cmpint (answer->type, ==, CHAT_REPL_MSG_PRE_VOTE_RESPONSE);
  g_assert_false (u.hard_state_changed);
  return answer->granted;
}

/* C11 and C3: a server that hears its leader refuses pre-votes; one that does not grants
 * them without changing its term or vote; in quorum mode a server alone never raises its
 * term. */
static void
test_pre_vote (gconstpointer data)
{
  g_autoptr (GPtrArray) log
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  g_autoptr (ChatRepl) repl = NULL;
  ChatReplConfig config;
  ChatReplNodeSet in_sync = 0;
  guint64 now = 10;

  story_config_init (&config, 3, 3);
  config.mode = GPOINTER_TO_UINT (data);
  repl = chat_repl_new (&config, NULL);
  log_add (log, T11, CHAT_REPL_ENTRY_NOOP, 0);
  log_add (log, T11, CHAT_REPL_ENTRY_IN_SYNC_SET, SET (1, 2, 3));
  lone_append (repl, now, T11, log, 1, 2);
  g_assert_false (pre_vote_granted (repl, now + 100, log));
  /* Past the minimum election timeout, with the TICKs it asked for (a host that was
   * starved instead would move its leader contact on, C13). */
  for (guint64 t = now + 110; t < now + 600; t += 10)
    {
      ChatReplEvent tick = { CHAT_REPL_EVENT_TICK, t };

      lone_step (repl, &tick);
    }
  g_assert_true (pre_vote_granted (repl, now + 600, log));
  g_assert_cmpuint (chat_repl_get_term (repl), ==, T11);
  now += 600;
  if (config.mode == CHAT_REPL_MODE_QUORUM)
    {
      g_assert_cmpint (lone_wait (repl, &now, &in_sync), ==, CHAT_REPL_ROLE_FOLLOWER);
      g_assert_cmpuint (chat_repl_get_term (repl), ==, T11);
      return;
    }
  /* Available mode: a settled member whose others stay silent still gets to lead alone
   * (A5), the pre-vote having waited a failure timeout for their refusals. */
  g_assert_cmpint (lone_wait (repl, &now, &in_sync), ==, CHAT_REPL_ROLE_LEADER);
  g_assert_cmpuint (in_sync, ==, SET (3, 0, 0));
}

/* Quorum mode, s3 a follower of s1 that runs for term 2.3 once s1's pre-vote grant
 * arrives; s1's vote then arrives `delay` ms later, with no TICK in between (the host is
 * starved for that long when the delay is long). Returns s3's role after that vote. */
static ChatReplRole
candidate_after_vote_delay (guint64 delay)
{
  g_autoptr (GPtrArray) log
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  g_autoptr (ChatRepl) repl = NULL;
  ChatReplConfig config;
  guint64 now = 10;

  story_config_init (&config, 3, 3);
  config.mode = CHAT_REPL_MODE_QUORUM;
  repl = chat_repl_new (&config, NULL);
  log_add (log, T11, CHAT_REPL_ENTRY_NOOP, 0);
  lone_append (repl, now, T11, log, 1, 1);
  lone_tick_until (repl, &now, 2000);
  lone_grant (repl, CHAT_REPL_MSG_PRE_VOTE_RESPONSE, T23, now += 5);
  g_assert_cmpint (chat_repl_get_role (repl), ==, CHAT_REPL_ROLE_CANDIDATE);
  g_assert_cmpuint (chat_repl_get_term (repl), ==, T23);
  lone_grant (repl, CHAT_REPL_MSG_VOTE_RESPONSE, T23, now += delay);
  return chat_repl_get_role (repl);
}

/* C13: a candidate whose host was starved drops its campaign at the first step after the
 * stall, whatever that step is: a vote that waited in its queue may have been given long
 * before a later term committed. Its election timer was still ahead (500-1000 ms), so the
 * stall shows only because the core asks for a TICK every heartbeat. */
static void
test_stalled_candidate (void)
{
  g_assert_cmpint (candidate_after_vote_delay (5), ==, CHAT_REPL_ROLE_LEADER);
  g_assert_cmpint (candidate_after_vote_delay (451), ==, CHAT_REPL_ROLE_FOLLOWER);
}

/* A main loop starved for 1.5 s (longer than the failure and election timeouts) runs
 * its timer first. A leader silent that long may have been replaced by a server that
 * counted it as silent (A5), so it steps down and recovers (C13) at once. Here the whole
 * cluster stalled and all three recover: one of them leads the next term with every vote
 * and the set is still {1,2,3}. A member that then really stays silent still leaves it. */
static void
test_stalled_leader (void)
{
  Cluster c;
  ChatReplEvent tick = { CHAT_REPL_EVENT_TICK, 0 };
  ChatReplStatus status;
  guint64 term;
  guint leader, silent;

  cluster_init (&c, 3, CHAT_REPL_MODE_AVAILABLE);
  cluster_tick (&c, 600);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpuint (status.in_sync, ==, SET (1, 2, 3));
  term = chat_repl_get_term (c.nodes[1]);
  c.now += 1500;
  tick.now_ms = c.now;
  cluster_step (&c, 1, &tick);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpint (status.role, !=, CHAT_REPL_ROLE_LEADER);
  g_assert_true (status.recovering);
  g_assert_cmpuint (status.in_sync, ==, SET (1, 2, 3));
  cluster_deliver (&c);
  cluster_tick (&c, 2000);
  leader = chat_repl_get_leader (c.nodes[1]);
  g_assert_cmpuint (leader, >=, 1);
  for (guint id = 1; id <= 3; id++)
    {
      chat_repl_get_status (c.nodes[id], &status);
      g_assert_cmpuint (status.leader, ==, leader);
      g_assert_cmpuint (status.term, >, term);
      g_assert_false (status.recovering);
      g_assert_cmpuint (status.in_sync, ==, SET (1, 2, 3));
    }
  silent = leader % 3 + 1;
  cluster_tick_without (&c, 1500, silent);
  chat_repl_get_status (c.nodes[leader], &status);
  g_assert_cmpuint (status.in_sync, ==, SET (1, 2, 3) & ~CHAT_REPL_NODE_BIT (silent));
  cluster_clear (&c);
}

/* The leader alone is starved for 3 s; the others elect node 2 or 3 without it. When it
 * runs again it does not go on leading its old term (it would remove the others for a
 * silence that was its own, C13): it steps down, recovers, and follows the new leader. */
static void
test_stalled_leader_replaced (void)
{
  Cluster c;
  ChatReplEvent tick = { CHAT_REPL_EVENT_TICK, 0 };
  ChatReplStatus status;
  guint64 term;
  guint leader;

  cluster_init (&c, 3, CHAT_REPL_MODE_AVAILABLE);
  cluster_tick (&c, 600);
  term = chat_repl_get_term (c.nodes[1]);
  g_assert_cmpint (chat_repl_get_role (c.nodes[1]), ==, CHAT_REPL_ROLE_LEADER);
  cluster_tick_without (&c, 3000, 1);
  leader = chat_repl_get_leader (c.nodes[2]);
  g_assert_true (leader == 2 || leader == 3);
  g_assert_cmpuint (chat_repl_get_term (c.nodes[2]), >, term);
  tick.now_ms = c.now;
  cluster_step (&c, 1, &tick);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpint (status.role, !=, CHAT_REPL_ROLE_LEADER);
  g_assert_true (status.recovering);
  g_assert_cmpuint (status.in_sync, ==, SET (1, 2, 3));
  cluster_deliver (&c);
  cluster_tick (&c, 1500);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpint (status.role, ==, CHAT_REPL_ROLE_FOLLOWER);
  g_assert_cmpuint (status.leader, ==, leader);
  g_assert_false (status.recovering);
  cluster_clear (&c);
}

/* Lag is not silence (A2): a member whose disk confirms nothing for three failure
 * timeouts, while its link answers every append, stays in the in-sync set; commits wait
 * for it, nobody leaves, no election starts; once its disk catches up the write commits. */
static void
test_lag_is_not_silence (void)
{
  Cluster c;
  g_autoptr (GBytes) op = g_bytes_new_static ("op", 2);
  ChatReplEvent propose = { CHAT_REPL_EVENT_PROPOSE, 0 };
  ChatReplStatus status;
  guint64 term, commit;

  cluster_init (&c, 3, CHAT_REPL_MODE_AVAILABLE);
  cluster_tick (&c, 600);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpuint (status.in_sync, ==, SET (1, 2, 3));
  term = status.term;
  commit = status.commit_index;
  c.slow_disk = 3;
  propose.now_ms = c.now;
  propose.proposal_id = 7;
  propose.data = op;
  cluster_step (&c, 1, &propose);
  cluster_deliver (&c);
  cluster_tick (&c, 3000);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpint (status.role, ==, CHAT_REPL_ROLE_LEADER);
  g_assert_cmpuint (status.term, ==, term);
  g_assert_cmpuint (status.in_sync, ==, SET (1, 2, 3));
  g_assert_cmpuint (status.commit_index, ==, commit);
  g_assert_cmpuint (c.results->len, ==, 0);
  cluster_release_disk (&c);
  cluster_deliver (&c);
  cluster_tick (&c, 200);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpuint (status.term, ==, term);
  g_assert_cmpuint (status.in_sync, ==, SET (1, 2, 3));
  g_assert_cmpuint (status.commit_index, >, commit);
  g_assert_cmpuint (c.results->len, ==, 1);
  g_assert_cmpint (g_array_index (c.results, ChatReplProposalResult, 0).code, ==,
                   CHAT_REPL_RESULT_OK);
  cluster_clear (&c);
}

/* Three servers with 1 KiB snapshot chunks; percent is snapshot_over_log_percent. */
static void
cluster_init_images (Cluster *c, guint percent)
{
  cluster_init (c, 3, CHAT_REPL_MODE_AVAILABLE);
  for (guint id = 1; id <= 3; id++)
    {
      ChatReplConfig config;

      story_config_init (&config, id, 3);
      config.primary = id == 1;
      config.snapshot_chunk_bytes = 1024;
      config.snapshot_over_log_percent = percent;
      chat_repl_free (c->nodes[id]);
      c->nodes[id] = chat_repl_new (&config, NULL);
    }
}

/* Runs with every server up for ms, delivering one message at a time; counts the leader's
 * snapshot chunks and their answers, and the most chunks ever sent and not yet answered. */
static void
cluster_tick_counting_chunks (Cluster *c, guint64 ms, guint64 image_index, guint *chunks,
                              guint *most_unanswered)
{
  guint answered = 0;

  for (guint64 t = 0; t < ms; t += 10)
    {
      c->now += 10;
      for (guint id = 1; id <= c->n; id++)
        {
          ChatReplEvent ev = { CHAT_REPL_EVENT_TICK, c->now };

          cluster_step (c, id, &ev);
        }
      while (c->inbox->len > 0)
        {
          g_autoptr (ChatReplMessage) m = g_ptr_array_steal_index (c->inbox, 0);
          ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, c->now, m };

          if (m->type == CHAT_REPL_MSG_SNAPSHOT)
            {
              g_assert_cmpuint (m->snapshot_index, ==, image_index);
              (*chunks)++;
            }
          answered += m->type == CHAT_REPL_MSG_SNAPSHOT_RESPONSE;
          *most_unanswered = MAX (*most_unanswered, *chunks - MIN (*chunks, answered));
          cluster_step (c, m->to, &ev);
        }
    }
}

/* s1 leads, s3 is cut off for longer than the failure timeout (out of the in-sync set),
 * and s1 takes n proposals, gap_ms apart, that s3 never gets. */
static void
lead_without_s3 (Cluster *c, ChatReplEvent *propose, guint n, guint64 gap_ms)
{
  cluster_tick (c, 600);
  g_assert_cmpint (chat_repl_get_role (c->nodes[1]), ==, CHAT_REPL_ROLE_LEADER);
  cluster_tick_without (c, 1500, 3);
  for (guint i = 0; i < n; i++)
    {
      propose->now_ms = c->now;
      propose->proposal_id = 100 + i;
      cluster_step (c, 1, propose);
      cluster_tick_without (c, gap_ms, 3);
    }
}
/* C8: s3 misses 40 operations of 1,000 bytes while the leader may not compact its log
 * (s3 lacks them); the leader's image of 10 KiB weighs less than those 40 KB, so s3 gets
 * the image, 4 chunks at a time, then the tail. With the rule off (percent 0), the log. */
static void
test_image_over_log (gconstpointer data)
{
  guint percent = GPOINTER_TO_UINT (data);
  Cluster c;
  g_autofree char *body = g_malloc0 (1000);
  g_autoptr (GBytes) op = g_bytes_new (body, 1000);
  g_autoptr (GBytes) image = g_bytes_new_take (g_malloc0 (10240), 10240);
  ChatReplEvent propose = { CHAT_REPL_EVENT_PROPOSE, 0, .data = op };
  ChatReplEvent snap = { CHAT_REPL_EVENT_ADMIN, 0, .admin = CHAT_REPL_ADMIN_SNAPSHOT };
  ChatReplStatus leader, follower;
  guint chunks = 0, most_unanswered = 0;

  cluster_init_images (&c, percent);
  lead_without_s3 (&c, &propose, 40, 10);
  cluster_tick_without (&c, 300, 3);
  chat_repl_get_status (c.nodes[1], &leader);
  g_assert_cmpuint (leader.in_sync, ==, SET (1, 2, 0));
  snap.now_ms = c.now;
  snap.index = leader.applied_index;
  snap.data = image;
  cluster_step (&c, 1, &snap);
  chat_repl_get_status (c.nodes[1], &leader);
  g_assert_cmpuint (leader.snapshot_index, ==, 0); /* s3 lacks those entries: kept */

  cluster_tick_counting_chunks (&c, 1000, snap.index, &chunks, &most_unanswered);
  chat_repl_get_status (c.nodes[1], &leader);
  chat_repl_get_status (c.nodes[3], &follower);
  g_assert_cmpuint (leader.in_sync, ==, SET (1, 2, 3));
  g_assert_cmpuint (follower.applied_index, ==, leader.applied_index);
  if (percent == 0)
    {
      g_assert_cmpuint (chunks, ==, 0);
      g_assert_cmpuint (follower.snapshot_index, ==, 0);
    }
  else
    {
      g_assert_cmpuint (chunks, >=, 10);
      g_assert_cmpuint (most_unanswered, ==, 4);
      g_assert_cmpuint (follower.snapshot_index, ==, snap.index);
    }
  cluster_clear (&c);
}

static void
leader_step (ChatRepl *repl, const ChatReplEvent *ev, ChatReplUpdate *u)
{
  chat_repl_update_clear (u);
  chat_repl_update_init (u);
  chat_repl_step (repl, ev, u);
}

/* The highest index an update sends to anyone. */
static guint64
highest_sent (const ChatReplUpdate *u)
{
  guint64 highest = 0;

  for (guint i = 0; i < u->messages->len; i++)
    {
      ChatReplMessage *m = g_ptr_array_index (u->messages, i);

      if (m->type == CHAT_REPL_MSG_APPEND)
        highest = MAX (highest, m->prev_index + m->entries->len);
    }
  return highest;
}

/* A11: a leader that adds a server sends that entry to nobody before it is on its own
 * disk, and sends it as soon as it is. */
static void
test_addition_leaves_from_disk (void)
{
  g_autoptr (ChatRepl) repl = NULL;
  g_autoptr (ChatReplMessage) ack = NULL;
  g_auto (ChatReplUpdate) u = { 0 };
  ChatReplConfig config;
  ChatReplEvent ev = { CHAT_REPL_EVENT_TICK, 1 };
  guint64 term;

  story_config_init (&config, 1, 2);
  config.primary = TRUE;
  repl = chat_repl_new (&config, NULL);
  chat_repl_update_init (&u);
  leader_step (repl, &ev, &u);
  ev = (ChatReplEvent){ CHAT_REPL_EVENT_PERSISTED, 2 };
  leader_step (repl, &ev, &u);
  /* A8: s2 never answers the bootstrap vote, so s1 cannot found the cluster, even after
   * the failure timeout; an operator forces it to lead alone (A9). */
  g_assert_cmpint (chat_repl_get_role (repl), ==, CHAT_REPL_ROLE_CANDIDATE);
  /* Ticks at every heartbeat, as a host that is not starved sends them (C13). */
  for (guint64 t = 51; t <= 1001; t += 50)
    {
      ev = (ChatReplEvent){ CHAT_REPL_EVENT_TICK, t };
      leader_step (repl, &ev, &u);
      g_assert_cmpint (chat_repl_get_role (repl), !=, CHAT_REPL_ROLE_LEADER);
      if (u.hard_state_changed)
        {
          ev = (ChatReplEvent){ CHAT_REPL_EVENT_PERSISTED, t };
          leader_step (repl, &ev, &u);
        }
    }
  ev = (ChatReplEvent){ CHAT_REPL_EVENT_ADMIN, 1001, .admin = CHAT_REPL_ADMIN_FORCE_LEADER };
  leader_step (repl, &ev, &u);
  ev = (ChatReplEvent){ CHAT_REPL_EVENT_PERSISTED, 1002 };
  leader_step (repl, &ev, &u);
  g_assert_cmpint (chat_repl_get_role (repl), ==, CHAT_REPL_ROLE_LEADER);
  term = chat_repl_get_term (repl);
  ev = (ChatReplEvent){ CHAT_REPL_EVENT_PERSISTED, 1003, .index = 2, .term = term };
  leader_step (repl, &ev, &u);
  /* s2 has caught up with the commit index: the next tick adds it (index 3). */
  ack = chat_repl_message_new (CHAT_REPL_MSG_APPEND_RESPONSE, 2, 1, term);
  ack->success = TRUE;
  ack->match_index = 2;
  ev = (ChatReplEvent){ CHAT_REPL_EVENT_MESSAGE, 1050, ack };
  leader_step (repl, &ev, &u);
  ev = (ChatReplEvent){ CHAT_REPL_EVENT_TICK, 1150 };
  leader_step (repl, &ev, &u);
  g_assert_cmpuint (u.entries->len, ==, 1);
  g_assert_cmpuint (chat_repl_entry_get_node_set (g_ptr_array_index (u.entries, 0)), ==,
                    SET (1, 2, 0));
  g_assert_cmpuint (highest_sent (&u), <, 3);
  ev = (ChatReplEvent){ CHAT_REPL_EVENT_TICK, 1260 };
  leader_step (repl, &ev, &u);
  g_assert_cmpuint (highest_sent (&u), <, 3);
  ev = (ChatReplEvent){ CHAT_REPL_EVENT_PERSISTED, 1270, .index = 3, .term = term };
  leader_step (repl, &ev, &u);
  g_assert_cmpuint (highest_sent (&u), ==, 3);
}

/* A8: the founder makes the cluster id and every follower adopts it (status and the hard
 * state of its update); a message that names another cluster is dropped, and named once in
 * a foreign-cluster notice. */
static void
test_cluster_id (void)
{
  Cluster c;
  ChatReplStatus status;
  guint64 id = 0;
  ChatReplMessage *stranger = NULL;
  ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, 0 };
  guint foreign = 0;

  cluster_init (&c, 3, CHAT_REPL_MODE_AVAILABLE);
  cluster_tick (&c, 500);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpint (status.role, ==, CHAT_REPL_ROLE_LEADER);
  id = status.cluster_id;
  g_assert_cmpuint (id, !=, 0);
  g_assert_cmpuint (id, <=, (guint64)G_MAXINT64);
  for (guint node = 2; node <= 3; node++)
    {
      chat_repl_get_status (c.nodes[node], &status);
      g_assert_cmpuint (status.cluster_id, ==, id);
    }
  /* s2 hears a "leader" of another cluster, twice: it ignores it and says so once. */
  for (guint i = 0; i < 2; i++)
    {
      g_auto (ChatReplUpdate) u;

      stranger = chat_repl_message_new (CHAT_REPL_MSG_APPEND, 3, 2, G_MAXUINT32);
      stranger->cluster = id + 1;
      ev.now_ms = c.now;
      ev.message = stranger;
      chat_repl_update_init (&u);
      chat_repl_step (c.nodes[2], &ev, &u);
      for (guint n = 0; n < u.notices->len; n++)
        foreign += g_array_index (u.notices, ChatReplNotice, n).type
                   == CHAT_REPL_NOTICE_FOREIGN_CLUSTER;
      g_assert_cmpuint (u.messages->len, ==, 0);
      chat_repl_message_unref (stranger);
    }
  g_assert_cmpuint (foreign, ==, 1);
  chat_repl_get_status (c.nodes[2], &status);
  g_assert_cmpuint (status.leader, ==, 1);
  g_assert_cmpuint (status.term, <, G_MAXUINT32);
  cluster_clear (&c);
}

/* docs/replication.md section 8: s1 leads with s3 cut off, so its last operations are past
 * what every server holds. An answer from s2 that names a snapshot s1's log does not hold
 * (a history compacted on the majority's side of a partition) makes s1 give way: it hands
 * those operations out for replay and starts over from empty. A snapshot its log holds
 * changes nothing, and neither does any snapshot in quorum mode. */
typedef struct
{
  ChatReplMode mode;
  gboolean held; /* the snapshot named is in s1's log */
  gboolean yields;
} LacksCase;

static const LacksCase lacks_available = { CHAT_REPL_MODE_AVAILABLE, FALSE, TRUE };
static const LacksCase lacks_held = { CHAT_REPL_MODE_AVAILABLE, TRUE, FALSE };
static const LacksCase lacks_quorum = { CHAT_REPL_MODE_QUORUM, FALSE, FALSE };

static void
test_leader_lacks_snapshot (gconstpointer data)
{
  const LacksCase *lc = data;
  Cluster c;
  g_autoptr (GBytes) op = g_bytes_new_static ("op", 2);
  ChatReplEvent propose = { CHAT_REPL_EVENT_PROPOSE, 0, .data = op };
  g_autoptr (ChatReplMessage) answer = NULL;
  ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, 0 };
  g_auto (ChatReplUpdate) u;
  ChatReplStatus status;
  guint64 term;

  cluster_init (&c, 3, lc->mode);
  lead_without_s3 (&c, &propose, 3, 50);
  chat_repl_get_status (c.nodes[1], &status);
  g_assert_cmpint (status.role, ==, CHAT_REPL_ROLE_LEADER);
  term = status.term;
  answer = chat_repl_message_new (CHAT_REPL_MSG_APPEND_RESPONSE, 2, 1, term);
  answer->success = TRUE;
  answer->match_index = status.last_index;
  answer->snapshot_index = lc->held ? status.last_index : status.last_index + 10;
  answer->snapshot_term = term;
  ev.now_ms = c.now;
  ev.message = answer;
  chat_repl_update_init (&u);
  chat_repl_step (c.nodes[1], &ev, &u);
  chat_repl_get_status (c.nodes[1], &status);
  if (!lc->yields)
    {
      g_assert_cmpint (status.role, ==, CHAT_REPL_ROLE_LEADER);
      g_assert_cmpuint (u.diverged->len, ==, 0);
    }
  else
    {
      g_assert_cmpint (status.role, ==, CHAT_REPL_ROLE_FOLLOWER);
      g_assert_cmpuint (status.last_index, ==, 0);
      /* The three operations s3 never got, at least: everything past what all held. */
      g_assert_cmpuint (u.diverged->len, >=, 3);
    }
  cluster_clear (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/repl/term-encoding", test_term_encoding);
  g_test_add_func ("/repl/config-defaults", test_config_defaults);
  g_test_add_func ("/repl/config-invalid", test_config_invalid);
  g_test_add_data_func ("/repl/replicate/available", GUINT_TO_POINTER (CHAT_REPL_MODE_AVAILABLE),
                        test_replicate);
  g_test_add_data_func ("/repl/replicate/quorum", GUINT_TO_POINTER (CHAT_REPL_MODE_QUORUM),
                        test_replicate);
  g_test_add_func ("/repl/vote-restriction", test_vote_restriction);
  g_test_add_func ("/repl/bad-messages", test_bad_messages);
  g_test_add_func ("/repl/single-node", test_single_node);
  g_test_add_func ("/repl/available/cluster-id", test_cluster_id);
  g_test_add_func ("/repl/available/rebuilding-store-waits", test_rebuilding_store_waits);
  g_test_add_func ("/repl/available/rebuilding-store-leads-with-every-vote",
                   test_rebuilding_store_leads_with_every_vote);
  g_test_add_func ("/repl/available/rebuilding-survives-restart", test_rebuilding_survives_restart);
  g_test_add_data_func ("/repl/available/recovering-not-by-new-store-alone",
                        &recovering_new_store_alone, test_recovering_granted_by);
  g_test_add_data_func ("/repl/available/recovering-by-new-store-and-every-server",
                        &recovering_new_store_and_s1, test_recovering_granted_by);
  g_test_add_data_func ("/repl/available/recovering-by-member-vote", &recovering_member,
                        test_recovering_granted_by);
  g_test_add_func ("/repl/available/stalled-leader", test_stalled_leader);
  g_test_add_func ("/repl/quorum/stalled-candidate", test_stalled_candidate);
  g_test_add_func ("/repl/available/stalled-leader-replaced", test_stalled_leader_replaced);
  g_test_add_func ("/repl/available/lag-is-not-silence", test_lag_is_not_silence);
  g_test_add_data_func ("/repl/available/leader-lacks-snapshot-yields", &lacks_available,
                        test_leader_lacks_snapshot);
  g_test_add_data_func ("/repl/available/leader-holds-snapshot-leads", &lacks_held,
                        test_leader_lacks_snapshot);
  g_test_add_data_func ("/repl/quorum/leader-lacks-snapshot-leads", &lacks_quorum,
                        test_leader_lacks_snapshot);
  g_test_add_data_func ("/repl/snapshot/image-over-log", GUINT_TO_POINTER (100),
                        test_image_over_log);
  g_test_add_data_func ("/repl/snapshot/log-when-rule-off", GUINT_TO_POINTER (0),
                        test_image_over_log);
  g_test_add_data_func ("/repl/pre-vote/available", GUINT_TO_POINTER (CHAT_REPL_MODE_AVAILABLE),
                        test_pre_vote);
  g_test_add_data_func ("/repl/pre-vote/quorum", GUINT_TO_POINTER (CHAT_REPL_MODE_QUORUM),
                        test_pre_vote);
  g_test_add_data_func ("/repl/available/anchored-member-leads-alone", GINT_TO_POINTER (TRUE),
                        test_anchored_member);
  g_test_add_data_func ("/repl/available/unvouched-member-waits", GINT_TO_POINTER (FALSE),
                        test_anchored_member);
  g_test_add_func ("/repl/available/anchored-by-adder-alone", test_anchored_by_adder_alone);
  g_test_add_func ("/repl/available/self-added-member-waits", test_self_added_member_waits);
  g_test_add_func ("/repl/available/addition-leaves-from-disk", test_addition_leaves_from_disk);
  return g_test_run ();
}
