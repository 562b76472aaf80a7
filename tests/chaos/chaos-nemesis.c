/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Chaos test nemesis: SIGKILLs and restarts random servers, never too many down at once,
 * and (with --wipe) empties disks: one at a time from a whole cluster, and sometimes the
 * leader's as well while a wiped server is still copying its log. */
#define G_LOG_DOMAIN "chaos"

#include "chaos.h"

#include "chat-fs.h"

#include <json-glib/json-glib.h>

#define MIN_PAUSE_MS 200
#define MAX_PAUSE_MS 1500
/* While a wiped server copies its log: soon enough to land in the middle of the copy. */
#define COPYING_PAUSE_MS 300
#define LEADER_WAIT_MS 3000

struct _ChaosNemesis
{
  ChatTestCluster *cluster;
  GMainLoop *loop;
  GThread *thread;
  guint seconds;
  guint max_down;
  gboolean wipe; /* some kills also empty the state directory */
  guint wiped;   /* bits of wiped servers not yet back in the in-sync set (count as down) */
  guint wipes;
  guint last_leader; /* 0 after the leader was killed */
  guint leader_changes;
  guint kills;
};

static gboolean
quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
observe_leader (ChaosNemesis *nemesis)
{
  guint leader = chat_test_cluster_wait_leader (nemesis->cluster, LEADER_WAIT_MS);

  if (leader != 0 && leader != nemesis->last_leader)
    {
      nemesis->leader_changes++;
      g_printerr ("# [nemesis] leader is now node %u\n", leader);
    }
  if (leader != 0)
    nemesis->last_leader = leader;
}

/* Nodes that are up (running == TRUE) or down. */
static GArray *
nodes_where (ChatTestCluster *cluster, gboolean running)
{
  GArray *nodes = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint node = 1; node <= chat_test_cluster_n_servers (cluster); node++)
    if (chat_test_cluster_is_running (cluster, node) == running)
      g_array_append_val (nodes, node);
  return nodes;
}

static guint
pick (GArray *nodes)
{
  return g_array_index (nodes, guint, g_random_int_range (0, (gint32)nodes->len));
}

static void
kill_one (ChaosNemesis *nemesis, GArray *up)
{
  guint node = pick (up);

  g_printerr ("# [nemesis] kill -9 node %u\n", node);
  chat_test_cluster_kill (nemesis->cluster, node);
  nemesis->kills++;
  if (node == nemesis->last_leader)
    nemesis->last_leader = 0;
}

/* The servers the leader reports up and in its in-sync set, as bits (1 << node); 0 when
 * there is no leader to ask. */
static guint
in_sync_nodes (ChaosNemesis *nemesis, guint *leader_out)
{
  guint leader = chat_test_cluster_wait_leader (nemesis->cluster, LEADER_WAIT_MS);
  g_autoptr (JsonObject) hello = NULL;
  JsonArray *servers = NULL;
  guint nodes = 0;

  if (leader_out != NULL)
    *leader_out = leader;
  if (leader == 0)
    return 0;
  hello = chat_test_hello (nemesis->cluster, leader);
  if (hello == NULL || !json_object_has_member (hello, "servers"))
    return 0;
  /* "servers" lists every server of the config in its order: node i + 1. */
  servers = json_object_get_array_member (hello, "servers");
  for (guint i = 0; i < json_array_get_length (servers); i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);

      if (json_object_get_boolean_member_with_default (server, "in_sync", FALSE)
          && g_strcmp0 (json_object_get_string_member_with_default (server, "state", ""), "down")
                 != 0)
        nodes |= 1u << (i + 1);
    }
  return nodes;
}

static guint
all_nodes (ChaosNemesis *nemesis)
{
  return ((1u << chat_test_cluster_n_servers (nemesis->cluster)) - 1) << 1;
}

/* A lost disk: kill, empty the state directory, start again at once. The wiped server
 * counts as down until it is back in the set: never more failures than the cluster
 * tolerates, as in the simulator's --disk-loss. */
static void
wipe_node (ChaosNemesis *nemesis, guint node)
{
  chat_test_cluster_kill (nemesis->cluster, node);
  chat_fs_remove_tree (chat_test_cluster_state_dir (nemesis->cluster, node));
  chat_test_cluster_start (nemesis->cluster, node, FALSE);
  nemesis->kills++;
  nemesis->wipes++;
  nemesis->wiped |= 1u << node;
  if (node == nemesis->last_leader)
    nemesis->last_leader = 0;
}

/* Only while every server is up and in the in-sync set (two others hold everything). */
static void
wipe_one (ChaosNemesis *nemesis, GArray *up)
{
  guint node = pick (up);

  g_printerr ("# [nemesis] wipe node %u (kill -9, empty its state directory, restart)\n", node);
  wipe_node (nemesis, node);
}

/* The worst moment for a second lost disk: a wiped server is copying the leader's log, old
 * in-sync sets included, and the leader's disk goes too. A third server still holds
 * everything (it is in the set and was not wiped), so nothing acknowledged may be lost. */
static void
wipe_leader_during_copy (ChaosNemesis *nemesis, guint leader)
{
  g_printerr ("# [nemesis] wipe the leader, node %u, while node %u copies its log\n", leader,
              (guint)g_bit_nth_lsf (nemesis->wiped, -1));
  wipe_node (nemesis, leader);
}

static void
check_wiped_back (ChaosNemesis *nemesis)
{
  guint back = 0;

  if (nemesis->wiped == 0)
    return;
  back = nemesis->wiped & in_sync_nodes (nemesis, NULL);
  for (guint node = 1; node <= chat_test_cluster_n_servers (nemesis->cluster); node++)
    {
      if (back & (1u << node))
        g_printerr ("# [nemesis] node %u is back in the in-sync set\n", node);
    }
  nemesis->wiped &= ~back;
}

static void
restart_one (ChaosNemesis *nemesis, guint node)
{
  /* A lone server restarts as it was first started; in a cluster it rejoins. */
  gboolean primary = chat_test_cluster_n_servers (nemesis->cluster) == 1;

  g_printerr ("# [nemesis] restart node %u\n", node);
  chat_test_cluster_start (nemesis->cluster, node, primary);
}

/* Every run wipes at least once: the first chance is always taken, later ones often. */
static gboolean
wipe_wanted (ChaosNemesis *nemesis, GArray *down)
{
  if (!nemesis->wipe || nemesis->wiped != 0 || down->len > 0)
    return FALSE;
  return nemesis->wipes == 0 || g_random_double () < 0.4;
}

/* Half the time a wiped server copies its log, while one more failure is allowed and
 * nothing else is down: the leader's disk, if a member other than the leader was not
 * wiped and is in the set (it holds everything). */
static gboolean
second_wipe (ChaosNemesis *nemesis, GArray *down)
{
  guint leader = 0;
  guint in_sync = 0;
  guint holders = 0;

  if (!nemesis->wipe || nemesis->wiped == 0 || down->len > 0
      || (guint)__builtin_popcount (nemesis->wiped) + 1 > nemesis->max_down
      || g_random_double () < 0.5)
    return FALSE;
  in_sync = in_sync_nodes (nemesis, &leader);
  holders = in_sync & ~nemesis->wiped & ~(1u << leader);
  if (leader == 0 || (nemesis->wiped & (1u << leader)) || holders == 0)
    return FALSE;
  wipe_leader_during_copy (nemesis, leader);
  return TRUE;
}

static void
step (ChaosNemesis *nemesis)
{
  g_autoptr (GArray) up = nodes_where (nemesis->cluster, TRUE);
  g_autoptr (GArray) down = nodes_where (nemesis->cluster, FALSE);
  guint n_down = 0;
  gboolean may_kill = FALSE;

  check_wiped_back (nemesis);
  if (second_wipe (nemesis, down))
    {
      observe_leader (nemesis);
      return;
    }
  n_down = down->len + (guint)__builtin_popcount (nemesis->wiped);
  may_kill = n_down < nemesis->max_down && up->len > 0;
  if (wipe_wanted (nemesis, down))
    {
      /* Until the cluster is whole again nothing else happens: a slow build (the
       * sanitizers) must not keep every run from wiping a disk. */
      if (in_sync_nodes (nemesis, NULL) == all_nodes (nemesis))
        wipe_one (nemesis, up);
    }
  else if (may_kill && (n_down == 0 || g_random_double () < 0.5))
    kill_one (nemesis, up);
  else if (down->len > 0)
    restart_one (nemesis, pick (down));
  observe_leader (nemesis);
}

static gpointer
nemesis_main (gpointer data)
{
  ChaosNemesis *nemesis = data;
  gint64 deadline = g_get_monotonic_time () + (gint64)nemesis->seconds * G_USEC_PER_SEC;
  g_autoptr (GArray) down = NULL;

  nemesis->last_leader = chat_test_cluster_wait_leader (nemesis->cluster, LEADER_WAIT_MS);
  while (g_get_monotonic_time () < deadline)
    {
      guint pause = nemesis->wiped != 0 ? COPYING_PAUSE_MS
                                        : (guint)g_random_int_range (MIN_PAUSE_MS, MAX_PAUSE_MS);

      g_usleep ((gulong)pause * 1000);
      step (nemesis);
    }
  down = nodes_where (nemesis->cluster, FALSE);
  for (guint i = 0; i < down->len; i++)
    restart_one (nemesis, g_array_index (down, guint, i));
  observe_leader (nemesis);
  g_idle_add (quit_loop, nemesis->loop);
  return NULL;
}

ChaosNemesis *
chaos_nemesis_start (ChatTestCluster *cluster, guint seconds, guint max_down, gboolean wipe,
                     GMainLoop *loop)
{
  ChaosNemesis *nemesis = g_new0 (ChaosNemesis, 1);

  nemesis->cluster = cluster;
  nemesis->wipe = wipe;
  nemesis->loop = loop;
  nemesis->seconds = seconds;
  nemesis->max_down = max_down;
  nemesis->thread = g_thread_new ("nemesis", nemesis_main, nemesis);
  return nemesis;
}

guint
chaos_nemesis_finish (ChaosNemesis *nemesis, guint *kills, guint *wipes)
{
  guint changes = 0;

  g_thread_join (nemesis->thread);
  changes = nemesis->leader_changes;
  if (kills != NULL)
    *kills = nemesis->kills;
  if (wipes != NULL)
    *wipes = nemesis->wipes;
  g_free (nemesis);
  return changes;
}
