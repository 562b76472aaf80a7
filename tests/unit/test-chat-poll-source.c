/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The shared epoll source: one dispatch stops starting on sockets once it has run long. */
#include "chat-poll-source.h"

#include <glib-unix.h>
#include <unistd.h>

#define N_PIPES 40
#define CALLBACK_US 3000 /* each callback's work: 40 of them far exceed one dispatch's time */

typedef struct
{
  int fds[2];
  ChatPollWatch *watch;
  guint calls;
} Pipe;

static void
on_readable (ChatPollWatch *watch, GIOCondition ready, gpointer user_data)
{
  Pipe *pipe = user_data;
  char byte;

  g_assert_true (ready & G_IO_IN);
  g_assert_cmpint (read (pipe->fds[0], &byte, 1), ==, 1);
  pipe->calls++;
  g_usleep (CALLBACK_US);
}

static guint
total_calls (Pipe *pipes)
{
  guint calls = 0;

  for (guint i = 0; i < N_PIPES; i++)
    calls += pipes[i].calls;
  return calls;
}

/* Forty ready sockets whose callbacks take 3 ms each: the first iteration handles some and
 * returns, so that the loop's other sources (the replication timer, the peers) run between;
 * the next iterations handle the rest, each socket once. */
static void
test_dispatch_bounded_in_time (void)
{
  Pipe pipes[N_PIPES] = { 0 };
  guint first, iterations = 1;

  for (guint i = 0; i < N_PIPES; i++)
    {
      g_assert_true (g_unix_open_pipe (pipes[i].fds, FD_CLOEXEC, NULL));
      pipes[i].watch = chat_poll_watch_new (pipes[i].fds[0], on_readable, &pipes[i]);
      chat_poll_watch_set_condition (pipes[i].watch, G_IO_IN);
      g_assert_cmpint (write (pipes[i].fds[1], "x", 1), ==, 1);
    }
  g_main_context_iteration (NULL, FALSE);
  first = total_calls (pipes);
  g_assert_cmpuint (first, >=, 1);
  g_assert_cmpuint (first, <, N_PIPES);
  while (total_calls (pipes) < N_PIPES && iterations < 100)
    {
      g_main_context_iteration (NULL, FALSE);
      iterations++;
    }
  g_assert_cmpuint (iterations, >, 1);
  for (guint i = 0; i < N_PIPES; i++)
    {
      g_assert_cmpuint (pipes[i].calls, ==, 1);
      chat_poll_watch_free (pipes[i].watch);
      close (pipes[i].fds[0]);
      close (pipes[i].fds[1]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/poll-source/dispatch-bounded-in-time", test_dispatch_bounded_in_time);

  return g_test_run ();
}
