/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Servers that die with the test process: forked by one long-lived thread with
 * PR_SET_PDEATHSIG, each in a process group of its own. */
#define G_LOG_DOMAIN "chatd-test"

#include "chat-test-spawn.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

typedef struct
{
  GSubprocessLauncher *launcher;
  const char *const *argv;
  GSubprocess *process;
  GError *error;
  gboolean done;
  GMutex lock;
  GCond cond;
} SpawnRequest;

/* In the child, between fork and exec. The parent may have died before prctl() took
 * effect: then the child was reparented already and must not live on. */
static void
die_with_parent (gpointer user_data)
{
  pid_t parent = (pid_t)GPOINTER_TO_INT (user_data);

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != parent)
    _exit (127);
  setpgid (0, 0);
}

static void
spawn_on_this_thread (gpointer data, gpointer user_data)
{
  SpawnRequest *request = data;
  GSubprocess *process = NULL;
  GError *error = NULL;

  g_subprocess_launcher_set_child_setup (request->launcher, die_with_parent,
                                         GINT_TO_POINTER (getpid ()), NULL);
  process = g_subprocess_launcher_spawnv (request->launcher, request->argv, &error);
  /* The child's own setpgid() may not have run yet: a signal to the group must reach it. */
  if (process != NULL && g_subprocess_get_identifier (process) != NULL)
    setpgid ((pid_t)atoi (g_subprocess_get_identifier (process)), 0);
  g_mutex_lock (&request->lock);
  request->process = process;
  request->error = error;
  request->done = TRUE;
  g_cond_signal (&request->cond);
  g_mutex_unlock (&request->lock);
}

/* One exclusive thread, started once and never stopped: it outlives every server. */
static GThreadPool *
spawner (void)
{
  static GThreadPool *pool;

  if (g_once_init_enter (&pool))
    {
      g_autoptr (GError) error = NULL;
      GThreadPool *created = g_thread_pool_new (spawn_on_this_thread, NULL, 1, TRUE, &error);

      g_assert_no_error (error);
      g_once_init_leave (&pool, created);
    }
  return pool;
}

GSubprocess *
chat_test_spawn (GSubprocessLauncher *launcher, const char *const *argv, GError **error)
{
  SpawnRequest request = { .launcher = launcher, .argv = argv };
  g_autoptr (GError) push_error = NULL;

  g_mutex_init (&request.lock);
  g_cond_init (&request.cond);
  g_thread_pool_push (spawner (), &request, &push_error);
  g_assert_no_error (push_error);
  g_mutex_lock (&request.lock);
  while (!request.done)
    g_cond_wait (&request.cond, &request.lock);
  g_mutex_unlock (&request.lock);
  g_mutex_clear (&request.lock);
  g_cond_clear (&request.cond);
  if (request.error != NULL)
    g_propagate_error (error, request.error);
  return request.process;
}

void
chat_test_spawn_signal_group (GSubprocess *process, int signum)
{
  const char *identifier = g_subprocess_get_identifier (process);

  if (identifier != NULL)
    kill (-(pid_t)atoi (identifier), signum);
}
