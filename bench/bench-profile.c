/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --profile: perf record on the local servers during a run, then perf report's top lines. */
#include "config.h"

#include "bench-profile.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

/* Samples per second and thread: enough for a 60 s run to name every function above 1 %,
 * few enough that perf's own work stays small beside the servers'. */
#define SAMPLE_HZ "499"
/* Time for perf to fail on its own (no permission, a server gone) before sampling counts. */
#define START_CHECK_US (300 * 1000)

struct _BenchProfile
{
  char *dir;
  char *data;
  GSubprocess *record;
};

void
bench_profile_free (BenchProfile *profile)
{
  if (profile == NULL)
    return;
  if (profile->record != NULL && g_subprocess_get_identifier (profile->record) != NULL)
    {
      g_subprocess_force_exit (profile->record);
      g_subprocess_wait (profile->record, NULL, NULL);
    }
  g_clear_object (&profile->record);
  if (profile->data != NULL)
    g_unlink (profile->data);
  if (profile->dir != NULL)
    g_rmdir (profile->dir);
  g_free (profile->data);
  g_free (profile->dir);
  g_free (profile);
}

static char *
server_pids (BenchCluster *cluster)
{
  GString *pids = g_string_new (NULL);

  for (guint node = 1; node <= bench_cluster_n_servers (cluster); node++)
    {
      GPid pid = bench_cluster_pid (cluster, node);

      if (pid > 0)
        g_string_append_printf (pids, "%s%d", pids->len > 0 ? "," : "", (int)pid);
    }
  return g_string_free (pids, pids->len == 0);
}

BenchProfile *
bench_profile_start (BenchCluster *cluster, GError **error)
{
  g_autoptr (BenchProfile) profile = g_new0 (BenchProfile, 1);
  g_autofree char *perf = g_find_program_in_path ("perf");
  g_autofree char *pids = bench_cluster_is_local (cluster) ? server_pids (cluster) : NULL;

  if (perf == NULL || pids == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           perf == NULL ? "perf is not installed"
                                        : "--profile needs servers this program starts");
      return NULL;
    }
  profile->dir = g_dir_make_tmp ("chatd-bench-profile-XXXXXX", error);
  if (profile->dir == NULL)
    return NULL;
  profile->data = g_build_filename (profile->dir, "perf.data", NULL);
  profile->record = g_subprocess_new (
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, error, perf, "record",
      "-q", "-F", SAMPLE_HZ, "-o", profile->data, "-p", pids, NULL);
  if (profile->record == NULL)
    return NULL;
  g_usleep (START_CHECK_US);
  if (g_subprocess_get_identifier (profile->record) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "perf record exited at once (see /proc/sys/kernel/perf_event_paranoid)");
      return NULL;
    }
  return g_steal_pointer (&profile);
}

/* One of perf report's lines, "    12.34%  chatd  libsqlite3.so.0.8.6  [.] sqlite3VdbeExec",
 * with the padding squeezed and the marks left out: "[.]" user, "[k]" kernel, "-" for an
 * empty column. */
static const char *const PERF_MARKS[] = { "[.]", "[k]", "-", NULL };

static void
append_squeezed (GString *out, const char *line)
{
  g_auto (GStrv) fields = g_strsplit_set (line, " \t", -1);

  g_string_append (out, " ");
  for (guint f = 0; fields[f] != NULL; f++)
    {
      if (fields[f][0] != '\0' && !g_strv_contains (PERF_MARKS, fields[f]))
        g_string_append_printf (out, " %s", fields[f]);
    }
  g_string_append_c (out, '\n');
}

static char *
top_lines (const char *report, guint top)
{
  g_auto (GStrv) lines = g_strsplit (report, "\n", -1);
  GString *out = g_string_new (NULL);
  guint kept = 0;

  for (guint i = 0; lines[i] != NULL && kept < top; i++)
    {
      const char *line = g_strchug (lines[i]);

      if (line[0] == '\0' || line[0] == '#')
        continue;
      append_squeezed (out, line);
      kept++;
    }
  return g_string_free (out, FALSE);
}

char *
bench_profile_stop (BenchProfile *profile, guint top, GError **error)
{
  g_autoptr (GSubprocess) report = NULL;
  g_autofree char *out = NULL;

  g_subprocess_send_signal (profile->record, SIGINT);
  if (!g_subprocess_wait (profile->record, NULL, error))
    return NULL;
  report
      = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, error,
                          "perf", "report", "-i", profile->data, "--no-children", "--sort",
                          "comm,dso,symbol", "--stdio", "-q", "--percent-limit", "0.5", NULL);
  if (report == NULL || !g_subprocess_communicate_utf8 (report, NULL, NULL, &out, NULL, error))
    return NULL;
  if (!g_subprocess_get_successful (report) || out == NULL || *out == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "perf report found no samples");
      return NULL;
    }
  return top_lines (out, top);
}
