/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test harness: real chatd processes on free loopback ports, and raw line connections. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _ChatTestCluster ChatTestCluster;
typedef struct _ChatTestConn ChatTestConn;

/* Picks n free loopback ports, writes a config.ini (mode "available" or "quorum";
 * NULL means available) and one state directory per server under a temp dir.
 * The chatd binary is $CHATD_BUILD_ROOT/daemon/chatd. */
ChatTestCluster *chat_test_cluster_new (guint n_servers, const char *mode);
/* Makes a CA and a certificate for 127.0.0.1 under the cluster's dir and configures
 * [tls]; every connection of the process then speaks TLS trusting that CA. Called by
 * chat_test_cluster_new() when $CHATD_TEST_TLS is set (the seed tests over TLS). */
void chat_test_cluster_use_tls (ChatTestCluster *cluster);
/* The CA of the last chat_test_cluster_use_tls(), or NULL (plaintext). */
GTlsDatabase *chat_test_tls_database (void);
/* scripts/make-certificates [--expired] dir host: dir/ca.pem (kept when present),
 * dir/HOST.pem and dir/HOST.key. */
void chat_test_make_certificates (const char *dir, const char *host, gboolean expired);
const char *chat_test_cluster_dir (ChatTestCluster *cluster);
/* Extra "key = value" lines for a config group, before the first start. */
void chat_test_cluster_set_option (ChatTestCluster *cluster, const char *group, const char *key,
                                   const char *value);
/* Starts server node (1-based) with --primary if asked; waits until it answers hello. */
void chat_test_cluster_start (ChatTestCluster *cluster, guint node, gboolean primary);
/* Starts every server, node 1 with --primary, and waits for a leader. */
void chat_test_cluster_start_all (ChatTestCluster *cluster);
void chat_test_cluster_kill (ChatTestCluster *cluster, guint node); /* SIGKILL, then reaps */
void chat_test_cluster_stop (ChatTestCluster *cluster, guint node); /* SIGTERM, then reaps */
/* SIGTERM to every running server at once, then reaps them all. */
void chat_test_cluster_stop_all (ChatTestCluster *cluster);
/* Sends signum (e.g. SIGHUP) to a running server. */
void chat_test_cluster_signal (ChatTestCluster *cluster, guint node, int signum);
gboolean chat_test_cluster_is_running (ChatTestCluster *cluster, guint node);
/* The node that answers hello as leader, polling until timeout; 0 if none. */
guint chat_test_cluster_wait_leader (ChatTestCluster *cluster, guint timeout_ms);
guint chat_test_cluster_n_servers (ChatTestCluster *cluster);
guint16 chat_test_cluster_port (ChatTestCluster *cluster, guint node);
const char *chat_test_cluster_config_path (ChatTestCluster *cluster);
const char *chat_test_cluster_state_dir (ChatTestCluster *cluster, guint node);
/* Kills every server still running and removes the temp dir. */
void chat_test_cluster_free (ChatTestCluster *cluster);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatTestCluster, chat_test_cluster_free)

/* A raw, blocking line connection with timeouts (for protocol and bad-input tests). */
ChatTestConn *chat_test_conn_new (guint16 port);
/* Connects from a given loopback address ("127.0.0.2"): another client address. */
ChatTestConn *chat_test_conn_new_from (guint16 port, const char *source);
void chat_test_conn_send_raw (ChatTestConn *conn, const void *data, gsize len);
void chat_test_conn_send_line (ChatTestConn *conn, const char *line); /* appends '\n' */
/* The next line as an object (event or response), or NULL on timeout or close. */
JsonObject *chat_test_conn_read (ChatTestConn *conn, guint timeout_ms);
/* Sends a request line and returns the response to it, collecting events seen on
 * the way (readable with chat_test_conn_take_events). Fails the test on timeout. */
JsonObject *chat_test_conn_request (ChatTestConn *conn, const char *json_line);
GPtrArray *chat_test_conn_take_events (ChatTestConn *conn); /* JsonObject * */
/* TRUE once the server has closed the connection (reads EOF within timeout). */
gboolean chat_test_conn_wait_closed (ChatTestConn *conn, guint timeout_ms);
void chat_test_conn_free (ChatTestConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatTestConn, chat_test_conn_free)

/* hello with "state_hash": true on one server: its state hash and applied index, or
 * NULL when it does not answer. */
char *chat_test_state_hash (ChatTestCluster *cluster, guint node, guint64 *applied);
/* The hello reply of one server (NULL when it does not answer). */
JsonObject *chat_test_hello (ChatTestCluster *cluster, guint node);

G_END_DECLS
