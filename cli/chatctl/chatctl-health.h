/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatctl health: one verdict (healthy, degraded, unavailable) from the servers' properties. */
#pragma once

#include "chatctl-server1.h"

G_BEGIN_DECLS

/* Also chatctl's exit status for `chatctl health`. */
typedef enum
{
  CHATCTL_HEALTHY = 0,
  CHATCTL_DEGRADED = 1,
  CHATCTL_UNAVAILABLE = 2,
} ChatctlHealth;

/* The verdict on one server from its io.github.chatd.Server1 properties, with a one-line
 * reason in *reason:
 *   unavailable  it knows no leader: writes are refused;
 *   degraded     it is recovering or outside the in-sync set, a server of the cluster is
 *                down or not in sync: a further failure may stop writes;
 *   healthy      a leader, and every server in sync. */
ChatctlHealth chatctl_health_judge (ChatctlServer1 *server, char **reason);

/* The worst verdict of several servers (ChatctlServer1 *); *reason is the worst server's (the
 * first of them). No server at all is unavailable. */
ChatctlHealth chatctl_health_judge_all (GPtrArray *servers, char **reason);

const char *chatctl_health_to_string (ChatctlHealth health);

G_END_DECLS
