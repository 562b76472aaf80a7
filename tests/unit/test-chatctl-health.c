/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for chatctl health: the verdict and its reason from a server's D-Bus properties. */
#include "config.h"

#include "chatctl-health.h"

/* A server of the default three-server cluster as chatctl reads it (a skeleton holds the
 * properties a proxy would have). peers is "address=state" words; in_sync the addresses of
 * the set. */
static ChatctlServer1 *
make_server (const char *node, const char *role, const char *leader, const char *in_sync,
             const char *peers)
{
  ChatctlServer1 *server = chatctl_server1_skeleton_new ();
  g_auto (GVariantBuilder) peer_list = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sstx)"));
  g_auto (GStrv) members = g_strsplit (in_sync, " ", -1);
  g_auto (GStrv) peer_words = g_strsplit (peers, " ", -1);

  for (guint i = 0; peer_words[i] != NULL && *peer_words[i] != '\0'; i++)
    {
      g_auto (GStrv) parts = g_strsplit (peer_words[i], "=", 2);

      g_variant_builder_add (&peer_list, "(sstx)", parts[0], parts[1], (guint64)3, (gint64)20);
    }
  chatctl_server1_set_node (server, node);
  chatctl_server1_set_role (server, role);
  chatctl_server1_set_term (server, 514);
  chatctl_server1_set_leader (server, leader);
  chatctl_server1_set_in_sync (server, (const char *const *)members);
  chatctl_server1_set_peers (server, g_variant_builder_end (&peer_list));
  return server;
}

#define A "127.0.0.1:5555"
#define B "127.0.0.1:5556"
#define C "127.0.0.1:5557"

static void
test_healthy (void)
{
  g_autoptr (ChatctlServer1) leader
      = make_server (A, "leader", A, A " " B " " C, B "=follower " C "=follower");
  g_autoptr (ChatctlServer1) follower
      = make_server (B, "follower", A, A " " B " " C, A "=leader " C "=follower");
  g_autofree char *reason = NULL;
  g_autofree char *follower_reason = NULL;

  g_assert_cmpint (chatctl_health_judge (leader, &reason), ==, CHATCTL_HEALTHY);
  g_assert_cmpstr (reason, ==, A ": leader of term 514, 3/3 in sync");
  g_assert_cmpint (chatctl_health_judge (follower, &follower_reason), ==, CHATCTL_HEALTHY);
  g_assert_cmpstr (follower_reason, ==, B ": follower of " A ", term 514, 3/3 in sync");
}

static void
test_peer_down (void)
{
  g_autoptr (ChatctlServer1) p = make_server (A, "leader", A, A " " B, B "=follower " C "=down");
  g_autofree char *reason = NULL;

  g_assert_cmpint (chatctl_health_judge (p, &reason), ==, CHATCTL_DEGRADED);
  g_assert_cmpstr (reason, ==, A ": " C " is down (leader " A ", term 514, 2/3 in sync)");
}

/* Up again but still catching up: writes do not wait for it yet. */
static void
test_peer_catching_up (void)
{
  g_autoptr (ChatctlServer1) p
      = make_server (A, "leader", A, A " " B, B "=follower " C "=recovering");
  g_autofree char *reason = NULL;

  g_assert_cmpint (chatctl_health_judge (p, &reason), ==, CHATCTL_DEGRADED);
  g_assert_nonnull (strstr (reason, C " is not in sync (recovering, 3 entries behind)"));
}

static void
test_self_recovering (void)
{
  g_autoptr (ChatctlServer1) p
      = make_server (C, "recovering", A, A " " B, A "=leader " B "=follower");
  g_autofree char *reason = NULL;

  g_assert_cmpint (chatctl_health_judge (p, &reason), ==, CHATCTL_DEGRADED);
  g_assert_cmpstr (reason, ==,
                   C " is recovering and not in the in-sync set yet (leader " A ", 2/3 in sync)");
}

static void
test_no_leader (void)
{
  g_autoptr (ChatctlServer1) p
      = make_server (B, "candidate", "", A " " B " " C, A "=down " C "=follower");
  g_autofree char *reason = NULL;

  g_assert_cmpint (chatctl_health_judge (p, &reason), ==, CHATCTL_UNAVAILABLE);
  g_assert_cmpstr (reason, ==, B " knows no leader (candidate, term 514): writes are refused");
}

static void
test_worst_of_all (void)
{
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) none = g_ptr_array_new ();
  g_autofree char *reason = NULL;
  g_autofree char *none_reason = NULL;

  g_ptr_array_add (all, make_server (A, "leader", A, A " " B, B "=follower " C "=down"));
  g_ptr_array_add (all, make_server (B, "follower", A, A " " B, A "=leader " C "=down"));
  g_ptr_array_add (all, make_server (C, "follower", "", "", A "=unknown " B "=unknown"));
  g_assert_cmpint (chatctl_health_judge_all (all, &reason), ==, CHATCTL_UNAVAILABLE);
  g_assert_true (g_str_has_prefix (reason, C " knows no leader"));
  g_assert_cmpint (chatctl_health_judge_all (none, &none_reason), ==, CHATCTL_UNAVAILABLE);
  g_assert_cmpstr (none_reason, ==, "no chatd server found on the bus");
  g_assert_cmpstr (chatctl_health_to_string (CHATCTL_DEGRADED), ==, "degraded");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/chatctl-health/healthy", test_healthy);
  g_test_add_func ("/chatctl-health/peer-down", test_peer_down);
  g_test_add_func ("/chatctl-health/peer-catching-up", test_peer_catching_up);
  g_test_add_func ("/chatctl-health/self-recovering", test_self_recovering);
  g_test_add_func ("/chatctl-health/no-leader", test_no_leader);
  g_test_add_func ("/chatctl-health/worst-of-all", test_worst_of_all);
  return g_test_run ();
}
