/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica: proposals answered through propose_async, signals, roles, restart, fail-stop,
 * and two replicas linked by socket pairs. */
#include "chat-test-net.h"
#include "chat-replica.h"
#include "chat-test-loop.h"

#include "chat-error.h"
#include "chat-fs.h"
#include "chat-json.h"
#include "chat-store-testing.h"

#include <sqlite3.h>
#include <string.h>
#include <sys/socket.h>

#define ONE_SERVER "[server]\nhost1 = 127.0.0.1\nport1 = 7001\n"
#define TWO_SERVERS "[server]\nhost1 = 127.0.0.1\nport1 = 7001\nhost2 = 127.0.0.1\nport2 = 7002\n"
#define SECRET "replica-s3cret"
#define TIMEOUT_MS 10000
/* A proposal's GError code, told apart from a refusal's ChatErrorCode. */
#define FAILED(code) (1000 + (code))

typedef struct
{
  char *dir;
  ChatStore *store;
  ChatConfig *config;
  GArray *indexes; /* guint64 per answered proposal, in answer order */
  GArray *codes;   /* int: result error_code, or FAILED (GError code) */
  guint applied;
  GError *failure; /* what "failed" reported */
} Fixture;

static void
open_store (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  f->store = chat_store_open (f->dir, &error);
  g_assert_no_error (error);
}

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("chat-replica-XXXXXX", &error);
  g_assert_no_error (error);
  open_store (f);
  f->config = chat_config_load_from_data (data ? data : ONE_SERVER, &error);
  g_assert_no_error (error);
  f->indexes = g_array_new (FALSE, FALSE, sizeof (guint64));
  f->codes = g_array_new (FALSE, FALSE, sizeof (int));
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->store);
  chat_config_free (f->config);
  g_array_unref (f->indexes);
  g_array_unref (f->codes);
  g_clear_error (&f->failure);
  chat_fs_remove_tree (f->dir);
  g_free (f->dir);
}

static void
on_proposed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr (GError) error = NULL;
  guint64 index = 0;
  g_autoptr (ChatApplyResult) result
      = chat_replica_propose_finish (CHAT_REPLICA (source), res, &index, &error);
  int code = result != NULL ? result->error_code : FAILED (error->code);

  g_assert_true ((result == NULL) != (error == NULL));
  g_assert_true (result == NULL || result->reply != NULL);
  g_array_append_val (f->indexes, index);
  g_array_append_val (f->codes, code);
}

static void
on_applied (ChatReplica *replica, guint64 index, JsonObject *op, gpointer result,
            gpointer user_data)
{
  Fixture *f = user_data;

  /* The proposal's answer comes first, then the signal. */
  g_assert_cmpuint (f->indexes->len, ==, f->applied + 1);
  g_assert_cmpuint (g_array_index (f->indexes, guint64, f->applied), ==, index);
  g_assert_nonnull (json_object_get_string_member (op, "op"));
  f->applied++;
}

static void
on_failed (ChatReplica *replica, const GError *error, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_null (f->failure);
  f->failure = g_error_copy (error);
}

static void
propose (ChatReplica *replica, Fixture *f, const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) op = chat_json_parse_object (json, strlen (json), &error);

  g_assert_no_error (error);
  chat_replica_propose_async (replica, op, NULL, on_proposed, f);
}

static void
run_until_answers (Fixture *f, guint answers)
{
  g_assert_true (chat_test_loop_until_count (&f->indexes->len, answers, TIMEOUT_MS));
}

static gboolean
is_serving (gpointer replica)
{
  return chat_replica_is_serving (replica);
}

/* Runs the loop until the replica serves as leader (an election takes up to a second). */
static void
run_until_serving (ChatReplica *replica)
{
  g_assert_true (chat_test_loop_until (is_serving, replica, TIMEOUT_MS));
}

static ChatReplica *
start_replica (Fixture *f, guint id, gboolean primary)
{
  g_autoptr (GError) error = NULL;
  ChatReplica *replica = chat_replica_new (f->store, f->config, id, primary);

  g_assert_true (chat_replica_start (replica, &error));
  g_assert_no_error (error);
  return replica;
}

static ChatStatus *
get_status (ChatReplica *replica)
{
  ChatStatus *status = chat_status_new ();

  chat_replica_fill_status (replica, status);
  return status;
}

/* A one-server cluster leads on its own; proposals of one loop iteration share one commit
 * and are answered in order, each before its "applied" signal. */
static void
test_group_commit (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatReplica) replica = start_replica (f, 1, FALSE);
  g_autoptr (ChatStatus) status = NULL;
  guint64 base = 0;

  run_until_serving (replica);
  g_assert_cmpstr (chat_replica_get_leader_address (replica), ==, "127.0.0.1:7001");
  g_signal_connect (replica, "applied", G_CALLBACK (on_applied), f);
  base = chat_store_last_log_index (f->store);
  propose (replica, f,
           "{\"op\":\"signup\",\"username\":\"alice\",\"password_hash\":\"h\","
           "\"session\":\"s1\",\"at\":1}");
  propose (replica, f,
           "{\"op\":\"signup\",\"username\":\"bob\",\"password_hash\":\"h\","
           "\"session\":\"s2\",\"at\":2}");
  propose (replica, f,
           "{\"op\":\"signup\",\"username\":\"ALICE\",\"password_hash\":\"h\","
           "\"session\":\"s3\",\"at\":3}");
  /* Nothing happens before the loop turns: the three share one commit. */
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, base);
  run_until_answers (f, 3);
  g_assert_cmpuint (f->applied, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (g_array_index (f->indexes, guint64, i), ==, base + i + 1);
  g_assert_cmpint (g_array_index (f->codes, int, 0), <, 0);
  g_assert_cmpint (g_array_index (f->codes, int, 1), <, 0);
  g_assert_cmpint (g_array_index (f->codes, int, 2), ==, CHAT_ERROR_USERNAME_TAKEN);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, base + 3);
  status = get_status (replica);
  g_assert_cmpstr (status->node, ==, "127.0.0.1:7001");
  g_assert_cmpstr (status->role, ==, "leader");
  g_assert_cmpuint (status->term, >, 0);
  g_assert_cmpuint (status->applied_index, ==, base + 3);
  g_assert_cmpuint (status->commit_index, ==, base + 3);
  g_assert_cmpuint (status->in_sync->len, ==, 1);
  g_assert_cmpuint (status->peers->len, ==, 0);
}

/* A restart keeps the log and the state, is elected in a higher term and continues. */
static void
test_restart (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatReplica) replica = start_replica (f, 1, FALSE);
  g_autofree char *name = NULL;
  g_autoptr (ChatStatus) before = NULL;
  g_autoptr (ChatStatus) after = NULL;
  guint64 first = 0;

  run_until_serving (replica);
  propose (replica, f,
           "{\"op\":\"signup\",\"username\":\"carol\",\"password_hash\":\"h\","
           "\"session\":\"s\",\"at\":5}");
  run_until_answers (f, 1);
  first = g_array_index (f->indexes, guint64, 0);
  before = get_status (replica);
  chat_replica_stop (replica);
  g_clear_object (&replica);

  replica = start_replica (f, 1, FALSE);
  run_until_serving (replica);
  after = get_status (replica);
  g_assert_cmpuint (after->term, >, before->term);
  name = chat_store_user_name (f->store, "CAROL");
  g_assert_cmpstr (name, ==, "carol");
  propose (replica, f, "{\"op\":\"logout\",\"session\":\"s\"}");
  run_until_answers (f, 2);
  g_assert_cmpuint (g_array_index (f->indexes, guint64, 1), >, first);
  g_assert_cmpint (g_array_index (f->codes, int, 1), <, 0);
}

/* A fresh server of a bigger cluster cannot found it alone: it knows no leader and turns
 * proposals away while the others do not answer. */
static void
test_follower_without_leader (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatReplica) follower = start_replica (f, 2, FALSE);
  g_autoptr (ChatStatus) status = get_status (follower);

  g_assert_false (chat_replica_is_serving (follower));
  g_assert_null (chat_replica_get_leader_address (follower));
  g_assert_cmpstr (status->role, ==, "follower");
  g_assert_null (status->leader);
  g_assert_cmpuint (status->peers->len, ==, 1);
  g_assert_cmpstr (((ChatPeerStatus *)g_ptr_array_index (status->peers, 0))->address, ==,
                   "127.0.0.1:7001");
  propose (follower, f, "{\"op\":\"logout\",\"session\":\"s\"}");
  run_until_answers (f, 1);
  g_assert_cmpint (g_array_index (f->codes, int, 0), ==, FAILED (CHAT_ERROR_NOT_LEADER));
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 0);
}

/* --primary does not found a cluster while another configured server is silent (its disk
 * may hold a cluster's data, A8): the replica says for whom it waits. An operator's
 * force-leader (as ChatClusterAdmin, the way D-Bus calls it) makes it lead the first term
 * alone. */
static void
test_primary_waits (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatReplica) primary = start_replica (f, 2, TRUE);
  g_autoptr (ChatStatus) waiting = NULL;
  g_autoptr (ChatStatus) leading = NULL;
  g_autoptr (GError) error = NULL;

  /* Past the failure timeout and an election timeout of the defaults. */
  chat_test_loop_for (2500);
  g_assert_false (chat_replica_is_serving (primary));
  waiting = get_status (primary);
  g_assert_nonnull (waiting->waiting);
  g_assert_nonnull (strstr (waiting->waiting, "waiting for 127.0.0.1:7001, which may hold data"));
  /* The journal warns about the forced leader (warnings are fatal in tests otherwise). */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_assert_true (chat_cluster_admin_force_leader (CHAT_CLUSTER_ADMIN (primary), &error));
  g_assert_no_error (error);
  run_until_serving (primary);
  leading = get_status (primary);
  g_assert_null (leading->waiting);
  g_assert_cmpstr (leading->leader, ==, "127.0.0.1:7002");
  g_assert_cmpstr (leading->role, ==, "leader");
  g_assert_cmpuint (leading->in_sync->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (leading->in_sync, 0), ==, "127.0.0.1:7002");
}

/* Stopping answers every proposal exactly once: what was already handed to the disk may
 * still commit, the rest fails with unavailable. */
static void
test_stop_answers_pending (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatReplica) replica = start_replica (f, 1, FALSE);

  run_until_serving (replica);
  propose (replica, f, "{\"op\":\"logout\",\"session\":\"s\"}");
  chat_replica_stop (replica);
  run_until_answers (f, 1);
  g_assert_true (g_array_index (f->codes, int, 0) < 0
                 || g_array_index (f->codes, int, 0) == FAILED (CHAT_ERROR_UNAVAILABLE));
  g_assert_false (chat_replica_is_serving (replica));
  propose (replica, f, "{\"op\":\"logout\",\"session\":\"s\"}");
  run_until_answers (f, 2);
  g_assert_cmpint (g_array_index (f->codes, int, 1), ==, FAILED (CHAT_ERROR_UNAVAILABLE));
}

/* A storage fault is reported by "failed", not by ending the process: the replica does
 * nothing more and turns proposals away; main.c is the one to stop chatd. The fault here:
 * another connection holds the database's write lock past the store's busy timeout. */
static void
test_storage_fault_reported (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatReplica) replica = start_replica (f, 1, FALSE);
  g_autofree char *path = g_build_filename (f->dir, "chatd.db", NULL);
  sqlite3 *db = NULL;

  run_until_serving (replica);
  g_signal_connect (replica, "failed", G_CALLBACK (on_failed), f);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
  propose (replica, f, "{\"op\":\"logout\",\"session\":\"s\"}");
  /* The store waits 5 s for the lock before it gives up. */
  g_assert_true (chat_test_loop_until_set ((gpointer *)&f->failure, 4 * TIMEOUT_MS));
  sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close (db);
  g_assert_nonnull (strstr (f->failure->message, "Cannot write the replication state"));
  g_assert_false (chat_replica_is_serving (replica));
  /* Not answered as applied: its entry may not be on the disk. */
  g_assert_cmpuint (f->indexes->len, ==, 0);
  propose (replica, f, "{\"op\":\"logout\",\"session\":\"s\"}");
  run_until_answers (f, 1);
  g_assert_cmpint (g_array_index (f->codes, int, 0), ==, FAILED (CHAT_ERROR_UNAVAILABLE));
  chat_replica_stop (replica);
  run_until_answers (f, 2);
  g_assert_cmpint (g_array_index (f->codes, int, 1), ==, FAILED (CHAT_ERROR_UNAVAILABLE));
}

/* --- two replicas linked by socket pairs ------------------------------------------------ */

typedef struct
{
  Fixture *f;
  char *dir2;
  ChatStore *store2;
  ChatReplica *replicas[3]; /* by node id; [0] unused */
  GArray *applied2;         /* guint64: what "applied" said on server 2 */
  guint64 awaited;          /* the index server 2 is waited for to apply */
} Linked;

static void
hand_to_peers (gpointer peers, GIOStream *stream, const char *line, gsize len)
{
  chat_peers_accept (peers, stream, line, len, NULL);
}

static GIOStream *
socket_end (int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

/* A server dials node: one end of a socket pair is its link; the other is accepted
 * by the replica of node once its first line (the hello) has been read. */
static GIOStream *
dial_pair (guint node, gpointer user_data)
{
  Linked *l = user_data;
  ChatTestAccept *accept = g_new0 (ChatTestAccept, 1);
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  accept->hand_over = hand_to_peers;
  accept->target = chat_replica_get_peers (l->replicas[node]);
  accept->stream = socket_end (fds[1]);
  accept->line = g_string_new (NULL);
  chat_test_accept_read_byte (accept);
  return socket_end (fds[0]);
}

static void
on_applied_on_2 (ChatReplica *replica, guint64 index, JsonObject *op, gpointer result,
                 gpointer user_data)
{
  Linked *l = user_data;

  g_array_append_val (l->applied2, index);
}

static void
linked_start (Linked *l, Fixture *f)
{
  g_autoptr (GError) error = NULL;

  l->f = f;
  l->applied2 = g_array_new (FALSE, FALSE, sizeof (guint64));
  l->dir2 = g_dir_make_tmp ("chat-replica-XXXXXX", &error);
  g_assert_no_error (error);
  l->store2 = chat_store_open (l->dir2, &error);
  g_assert_no_error (error);
  f->config->secret = g_strdup (SECRET);
  /* Server 1 founds the cluster (--primary): both are up and empty. */
  l->replicas[1] = chat_replica_new (f->store, f->config, 1, TRUE);
  l->replicas[2] = chat_replica_new (l->store2, f->config, 2, FALSE);
  for (guint id = 1; id <= 2; id++)
    chat_peers_set_dial_func (chat_replica_get_peers (l->replicas[id]), dial_pair, l);
  g_signal_connect (l->replicas[2], "applied", G_CALLBACK (on_applied_on_2), l);
  for (guint id = 1; id <= 2; id++)
    {
      g_assert_true (chat_replica_start (l->replicas[id], &error));
      g_assert_no_error (error);
    }
}

static void
linked_stop (Linked *l)
{
  for (guint id = 1; id <= 2; id++)
    chat_replica_stop (l->replicas[id]);
  /* Let the closed links' pending reads finish before their objects go. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (guint id = 1; id <= 2; id++)
    g_clear_object (&l->replicas[id]);
  g_clear_object (&l->store2);
  chat_fs_remove_tree (l->dir2);
  g_free (l->dir2);
  g_array_unref (l->applied2);
}

static gboolean
applied_on_2 (gpointer user_data)
{
  Linked *l = user_data;

  return chat_store_applied_index (l->store2) >= l->awaited;
}

/* A proposal on the leader is committed by both servers, applied on both (the follower
 * says so by "applied"), and answered through propose_async; the follower turns proposals
 * away with not_leader; the two chat states end equal. */
static void
test_two_linked (Fixture *f, gconstpointer data)
{
  Linked l = { 0 };
  g_autoptr (ChatStatus) status = NULL;
  g_autofree char *hash1 = NULL;
  g_autofree char *hash2 = NULL;
  g_autofree char *name = NULL;
  guint64 index = 0;

  /* Links that close at the end are logged as warnings. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  linked_start (&l, f);
  run_until_serving (l.replicas[1]);
  status = get_status (l.replicas[1]);
  g_assert_cmpuint (status->peers->len, ==, 1);
  g_assert_cmpstr (((ChatPeerStatus *)g_ptr_array_index (status->peers, 0))->state, ==, "follower");
  propose (l.replicas[1], f,
           "{\"op\":\"signup\",\"username\":\"dora\",\"password_hash\":\"h\","
           "\"session\":\"s1\",\"at\":1}");
  run_until_answers (f, 1);
  g_assert_cmpint (g_array_index (f->codes, int, 0), <, 0);
  index = g_array_index (f->indexes, guint64, 0);
  g_assert_cmpuint (index, >, 0);
  l.awaited = index;
  g_assert_true (chat_test_loop_until (applied_on_2, &l, TIMEOUT_MS));
  g_assert_cmpuint (l.applied2->len, >=, 1);
  g_assert_cmpuint (g_array_index (l.applied2, guint64, l.applied2->len - 1), ==, index);
  name = chat_store_user_name (l.store2, "DORA");
  g_assert_cmpstr (name, ==, "dora");

  propose (l.replicas[2], f, "{\"op\":\"logout\",\"session\":\"s1\"}");
  run_until_answers (f, 2);
  g_assert_cmpint (g_array_index (f->codes, int, 1), ==, FAILED (CHAT_ERROR_NOT_LEADER));
  g_assert_cmpstr (chat_replica_get_leader_address (l.replicas[2]), ==, "127.0.0.1:7001");

  hash1 = chat_store_state_hash (f->store, NULL);
  hash2 = chat_store_state_hash (l.store2, NULL);
  g_assert_nonnull (hash1);
  g_assert_cmpstr (hash1, ==, hash2);
  linked_stop (&l);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/replica/group-commit", Fixture, NULL, set_up, test_group_commit, tear_down);
  g_test_add ("/replica/restart", Fixture, NULL, set_up, test_restart, tear_down);
  g_test_add ("/replica/follower-without-leader", Fixture, TWO_SERVERS, set_up,
              test_follower_without_leader, tear_down);
  g_test_add ("/replica/primary-waits", Fixture, TWO_SERVERS, set_up, test_primary_waits,
              tear_down);
  g_test_add ("/replica/stop-answers-pending", Fixture, NULL, set_up, test_stop_answers_pending,
              tear_down);
  g_test_add ("/replica/storage-fault-reported", Fixture, NULL, set_up, test_storage_fault_reported,
              tear_down);
  g_test_add ("/replica/two-linked", Fixture, TWO_SERVERS, set_up, test_two_linked, tear_down);
  return g_test_run ();
}
