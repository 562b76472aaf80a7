/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The replication core's unit tests' cluster: cores stepped by hand, messages in one inbox. */
#include "test-chat-repl-cluster.h"

#include <string.h>

/* The core's defaults with the timeouts these tests were written for (heartbeat 100 ms,
 * election 500-1000 ms, failure 1000 ms): their timings stay as they were when the core's
 * defaults became config.ini's shorter ones. */
void
story_config_init (ChatReplConfig *config, guint node_id, guint n_nodes)
{
  chat_repl_config_init (config, node_id, n_nodes);
  config->heartbeat_ms = 100;
  config->election_timeout_min_ms = 500;
  config->election_timeout_max_ms = 1000;
  config->failure_timeout_ms = 1000;
}

static void
cluster_handle (Cluster *c, guint id, ChatReplUpdate *u)
{
  ChatReplEvent ev = { CHAT_REPL_EVENT_PERSISTED, c->now };

  for (guint i = 0; i < u->messages->len; i++)
    g_ptr_array_add (c->inbox, chat_repl_message_ref (g_ptr_array_index (u->messages, i)));
  c->applied[id] += u->committed->len;
  g_array_append_vals (c->results, u->results->data, u->results->len);
  if (u->snapshot != NULL)
    {
      ChatReplEvent done = { CHAT_REPL_EVENT_SNAPSHOT_PERSISTED, c->now };
      g_auto (ChatReplUpdate) u3;

      chat_repl_update_init (&u3);
      done.index = u->snapshot->index;
      chat_repl_step (c->nodes[id], &done, &u3);
      cluster_handle (c, id, &u3);
    }
  if (u->entries->len > 0 || u->hard_state_changed)
    {
      ChatReplEntry *last
          = u->entries->len > 0 ? g_ptr_array_index (u->entries, u->entries->len - 1) : NULL;
      g_auto (ChatReplUpdate) u2;

      chat_repl_update_init (&u2);
      ev.index = last != NULL ? last->index : 0;
      ev.term = last != NULL ? last->term : 0;
      if (id == c->slow_disk)
        {
          if (last != NULL || c->written.type != CHAT_REPL_EVENT_PERSISTED)
            c->written = ev;
          return;
        }
      chat_repl_step (c->nodes[id], &ev, &u2);
      cluster_handle (c, id, &u2);
    }
}

void
cluster_step (Cluster *c, guint id, const ChatReplEvent *ev)
{
  g_auto (ChatReplUpdate) u;

  chat_repl_update_init (&u);
  chat_repl_step (c->nodes[id], ev, &u);
  cluster_handle (c, id, &u);
}

/* The slow disk finishes everything it was given. */
void
cluster_release_disk (Cluster *c)
{
  ChatReplEvent ev = c->written;
  guint id = c->slow_disk;

  c->slow_disk = 0;
  if (ev.type != CHAT_REPL_EVENT_PERSISTED)
    return;
  ev.now_ms = c->now;
  memset (&c->written, 0, sizeof c->written);
  cluster_step (c, id, &ev);
}

void
cluster_deliver (Cluster *c)
{
  while (c->inbox->len > 0)
    {
      g_autoptr (ChatReplMessage) m = g_ptr_array_steal_index (c->inbox, 0);
      ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, c->now, m };

      cluster_step (c, m->to, &ev);
    }
}

void
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

void
cluster_init (Cluster *c, guint n, ChatReplMode mode)
{
  memset (c, 0, sizeof *c);
  c->n = n;
  c->inbox = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);
  c->results = g_array_new (FALSE, FALSE, sizeof (ChatReplProposalResult));
  for (guint id = 1; id <= n; id++)
    {
      ChatReplConfig config;

      story_config_init (&config, id, n);
      config.mode = mode;
      config.primary = id == 1;
      c->nodes[id] = chat_repl_new (&config, NULL);
    }
}

void
cluster_clear (Cluster *c)
{
  for (guint id = 1; id <= c->n; id++)
    chat_repl_free (c->nodes[id]);
  g_ptr_array_unref (c->inbox);
  g_array_unref (c->results);
}

/* Time passes with `dead` stopped: it steps no more and its messages are lost. */
void
cluster_tick_without (Cluster *c, guint64 ms, guint dead)
{
  for (guint64 t = 0; t < ms; t += 10)
    {
      c->now += 10;
      for (guint id = 1; id <= c->n; id++)
        {
          ChatReplEvent ev = { CHAT_REPL_EVENT_TICK, c->now };

          if (id != dead)
            cluster_step (c, id, &ev);
        }
      while (c->inbox->len > 0)
        {
          g_autoptr (ChatReplMessage) m = g_ptr_array_steal_index (c->inbox, 0);
          ChatReplEvent ev = { CHAT_REPL_EVENT_MESSAGE, c->now, m };

          if (m->to != dead && m->from != dead)
            cluster_step (c, m->to, &ev);
        }
    }
}
