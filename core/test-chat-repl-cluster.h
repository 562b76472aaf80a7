/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The replication core's unit tests' cluster: n cores stepped by hand at 10 ms ticks,
 * their messages delivered from one inbox, their writes durable at once (unless a slow
 * disk holds one server's). */
#pragma once

#include "chat-repl.h"

G_BEGIN_DECLS

#define SET(a, b, c)                                                                               \
  ((a ? CHAT_REPL_NODE_BIT (a) : 0) | (b ? CHAT_REPL_NODE_BIT (b) : 0)                             \
   | (c ? CHAT_REPL_NODE_BIT (c) : 0))

typedef struct
{
  ChatRepl *nodes[4];
  guint n;
  guint64 now;
  GPtrArray *inbox; /* ChatReplMessage * */
  guint applied[4];
  GArray *results;
  guint slow_disk;       /* this node's writes stay unconfirmed until release_disk */
  ChatReplEvent written; /* the PERSISTED the slow disk owes */
} Cluster;

/* The core's defaults with the timeouts these tests were written for (heartbeat 100 ms,
 * election 500-1000 ms, failure 1000 ms). */
void story_config_init (ChatReplConfig *config, guint node_id, guint n_nodes);
void cluster_init (Cluster *c, guint n, ChatReplMode mode);
void cluster_clear (Cluster *c);
/* One event to one server, then what its update asks for (writes, sends, applies). */
void cluster_step (Cluster *c, guint id, const ChatReplEvent *ev);
/* Confirms the write the slow disk held. */
void cluster_release_disk (Cluster *c);
/* Delivers the inbox until it is empty. */
void cluster_deliver (Cluster *c);
/* Time passes for every server, in 10 ms ticks, with every message delivered. */
void cluster_tick (Cluster *c, guint64 ms);
/* The same with server `dead` down: messages to or from it are lost. */
void cluster_tick_without (Cluster *c, guint64 ms, guint dead);

G_END_DECLS
