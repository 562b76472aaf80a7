/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Servers that die with the test process, however it ends. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Spawns argv as launcher says (environment, file descriptors; its child setup is
 * replaced). The child leads a process group of its own and gets SIGKILL when this
 * process ends, whatever ends it (an assertion, SIGKILL, a crash): PR_SET_PDEATHSIG.
 * That signal fires when the *thread* that forked exits, so every fork happens on one
 * thread that lives as long as the process, whichever thread asks. */
GSubprocess *chat_test_spawn (GSubprocessLauncher *launcher, const char *const *argv,
                              GError **error);
/* Sends signum to the process group a spawned process leads (the server and anything
 * it started), while the process runs. */
void chat_test_spawn_signal_group (GSubprocess *process, int signum);

G_END_DECLS
