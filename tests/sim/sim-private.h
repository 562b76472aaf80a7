/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals shared by the simulator's world (events, network, clients) and servers. */
#pragma once

#include "sim.h"

G_BEGIN_DECLS

typedef enum
{
  EV_TICK,
  EV_DELIVER,
  EV_FLUSH,
  EV_PROPOSE,
  EV_RESULT,
  EV_CLIENT_RETRY,
  EV_CLIENT_TIMEOUT,
  EV_CLIENT_NEXT,
  EV_REPLAY,
  EV_REPLAY_RESULT,
} SimEventKind;

struct _SimEvent
{
  guint64 time;
  guint64 first_due; /* the time it was due before any stall deferred it */
  guint64 seq;
  SimEventKind kind;
  guint server;
  guint64 incarnation;
  ChatReplMessage *msg;
  guint client;
  guint64 pid;
  ChatReplProposalResult result;
};

SimEvent *sim_event_new (SimWorld *w, guint64 time, SimEventKind kind, guint server);
gboolean sim_link_ok (SimWorld *w, guint a, guint b);
void sim_net_send (SimWorld *w, ChatReplMessage *m);

void sim_server_step (SimWorld *w, SimServer *s, const ChatReplEvent *ev);
void sim_server_boot (SimWorld *w, SimServer *s, gboolean primary);
void sim_disk_flush (SimWorld *w, SimServer *s);
void sim_server_drop_writes (SimServer *s);
guint64 sim_op_key_of (const ChatReplEntry *e);

/* sim-replay.c */
void sim_replay_queue (SimWorld *w, SimServer *s, const ChatReplUpdate *u);
void sim_replay_resume (SimWorld *w, SimServer *s);
void sim_replay_send (SimWorld *w, SimServer *s);
void sim_replay_answer (SimWorld *w, const ChatReplProposalResult *r);
void sim_replay_result (SimWorld *w, SimServer *s, const SimEvent *ev);

G_END_DECLS
