/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scripted scenarios' harness: a world with clients, driven step by step and read as
 * a trace. */
#pragma once

#include "sim.h"

G_BEGIN_DECLS

/* Every scenario starts the same way: s1 is started with --primary, three clients write
 * 40 operations each with pauses (about eight simulated seconds of traffic), and after
 * one second all three servers are in the in-sync set. */
typedef struct
{
  SimWorld *w;
  gsize pos;
  gboolean ok;
  gboolean allow_loss; /* force-leader: the operator accepted losing writes */
} Sc;

/* The world and its clients, at time 0: s1 has just started with --primary. */
void sc_start_with (Sc *sc, gboolean trace, SimOptions *opt);
void sc_start_seeded (Sc *sc, gboolean trace, ChatReplMode mode, guint64 seed);
void sc_start (Sc *sc, gboolean trace, ChatReplMode mode);
/* A fresh cluster that grows: s2 and s3 are not up when s1 starts, so s1 cannot found the
 * cluster (A8) until an operator forces it to lead (A9) with the set {1}; it adds them one
 * at a time once they are started and have caught up (A3). */
void sc_start_growing (Sc *sc, gboolean trace, guint64 seed);
void sc_init (Sc *sc, gboolean trace, ChatReplMode mode);
void sc_fail (Sc *sc, const char *what);
/* The excerpt must appear in the trace after the previous one. */
void sc_expect (Sc *sc, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* The excerpt must not appear in the trace after the last expected one. */
void sc_absent (Sc *sc, const char *excerpt);
void sc_run (Sc *sc, guint64 ms);
guint sc_leader (Sc *sc);
/* Later checks look at the trace from here on. */
void sc_mark (Sc *sc);
/* Liveness under starvation and returns: the leader and its term are the same, it never
 * stepped down, and no other server started an election since the scenario began. */
void sc_kept_leader (Sc *sc, guint leader, guint64 term);
void sc_no_leader (Sc *sc);
/* Heals everything, restarts whoever is down, lets the clients finish, runs every check
 * and frees the world: whether the scenario passed. */
gboolean sc_finish (Sc *sc);
/* The third of three servers. */
guint sc_other (guint a, guint b);

G_END_DECLS
