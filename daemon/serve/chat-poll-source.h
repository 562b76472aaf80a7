/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatPollWatch: client sockets watched through one epoll descriptor and one GSource. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ChatPollWatch ChatPollWatch;

/* Called from the main loop with the conditions that are ready: G_IO_IN and G_IO_OUT as
 * asked for, G_IO_HUP and G_IO_ERR whenever the socket reports them. */
typedef void (*ChatPollFunc) (ChatPollWatch *watch, GIOCondition ready, gpointer user_data);

/* Watches fd on the process' shared poll source, which lives in the global default main
 * context. Nothing is watched until chat_poll_watch_set_condition() asks for something. */
ChatPollWatch *chat_poll_watch_new (int fd, ChatPollFunc func, gpointer user_data);
/* G_IO_IN, G_IO_OUT, both, or 0 to stop watching for now. */
void chat_poll_watch_set_condition (ChatPollWatch *watch, GIOCondition condition);
/* Stops watching the fd (before it is closed); safe inside any watch's callback. */
void chat_poll_watch_free (ChatPollWatch *watch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatPollWatch, chat_poll_watch_free)

G_END_DECLS
