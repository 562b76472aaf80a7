/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chat-sim: runs seeded random schedules and scripted scenarios against the replication core. */
#include "sim.h"

#include <stdlib.h>

#ifdef CHAT_REPL_ENABLE_BREAK_RULES
#include "chat-repl-private.h"
#endif

static char *opt_mode = NULL;
static gint64 opt_seeds = 100;
static gint64 opt_start = 1;
static gint64 opt_seed = -1;
static gint opt_servers = 3;
static gboolean opt_trace = FALSE;
static char *opt_scenario = NULL;
static gboolean opt_list = FALSE;
static gboolean opt_all_scenarios = FALSE;
static char *opt_break = NULL;
static gboolean opt_expect_violation = FALSE;
static gboolean opt_crash_on_set_change = FALSE;
static gboolean opt_disk_loss = FALSE;
static gboolean opt_partitions = FALSE;
static gboolean opt_ship_images = FALSE;

static const GOptionEntry entries[] = {
  { "mode", 'm', 0, G_OPTION_ARG_STRING, &opt_mode, "available (default) or quorum", "MODE" },
  { "seeds", 'n', 0, G_OPTION_ARG_INT64, &opt_seeds, "Number of random schedules", "K" },
  { "start-seed", 's', 0, G_OPTION_ARG_INT64, &opt_start, "First seed", "S" },
  { "seed", 0, 0, G_OPTION_ARG_INT64, &opt_seed, "Run exactly this seed", "N" },
  { "servers", 0, 0, G_OPTION_ARG_INT, &opt_servers, "Cluster size (default 3)", "N" },
  { "trace", 't', 0, G_OPTION_ARG_NONE, &opt_trace, "Print the trace", NULL },
  { "scenario", 0, 0, G_OPTION_ARG_STRING, &opt_scenario, "Run one scripted scenario", "NAME" },
  { "all-scenarios", 0, 0, G_OPTION_ARG_NONE, &opt_all_scenarios, "Run every scenario", NULL },
  { "list-scenarios", 0, 0, G_OPTION_ARG_NONE, &opt_list, "List the scenarios", NULL },
  { "break-rule", 0, 0, G_OPTION_ARG_STRING, &opt_break,
    "Break a rule on purpose (commit-before-isr, vote-not-up-to-date)", "RULE" },
  { "expect-violation", 0, 0, G_OPTION_ARG_NONE, &opt_expect_violation,
    "Succeed only if some schedule finds a violation", NULL },
  { "crash-on-set-change", 0, 0, G_OPTION_ARG_NONE, &opt_crash_on_set_change,
    "Let half of the faults crash a server as an in-sync set changes", NULL },
  { "disk-loss", 0, 0, G_OPTION_ARG_NONE, &opt_disk_loss,
    "Let faults wipe one server's disk at a time (available mode)", NULL },
  { "partitions", 0, 0, G_OPTION_ARG_NONE, &opt_partitions,
    "Available mode: draw network partitions too (quorum mode always does)", NULL },
  { "ship-images", 0, 0, G_OPTION_ARG_NONE, &opt_ship_images,
    "Images instead of the log from 10 % of their size; crash leader or receiver mid-transfer",
    NULL },
  { NULL },
};

static int
run_scenarios (void)
{
  guint n = 0, failed = 0;
  const SimScenario *list = sim_scenarios (&n);

  for (guint i = 0; i < n; i++)
    {
      gboolean ok;

      if (opt_scenario != NULL && g_strcmp0 (opt_scenario, list[i].name) != 0)
        continue;
      ok = list[i].run (opt_trace);
      g_print ("%s scenario %s\n", ok ? "ok  " : "FAIL", list[i].name);
      failed += !ok;
      if (opt_scenario != NULL)
        return ok ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  if (opt_scenario != NULL)
    {
      g_printerr ("no scenario named %s (see --list-scenarios)\n", opt_scenario);
      return EXIT_FAILURE;
    }
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static gboolean
set_break_rule (void)
{
  if (opt_break == NULL)
    return TRUE;
#ifdef CHAT_REPL_ENABLE_BREAK_RULES
  if (g_strcmp0 (opt_break, "commit-before-isr") == 0)
    chat_repl_break_rule = CHAT_REPL_BREAK_COMMIT_BEFORE_ISR;
  else if (g_strcmp0 (opt_break, "vote-not-up-to-date") == 0)
    chat_repl_break_rule = CHAT_REPL_BREAK_VOTE_NOT_UP_TO_DATE;
  else
    return FALSE;
  return TRUE;
#else
  g_printerr ("this build cannot break rules; use chat-sim-broken\n");
  return FALSE;
#endif
}

static int
run_random (SimOptions *opt)
{
  guint64 steps = 0, failed = 0, first_failed = 0;
  gint64 t0 = g_get_monotonic_time ();
  double secs;

  for (gint64 i = 0; i < opt_seeds; i++)
    {
      opt->seed = (guint64)(opt_start + i);
      opt->quiet = opt_expect_violation && failed > 0;
      if (!sim_run_random (opt, &steps))
        {
          if (failed++ == 0)
            first_failed = opt->seed;
          if (opt_expect_violation)
            break;
        }
    }
  secs = (g_get_monotonic_time () - t0) / 1e6;
  g_print ("mode=%s servers=%u%s%s%s seeds=%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
           ": %" G_GUINT64_FORMAT " violation(s), %" G_GUINT64_FORMAT " steps, %.2f s, "
           "%.0f steps/s\n",
           chat_repl_mode_to_string (opt->mode), opt->n_servers,
           opt->crash_on_set_change ? " crash-on-set-change" : "",
           opt->disk_loss ? " disk-loss" : "", opt->partitions ? " partitions" : "", opt_start,
           opt_start + opt_seeds - 1, failed, steps, secs, secs > 0 ? steps / secs : 0.0);
  if (opt_expect_violation)
    {
      if (failed > 0)
        g_print ("broken rule %s caught by seed %" G_GUINT64_FORMAT "\n", opt_break, first_failed);
      return failed > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- replication core simulator");
  g_autoptr (GError) error = NULL;
  SimOptions opt;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (opt_list)
    {
      guint n = 0;
      const SimScenario *list = sim_scenarios (&n);

      for (guint i = 0; i < n; i++)
        g_print ("%-36s %s\n", list[i].name, list[i].summary);
      return EXIT_SUCCESS;
    }
  if (!set_break_rule ())
    return 2;
  if (opt_scenario != NULL || opt_all_scenarios)
    return run_scenarios ();

  sim_options_init (&opt);
  if (opt_mode != NULL && g_strcmp0 (opt_mode, "quorum") == 0)
    opt.mode = CHAT_REPL_MODE_QUORUM;
  else if (opt_mode != NULL && g_strcmp0 (opt_mode, "available") != 0)
    {
      g_printerr ("unknown mode %s\n", opt_mode);
      return 2;
    }
  if (opt_servers < 1 || opt_servers > SIM_MAX_SERVERS)
    {
      g_printerr ("--servers must be 1..%d\n", SIM_MAX_SERVERS);
      return 2;
    }
  opt.n_servers = (guint)opt_servers;
  opt.break_rule = opt_break;
  opt.crash_on_set_change = opt_crash_on_set_change;
  opt.disk_loss = opt_disk_loss && opt.mode == CHAT_REPL_MODE_AVAILABLE;
  opt.partitions = opt_partitions;
  opt.ship_images = opt_ship_images;
  if (opt.ship_images)
    {
      /* Longer logs, so that a server that was down lacks more than an image weighs. */
      opt.ops_per_client = 40;
      opt.fault_ms = 8000;
    }
  opt.trace = opt_trace;
  if (opt_seed >= 0)
    {
      opt_start = opt_seed;
      opt_seeds = 1;
    }
  return run_random (&opt);
}
