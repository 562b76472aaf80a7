/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Closed-loop load: C raw connections, each sending a message, waiting for the ack, repeating. */
#pragma once

#include "bench-cluster.h"
#include "bench-stats.h"

G_BEGIN_DECLS

typedef struct _BenchLoad BenchLoad;

typedef enum
{
  BENCH_RECIPIENT_SINK, /* every client sends to one user who is not connected */
  BENCH_RECIPIENT_PEER, /* client i sends to client i+1, who is connected (live events) */
} BenchRecipient;

/* Accounts signed up by one load, reusable by the next on the same servers: their
 * sessions are resumed instead of paying for new password hashes. */
typedef struct
{
  char *sink;
  GPtrArray *users;    /* char * */
  GPtrArray *sessions; /* char * */
} BenchAccounts;

void bench_accounts_free (BenchAccounts *accounts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchAccounts, bench_accounts_free)

typedef struct
{
  const char *host;
  guint16 port;
  guint n_clients;
  gsize body_size;
  guint n_threads;
  BenchRecipient recipient;
  double rate; /* at most this many sends per second in all (0: as fast as acks come) */
  const BenchAccounts *accounts; /* resume these (at least n_clients) instead of signing up */
  BenchCluster *cluster;         /* local servers whose CPU time to measure, or NULL */
} BenchLoadOptions;

/* Connects n_clients raw connections and signs each up as its own user (and the sink
 * user), all pipelined, or resumes options->accounts; nothing is sent yet. */
BenchLoad *bench_load_prepare (const BenchLoadOptions *options, GError **error);
/* The accounts the load used (after prepare), for the next load on the same servers. */
BenchAccounts *bench_load_take_accounts (BenchLoad *load);
/* Starts the client threads; time 0 of every sample is now. */
void bench_load_start (BenchLoad *load);
/* Microseconds since bench_load_start. */
gint64 bench_load_now (BenchLoad *load);
/* g_get_monotonic_time () at bench_load_start: sample times are relative to it. */
gint64 bench_load_start_time (BenchLoad *load);
/* Acknowledged sends so far. */
guint64 bench_load_acked (BenchLoad *load);
/* Asks every client to stop after its current request and waits for the threads
 * (at most a few seconds more). */
void bench_load_stop (BenchLoad *load);
/* Every sample (BenchSample), after bench_load_stop. */
const GArray *bench_load_samples (BenchLoad *load);
/* Requests answered with an error, or lost to a closed connection. */
guint64 bench_load_errors (BenchLoad *load);
/* not_leader answers followed to the leader they named (the request was then sent again
 * there, not counted as an error). */
guint64 bench_load_redirects (BenchLoad *load);
void bench_load_free (BenchLoad *load);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchLoad, bench_load_free)

/* prepare, start, run for warmup + duration seconds (or until count acks after the
 * warmup; time-bounded by duration anyway), stop: summary of the measured window. */
gboolean bench_load_run (const BenchLoadOptions *options, double warmup_s, double duration_s,
                         guint64 count, BenchSummary *summary, guint64 *errors, GError **error);
/* The same; *accounts (if not NULL) is reused, else set to the accounts signed up. */
gboolean bench_load_run_with (const BenchLoadOptions *options, BenchAccounts **accounts,
                              double warmup_s, double duration_s, guint64 count,
                              BenchSummary *summary, guint64 *errors, GError **error);

G_END_DECLS
