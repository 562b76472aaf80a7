/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Real chatd processes for tests and benchmarks: a config.ini, one state directory per
 * server, servers on free loopback ports (or at given addresses, in network namespaces),
 * each dying with the process that started it. */
#pragma once

#include "chat-test-conn.h"
#include "chat-test-line.h"

G_BEGIN_DECLS

typedef struct _ChatTestCluster ChatTestCluster;

/* How long and how often the cluster waits for its servers. */
typedef struct
{
  guint start_ms;        /* a started server answers hello within this */
  guint ready_hello_ms;  /* bound of one hello while waiting for a start */
  guint ready_poll_ms;   /* pause between those hellos */
  guint leader_hello_ms; /* bound of one hello while looking for the leader */
  guint leader_poll_ms;  /* pause between rounds of those */
} ChatTestClusterTiming;

/* Picks n free loopback ports, writes a config.ini (mode "available" or "quorum";
 * NULL means available) and one state directory per server under a temp dir
 * ("chatd-test-XXXXXX"). The chatd binary is $CHATD_BUILD_ROOT/daemon/chatd. When
 * $CHATD_TEST_TLS is set, calls chat_test_cluster_use_tls(). Fails the test on error. */
ChatTestCluster *chat_test_cluster_new (guint n_servers, const char *mode);
/* The same with GError and a temp dir template of the caller's, and no $CHATD_TEST_TLS. */
ChatTestCluster *chat_test_cluster_new_full (guint n_servers, const char *mode,
                                             const char *dir_template, GError **error);
/* Servers someone else runs, at these addresses (set with chat_test_cluster_set_address):
 * nothing is started, written or removed, and each counts as running. */
ChatTestCluster *chat_test_cluster_new_external (guint n_servers);
/* Kills every server still running and removes the temp dir (unless $CHATD_TEST_KEEP is
 * set or chat_test_cluster_set_keep said so). */
void chat_test_cluster_free (ChatTestCluster *cluster);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatTestCluster, chat_test_cluster_free)

/* --- before the first start ------------------------------------------------------------ */

/* Extra "key = value" lines for a config group, before the first start. */
void chat_test_cluster_set_option (ChatTestCluster *cluster, const char *group, const char *key,
                                   const char *value);
gboolean chat_test_cluster_write_config (ChatTestCluster *cluster, GError **error);
/* Where node listens (and how the others reach it): host and port; port 0 keeps the
 * picked one. Rewrites config.ini. */
void chat_test_cluster_set_address (ChatTestCluster *cluster, guint node, const char *host,
                                    guint16 port);
/* Runs node inside network namespace netns ("ip netns exec"), and talks to it from
 * there. */
void chat_test_cluster_set_netns (ChatTestCluster *cluster, guint node, const char *netns);
/* An environment variable of node's process (node 0: of every server); value NULL
 * unsets it. */
void chat_test_cluster_setenv (ChatTestCluster *cluster, guint node, const char *name,
                               const char *value);
void chat_test_cluster_set_chatd (ChatTestCluster *cluster, const char *path);
void chat_test_cluster_set_timing (ChatTestCluster *cluster, const ChatTestClusterTiming *timing);
/* Connections of the cluster's own (hello) speak TLS, verifying servers against database. */
void chat_test_cluster_set_tls_database (ChatTestCluster *cluster, GTlsDatabase *database);
void chat_test_cluster_set_keep (ChatTestCluster *cluster, gboolean keep);

/* Makes a CA and a certificate for 127.0.0.1 under the cluster's dir and configures
 * [tls]; every connection of the process then speaks TLS trusting that CA. Called by
 * chat_test_cluster_new() when $CHATD_TEST_TLS is set (the seed tests over TLS). */
void chat_test_cluster_use_tls (ChatTestCluster *cluster);
/* The CA of the last chat_test_cluster_use_tls(), or NULL (plaintext). */
GTlsDatabase *chat_test_tls_database (void);
/* scripts/make-certificates [--expired] dir host: dir/ca.pem (kept when present),
 * dir/HOST.pem and dir/HOST.key. */
void chat_test_make_certificates (const char *dir, const char *host, gboolean expired);

/* --- processes -------------------------------------------------------------------------- */

/* Starts server node (1-based) with --primary if asked, without waiting. */
gboolean chat_test_cluster_spawn (ChatTestCluster *cluster, guint node, gboolean primary,
                                  GError **error);
/* Waits until a spawned node answers hello; FALSE with an error if it exits or does not
 * answer in time. */
gboolean chat_test_cluster_wait_ready (ChatTestCluster *cluster, guint node, GError **error);
/* Spawns and waits; a port taken meanwhile (before the cluster's first start) is picked
 * again. */
gboolean chat_test_cluster_try_start (ChatTestCluster *cluster, guint node, gboolean primary,
                                      GError **error);
/* Starts every server, node 1 with --primary, and waits for a leader. */
gboolean chat_test_cluster_try_start_all (ChatTestCluster *cluster, GError **error);
/* The same, failing the test on error. */
void chat_test_cluster_start (ChatTestCluster *cluster, guint node, gboolean primary);
void chat_test_cluster_start_all (ChatTestCluster *cluster);
/* Sends signum to a running server and reaps it. */
void chat_test_cluster_terminate (ChatTestCluster *cluster, guint node, int signum);
void chat_test_cluster_kill (ChatTestCluster *cluster, guint node); /* SIGKILL, then reaps */
/* SIGTERM, then reaps, and asserts a clean exit. */
void chat_test_cluster_stop (ChatTestCluster *cluster, guint node);
/* SIGTERM to every running server at once, then reaps them all (clean exits asserted). */
void chat_test_cluster_stop_all (ChatTestCluster *cluster);
/* Sends signum (e.g. SIGHUP, SIGSTOP) to a running server. */
void chat_test_cluster_signal (ChatTestCluster *cluster, guint node, int signum);
gboolean chat_test_cluster_is_running (ChatTestCluster *cluster, guint node);
/* The process of a running local server; 0 otherwise. */
GPid chat_test_cluster_pid (ChatTestCluster *cluster, guint node);

/* --- asking the servers ----------------------------------------------------------------- */

/* The hello reply of node (with its state hash if asked) when it runs and says ok. */
JsonObject *chat_test_cluster_hello (ChatTestCluster *cluster, guint node, gboolean state_hash,
                                     guint timeout_ms);
/* The node that answers hello as leader, polling until timeout; 0 if none. */
guint chat_test_cluster_wait_leader (ChatTestCluster *cluster, guint timeout_ms);
/* TRUE when a server answers as leader and reports every server in sync (every running
 * one, if asked). */
gboolean chat_test_cluster_in_sync (ChatTestCluster *cluster, gboolean only_running);
/* hello with "state_hash": true on one server: its state hash and applied index, or
 * NULL when it does not answer. */
char *chat_test_state_hash (ChatTestCluster *cluster, guint node, guint64 *applied);
/* The hello reply of one server (NULL when it does not answer). */
JsonObject *chat_test_hello (ChatTestCluster *cluster, guint node);
/* Whether one server answers hello as the leader. */
gboolean chat_test_cluster_leads (ChatTestCluster *cluster, guint node);
/* What chat_test_line_connect needs to reach node (its namespace, the cluster's TLS). */
ChatTestLineOptions chat_test_cluster_line_options (ChatTestCluster *cluster, guint node);

/* --- where things are ------------------------------------------------------------------- */

guint chat_test_cluster_n_servers (ChatTestCluster *cluster);
const char *chat_test_cluster_host (ChatTestCluster *cluster, guint node);
guint16 chat_test_cluster_port (ChatTestCluster *cluster, guint node);
const char *chat_test_cluster_dir (ChatTestCluster *cluster);
const char *chat_test_cluster_config_path (ChatTestCluster *cluster);
const char *chat_test_cluster_state_dir (ChatTestCluster *cluster, guint node);
const char *chat_test_cluster_log_file (ChatTestCluster *cluster, guint node);
/* A free loopback port that none of the cluster's servers uses. */
guint16 chat_test_cluster_pick_port (ChatTestCluster *cluster);

G_END_DECLS
