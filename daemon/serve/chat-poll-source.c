/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One GSource over an epoll descriptor: an iteration costs what is ready, not what is open. */
#define G_LOG_DOMAIN "chatd-server"

#include "chat-poll-source.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Ready sockets handled per dispatch; more wait (level-triggered) for the next iteration,
 * so one iteration stays short and timers and peers get their turn. */
#define MAX_EVENTS 256
/* Nor does a dispatch start on another socket once it has run this long: on a loaded
 * machine one client's line took up to 177 ms, and a leader whose dispatch went through
 * several of them sent no heartbeat for longer than an election timeout (docs/server.md). */
#define DISPATCH_BUDGET_US (20 * 1000)

typedef struct
{
  GSource source;
  int epfd;
  gpointer tag;
  gboolean dispatching;
  GPtrArray *doomed; /* watches freed during a dispatch, released after it */
} ChatPollSource;

struct _ChatPollWatch
{
  ChatPollSource *poll;
  int fd;
  GIOCondition condition;
  gboolean registered;
  gboolean dead;
  ChatPollFunc func;
  gpointer user_data;
};

static GIOCondition
condition_from_epoll (guint32 events)
{
  GIOCondition ready = 0;

  if (events & EPOLLIN)
    ready |= G_IO_IN;
  if (events & EPOLLOUT)
    ready |= G_IO_OUT;
  if (events & EPOLLHUP)
    ready |= G_IO_HUP;
  if (events & EPOLLERR)
    ready |= G_IO_ERR;
  return ready;
}

static gboolean
poll_check (GSource *source)
{
  ChatPollSource *self = (ChatPollSource *)source;

  return (g_source_query_unix_fd (source, self->tag) & G_IO_IN) != 0;
}

/* A callback may change or free any watch, so each event is checked against the watch
 * as it is now, and freed watches stay allocated until the loop over events is over. */
static void
dispatch_event (struct epoll_event *event)
{
  ChatPollWatch *watch = event->data.ptr;
  GIOCondition ready = condition_from_epoll (event->events);

  if (watch->dead || !watch->registered)
    return;
  ready &= watch->condition | G_IO_HUP | G_IO_ERR;
  if (ready != 0)
    watch->func (watch, ready, watch->user_data);
}

static gboolean
poll_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  ChatPollSource *self = (ChatPollSource *)source;
  struct epoll_event events[MAX_EVENTS];
  int n = epoll_wait (self->epfd, events, MAX_EVENTS, 0);
  gint64 deadline_us = g_get_monotonic_time () + DISPATCH_BUDGET_US;

  if (n < 0 && errno != EINTR)
    g_warning ("epoll_wait: %s", g_strerror (errno));
  self->dispatching = TRUE;
  for (int i = 0; i < n && (i == 0 || g_get_monotonic_time () < deadline_us); i++)
    dispatch_event (&events[i]);
  self->dispatching = FALSE;
  g_ptr_array_set_size (self->doomed, 0);
  return G_SOURCE_CONTINUE;
}

static void
poll_finalize (GSource *source)
{
  ChatPollSource *self = (ChatPollSource *)source;

  g_ptr_array_unref (self->doomed);
  close (self->epfd);
}

static GSourceFuncs poll_funcs = {
  .check = poll_check,
  .dispatch = poll_dispatch,
  .finalize = poll_finalize,
};

/* The shared source, made on first use; it lives as long as the process. */
static ChatPollSource *
poll_source_get (void)
{
  static ChatPollSource *shared;
  GSource *source = NULL;
  int epfd = -1;

  if (shared != NULL)
    return shared;
  epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (epfd < 0)
    g_error ("epoll_create1: %s", g_strerror (errno));
  source = g_source_new (&poll_funcs, sizeof (ChatPollSource));
  g_source_set_static_name (source, "chatd client sockets");
  shared = (ChatPollSource *)source;
  shared->epfd = epfd;
  shared->doomed = g_ptr_array_new_with_free_func (g_free);
  shared->tag = g_source_add_unix_fd (source, epfd, G_IO_IN);
  /* No nested loop ever runs inside a dispatch here; without this GLib takes the fd out
   * of its poll set and puts it back around every dispatch, waking itself through its
   * eventfd each time (twice per dispatch). */
  g_source_set_can_recurse (source, TRUE);
  g_source_attach (source, NULL);
  return shared;
}

ChatPollWatch *
chat_poll_watch_new (int fd, ChatPollFunc func, gpointer user_data)
{
  ChatPollWatch *watch = NULL;

  g_return_val_if_fail (fd >= 0, NULL);
  g_return_val_if_fail (func != NULL, NULL);

  watch = g_new0 (ChatPollWatch, 1);
  watch->poll = poll_source_get ();
  watch->fd = fd;
  watch->func = func;
  watch->user_data = user_data;
  return watch;
}

static void
unregister (ChatPollWatch *watch)
{
  if (!watch->registered)
    return;
  if (epoll_ctl (watch->poll->epfd, EPOLL_CTL_DEL, watch->fd, NULL) != 0)
    g_debug ("epoll_ctl (DEL, %d): %s", watch->fd, g_strerror (errno));
  watch->registered = FALSE;
}

void
chat_poll_watch_set_condition (ChatPollWatch *watch, GIOCondition condition)
{
  struct epoll_event event = { .data.ptr = watch };
  int op = watch->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

  condition &= G_IO_IN | G_IO_OUT;
  if (condition == watch->condition && watch->registered == (condition != 0))
    return;
  watch->condition = condition;
  /* An empty set would still report hang-ups, over and over: leave the set instead. */
  if (condition == 0)
    {
      unregister (watch);
      return;
    }
  event.events = ((condition & G_IO_IN) ? EPOLLIN : 0) | ((condition & G_IO_OUT) ? EPOLLOUT : 0);
  if (epoll_ctl (watch->poll->epfd, op, watch->fd, &event) != 0)
    {
      g_warning ("Cannot watch socket %d: %s", watch->fd, g_strerror (errno));
      return;
    }
  watch->registered = TRUE;
}

void
chat_poll_watch_free (ChatPollWatch *watch)
{
  if (watch == NULL)
    return;
  unregister (watch);
  watch->dead = TRUE;
  if (watch->poll->dispatching)
    g_ptr_array_add (watch->poll->doomed, watch);
  else
    g_free (watch);
}
