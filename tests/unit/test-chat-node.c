/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatNode over the replication core: group commit, apply order, callbacks, restart, roles. */
#include "chat-node.h"

#include "chat-error.h"
#include "chat-json.h"

#include <glib/gstdio.h>
#include <string.h>

#define ONE_SERVER "[server]\nhost1 = 127.0.0.1\nport1 = 7001\n"
#define TWO_SERVERS "[server]\nhost1 = 127.0.0.1\nport1 = 7001\nhost2 = 127.0.0.1\nport2 = 7002\n"

typedef struct
{
  char *dir;
  ChatStore *store;
  ChatConfig *config;
  GArray *indexes; /* guint64 per answered proposal, in answer order */
  GArray *codes;   /* int: result error_code, or 1000 + GError code */
  guint applied;
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

  f->dir = g_dir_make_tmp ("chat-node-XXXXXX", &error);
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
  g_autofree char *db = g_build_filename (f->dir, "chatd.db", NULL);
  g_autofree char *wal = g_strconcat (db, "-wal", NULL);
  g_autofree char *shm = g_strconcat (db, "-shm", NULL);

  g_clear_object (&f->store);
  chat_config_free (f->config);
  g_array_unref (f->indexes);
  g_array_unref (f->codes);
  g_unlink (db);
  g_unlink (wal);
  g_unlink (shm);
  g_rmdir (f->dir);
  g_free (f->dir);
}

static void
on_done (ChatNode *node, guint64 index, ChatApplyResult *result, const GError *error,
         gpointer user_data)
{
  Fixture *f = user_data;
  int code = error ? 1000 + error->code : result->error_code;

  g_array_append_val (f->indexes, index);
  g_array_append_val (f->codes, code);
}

static void
on_applied (ChatNode *node, guint64 index, JsonObject *op, gpointer result, gpointer user_data)
{
  Fixture *f = user_data;

  /* The proposal's answer comes first, then the signal. */
  g_assert_cmpuint (f->indexes->len, ==, f->applied + 1);
  g_assert_cmpuint (g_array_index (f->indexes, guint64, f->applied), ==, index);
  f->applied++;
}

static void
propose (ChatNode *node, Fixture *f, const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) op = chat_json_parse_object (json, strlen (json), &error);

  g_assert_no_error (error);
  chat_node_propose (node, op, on_done, f);
}

static void
run_until (Fixture *f, guint answers)
{
  while (f->indexes->len < answers)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
on_deadline (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the loop until the node serves as leader (an election takes up to a second). */
static void
run_until_leader (ChatNode *node)
{
  gboolean expired = FALSE;
  guint deadline = g_timeout_add (10000, on_deadline, &expired);

  while (!chat_node_is_leader (node) && !expired)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (chat_node_is_leader (node));
  g_source_remove (deadline);
}

static ChatNode *
start_node (Fixture *f, guint id, gboolean primary)
{
  g_autoptr (GError) error = NULL;
  ChatNode *node = chat_node_new (f->store, f->config, id, primary);

  g_assert_true (chat_node_start (node, &error));
  g_assert_no_error (error);
  return node;
}

/* A one-server cluster leads on its own; proposals of one loop iteration share one commit
 * and are answered in order, each before its "applied" signal. */
static void
test_group_commit (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatNode) node = start_node (f, 1, FALSE);
  guint64 base = 0;

  run_until_leader (node);
  g_assert_cmpstr (chat_node_leader_address (node), ==, "127.0.0.1:7001");
  g_assert_cmpstr (chat_node_role_to_string (chat_node_get_role (node)), ==, "leader");
  g_assert_cmpuint (chat_node_get_term (node), >, 0);
  g_signal_connect (node, "applied", G_CALLBACK (on_applied), f);
  base = chat_store_last_log_index (f->store);
  propose (node, f,
           "{\"op\":\"signup\",\"username\":\"alice\",\"password_hash\":\"h\","
           "\"session\":\"s1\",\"at\":1}");
  propose (node, f,
           "{\"op\":\"signup\",\"username\":\"bob\",\"password_hash\":\"h\","
           "\"session\":\"s2\",\"at\":2}");
  propose (node, f,
           "{\"op\":\"signup\",\"username\":\"ALICE\",\"password_hash\":\"h\","
           "\"session\":\"s3\",\"at\":3}");
  /* Nothing happens before the loop turns: the three share one commit. */
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, base);
  run_until (f, 3);
  g_assert_cmpuint (f->applied, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (g_array_index (f->indexes, guint64, i), ==, base + i + 1);
  g_assert_cmpint (g_array_index (f->codes, int, 0), <, 0);
  g_assert_cmpint (g_array_index (f->codes, int, 1), <, 0);
  g_assert_cmpint (g_array_index (f->codes, int, 2), ==, CHAT_ERROR_USERNAME_TAKEN);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, base + 3);
  g_assert_cmpuint (chat_node_get_applied_index (node), ==, base + 3);
  g_assert_cmpuint (chat_node_get_commit_index (node), ==, base + 3);
}

/* A restart keeps the log and the state, is elected in a higher term and continues. */
static void
test_restart (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatNode) node = start_node (f, 1, FALSE);
  g_autofree char *name = NULL;
  guint64 term = 0, first = 0;

  run_until_leader (node);
  propose (node, f,
           "{\"op\":\"signup\",\"username\":\"carol\",\"password_hash\":\"h\","
           "\"session\":\"s\",\"at\":5}");
  run_until (f, 1);
  first = g_array_index (f->indexes, guint64, 0);
  term = chat_node_get_term (node);
  chat_node_stop (node);
  g_clear_object (&node);

  node = start_node (f, 1, FALSE);
  run_until_leader (node);
  g_assert_cmpuint (chat_node_get_term (node), >, term);
  name = chat_store_user_name (f->store, "CAROL");
  g_assert_cmpstr (name, ==, "carol");
  propose (node, f, "{\"op\":\"logout\",\"session\":\"s\"}");
  run_until (f, 2);
  g_assert_cmpuint (g_array_index (f->indexes, guint64, 1), >, first);
  g_assert_cmpint (g_array_index (f->codes, int, 1), <, 0);
}

/* A fresh server of a bigger cluster cannot found it alone: it knows no leader and turns
 * proposals away while the others do not answer. */
static void
test_follower_without_leader (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatNode) follower = start_node (f, 2, FALSE);
  g_autoptr (GPtrArray) servers = NULL;

  g_assert_false (chat_node_is_leader (follower));
  g_assert_null (chat_node_leader_address (follower));
  g_assert_cmpstr (chat_node_role_to_string (chat_node_get_role (follower)), ==, "follower");
  servers = chat_node_list_servers (follower);
  g_assert_cmpuint (servers->len, ==, 2);
  propose (follower, f, "{\"op\":\"logout\",\"session\":\"s\"}");
  run_until (f, 1);
  g_assert_cmpint (g_array_index (f->codes, int, 0), ==, 1000 + CHAT_ERROR_NOT_LEADER);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 0);
}

/* --primary does not found a cluster while another configured server is silent (its disk
 * may hold a cluster's data, A8): the node says for whom it waits. An operator's
 * force-leader makes it lead the first term alone. */
static void
test_primary_waits (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatNode) primary = start_node (f, 2, TRUE);
  g_autoptr (GPtrArray) servers = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *waiting = NULL;
  gboolean expired = FALSE;

  /* Past the failure timeout and an election timeout of the defaults. */
  g_timeout_add (2500, on_deadline, &expired);
  while (!expired)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (chat_node_is_leader (primary));
  waiting = chat_node_describe_waiting (primary);
  g_assert_nonnull (waiting);
  g_assert_nonnull (strstr (waiting, "waiting for 127.0.0.1:7001, which may hold data"));
  /* The journal warns about the forced leader (warnings are fatal in tests otherwise). */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_assert_true (chat_node_admin_force_leader (primary, &error));
  g_assert_no_error (error);
  run_until_leader (primary);
  g_assert_null (chat_node_describe_waiting (primary));
  g_assert_cmpstr (chat_node_leader_address (primary), ==, "127.0.0.1:7002");
  servers = chat_node_list_servers (primary);
  g_assert_cmpstr (((ChatNodeServer *)g_ptr_array_index (servers, 1))->state, ==, "leader");
  g_assert_true (((ChatNodeServer *)g_ptr_array_index (servers, 1))->in_sync);
}

/* Stopping answers every proposal exactly once: what was already handed to the disk may
 * still commit, the rest fails with unavailable. */
static void
test_stop_answers_pending (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatNode) node = start_node (f, 1, FALSE);

  run_until_leader (node);
  propose (node, f, "{\"op\":\"logout\",\"session\":\"s\"}");
  chat_node_stop (node);
  g_assert_cmpuint (f->codes->len, ==, 1);
  g_assert_true (g_array_index (f->codes, int, 0) < 0
                 || g_array_index (f->codes, int, 0) == 1000 + CHAT_ERROR_UNAVAILABLE);
  g_assert_false (chat_node_is_leader (node));
  propose (node, f, "{\"op\":\"logout\",\"session\":\"s\"}");
  g_assert_cmpuint (f->codes->len, ==, 2);
  g_assert_cmpint (g_array_index (f->codes, int, 1), ==, 1000 + CHAT_ERROR_UNAVAILABLE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/node/group-commit", Fixture, NULL, set_up, test_group_commit, tear_down);
  g_test_add ("/node/restart", Fixture, NULL, set_up, test_restart, tear_down);
  g_test_add ("/node/follower-without-leader", Fixture, TWO_SERVERS, set_up,
              test_follower_without_leader, tear_down);
  g_test_add ("/node/primary-waits", Fixture, TWO_SERVERS, set_up, test_primary_waits, tear_down);
  g_test_add ("/node/stop-answers-pending", Fixture, NULL, set_up, test_stop_answers_pending,
              tear_down);
  return g_test_run ();
}
