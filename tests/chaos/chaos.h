/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Chaos test: writers, nemesis and checker shared declarations. */
#pragma once

#include "chat-client.h"
#include "chat-test-cluster.h"

G_BEGIN_DECLS

/* One message a writer composed; retried with the same client_msg_id until acked. */
typedef struct
{
  char *from;
  char *to;
  char *client_msg_id;
  char *body;
  gint64 seq; /* from the acknowledgement; 0 while not acknowledged */
} ChaosSend;

typedef struct _ChaosWriter ChaosWriter;

typedef struct
{
  ChatTestCluster *cluster;
  GMainLoop *loop;
  GPtrArray *writers; /* ChaosWriter * */
  GHashTable *sends;  /* "from/client_msg_id" -> ChaosSend * (every attempted message) */
  gboolean stopping;  /* no new messages; pending ones still retried */
  guint in_flight;
  guint64 acked;
  guint64 retries;
} ChaosWorld;

/* --- writers (chaos-writers.c) --- */
ChaosWorld *chaos_world_new (ChatTestCluster *cluster);
void chaos_world_free (ChaosWorld *world);
/* Signs up n writers (all servers up); FALSE on failure. */
gboolean chaos_writers_signup (ChaosWorld *world, guint n);
/* Each writer keeps one message in flight from now on. */
void chaos_writers_start (ChaosWorld *world);
/* Stops composing new messages; iterates the main loop until every message in flight is
 * acknowledged or timeout_ms passes. Returns the number still unacknowledged. */
guint chaos_writers_drain (ChaosWorld *world, guint timeout_ms);

/* --- nemesis (chaos-nemesis.c) --- */
typedef struct _ChaosNemesis ChaosNemesis;
/* Kills and restarts random servers for seconds, in a thread, never more than
 * max_down at once (a wiped server counts as down until it is back in the in-sync set);
 * with wipe, some kills also empty the server's state directory, one server at a time;
 * quits loop when done (after restarting every server). */
ChaosNemesis *chaos_nemesis_start (ChatTestCluster *cluster, guint seconds, guint max_down,
                                   gboolean wipe, GMainLoop *loop);
/* Joins the thread; returns the leader changes it saw. */
guint chaos_nemesis_finish (ChaosNemesis *nemesis, guint *kills, guint *wipes);

/* --- pauses and CPU hogs instead of kills (chaos-pause.c) --- */
typedef struct _ChaosPauser ChaosPauser;
typedef struct
{
  guint short_pauses; /* SIGSTOP of one server for under half the failure timeout */
  guint long_pauses;  /* ... for 2.5-4 failure timeouts */
  guint hogs;         /* a busy child per core, 0.5-2 s */
  guint leader_changes;
  guint unexplained_changes; /* leader changes not after a long pause of the leader */
} ChaosPauseReport;
/* Pauses a random server or hogs every core, one at a time, for seconds, in a thread;
 * quits loop when done. */
ChaosPauser *chaos_pauser_start (ChatTestCluster *cluster, guint seconds, guint failure_timeout_ms,
                                 GMainLoop *loop);
void chaos_pauser_finish (ChaosPauser *pauser, ChaosPauseReport *report);

/* --- checker (chaos-checker.c) --- */
typedef struct
{
  guint64 acknowledged;
  guint64 lost;       /* acked messages missing (or changed) on some server */
  guint64 renumbered; /* acked messages stored whole, but under another id than acknowledged */
  guint64 duplicated; /* extra copies of one message on some server */
  guint64 phantom;    /* stored messages nobody sent */
  gboolean hashes_match;
  gboolean applied_match;
} ChaosVerdict;

/* Waits until every server has applied the same index (stable for a second). */
gboolean chaos_wait_converged (ChatTestCluster *cluster, guint timeout_ms);
/* Reads every (stopped) server's database and checks the sends against it. */
void chaos_check (ChatTestCluster *cluster, GHashTable *sends, ChaosVerdict *verdict);

G_END_DECLS
