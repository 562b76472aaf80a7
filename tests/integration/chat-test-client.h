/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster tests: libchat clients driven synchronously, alice and bob on a cluster, and
 * convergence checks over hello. */
#pragma once

#include "chat-client.h"
#include "chat-test-cluster.h"

G_BEGIN_DECLS

/* Collects the result of one async call; chat_test_wait() runs the default main context
 * until it is there (failing the test after timeout_ms). */
typedef struct
{
  GAsyncResult *result;
} ChatTestWait;

void chat_test_wait_cb (GObject *source, GAsyncResult *result, gpointer user_data);
GAsyncResult *chat_test_wait (ChatTestWait *wait, guint timeout_ms);
void chat_test_wait_clear (ChatTestWait *wait);
/* Runs the default main context for ms milliseconds. */
void chat_test_spin (guint ms);

/* A ChatClient that knows every server of the cluster. */
ChatClient *chat_test_client_new (ChatTestCluster *cluster);
void chat_test_client_signup (ChatClient *client, const char *username, const char *password);
void chat_test_client_login (ChatClient *client, const char *username, const char *password);
/* Sends and asserts success; returns the stored message's seq. */
gint64 chat_test_client_send (ChatClient *client, const char *to, const char *body);
/* Every message of the conversation with `with`, oldest first (ChatMessage *). */
GPtrArray *chat_test_client_history_all (ChatClient *client, const char *with);
/* How many messages of the conversation with `with` carry this body. */
guint chat_test_client_count_body (ChatClient *client, const char *with, const char *body);

/* Every body in `sent` is in reader's conversation with `with` exactly once, and nothing
 * else is; fails the test otherwise. */
void chat_test_assert_all_once (ChatClient *reader, const char *with, GPtrArray *sent);

/* A started three-server cluster with alice and bob signed up (with this password), and
 * what alice sent bob. */
#define CHAT_TEST_PAIR_PASSWORD "correct horse"

typedef struct
{
  ChatTestCluster *cluster;
  ChatClient *alice;
  ChatClient *bob;
  GPtrArray *sent; /* char *: every body alice sent bob, acknowledged or in flight */
  GHashTable *ids; /* body -> gint64 *: the id each acknowledged send was answered with */
  guint in_flight; /* sends not answered yet */
  guint failed;    /* sends answered with an error */
} ChatTestPair;

/* GTest fixture functions. snapshot_interval (a string) is the cluster's option of that
 * name, or NULL for the default; tear_down ignores its data. */
void chat_test_pair_set_up (ChatTestPair *pair, gconstpointer snapshot_interval);
/* The same with the cluster's failure_timeout_ms (a string) instead: the starved-server
 * tests time their stops against it. */
void chat_test_pair_set_up_failure_timeout (ChatTestPair *pair, gconstpointer failure_timeout_ms);
/* The same on a cluster of the caller's, configured but not started yet; the pair owns it. */
void chat_test_pair_set_up_on (ChatTestPair *pair, ChatTestCluster *cluster);
void chat_test_pair_tear_down (ChatTestPair *pair, gconstpointer data);
/* Sends from alice to bob and asserts success. */
void chat_test_pair_send (ChatTestPair *pair, const char *body);
/* n acknowledged sends ("message N"), one at a time. */
void chat_test_pair_send_some (ChatTestPair *pair, guint n);
/* The leader's node number, failing the test if none is elected within timeout_ms. */
guint chat_test_pair_wait_leader (ChatTestPair *pair, guint timeout_ms);
/* Starts a send from alice to bob; in_flight counts it until it is answered. */
void chat_test_pair_send_async (ChatTestPair *pair, const char *body);
/* Starts the next numbered send ("message N", N the number of sends so far). */
void chat_test_pair_send_next (ChatTestPair *pair);
/* Keeps up to `window` numbered sends in flight until n more are answered, running the
 * default main context, and asserts that none failed. */
void chat_test_pair_write_pipelined (ChatTestPair *pair, guint n, guint window);
/* Runs the loop until the leader reports every server in sync; asserts it within timeout_ms. */
void chat_test_pair_wait_all_in_sync (ChatTestPair *pair, guint timeout_ms);
/* Whether node answers hello as the leader; if so, sets in_sync to whether its set names
 * member. */
gboolean chat_test_leads_naming_in_sync (ChatTestCluster *cluster, guint node, guint member,
                                         gboolean *in_sync);
/* Whether leader's hello (asserted to come from the leader) names member in sync. */
gboolean chat_test_leader_names_in_sync (ChatTestCluster *cluster, guint leader, guint member);
/* Runs the default main context until no send is in flight. */
void chat_test_pair_wait_sent (ChatTestPair *pair);
/* chat_test_assert_all_once() on bob's conversation with alice, and every acknowledged
 * message still has the id its send was answered with (an id never changes). */
void chat_test_pair_assert_all_once (ChatTestPair *pair);

/* Waits until every running server reports the same state hash and applied index, and
 * the leader reports every running server in sync; fails the test after timeout_ms. */
void chat_test_wait_converged (ChatTestCluster *cluster, guint timeout_ms);
/* Any running node other than `except` (0: any). */
guint chat_test_cluster_other (ChatTestCluster *cluster, guint except);
/* The path of a server's log file. */
char *chat_test_cluster_log_path (ChatTestCluster *cluster, guint node);

G_END_DECLS
