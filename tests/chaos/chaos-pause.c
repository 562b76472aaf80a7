/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Chaos test nemesis that slows servers instead of killing them: SIGSTOP/SIGCONT pauses
 * shorter and longer than the failure timeout, and a bounded CPU hog on every core. A
 * leader change is allowed only after a pause of the leader longer than the failure
 * timeout; any other one is counted as unexplained. */
#define G_LOG_DOMAIN "chaos"

#include "chaos.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEADER_WAIT_MS 5000
#define SETTLE_MS 1500
#define HOG_MIN_MS 500
#define HOG_MAX_MS 2000

typedef enum
{
  ACTION_SHORT_PAUSE,
  ACTION_LONG_PAUSE,
  ACTION_HOG,
} Action;

struct _ChaosPauser
{
  ChatTestCluster *cluster;
  GMainLoop *loop;
  GThread *thread;
  guint seconds;
  guint failure_timeout_ms;
  ChaosPauseReport report;
};

static gboolean
quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

/* The leader's term from its hello, or 0 when no leader answers. */
static guint64
leader_term (ChatTestCluster *cluster, guint *leader)
{
  g_autoptr (JsonObject) reply = NULL;

  *leader = chat_test_cluster_wait_leader (cluster, LEADER_WAIT_MS);
  if (*leader == 0)
    return 0;
  reply = chat_test_hello (cluster, *leader);
  return reply != NULL ? (guint64)json_object_get_int_member_with_default (reply, "term", 0) : 0;
}

static void
pause_node (ChaosPauser *pauser, guint node, guint ms)
{
  chat_test_cluster_signal (pauser->cluster, node, SIGSTOP);
  g_usleep ((gulong)ms * 1000);
  chat_test_cluster_signal (pauser->cluster, node, SIGCONT);
}

/* One busy child per core for ms milliseconds, on the cores the servers use. */
static void
hog_cpus (guint ms)
{
  guint n = MAX (g_get_num_processors (), 1);
  g_autofree pid_t *children = g_new0 (pid_t, n);

  for (guint i = 0; i < n; i++)
    {
      children[i] = fork ();
      if (children[i] == 0)
        {
          gint64 end = g_get_monotonic_time () + (gint64)ms * 1000;
          volatile guint64 spin = 0;

          while (g_get_monotonic_time () < end)
            spin++;
          _exit (0);
        }
    }
  for (guint i = 0; i < n; i++)
    if (children[i] > 0)
      waitpid (children[i], NULL, 0);
}

/* Does one action; returns the node it paused (0 for the hog). */
static guint
act (ChaosPauser *pauser, Action action)
{
  guint failure = pauser->failure_timeout_ms;
  guint node
      = (guint)g_random_int_range (1, (gint32)chat_test_cluster_n_servers (pauser->cluster) + 1);
  guint ms = 0;

  switch (action)
    {
      case ACTION_SHORT_PAUSE:
        ms = (guint)g_random_int_range ((gint32)failure / 8, (gint32)(failure * 2 / 5) + 1);
        pauser->report.short_pauses++;
        break;
      case ACTION_LONG_PAUSE:
        ms = (guint)g_random_int_range ((gint32)failure * 5 / 2, (gint32)failure * 4 + 1);
        pauser->report.long_pauses++;
        break;
      case ACTION_HOG:
      default:
        ms = (guint)g_random_int_range (HOG_MIN_MS, HOG_MAX_MS + 1);
        g_printerr ("# [pause] CPU hog on every core for %u ms\n", ms);
        hog_cpus (ms);
        pauser->report.hogs++;
        return 0;
    }
  g_printerr ("# [pause] SIGSTOP node %u for %u ms\n", node, ms);
  pause_node (pauser, node, ms);
  return node;
}

static void
step (ChaosPauser *pauser)
{
  Action action = (Action)g_random_int_range (0, 3);
  guint before = 0, after = 0, paused = 0;
  guint64 term_before = leader_term (pauser->cluster, &before), term_after = 0;

  paused = act (pauser, action);
  g_usleep (SETTLE_MS * 1000);
  term_after = leader_term (pauser->cluster, &after);
  if (term_after == term_before && after == before)
    return;
  pauser->report.leader_changes++;
  if (action == ACTION_LONG_PAUSE && paused == before)
    {
      g_printerr ("# [pause] leader node %u -> %u after a long pause of the leader\n", before,
                  after);
      return;
    }
  pauser->report.unexplained_changes++;
  g_printerr ("# [pause] UNEXPLAINED leader change: node %u (term %" G_GUINT64_FORMAT
              ") -> node %u (term %" G_GUINT64_FORMAT ")\n",
              before, term_before, after, term_after);
}

static gpointer
pauser_main (gpointer data)
{
  ChaosPauser *pauser = data;
  gint64 deadline = g_get_monotonic_time () + (gint64)pauser->seconds * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_usleep ((gulong)g_random_int_range (200, 800) * 1000);
      step (pauser);
    }
  g_idle_add (quit_loop, pauser->loop);
  return NULL;
}

ChaosPauser *
chaos_pauser_start (ChatTestCluster *cluster, guint seconds, guint failure_timeout_ms,
                    GMainLoop *loop)
{
  ChaosPauser *pauser = g_new0 (ChaosPauser, 1);

  pauser->cluster = cluster;
  pauser->loop = loop;
  pauser->seconds = seconds;
  pauser->failure_timeout_ms = failure_timeout_ms;
  pauser->thread = g_thread_new ("pauser", pauser_main, pauser);
  return pauser;
}

void
chaos_pauser_finish (ChaosPauser *pauser, ChaosPauseReport *report)
{
  g_thread_join (pauser->thread);
  *report = pauser->report;
  g_free (pauser);
}
