/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster events as structured log records (CHATD_EVENT=...) for journald. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Values of the CHATD_EVENT field; `journalctl CHATD_EVENT=failover` filters on them. */
#define CHAT_EVENT_ELECTION_STARTED "election-started"
#define CHAT_EVENT_LEADER_ELECTED "leader-elected"
#define CHAT_EVENT_FAILOVER "failover"
#define CHAT_EVENT_STEPPED_DOWN "stepped-down"
#define CHAT_EVENT_PEER_DOWN "peer-down"
#define CHAT_EVENT_PEER_UP "peer-up"
#define CHAT_EVENT_IN_SYNC_CHANGED "in-sync-changed"
#define CHAT_EVENT_WAITING_FOR_IN_SYNC "waiting-for-in-sync"
#define CHAT_EVENT_REJOIN_STARTED "rejoin-started"
#define CHAT_EVENT_REJOIN_DONE "rejoin-done"
#define CHAT_EVENT_SNAPSHOT_SENT "snapshot-sent"
#define CHAT_EVENT_SNAPSHOT_INSTALLED "snapshot-installed"
#define CHAT_EVENT_FORCE_LEADER "force-leader"
#define CHAT_EVENT_TRANSFER_STARTED "transfer-started"
#define CHAT_EVENT_DIVERGED "diverged"
#define CHAT_EVENT_WAITING_TO_FOUND "waiting-to-found"
#define CHAT_EVENT_CLUSTER_EXISTS "cluster-exists"
#define CHAT_EVENT_FOREIGN_CLUSTER "foreign-cluster"
#define CHAT_EVENT_LOGIN_THROTTLED "login-throttled"
#define CHAT_EVENT_DISK_FULL "disk-full"
#define CHAT_EVENT_DISK_SPACE_BACK "disk-space-back"

/* The log domain of every cluster event (GLIB_DOMAIN field). */
#define CHAT_JOURNAL_DOMAIN "chatd-cluster"

/* One cluster event. Addresses are "host:port"; the sentence of MESSAGE is built from
 * these fields by one function per event (chat_journal_describe_entry), so that it reads
 * the same wherever the event comes from. */
typedef struct
{
  const char *event;   /* CHATD_EVENT, one of CHAT_EVENT_* */
  guint64 term;        /* CHATD_TERM, 0 when none */
  const char *leader;  /* CHATD_LEADER: who leads now, NULL when nobody or unknown */
  const char *server;  /* CHATD_SERVER: the other server the event is about, or NULL */
  guint64 index;       /* CHATD_INDEX: a log index the event names, 0 when none */
  const char *in_sync; /* a set of servers, "a, b, c" (in-sync-changed, waiting-for-in-sync,
                          waiting-to-found) */
  gint64 downtime_ms;  /* CHATD_DOWNTIME_MS: how long writes were refused, -1 when unknown */
  gint64 silence_ms;   /* how long the old leader had been silent, -1 when unknown;
                          rejoin-started: 0 when the server was starved, not restarted */
  gboolean alive;      /* failover: the old leader still answers (it stepped down) */
  const char *detail;  /* appended after the sentence, or NULL; never bodies or secrets */
} ChatJournalEntry;

#define CHAT_JOURNAL_ENTRY_INIT(name)                                                              \
  (ChatJournalEntry)                                                                               \
  {                                                                                                \
    .event = (name), .downtime_ms = -1, .silence_ms = -1                                           \
  }

/* This server's "host:port", added to every event as CHATD_NODE and used as the subject of
 * its sentences; every record of the process gets SYSLOG_IDENTIFIER=chatd@PORT once
 * chat_journal_install_writer() ran. Call once at start. */
void chat_journal_set_node (const char *node);

/* Installs a log writer that adds SYSLOG_IDENTIFIER=chatd@PORT (from the node) to every
 * record, then writes it as GLib's default writer does (journald when stderr is the
 * journal). Call once, in the daemon only. */
void chat_journal_install_writer (void);

/* The SYSLOG_IDENTIFIER of this server's records: "chatd@PORT", or "chatd" before the node
 * is known. */
char *chat_journal_identifier (void);

/* Logs entry with g_log_structured: CHATD_EVENT, CHATD_NODE, CHATD_TERM, CHATD_LEADER,
 * CHATD_SERVER, CHATD_INDEX, CHATD_DOWNTIME_MS (each when set) and MESSAGE. */
void chat_journal_log (const ChatJournalEntry *entry);

/* The one-sentence MESSAGE of entry as node ("host:port", or NULL: this server) logs it. */
char *chat_journal_describe_entry (const ChatJournalEntry *entry, const char *node);

/* Shorthand for events without index, set or times: server may be NULL; the optional
 * printf-style detail follows the sentence after ": ".
 *
 *   chat_journal_event (CHAT_EVENT_LEADER_ELECTED, 12, "127.0.0.1:5555", NULL, NULL);
 */
void chat_journal_event (const char *event, guint64 term, const char *leader, const char *server,
                         const char *detail_format, ...) G_GNUC_PRINTF (5, 6);

/* "0.77 s" for 770 ms: seconds with two decimals, whatever the locale. */
char *chat_journal_format_seconds (guint64 ms);

G_END_DECLS
