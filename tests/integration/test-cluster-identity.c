/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fresh clusters used at once, and servers that lose their disk, on three real servers. */
#include "chat-test-client.h"
#include "chat-test-db.h"
#include "chat-test-util.h"

#include "chat-fs.h"

#include <glib/gstdio.h>

#include <signal.h>
#include <string.h>

#define CONVERGE_MS 30000
#define LEADER_MS 15000
#define FRESH_ROUNDS 3

typedef ChatTestPair Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  chat_test_pair_set_up (f, NULL);
}

static void
restart_all_stopped (Fixture *f)
{
  for (guint node = 1; node <= 3; node++)
    {
      if (!chat_test_cluster_is_running (f->cluster, node))
        chat_test_cluster_start (f->cluster, node, FALSE);
    }
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
}

/* A fresh cluster used the moment a leader answers: two sign-ups and 50 sends, then the
 * leader is killed. What it acknowledged is on every disk that was up, so the others
 * elect a leader without it and nothing is lost. Each round starts a new cluster: the
 * window after the start is short and a single round may miss it. */
static void
test_fresh_kill_leader (void)
{
  for (guint round = 1; round <= FRESH_ROUNDS; round++)
    {
      Fixture f = { 0 };
      guint leader = 0, next = 0;

      chat_test_pair_set_up (&f, NULL);
      chat_test_pair_send_some (&f, 50);
      leader = chat_test_pair_wait_leader (&f, LEADER_MS);
      chat_test_cluster_kill (f.cluster, leader);
      chat_test_pair_send_some (&f, 1);
      next = chat_test_pair_wait_leader (&f, LEADER_MS);
      g_assert_cmpuint (next, !=, leader);
      g_test_message ("round %u: leader %u killed, %u took over", round, leader, next);
      restart_all_stopped (&f);
      chat_test_pair_assert_all_once (&f);
      chat_test_pair_tear_down (&f, NULL);
    }
}

/* The tightest window: the servers without --primary are up first, then s1 starts with
 * it; the first acknowledged write (a sign-up) is followed at once by the kill of the
 * leader. A leader that answered on its own disk alone leaves nobody able to lead; with
 * the first in-sync set holding every server that was up, the next sign-up succeeds and
 * the first one is still there. */
static void
test_fresh_first_write (void)
{
  for (guint round = 1; round <= FRESH_ROUNDS; round++)
    {
      g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (3, NULL);
      g_autoptr (ChatClient) alice = NULL;
      g_autoptr (ChatClient) bob = NULL;
      guint leader = 0;

      chat_test_cluster_start (cluster, 2, FALSE);
      chat_test_cluster_start (cluster, 3, FALSE);
      chat_test_cluster_start (cluster, 1, TRUE);
      leader = chat_test_cluster_wait_leader (cluster, LEADER_MS);
      g_assert_cmpuint (leader, !=, 0);
      alice = chat_test_client_new (cluster);
      chat_test_client_signup (alice, "alice", CHAT_TEST_PAIR_PASSWORD);
      leader = chat_test_cluster_wait_leader (cluster, LEADER_MS);
      chat_test_cluster_kill (cluster, leader);
      bob = chat_test_client_new (cluster);
      chat_test_client_signup (bob, "bob", CHAT_TEST_PAIR_PASSWORD);
      chat_test_client_send (alice, "bob", "after the kill");
      g_test_message ("round %u: leader %u killed after the first write", round, leader);
      chat_test_cluster_start (cluster, leader, FALSE);
      chat_test_wait_converged (cluster, CONVERGE_MS);
      g_assert_cmpuint (chat_test_client_count_body (bob, "alice", "after the kill"), ==, 1);
    }
}

/* Kills a server, empties its state directory (a lost disk) and, after down_ms, starts it
 * again: it comes back as a new store. */
static void
wipe_and_restart (ChatTestCluster *cluster, guint node, guint down_ms)
{
  chat_test_cluster_kill (cluster, node);
  chat_fs_remove_tree (chat_test_cluster_state_dir (cluster, node));
  g_assert_false (g_file_test (chat_test_cluster_state_dir (cluster, node), G_FILE_TEST_EXISTS));
  if (down_ms > 0)
    g_usleep ((gulong)down_ms * 1000);
  chat_test_cluster_start (cluster, node, FALSE);
}

/* An in-sync follower loses its disk and is back at once (fast) or after the failure
 * timeout (slow). The leader sees a new store: writes go on, the follower gets everything
 * from the start and the cluster converges, with nothing lost or twice. */
static void
test_follower_disk_loss (Fixture *f, gconstpointer data)
{
  guint down_ms = GPOINTER_TO_UINT (data);
  guint leader = 0, follower = 0;
  gint64 start = 0;

  chat_test_pair_send_some (f, 20);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  leader = chat_test_pair_wait_leader (f, LEADER_MS);
  follower = chat_test_cluster_other (f->cluster, leader);
  wipe_and_restart (f->cluster, follower, down_ms);
  start = g_get_monotonic_time ();
  chat_test_pair_send_some (f, 20);
  g_test_message ("20 writes after s%u lost its disk took %" G_GINT64_FORMAT " ms", follower,
                  (g_get_monotonic_time () - start) / 1000);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  chat_test_pair_assert_all_once (f);
}

static gboolean in_sync_at (ChatTestCluster *cluster, guint leader, guint node);

/* No --primary anywhere: once all three are up, linked and empty, they elect a leader by
 * themselves, with every server in the first in-sync set. */
static void
test_fresh_without_primary (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (3, NULL);
  g_autoptr (ChatClient) alice = NULL;
  guint leader = 0;

  for (guint node = 1; node <= 3; node++)
    chat_test_cluster_start (cluster, node, FALSE);
  leader = chat_test_cluster_wait_leader (cluster, LEADER_MS);
  g_assert_cmpuint (leader, !=, 0);
  alice = chat_test_client_new (cluster);
  chat_test_client_signup (alice, "alice", CHAT_TEST_PAIR_PASSWORD);
  chat_test_wait_converged (cluster, CONVERGE_MS);
  for (guint node = 1; node <= 3; node++)
    g_assert_true (node == leader || in_sync_at (cluster, leader, node));
}

/* n sends from alice to bob, a hundred in flight at a time. */
static void
send_many (Fixture *f, guint n)
{
  for (guint sent = 0; sent < n; sent += 100)
    {
      for (guint i = sent; i < MIN (n, sent + 100); i++)
        {
          g_autofree char *body = g_strdup_printf ("message %u", f->sent->len);

          chat_test_pair_send_async (f, body);
        }
      chat_test_pair_wait_sent (f);
    }
  g_assert_cmpuint (f->failed, ==, 0);
}

/* The applied index of node's database, polled every 2 ms until it is at least from
 * (then returned) or reaches before (then 0), for at most 20 s. */
static gint64
wait_applied_between (ChatTestCluster *cluster, guint node, gint64 from, gint64 before)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      gint64 applied = chat_test_cluster_applied_index (cluster, node);

      if (applied >= before)
        return 0;
      if (applied >= from)
        return applied;
      g_usleep (2000);
    }
  return 0;
}

/* A13 on real servers. h is down while 6,000 messages are written, so the log holds the
 * in-sync set {leader, r} for that long; then h is back in the set. r loses its disk and
 * copies the log from the start; in the middle of those 6,000 entries (so the latest set
 * of its copy leaves h out) r crashes and the leader loses its disk, while h is paused
 * (SIGSTOP) for 1.5 s, so that r campaigns first. h holds everything: whoever leads next,
 * every acknowledged message must still be there, once, under the id its send was
 * answered with. Before A13, r led with the vote of the leader's empty new store alone
 * and replaced what was committed after its copy ended (the replay sent it again under
 * new ids). Appends to a copying server carry up to 1,024 entries, two in flight, so r is
 * caught at least 3,000 entries before the window ends. */
static void
test_leader_disk_loss_while_copying (Fixture *f, gconstpointer data)
{
  guint leader = 0, holder = 0, copier = 0;
  gint64 window_start = 0, window_end = 0, caught = 0;

  chat_test_pair_send_some (f, 20);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  leader = chat_test_pair_wait_leader (f, LEADER_MS);
  holder = chat_test_cluster_other (f->cluster, leader);
  copier = 6 - leader - holder;
  chat_test_cluster_kill (f->cluster, holder);
  while (in_sync_at (f->cluster, leader, holder))
    send_many (f, 10);
  window_start = chat_test_cluster_applied_index (f->cluster, leader);
  send_many (f, 6000);
  window_end = chat_test_cluster_applied_index (f->cluster, leader);
  chat_test_cluster_start (f->cluster, holder, FALSE);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  send_many (f, 200);
  g_assert_cmpuint (chat_test_pair_wait_leader (f, LEADER_MS), ==, leader);

  chat_test_cluster_kill (f->cluster, copier);
  chat_fs_remove_tree (chat_test_cluster_state_dir (f->cluster, copier));
  g_assert_true (chat_test_cluster_spawn (f->cluster, copier, FALSE, NULL));
  caught = wait_applied_between (f->cluster, copier, window_start + 100, window_end - 3000);
  g_test_message ("s%u copies {s%u,s%u} (indexes %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT
                  "): caught at %" G_GINT64_FORMAT,
                  copier, leader, copier, window_start, window_end, caught);
  g_assert_cmpint (caught, >, 0);
  chat_test_cluster_signal (f->cluster, holder, SIGSTOP);
  chat_test_cluster_kill (f->cluster, leader);
  chat_test_cluster_kill (f->cluster, copier);
  chat_fs_remove_tree (chat_test_cluster_state_dir (f->cluster, leader));
  chat_test_cluster_start (f->cluster, copier, FALSE);
  chat_test_cluster_start (f->cluster, leader, FALSE);
  g_usleep (1500 * 1000);
  chat_test_cluster_signal (f->cluster, holder, SIGCONT);

  g_test_message ("s%u leads", chat_test_pair_wait_leader (f, LEADER_MS));
  chat_test_pair_send_some (f, 20);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  chat_test_pair_assert_all_once (f);
}

/* The --primary server loses its disk and starts again with --primary while the others
 * serve: it must not lead (its peers hold a history), it catches up as an empty follower,
 * and every acknowledged message keeps its id and seq. */
static void
test_primary_disk_loss (Fixture *f, gconstpointer data)
{
  guint leader = 0;

  chat_test_pair_send_some (f, 20);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  chat_test_cluster_kill (f->cluster, 1);
  chat_fs_remove_tree (chat_test_cluster_state_dir (f->cluster, 1));
  chat_test_cluster_start (f->cluster, 1, TRUE);
  for (guint i = 0; i < 20; i++)
    {
      g_assert_cmpuint (chat_test_cluster_wait_leader (f->cluster, LEADER_MS), !=, 1);
      chat_test_pair_send_some (f, 1);
    }
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  leader = chat_test_pair_wait_leader (f, LEADER_MS);
  g_assert_cmpuint (leader, !=, 1);
  chat_test_pair_assert_all_once (f);
}

static gboolean log_mentions (ChatTestCluster *cluster, guint node, const char *text);

/* hello's "waiting" of a running server, or NULL. */
static char *
waiting_of (ChatTestCluster *cluster, guint node)
{
  g_autoptr (JsonObject) hello = chat_test_hello (cluster, node);

  if (hello == NULL || !json_object_has_member (hello, "waiting"))
    return NULL;
  return g_strdup (json_object_get_string_member (hello, "waiting"));
}

/* The --primary server loses its disk while both others are down and starts again with
 * --primary. An empty server founds a cluster only with every configured server up, linked
 * and empty: it waits, and hello and the log say for whom. Once the others are back, their
 * history makes it give up founding (its own journal event), it joins as an empty follower
 * and every acknowledged message keeps its seq. */
static void
test_primary_disk_loss_alone (Fixture *f, gconstpointer data)
{
  g_autofree char *waiting = NULL;
  g_autofree char *address = NULL;
  guint leader = 0;

  chat_test_pair_send_some (f, 10);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  chat_test_cluster_kill (f->cluster, 2);
  chat_test_cluster_kill (f->cluster, 3);
  chat_test_cluster_kill (f->cluster, 1);
  chat_fs_remove_tree (chat_test_cluster_state_dir (f->cluster, 1));
  chat_test_cluster_start (f->cluster, 1, TRUE);
  /* Well past the failure timeout (400 ms) and an election timeout. */
  g_assert_cmpuint (chat_test_cluster_wait_leader (f->cluster, 3000), ==, 0);
  waiting = waiting_of (f->cluster, 1);
  g_test_message ("s1 waiting: %s", waiting != NULL ? waiting : "(nothing)");
  g_assert_nonnull (waiting);
  address = g_strdup_printf ("127.0.0.1:%u", chat_test_cluster_port (f->cluster, 3));
  g_assert_nonnull (strstr (waiting, address));
  g_assert_nonnull (strstr (waiting, "which may hold data"));
  g_assert_true (log_mentions (f->cluster, 1, "which may hold data"));

  chat_test_cluster_start (f->cluster, 2, FALSE);
  chat_test_cluster_start (f->cluster, 3, FALSE);
  leader = chat_test_pair_wait_leader (f, LEADER_MS);
  g_assert_cmpuint (leader, !=, 0);
  g_assert_cmpuint (leader, !=, 1);
  chat_test_pair_send_some (f, 5);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  g_assert_true (log_mentions (f->cluster, 1, "will not found or lead a new cluster"));
  g_assert_null (waiting_of (f->cluster, 1));
  chat_test_pair_assert_all_once (f);
}

static gboolean
log_mentions (ChatTestCluster *cluster, guint node, const char *text)
{
  g_autofree char *path = chat_test_cluster_log_path (cluster, node);
  g_autofree char *contents = NULL;

  return g_file_get_contents (path, &contents, NULL, NULL) && strstr (contents, text) != NULL;
}

/* A server whose state directory holds the store of another cluster (here a one-server
 * cluster that has a user of its own) is refused by the others: its messages are dropped
 * with a clear line in their log, it never enters the in-sync set, and nothing of its
 * history reaches this cluster, which goes on serving. */
static void
test_foreign_cluster (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatTestCluster) other = chat_test_cluster_new (1, NULL);
  g_autoptr (ChatClient) mallory = NULL;
  g_autoptr (ChatTestConn) conn = NULL;
  g_autoptr (JsonObject) found = NULL;
  guint leader = 0, victim = 0;
  gint64 deadline = 0;

  chat_test_cluster_start (other, 1, TRUE);
  mallory = chat_test_client_new (other);
  chat_test_client_signup (mallory, "mallory", CHAT_TEST_PAIR_PASSWORD);
  chat_test_cluster_kill (other, 1);

  chat_test_pair_send_some (f, 5);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  leader = chat_test_pair_wait_leader (f, LEADER_MS);
  victim = chat_test_cluster_other (f->cluster, leader);
  chat_test_cluster_kill (f->cluster, victim);
  chat_fs_remove_tree (chat_test_cluster_state_dir (f->cluster, victim));
  g_assert_cmpint (g_rename (chat_test_cluster_state_dir (other, 1),
                             chat_test_cluster_state_dir (f->cluster, victim)),
                   ==, 0);
  chat_test_cluster_start (f->cluster, victim, FALSE);
  /* The leader drops the killed server from the set after the failure timeout ... */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (in_sync_at (f->cluster, leader, victim) && g_get_monotonic_time () < deadline)
    g_usleep (50 * 1000);
  g_assert_false (in_sync_at (f->cluster, leader, victim));
  /* ... and never adds it back: a caught-up server would be back within a second. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      leader = chat_test_pair_wait_leader (f, LEADER_MS);
      g_assert_false (in_sync_at (f->cluster, leader, victim));
      g_usleep (200 * 1000);
    }
  g_assert_true (log_mentions (f->cluster, leader, "belongs to another cluster"));
  chat_test_pair_send_some (f, 5);
  chat_test_pair_assert_all_once (f);
  conn = chat_test_conn_new (chat_test_cluster_port (f->cluster, leader));
  g_free (chat_test_signup (conn, "carol", CHAT_TEST_PAIR_PASSWORD));
  found = chat_test_ok (conn, "{\"id\":9,\"op\":\"list_users\",\"pattern\":\"mallory\"}");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (found, "users")), ==, 0);
}

#define FLOOD_LINKS 64

/* FLOOD_LINKS connections to node that say a valid peer hello (as `as`) and never prove
 * anything: each waits for the handshake timeout. */
static void
flood_hellos (ChatTestCluster *cluster, guint node, guint as, GPtrArray *conns)
{
  g_autofree char *hello = g_strdup_printf ("{\"peer\":\"hello\",\"proto\":1,\"node\":%u,\"to\":%u,"
                                            "\"nonce\":\"00112233445566778899aabbccddeeff\"}",
                                            as, node);

  for (guint i = 0; i < FLOOD_LINKS; i++)
    {
      ChatTestConn *conn = chat_test_conn_new (chat_test_cluster_port (cluster, node));

      chat_test_conn_send_line (conn, hello);
      g_ptr_array_add (conns, conn);
    }
}

/* Whether the leader reports node up and in its in-sync set. */
static gboolean
in_sync_at (ChatTestCluster *cluster, guint leader, guint node)
{
  g_autoptr (JsonObject) hello = chat_test_hello (cluster, leader);
  g_autofree char *address
      = g_strdup_printf ("127.0.0.1:%u", chat_test_cluster_port (cluster, node));
  JsonArray *servers = NULL;

  if (hello == NULL || !json_object_has_member (hello, "servers"))
    return FALSE;
  servers = json_object_get_array_member (hello, "servers");
  for (guint i = 0; i < json_array_get_length (servers); i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);

      if (g_strcmp0 (json_object_get_string_member (server, "address"), address) == 0)
        return json_object_get_boolean_member (server, "in_sync")
               && g_strcmp0 (json_object_get_string_member (server, "state"), "down") != 0;
    }
  return FALSE;
}

/* Unauthenticated peer hellos on two servers, renewed every 2 s, must not keep a real
 * server from linking: it restarts and is back in the in-sync set within 10 s. A handshake
 * line longer than a few KiB closes the connection at once. */
static void
test_peer_flood (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) conns
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_test_conn_free);
  g_autoptr (ChatTestConn) big = NULL;
  g_autofree char *filler = g_strnfill (64 * 1024, 'x');
  g_autofree char *hello = NULL;
  guint leader = 0, victim = 0, other = 0;
  gint64 deadline = 0;
  gboolean linked = FALSE;

  chat_test_pair_send_some (f, 5);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  leader = chat_test_pair_wait_leader (f, LEADER_MS);
  victim = chat_test_cluster_other (f->cluster, leader);
  other = 6 - leader - victim;
  big = chat_test_conn_new (chat_test_cluster_port (f->cluster, leader));
  hello = g_strdup_printf ("{\"peer\":\"hello\",\"proto\":1,\"node\":%u,\"to\":%u,"
                           "\"nonce\":\"00112233445566778899aabbccddeeff\"}",
                           victim, leader);
  chat_test_conn_send_line (big, hello);
  chat_test_conn_send_raw (big, filler, strlen (filler));
  g_assert_true (chat_test_conn_wait_closed (big, 3000));

  chat_test_cluster_kill (f->cluster, victim);
  flood_hellos (f->cluster, leader, victim, conns);
  flood_hellos (f->cluster, other, victim, conns);
  chat_test_cluster_start (f->cluster, victim, FALSE);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!linked && g_get_monotonic_time () < deadline)
    {
      for (guint i = 0; i < 10 && !(linked = in_sync_at (f->cluster, leader, victim)); i++)
        g_usleep (200 * 1000);
      g_ptr_array_set_size (conns, 0);
      flood_hellos (f->cluster, leader, victim, conns);
      flood_hellos (f->cluster, other, victim, conns);
    }
  g_assert_true (linked);
  chat_test_pair_send_some (f, 5);
  g_ptr_array_set_size (conns, 0);
  chat_test_wait_converged (f->cluster, CONVERGE_MS);
  chat_test_pair_assert_all_once (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cluster/fresh/kill-leader-at-once", test_fresh_kill_leader);
  g_test_add_func ("/cluster/fresh/kill-leader-after-first-write", test_fresh_first_write);
  g_test_add ("/cluster/disk-loss/follower-fast", Fixture, GUINT_TO_POINTER (0), fixture_set_up,
              test_follower_disk_loss, chat_test_pair_tear_down);
  g_test_add ("/cluster/disk-loss/follower-slow", Fixture, GUINT_TO_POINTER (1500), fixture_set_up,
              test_follower_disk_loss, chat_test_pair_tear_down);
  g_test_add_func ("/cluster/fresh/without-primary", test_fresh_without_primary);
  g_test_add ("/cluster/disk-loss/primary", Fixture, NULL, fixture_set_up, test_primary_disk_loss,
              chat_test_pair_tear_down);
  g_test_add ("/cluster/disk-loss/primary-alone", Fixture, NULL, fixture_set_up,
              test_primary_disk_loss_alone, chat_test_pair_tear_down);
  g_test_add ("/cluster/disk-loss/leader-while-copying", Fixture, NULL, fixture_set_up,
              test_leader_disk_loss_while_copying, chat_test_pair_tear_down);
  g_test_add ("/cluster/identity/foreign-cluster", Fixture, NULL, fixture_set_up,
              test_foreign_cluster, chat_test_pair_tear_down);
  g_test_add ("/cluster/peer-flood", Fixture, NULL, fixture_set_up, test_peer_flood,
              chat_test_pair_tear_down);
  return g_test_run ();
}
