/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the replication core, driven by hand (the simulator covers the rest). */
#include "chat-repl.h"

#include <string.h>

typedef struct
{
  ChatRepl *nodes[4];
  guint n;
  guint64 now;
  GPtrArray *inbox; /* ChatReplMessage * */
  guint applied[4];
  GArray *results;
} Cluster;

static void
cluster_handle (Cluster *c, guint id, ChatReplUpdate *u)
{
  ChatReplEvent ev = { CHAT_REPL_EVENT_PERSISTED, c->now };

  for (guint i = 0; i < u->messages->len; i++)
    g_ptr_array_add (c->inbox, chat_repl_message_ref (g_ptr_array_index (u->messages, i)));
  c->applied[id] += u->committed->len;
  g_array_append_vals (c->results, u->results->data, u->results->len);
  if (u->entries->len > 0 || u->hard_state_changed)
    {
      ChatReplEntry *last
          = u->entries->len > 0 ? g_ptr_array_index (u->entries, u->entries->len - 1) : NULL;
      g_auto (ChatReplUpdate) u2;

      ev.index = last != NULL ? last->index : 0;
      ev.term = last != NULL ? last->term : 0;
      chat_repl_update_init (&u2);
      chat_repl_step (c->nodes[id], &ev, &u2);
      cluster_handle (c, id, &u2);
    }
}

static void
cluster_step (Cluster *c, guint id, const ChatReplEvent *ev)
{
  g_auto (ChatReplUpdate) u;

  chat_repl_update_init (&u);
  chat_repl_step (c->nodes[id], ev, &u);
  cluster_handle (c, id, &u);
}

static void
cluster_deliver (Cluster *c)
{
  while (c->inbox->len > 0)
    {
      g_autoptr (ChatReplMessage) m = g_ptr_array_steal_index (c->inbox, 0);
      ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, c->now, m };

      cluster_step (c, m->to, &ev);
    }
}

static void
cluster_tick (Cluster *c, guint64 ms)
{
  for (guint64 t = 0; t < ms; t += 10)
    {
      c->now += 10;
      for (guint id = 1; id <= c->n; id++)
        {
          ChatReplEvent ev = { CHAT_REPL_EVENT_TICK, c->now };

          cluster_step (c, id, &ev);
        }
      cluster_deliver (c);
    }
}

static void
cluster_init (Cluster *c, guint n, ChatReplMode mode)
{
  memset (c, 0, sizeof *c);
  c->n = n;
  c->inbox = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  c->results = g_array_new (FALSE, FALSE, sizeof (ChatReplProposalResult));
  for (guint id = 1; id <= n; id++)
    {
      ChatReplConfig config;

      chat_repl_config_init (&config, id, n);
      config.mode = mode;
      config.primary = id == 1;
      c->nodes[id] = chat_repl_new (&config, NULL);
    }
}

static void
cluster_clear (Cluster *c)
{
  for (guint id = 1; id <= c->n; id++)
    chat_repl_free (c->nodes[id]);
  g_ptr_array_unref (c->inbox);
  g_array_unref (c->results);
}

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

static void
test_config_invalid (void)
{
  ChatReplConfig config;

  chat_repl_config_init (&config, 4, 3);
  g_assert_null (chat_repl_new (&config, NULL));
  chat_repl_config_init (&config, 1, 3);
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

  chat_repl_config_init (&config, 1, 3);
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

  chat_repl_config_init (&config, 2, 3);
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

  chat_repl_config_init (&config, 1, 1);
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/repl/term-encoding", test_term_encoding);
  g_test_add_func ("/repl/config-invalid", test_config_invalid);
  g_test_add_data_func ("/repl/replicate/available", GUINT_TO_POINTER (CHAT_REPL_MODE_AVAILABLE),
                        test_replicate);
  g_test_add_data_func ("/repl/replicate/quorum", GUINT_TO_POINTER (CHAT_REPL_MODE_QUORUM),
                        test_replicate);
  g_test_add_func ("/repl/vote-restriction", test_vote_restriction);
  g_test_add_func ("/repl/bad-messages", test_bad_messages);
  g_test_add_func ("/repl/single-node", test_single_node);
  return g_test_run ();
}
