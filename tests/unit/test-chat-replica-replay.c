/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replay of a diverged history: a leader proposes its queue, and answers forwarded ops. */
#include "chat-test-net.h"
#include "chat-replica.h"
#include "chat-peer.h"

#include "chat-error.h"
#include "chat-json.h"

#include <glib/gstdio.h>
#include <string.h>

#define SECRET "replay-s3cret"
#define TIMEOUT_MS 10000

typedef struct
{
  char *dir;
  ChatStore *store;
  ChatConfig *config;
  ChatReplica *node;         /* server 1, under test */
  GSocketService *service;   /* server 1's port */
  ChatPeers *peer;           /* server 2, played by the test; NULL with one server */
  GSocketService *peer_port; /* server 2's port */
  GHashTable *answers;       /* forward id -> JsonObject *: "forwarded" lines to server 2 */
  guint lines;               /* every line server 2 received from server 1 */
} Fixture;

static void
hand_to_peers (gpointer peers, GIOStream *stream, const char *line, gsize len)
{
  chat_peers_accept (peers, stream, line, len, NULL);
}

/* --- fixtures -------------------------------------------------------------------------- */

static void
set_up_one (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("chat-replay-XXXXXX", &error);
  g_assert_no_error (error);
  f->store = chat_store_open (f->dir, &error);
  g_assert_no_error (error);
  f->config = chat_config_load_from_data ("[server]\nhost1 = 127.0.0.1\nport1 = 7001\n", &error);
  g_assert_no_error (error);
  f->answers = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                      (GDestroyNotify)json_object_unref);
}

static void
on_peer_line (guint from, const char *line, gsize len, gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr (JsonObject) message = chat_json_parse_object (line, len, NULL);
  gint64 *id = NULL;

  f->lines++;
  if (message == NULL
      || g_strcmp0 (json_object_get_string_member_with_default (message, "type", NULL), "forwarded")
             != 0)
    return;
  g_assert_cmpuint (from, ==, 1);
  id = g_new (gint64, 1);
  *id = json_object_get_int_member_with_default (message, "id", -1);
  g_hash_table_replace (f->answers, id, g_steal_pointer (&message));
}

/* Server 1 is a real node leading the cluster; server 2 is ChatPeers alone. Server 2
 * never votes, so no fresh cluster can be founded (A8): an operator forces server 1 to
 * lead, as chatctl force-leader does. */
static void
set_up_two (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ini = NULL;
  guint16 port1 = 0, port2 = 0;

  set_up_one (f, data);
  chat_config_free (f->config);
  f->service = g_socket_service_new ();
  f->peer_port = g_socket_service_new ();
  port1 = chat_test_listen_loopback (G_SOCKET_LISTENER (f->service));
  port2 = chat_test_listen_loopback (G_SOCKET_LISTENER (f->peer_port));
  ini = g_strdup_printf ("[server]\nhost1 = 127.0.0.1\nport1 = %u\nhost2 = 127.0.0.1\n"
                         "port2 = %u\n",
                         port1, port2);
  f->config = chat_config_load_from_data (ini, &error);
  g_assert_no_error (error);
  f->config->secret = g_strdup (SECRET);
  f->node = chat_replica_new (f->store, f->config, 1, TRUE);
  f->peer = chat_peers_new (f->config, 2, on_peer_line, f);
  chat_test_serve_first_line (f->service, hand_to_peers, chat_replica_get_peers (f->node));
  chat_test_serve_first_line (f->peer_port, hand_to_peers, f->peer);
  g_assert_true (chat_replica_start (f->node, &error));
  g_assert_no_error (error);
  /* The journal warns about the forced leader (warnings are fatal in tests otherwise). */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_assert_true (chat_replica_force_leader (f->node, &error));
  g_assert_no_error (error);
  chat_peers_start (f->peer);
}

static void
close_port (GSocketService **service)
{
  if (*service == NULL)
    return;
  g_socket_service_stop (*service);
  g_socket_listener_close (G_SOCKET_LISTENER (*service));
  g_clear_object (service);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  static const char *const files[] = { "chatd.db", "chatd.db-wal", "chatd.db-shm" };

  if (f->node != NULL)
    chat_replica_stop (f->node);
  if (f->peer != NULL)
    chat_peers_stop (f->peer);
  close_port (&f->service);
  close_port (&f->peer_port);
  /* Let cancelled operations finish before their objects go. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&f->node);
  g_clear_object (&f->peer);
  g_clear_object (&f->store);
  chat_config_free (f->config);
  g_hash_table_unref (f->answers);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (f->dir, files[i], NULL);

      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

/* --- helpers ----------------------------------------------------------------------------- */

static gboolean
on_deadline (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the loop until done (f) holds, for at most TIMEOUT_MS; returns done (f). */
static gboolean
run_until (Fixture *f, gboolean (*done) (Fixture *))
{
  gboolean expired = FALSE;
  guint deadline = g_timeout_add (TIMEOUT_MS, on_deadline, &expired);

  while (!expired && !done (f))
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (deadline);
  return done (f);
}

static gboolean
queue_empty (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  guint64 n = chat_store_count_replay (f->store, &error);

  g_assert_no_error (error);
  return n == 0;
}

static gboolean
linked_and_leading (Fixture *f)
{
  /* A line from server 1 means its link to server 2 is up too. */
  return chat_replica_is_serving (f->node) && chat_peers_is_connected (f->peer, 1) && f->lines > 0;
}

static void
queue_ops (Fixture *f, const char *const *ops)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; ops[i] != NULL; i++)
    g_ptr_array_add (rows, g_bytes_new (ops[i], strlen (ops[i])));
  g_assert_true (chat_store_add_replay (f->store, rows, NULL, &error));
  g_assert_no_error (error);
}

static void
send_line (Fixture *f, const char *line)
{
  g_autoptr (GBytes) bytes = g_bytes_new (line, strlen (line));

  g_assert_true (chat_peers_send (f->peer, 1, bytes));
}

static void
forward (Fixture *f, guint id, const char *op)
{
  g_autofree char *line
      = g_strdup_printf ("{\"type\":\"forward\",\"from\":2,\"to\":1,\"id\":%u,\"op\":%s}", id, op);

  send_line (f, line);
}

static guint want_answers;

static gboolean
answered (Fixture *f)
{
  return g_hash_table_size (f->answers) >= want_answers;
}

static JsonObject *
answer_to (Fixture *f, gint64 id)
{
  JsonObject *answer = g_hash_table_lookup (f->answers, &id);

  g_assert_nonnull (answer);
  g_assert_cmpint (json_object_get_int_member (answer, "from"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (answer, "to"), ==, 2);
  return answer;
}

static void
assert_committed (Fixture *f, gint64 id, const char *refused)
{
  JsonObject *answer = answer_to (f, id);

  g_assert_true (json_object_get_boolean_member (answer, "ok"));
  g_assert_cmpstr (json_object_get_string_member_with_default (answer, "refused", NULL), ==,
                   refused);
}

static void
assert_refused (Fixture *f, gint64 id, const char *error)
{
  JsonObject *answer = answer_to (f, id);

  g_assert_false (json_object_get_boolean_member (answer, "ok"));
  g_assert_cmpstr (json_object_get_string_member (answer, "error"), ==, error);
}

#define SIGNUP(name)                                                                               \
  "{\"op\":\"signup\",\"username\":\"" name "\",\"password_hash\":\"h\",\"session\":\"s-" name     \
  "\",\"at\":1}"
#define SEND(from, to, id)                                                                         \
  "{\"op\":\"send\",\"from\":\"" from "\",\"to\":\"" to "\",\"body\":\"hi\","                      \
  "\"client_msg_id\":\"" id "\",\"at\":2}"

static gboolean saw_dropped_warning;

/* The warning about a queued row that is no operation is expected; any other fails. */
static void
on_node_warning (const char *domain, GLogLevelFlags level, const char *message, gpointer user_data)
{
  if (!g_str_has_prefix (message, "Dropping queued operation")
      || !g_str_has_suffix (message, "not an operation"))
    g_error ("Unexpected warning: %s", message);
  saw_dropped_warning = TRUE;
}

/* --- tests -------------------------------------------------------------------------------- */

/* A queue left by an earlier run is proposed once this server leads: committed ops leave
 * it, whatever the state made of them, and so does a row that is no operation at all. */
static void
test_leader_replays_queue (Fixture *f, gconstpointer data)
{
  static const char *const ops[] = { SIGNUP ("alice"),
                                     SEND ("alice", "alice", "m1"),
                                     SEND ("alice", "nobody", "m2"),
                                     "not an operation",
                                     SIGNUP ("ALICE"),
                                     SEND ("alice", "alice", "m1"),
                                     NULL };
  g_autoptr (JsonObject) m1 = NULL;
  g_autoptr (JsonObject) m2 = NULL;
  g_autofree char *alice = NULL;
  g_autoptr (GError) error = NULL;
  GLogLevelFlags fatal = 0;
  guint handler = 0;

  queue_ops (f, ops);
  /* Warnings are fatal in tests: this one is checked by its own handler instead. */
  fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  handler = g_log_set_handler ("chatd-node", G_LOG_LEVEL_WARNING, on_node_warning, NULL);
  f->node = chat_replica_new (f->store, f->config, 1, FALSE);
  g_assert_true (chat_replica_start (f->node, &error));
  g_assert_no_error (error);
  g_assert_true (run_until (f, queue_empty));
  g_assert_true (saw_dropped_warning);
  g_log_remove_handler ("chatd-node", handler);
  g_log_set_always_fatal (fatal);
  alice = chat_store_user_name (f->store, "alice");
  g_assert_cmpstr (alice, ==, "alice");
  m1 = chat_store_find_sent (f->store, "alice", "m1");
  g_assert_nonnull (m1);
  m2 = chat_store_find_sent (f->store, "alice", "m2");
  g_assert_null (m2);
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 1);
}

/* The leader proposes what a peer forwards and answers once it is committed; it refuses
 * what is no operation, and ignores lines that do not add up. */
static void
test_forward (Fixture *f, gconstpointer data)
{
  g_autofree char *bob = NULL;
  g_autofree char *carol = NULL;

  g_assert_true (run_until (f, linked_and_leading));
  forward (f, 1, SIGNUP ("bob"));
  forward (f, 2, SEND ("bob", "nobody", "b1"));
  forward (f, 3, "{\"username\":\"x\"}");
  forward (f, 4, "\"signup\"");
  /* No answer to these: another sender, another recipient, no id, not JSON, an answer to
   * nothing this server asked. */
  send_line (f, "{\"type\":\"forward\",\"from\":3,\"to\":1,\"id\":5,\"op\":" SIGNUP ("eve") "}");
  send_line (f, "{\"type\":\"forward\",\"from\":2,\"to\":2,\"id\":5,\"op\":" SIGNUP ("eve") "}");
  send_line (f, "{\"type\":\"forward\",\"from\":2,\"to\":1,\"op\":" SIGNUP ("eve") "}");
  send_line (f, "{\"type\":\"forward\",\"from\":2,");
  send_line (f, "{\"type\":\"forwarded\",\"from\":2,\"to\":1,\"id\":99,\"ok\":true}");
  forward (f, 6, SIGNUP ("carol"));
  want_answers = 5;
  g_assert_true (run_until (f, answered));
  g_assert_cmpuint (g_hash_table_size (f->answers), ==, 5);
  assert_committed (f, 1, NULL);
  assert_committed (f, 2, "no_such_user");
  assert_refused (f, 3, "bad_request");
  assert_refused (f, 4, "bad_request");
  assert_committed (f, 6, NULL);
  bob = chat_store_user_name (f->store, "bob");
  g_assert_cmpstr (bob, ==, "bob");
  carol = chat_store_user_name (f->store, "carol");
  g_assert_cmpstr (carol, ==, "carol");
  g_assert_null (chat_store_user_name (f->store, "eve"));
}

/* Forwarded again after its answer was lost: the op is proposed again, and stored once. */
static void
test_forward_twice (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) message = NULL;

  g_assert_true (run_until (f, linked_and_leading));
  forward (f, 1, SIGNUP ("dave"));
  want_answers = 1;
  g_assert_true (run_until (f, answered));
  forward (f, 2, SEND ("dave", "dave", "d1"));
  forward (f, 3, SEND ("dave", "dave", "d1"));
  want_answers = 3;
  g_assert_true (run_until (f, answered));
  assert_committed (f, 2, NULL);
  assert_committed (f, 3, NULL);
  message = chat_store_find_sent (f->store, "dave", "d1");
  g_assert_nonnull (message);
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/replica-replay/leader-replays-queue", Fixture, NULL, set_up_one,
              test_leader_replays_queue, tear_down);
  g_test_add ("/replica-replay/forward", Fixture, NULL, set_up_two, test_forward, tear_down);
  g_test_add ("/replica-replay/forward-twice", Fixture, NULL, set_up_two, test_forward_twice,
              tear_down);
  return g_test_run ();
}