/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster events as structured log records (CHATD_EVENT=...) for journald. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Values of the CHATD_EVENT field; `journalctl CHATD_EVENT=leader-elected` filters on them. */
#define CHAT_EVENT_LEADER_ELECTED "leader-elected"
#define CHAT_EVENT_STEPPED_DOWN "stepped-down"
#define CHAT_EVENT_PEER_DOWN "peer-down"
#define CHAT_EVENT_PEER_UP "peer-up"
#define CHAT_EVENT_IN_SYNC_CHANGED "in-sync-changed"
#define CHAT_EVENT_REJOIN_STARTED "rejoin-started"
#define CHAT_EVENT_REJOIN_DONE "rejoin-done"
#define CHAT_EVENT_SNAPSHOT_SENT "snapshot-sent"
#define CHAT_EVENT_SNAPSHOT_INSTALLED "snapshot-installed"
#define CHAT_EVENT_FORCE_LEADER "force-leader"

/* The log domain of every cluster event (GLIB_DOMAIN field). */
#define CHAT_JOURNAL_DOMAIN "chatd-cluster"

/* This server's "host:port", added to every event as CHATD_NODE. Call once at start. */
void chat_journal_set_node (const char *node);

/* Logs one cluster event with g_log_structured: CHATD_EVENT=event, CHATD_NODE,
 * CHATD_TERM (when term > 0), CHATD_LEADER and CHATD_PEER (when not NULL), and a
 * readable MESSAGE built from them, followed by the optional printf-style detail
 * (NULL for none). The detail must never carry message bodies, passwords or tokens.
 *
 *   chat_journal_event (CHAT_EVENT_LEADER_ELECTED, 12, "127.0.0.1:5555", NULL, NULL);
 *   chat_journal_event (CHAT_EVENT_PEER_DOWN, 12, NULL, "127.0.0.1:5557",
 *                       "no answer for %u ms", 1000);
 */
void chat_journal_event (const char *event, guint64 term, const char *leader, const char *peer,
                         const char *detail_format, ...) G_GNUC_PRINTF (5, 6);

/* The MESSAGE text chat_journal_event() would log (without the detail). */
char *chat_journal_describe (const char *event, guint64 term, const char *leader, const char *peer);

G_END_DECLS
