/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The deterministic simulator: a world of cores, a network, disks, clients and checkers. */
#pragma once

#include <glib.h>

#include "chat-repl.h"

G_BEGIN_DECLS

#define SIM_MAX_SERVERS 7
#define SIM_MAX_CLIENTS 8

typedef struct _SimEvent SimEvent;

typedef struct
{
  gboolean hard_state;
  guint64 term;
  guint vote;
  guint64 cluster;
  gboolean rebuilding;
  ChatReplSnapshot *snapshot; /* copy, or NULL */
  guint64 truncate_from;
  GPtrArray *entries;  /* ChatReplEntry * */
  GPtrArray *messages; /* held until this write is durable */
  guint64 done_at;
} SimWrite;

typedef struct
{
  guint id;
  gboolean up;
  guint64 incarnation; /* of the process: events meant for an older one are dropped */
  guint64 store_id;    /* of the disk: the core's incarnation, new after a disk loss */
  guint wipes;
  gboolean emptied; /* lost its disk and has not yet rejoined as a committed member */
  ChatRepl *repl;
  guint64 tick_at;
  guint64 restarts;
  guint64 stalled_until; /* a starved server: its events wait until then */

  /* what survives a crash */
  guint64 d_term;
  guint d_vote;
  guint64 d_cluster;
  gboolean d_rebuilding;
  guint64 d_snap_index;
  guint64 d_snap_term;
  ChatReplNodeSet d_snap_isr;
  GBytes *d_snap_data;
  GPtrArray *d_entries; /* ChatReplEntry *, after the snapshot */

  /* written but not yet durable: lost by a crash */
  GQueue writes;           /* SimWrite * */
  gboolean persisted_owed; /* a PERSISTED held back behind a queued hard state */

  /* the state machine (volatile, rebuilt from the snapshot on restart) */
  guint64 sm_applied;
  guint64 sm_hash;
  GHashTable *sm_ops; /* op key -> first index */
  GArray *sm_order;   /* guint64 op keys, in apply order */

  /* the host's replay queue of a diverged history (durable), and its attempt in flight */
  GArray *replay; /* guint64 op keys, oldest first */
  guint64 replay_pid;

  /* checker: chain hash of this server's in-memory log, per index from chain_base */
  GArray *chain;
  guint64 chain_base;
} SimServer;

typedef struct
{
  guint id;
  guint n_ops;
  guint next_op;
  guint target;
  guint64 pid; /* current attempt */
  guint64 key; /* current op */
  gboolean waiting;
  gboolean done;
  guint retries;
} SimClient;

typedef struct
{
  guint64 seed;
  guint n_servers;
  ChatReplMode mode;
  gboolean trace;
  const char *break_rule; /* name, when a rule is broken on purpose */
  guint n_clients;
  guint ops_per_client;
  guint64 fault_ms;
  guint64 settle_ms;
  gboolean quiet;
  gboolean capture;             /* keep the trace in trace_buf (scripted scenarios) */
  gboolean crash_on_set_change; /* half of the faults strike as an in-sync set changes */
  gboolean no_primary;          /* start every server without --primary */
  gboolean disk_loss;           /* faults may wipe a server's disk (available mode) */
  gboolean partitions;          /* available mode: random partitions too (quorum: always) */
  /* Images instead of the log from 10 % of their size (the core's 100 % never fires at the
   * simulator's sizes), snapshots taken often, and faults that strike while one is in flight. */
  gboolean ship_images;
  guint64 max_retained; /* entries kept for a lagging server before compacting (0: 24) */
} SimOptions;

typedef struct
{
  SimOptions opt;
  guint64 now;
  guint64 rng;
  guint64 seq;
  GPtrArray *heap; /* SimEvent *, min-heap on (time, seq) */
  SimServer servers[SIM_MAX_SERVERS + 1];
  SimClient clients[SIM_MAX_CLIENTS + 1];
  guint64 next_pid;
  GHashTable *pid_key;    /* pid -> op key */
  GHashTable *replay_pid; /* pid -> id of the server whose replay proposed it */

  /* network */
  guint side[SIM_MAX_SERVERS + 1]; /* partition side per server */
  guint loss_pct;
  guint dup_pct;
  guint delay_min;
  guint delay_max;
  guint fsync_min;
  guint fsync_max;

  /* checkers */
  GHashTable *entry_chain; /* (index, term) -> chain hash */
  GArray *committed;       /* index -> chain hash (0: unknown) */
  guint64 max_committed;
  GHashTable *term_leader; /* term -> node */
  GHashTable *acked;       /* op key -> index */
  guint64 n_acked;
  GString *violation;
  gboolean expect_split; /* scripted partition in available mode: divergence allowed */
  guint max_down;
  gboolean partitioned_ever;

  /* trace */
  GString *trace_buf; /* captured trace, or NULL */
  guint64 steps;
} SimWorld;

SimWorld *sim_world_new (const SimOptions *opt);
void sim_world_free (SimWorld *w);
void sim_options_init (SimOptions *opt);

/* Runs events up to and including time `until` (or until a violation). */
void sim_run_until (SimWorld *w, guint64 until);
/* Runs events one at a time up to time `until` and stops right after the first one after
 * which done (w, data) holds; returns whether it held. Scenarios use it to crash a server
 * at the exact step that opens a window. */
typedef gboolean (*SimCondition) (SimWorld *w, gpointer data);
gboolean sim_run_until_true (SimWorld *w, guint64 until, SimCondition done, gpointer data);
void sim_crash (SimWorld *w, guint id);
/* Crashes the server (when up) and empties its disk: it restarts as a new store. */
void sim_wipe (SimWorld *w, guint id);
/* Clears the emptied mark of servers that hold everything committed again and are
 * committed members of their set; returns how many are still emptied. */
guint sim_count_emptied (SimWorld *w);
void sim_restart (SimWorld *w, guint id);
/* primary: started again with --primary (as an operator's drop-in would). */
void sim_restart_as (SimWorld *w, guint id, gboolean primary);
/* Starves a running server: none of its events (ticks, messages, fsync completions,
 * proposals) is handled for ms; then they all run, in their order, as a busy main loop
 * would catch up. */
void sim_stall (SimWorld *w, guint id, guint64 ms);
void sim_partition (SimWorld *w, guint mask_side1);
void sim_heal (SimWorld *w);
void sim_admin (SimWorld *w, guint id, ChatReplAdminOp op, guint target);
void sim_take_snapshot (SimWorld *w, guint id);
void sim_clients_start (SimWorld *w, guint n_clients, guint ops_per_client);
gboolean sim_clients_done (SimWorld *w);
/* Every client that is done has n_ops more to write. */
void sim_clients_more (SimWorld *w, guint n_ops);
/* The leader with the highest term among servers that are up, or 0. */
guint sim_leader (SimWorld *w);
gboolean sim_converged (SimWorld *w);
/* Where the latest in-sync set entry of a server's log is (0: none in the log). */
guint64 sim_latest_set_index (SimServer *s);
void sim_trace (SimWorld *w, guint id, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
void sim_violation (SimWorld *w, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
guint64 sim_random (SimWorld *w, guint64 lo, guint64 hi);
char *sim_node_set_format (ChatReplNodeSet set);

/* sim-check.c */
void sim_check_init (SimWorld *w);
void sim_check_entries (SimWorld *w, SimServer *s, const ChatReplUpdate *u);
void sim_check_leader (SimWorld *w, SimServer *s);
void sim_check_apply (SimWorld *w, SimServer *s, const ChatReplEntry *e);
/* index: the committed entry; id: what the client hears (the op's first index). */
void sim_check_ack (SimWorld *w, SimServer *s, guint64 key, guint64 index, guint64 id);
void sim_check_final (SimWorld *w);
void sim_chain_reset (SimWorld *w, SimServer *s, guint64 base, guint64 term);
guint64 sim_chain_at (SimServer *s, guint64 index);

/* sim-random.c: one seeded random schedule; returns TRUE when no checker fired. */
gboolean sim_run_random (const SimOptions *opt, guint64 *steps);

/* sim-scenarios.c */
typedef struct
{
  const char *name;
  const char *summary;
  gboolean (*run) (gboolean trace);
} SimScenario;

const SimScenario *sim_scenarios (guint *n);

G_END_DECLS
