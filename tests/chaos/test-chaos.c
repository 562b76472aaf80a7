/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Chaos test: writers send continuously while a nemesis kills and restarts servers; then
 * every acknowledged message must be stored exactly once on every server.
 *
 *   test-chaos [--servers N] [--seconds S] [--writers W] [--wipe] [--pause]
 *              [--slow-disk MS [--slow-every N]]
 *   CHAOS_SECONDS=600 meson test -C build chaos --timeout-multiplier 0
 */
#define G_LOG_DOMAIN "chaos"

#include "chaos.h"

#include <locale.h>
#include <stdlib.h>

#define DRAIN_TIMEOUT_MS 90000
#define CONVERGE_TIMEOUT_MS 120000
/* chatd's default [cluster] failure_timeout_ms, which the test cluster keeps. */
#define FAILURE_TIMEOUT_MS 400

typedef struct
{
  int servers;
  int seconds;
  int writers;
  gboolean wipe;
  gboolean pause;
  int slow_disk_ms;
  int slow_every;
} Options;

static gboolean
parse (Options *options, int *argc, char ***argv)
{
  const char *env_seconds = g_getenv ("CHAOS_SECONDS");
  GOptionEntry entries[] = {
    { "servers", 0, 0, G_OPTION_ARG_INT, &options->servers, "Servers (default 3)", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &options->seconds,
      "Seconds of chaos (default $CHAOS_SECONDS, else 40)", "S" },
    { "writers", 0, 0, G_OPTION_ARG_INT, &options->writers, "Writing clients (default 4)", "W" },
    { "wipe", 0, 0, G_OPTION_ARG_NONE, &options->wipe,
      "Some kills also empty the server's state directory (a lost disk); the leader's too while a "
      "wiped server copies its log",
      NULL },
    { "pause", 0, 0, G_OPTION_ARG_NONE, &options->pause,
      "No kills: SIGSTOP/SIGCONT pauses and CPU hogs; leader changes only after long pauses",
      NULL },
    { "slow-disk", 0, 0, G_OPTION_ARG_INT, &options->slow_disk_ms,
      "Every server's fsyncs take MS longer (the library in $CHATD_TEST_SLOW_FSYNC, preloaded)",
      "MS" },
    { "slow-every", 0, 0, G_OPTION_ARG_INT, &options->slow_every,
      "With --slow-disk: only every N-th fsync of a server is slow (default 1)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- chaos test");
  g_autoptr (GError) error = NULL;

  options->servers = 3;
  options->seconds = env_seconds ? atoi (env_seconds) : 40;
  options->writers = 4;
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("test-chaos: %s\n", error->message);
      return FALSE;
    }
  if (options->servers < 1 || options->servers > 9 || options->seconds < 1
      || options->seconds > 24 * 3600 || options->writers < 1 || options->writers > 100
      || options->slow_disk_ms < 0 || options->slow_disk_ms > 10000 || options->slow_every < 0)
    {
      g_printerr ("test-chaos: --servers 1-9, --seconds 1-86400, --writers 1-100,"
                  " --slow-disk 0-10000\n");
      return FALSE;
    }
  return TRUE;
}

/* The servers this process starts from now on inherit a slow disk (tests/chaos/slow-fsync.c). */
static void
slow_down_disks (int ms, int every)
{
  const char *library = g_getenv ("CHATD_TEST_SLOW_FSYNC");
  const char *asan = g_getenv ("ASAN_OPTIONS");
  g_autofree char *delay = g_strdup_printf ("%d", ms);
  g_autofree char *period = g_strdup_printf ("%d", MAX (every, 1));
  g_autofree char *asan_options = NULL;

  if (library == NULL)
    g_error ("--slow-disk needs $CHATD_TEST_SLOW_FSYNC, the library to preload");
  g_setenv ("LD_PRELOAD", library, TRUE);
  g_setenv ("CHATD_TEST_FSYNC_DELAY_MS", delay, TRUE);
  g_setenv ("CHATD_TEST_FSYNC_SLOW_EVERY", period, TRUE);
  /* A sanitizer build would refuse a library loaded before its runtime. */
  asan_options = g_strconcat (asan != NULL ? asan : "", asan != NULL ? ":" : "",
                              "verify_asan_link_order=0", NULL);
  g_setenv ("ASAN_OPTIONS", asan_options, TRUE);
}

/* The pause nemesis in place of kills: the same writers and checker, plus its own verdict. */
static gboolean
run_pauses (ChatTestCluster *cluster, ChaosWorld *world, guint seconds, guint *changes)
{
  ChaosPauser *pauser = chaos_pauser_start (cluster, seconds, FAILURE_TIMEOUT_MS, world->loop);
  ChaosPauseReport report;

  g_main_loop_run (world->loop);
  chaos_pauser_finish (pauser, &report);
  *changes = report.leader_changes;
  g_printerr ("# %u short pauses, %u long pauses, %u CPU hogs; %u leader changes, %u unexplained\n",
              report.short_pauses, report.long_pauses, report.hogs, report.leader_changes,
              report.unexplained_changes);
  if (report.unexplained_changes > 0)
    g_printerr ("# FAIL: the leader changed without a long pause of the leader\n");
  return report.unexplained_changes == 0 && report.short_pauses + report.long_pauses > 0;
}

int
main (int argc, char **argv)
{
  Options options = { 0 };
  g_autoptr (ChatTestCluster) cluster = NULL;
  ChaosWorld *world = NULL;
  ChaosNemesis *nemesis = NULL;
  ChaosVerdict verdict;
  guint changes = 0, kills = 0, wipes = 0, unsettled = 0;
  gboolean ok = FALSE, paused_ok = FALSE;

  setlocale (LC_ALL, "");
  if (!parse (&options, &argc, &argv))
    return 2;
  if (options.slow_disk_ms > 0)
    slow_down_disks (options.slow_disk_ms, options.slow_every);
  cluster = chat_test_cluster_new ((guint)options.servers, "available");
  chat_test_cluster_start_all (cluster);
  world = chaos_world_new (cluster);
  if (!chaos_writers_signup (world, (guint)options.writers))
    g_error ("Writers could not sign up");
  g_printerr ("# %d servers, %d writers, %d s of chaos%s; every %d. fsync %d ms slower\n",
              options.servers, options.writers, options.seconds,
              options.wipe ? ", disks wiped too" : "", MAX (options.slow_every, 1),
              options.slow_disk_ms);
  chaos_writers_start (world);
  if (options.pause)
    paused_ok = run_pauses (cluster, world, (guint)options.seconds, &changes);
  else
    {
      /* At most two down at once, and never all of them. */
      nemesis = chaos_nemesis_start (cluster, (guint)options.seconds,
                                     (guint)MIN (2, MAX (options.servers - 1, 1)),
                                     options.wipe && options.servers > 1, world->loop);
      g_main_loop_run (world->loop);
      changes = chaos_nemesis_finish (nemesis, &kills, &wipes);
    }
  unsettled = chaos_writers_drain (world, DRAIN_TIMEOUT_MS);
  g_printerr ("# %u kills (%u with a wiped disk); %" G_GUINT64_FORMAT
              " retries; %u messages never acknowledged\n",
              kills, wipes, world->retries, unsettled);
  if (chat_test_cluster_wait_leader (cluster, 30000) == 0)
    g_error ("No leader after the chaos");
  if (!chaos_wait_converged (cluster, CONVERGE_TIMEOUT_MS))
    g_error ("Servers did not converge to one applied index");
  chat_test_cluster_stop_all (cluster);
  chaos_check (cluster, world->sends, &verdict);
  g_print ("chaos: %" G_GUINT64_FORMAT " acknowledged, %" G_GUINT64_FORMAT " lost, "
           "%" G_GUINT64_FORMAT " duplicated, %" G_GUINT64_FORMAT
           " renumbered, %u leader changes\n",
           verdict.acknowledged, verdict.lost, verdict.duplicated, verdict.renumbered, changes);
  ok = verdict.lost == 0 && verdict.duplicated == 0 && verdict.renumbered == 0
       && verdict.phantom == 0 && verdict.hashes_match && verdict.applied_match
       && verdict.acknowledged > 0 && (options.pause ? paused_ok : kills > 0)
       && (!options.wipe || wipes > 0);
  if (options.wipe && wipes == 0)
    g_printerr ("# FAIL: no disk was wiped\n");
  if (!verdict.hashes_match || !verdict.applied_match)
    g_printerr ("# FAIL: the servers' states differ\n");
  if (verdict.phantom > 0)
    g_printerr ("# FAIL: %" G_GUINT64_FORMAT " stored messages were never sent\n", verdict.phantom);
  chaos_world_free (world);
  return ok ? 0 : 1;
}
