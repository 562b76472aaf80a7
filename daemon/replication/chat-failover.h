/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatFailover: follows who leads, as one server sees it, to report each leader change once. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Plain data with no clock of its own: the caller passes the time of each observation.
 * Node ids are 1-based positions in the config; 0 is "nobody". */
typedef struct
{
  guint self_id;
  guint leader;            /* the leader as last seen, 0 when none */
  guint watched;           /* the last other server seen leading */
  guint64 contact_ms;      /* the last message from watched */
  guint lost;              /* the leader this server lost and has not seen replaced, or 0 */
  guint64 lost_contact_ms; /* the last message from lost */
  guint64 noticed_ms;      /* when this server saw it had no leader */
  gboolean lost_answered; /* lost sent a message after that: it is alive, it only stopped leading */
  gboolean pending;       /* this server leads since lost went away: report when it serves */
  guint reported_down;    /* the old leader the failover report said stopped answering */
} ChatFailover;

/* What chat_failover_serving() reports. */
typedef struct
{
  guint old_leader;
  guint64 downtime_ms;          /* from the last message of the old leader to serving */
  guint64 silence_ms;           /* from that message to when this server saw it had no leader */
  gboolean old_leader_answered; /* it sent messages after it stopped leading: alive */
} ChatFailoverReport;

void chat_failover_init (ChatFailover *failover, guint self_id);
/* A message from server from arrived. */
void chat_failover_contact (ChatFailover *failover, guint from, guint64 now_ms);
/* The leader as the replication core sees it now (after each update). */
void chat_failover_leader (ChatFailover *failover, guint leader, guint64 now_ms);
/* The leader it lost and how long that one had been silent, while no new leader is known:
 * TRUE with *old_leader and *silence_ms set, else FALSE. */
gboolean chat_failover_get_loss (const ChatFailover *failover, guint *old_leader,
                                 guint64 *silence_ms);
/* This server, now leading, accepts writes: TRUE once per leader change that replaced
 * another server, with report filled; FALSE for a first leader or a re-election. */
gboolean chat_failover_serving (ChatFailover *failover, guint64 now_ms, ChatFailoverReport *report);

/* Whether the core's peer-down for node tells anything new: not when the failover report
 * already said that node stopped answering and it has not been up since (the core notices
 * only a failure timeout after the election, often after systemd restarted it). */
gboolean chat_failover_peer_down_is_news (ChatFailover *failover, guint node);
void chat_failover_peer_up (ChatFailover *failover, guint node);

G_END_DECLS
