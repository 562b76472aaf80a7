/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* For test-no-server-left: starts a cluster through tests/lib, prints its servers' PIDs
 * and dies of abort(), as a failed assertion would end a test.
 *
 *   abort-with-cluster [--from-thread]
 *
 * --from-thread: the servers are started from a thread that has ended before the abort
 * (as the chaos nemesis restarts servers); they must outlive that thread. */
#define G_LOG_DOMAIN "chatd-test"

#include "chat-test-cluster.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define N_SERVERS 3

static gpointer
start_all (gpointer cluster)
{
  chat_test_cluster_start_all (cluster);
  return NULL;
}

/* Every server still answers hello. */
static gboolean
all_answer (ChatTestCluster *cluster)
{
  for (guint node = 1; node <= N_SERVERS; node++)
    {
      g_autoptr (JsonObject) reply = chat_test_hello (cluster, node);

      if (reply == NULL)
        return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  gboolean from_thread = argc > 1 && strcmp (argv[1], "--from-thread") == 0;
  struct rlimit no_core = { 0, 0 };
  ChatTestCluster *cluster = chat_test_cluster_new (N_SERVERS, NULL);

  if (from_thread)
    {
      g_thread_join (g_thread_new ("starter", start_all, cluster));
      /* PR_SET_PDEATHSIG would have fired by now had the ended thread forked them. */
      g_usleep (500 * 1000);
      printf ("answer-after-thread %s\n", all_answer (cluster) ? "yes" : "no");
    }
  else
    start_all (cluster);
  for (guint node = 1; node <= N_SERVERS; node++)
    printf ("pid %d\n", (int)chat_test_cluster_pid (cluster, node));
  printf ("dir %s\n", chat_test_cluster_dir (cluster));
  fflush (stdout);
  setrlimit (RLIMIT_CORE, &no_core);
  abort ();
}
