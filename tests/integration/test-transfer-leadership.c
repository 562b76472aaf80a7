/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatctl transfer-leadership against three real servers on a private D-Bus session bus. */
#include "chat-test-util.h"

#include <gio/gio.h>
#include <string.h>

#define LEADER_WAIT_MS 30000

static ChatTestCluster *cluster;

/* chatctl --session --port PORT ARGS... */
static ChatTestRun *
run_chatctl (guint16 port, const char *const *args)
{
  g_autofree char *chatctl
      = g_build_filename (g_getenv ("CHATD_BUILD_ROOT"), "cli", "chatctl", "chatctl", NULL);
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  ChatTestRun *run = NULL;

  g_ptr_array_add (argv, chatctl);
  g_ptr_array_add (argv, "--session");
  g_ptr_array_add (argv, "--port");
  g_ptr_array_add (argv, port_text);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer)args[i]);
  g_ptr_array_add (argv, NULL);
  run = chat_test_run (NULL, (const char *const *)argv->pdata, NULL);
  g_test_message ("chatctl %s: %d\n%s%s", args[0], run->status, run->out, run->err);
  return run;
}

/* Every server of the cluster is on the bus: chatd claims its name once its port is bound. */
static void
wait_on_bus (void)
{
  for (guint node = 1; node <= chat_test_cluster_n_servers (cluster); node++)
    {
      const char *args[] = { "status", NULL };
      guint tries = 0;

      for (;;)
        {
          g_autoptr (ChatTestRun) run = run_chatctl (chat_test_cluster_port (cluster, node), args);

          if (run->status == 0 || ++tries > 100)
            break;
          g_usleep (100 * 1000);
        }
      g_assert_cmpuint (tries, <=, 100);
    }
}

static void
test_hand_over_to_named_server (void)
{
  guint leader = chat_test_cluster_wait_leader (cluster, LEADER_WAIT_MS);
  guint target = leader % 3 + 1;
  g_autofree char *to = g_strdup_printf ("127.0.0.1:%u", chat_test_cluster_port (cluster, target));
  g_autofree char *expected = g_strdup_printf ("handed leadership to %s", to);
  const char *args[] = { "transfer-leadership", "--to", to, NULL };
  g_autoptr (ChatTestRun) run = NULL;

  g_assert_cmpuint (leader, !=, 0);
  run = run_chatctl (chat_test_cluster_port (cluster, leader), args);
  g_assert_cmpint (run->status, ==, 0);
  g_assert_nonnull (strstr (run->out, expected));
  g_assert_cmpuint (chat_test_cluster_wait_leader (cluster, LEADER_WAIT_MS), ==, target);
}

static void
test_closest_follower (void)
{
  guint leader = chat_test_cluster_wait_leader (cluster, LEADER_WAIT_MS);
  const char *args[] = { "--json", "transfer-leadership", NULL };
  g_autoptr (ChatTestRun) run = run_chatctl (chat_test_cluster_port (cluster, leader), args);
  guint now = 0;

  g_assert_cmpint (run->status, ==, 0);
  g_assert_nonnull (strstr (run->out, "\"leader\""));
  now = chat_test_cluster_wait_leader (cluster, LEADER_WAIT_MS);
  g_assert_cmpuint (now, !=, 0);
  g_assert_cmpuint (now, !=, leader);
}

/* A follower refuses with NotLeader (exit 1); a server outside the cluster is refused. */
static void
test_refusals (void)
{
  guint leader = chat_test_cluster_wait_leader (cluster, LEADER_WAIT_MS);
  guint follower = leader % 3 + 1;
  const char *plain[] = { "transfer-leadership", NULL };
  const char *stranger[] = { "transfer-leadership", "--to", "127.0.0.1:1", NULL };
  g_autoptr (ChatTestRun) on_follower
      = run_chatctl (chat_test_cluster_port (cluster, follower), plain);
  g_autoptr (ChatTestRun) outside
      = run_chatctl (chat_test_cluster_port (cluster, leader), stranger);

  g_assert_cmpint (on_follower->status, ==, 1);
  g_assert_nonnull (strstr (on_follower->err, "not the leader"));
  g_assert_cmpint (outside->status, ==, 1);
  g_assert_nonnull (strstr (outside->err, "not a server of the cluster"));
  g_assert_cmpuint (chat_test_cluster_wait_leader (cluster, LEADER_WAIT_MS), ==, leader);
}

int
main (int argc, char **argv)
{
  g_autoptr (GTestDBus) bus = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus);
  g_setenv ("CHATD_DBUS", "session", TRUE);
  cluster = chat_test_cluster_new (3, NULL);
  chat_test_cluster_start_all (cluster);
  wait_on_bus ();
  g_test_add_func ("/transfer-leadership/to-named-server", test_hand_over_to_named_server);
  g_test_add_func ("/transfer-leadership/closest-follower", test_closest_follower);
  g_test_add_func ("/transfer-leadership/refusals", test_refusals);
  status = g_test_run ();
  chat_test_cluster_free (cluster);
  g_test_dbus_down (bus);
  return status;
}
