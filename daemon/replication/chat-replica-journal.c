/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica to the journal: the core's notices and each failover as sentences with fields. */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-replica-private.h"

#include "chat-journal.h"
#include "chat-metrics.h"

static const char *
event_for (ChatReplNoticeType type)
{
  static const char *const events[] = {
    [CHAT_REPL_NOTICE_ELECTION_STARTED] = CHAT_EVENT_ELECTION_STARTED,
    [CHAT_REPL_NOTICE_LEADER_ELECTED] = CHAT_EVENT_LEADER_ELECTED,
    [CHAT_REPL_NOTICE_STEPPED_DOWN] = CHAT_EVENT_STEPPED_DOWN,
    [CHAT_REPL_NOTICE_PEER_DOWN] = CHAT_EVENT_PEER_DOWN,
    [CHAT_REPL_NOTICE_PEER_UP] = CHAT_EVENT_PEER_UP,
    [CHAT_REPL_NOTICE_IN_SYNC_CHANGED] = CHAT_EVENT_IN_SYNC_CHANGED,
    [CHAT_REPL_NOTICE_REJOIN_STARTED] = CHAT_EVENT_REJOIN_STARTED,
    [CHAT_REPL_NOTICE_REJOIN_DONE] = CHAT_EVENT_REJOIN_DONE,
    [CHAT_REPL_NOTICE_SNAPSHOT_SENT] = CHAT_EVENT_SNAPSHOT_SENT,
    [CHAT_REPL_NOTICE_SNAPSHOT_INSTALLED] = CHAT_EVENT_SNAPSHOT_INSTALLED,
    [CHAT_REPL_NOTICE_FORCED_LEADER] = CHAT_EVENT_FORCE_LEADER,
    [CHAT_REPL_NOTICE_TRANSFER_STARTED] = CHAT_EVENT_TRANSFER_STARTED,
    [CHAT_REPL_NOTICE_WAITING_FOR_IN_SYNC] = CHAT_EVENT_WAITING_FOR_IN_SYNC,
    [CHAT_REPL_NOTICE_DIVERGED] = CHAT_EVENT_DIVERGED,
    [CHAT_REPL_NOTICE_WAITING_TO_FOUND] = CHAT_EVENT_WAITING_TO_FOUND,
    [CHAT_REPL_NOTICE_CLUSTER_EXISTS] = CHAT_EVENT_CLUSTER_EXISTS,
    [CHAT_REPL_NOTICE_FOREIGN_CLUSTER] = CHAT_EVENT_FOREIGN_CLUSTER,
  };

  if ((guint)type < G_N_ELEMENTS (events) && events[type] != NULL)
    return events[type];
  return chat_repl_notice_to_string (type);
}

/* Whom the notice's node field names: the new leader, the peer concerned, or nobody. */
static gboolean
notice_names_leader (ChatReplNoticeType type)
{
  return type == CHAT_REPL_NOTICE_LEADER_ELECTED || type == CHAT_REPL_NOTICE_FORCED_LEADER
         || type == CHAT_REPL_NOTICE_STEPPED_DOWN;
}

static gboolean
notice_names_server (ChatReplNoticeType type)
{
  return type == CHAT_REPL_NOTICE_PEER_DOWN || type == CHAT_REPL_NOTICE_PEER_UP
         || type == CHAT_REPL_NOTICE_SNAPSHOT_SENT || type == CHAT_REPL_NOTICE_SNAPSHOT_INSTALLED
         || type == CHAT_REPL_NOTICE_TRANSFER_STARTED || type == CHAT_REPL_NOTICE_DIVERGED
         || type == CHAT_REPL_NOTICE_CLUSTER_EXISTS || type == CHAT_REPL_NOTICE_FOREIGN_CLUSTER;
}

static void
log_notice (ChatReplica *self, const ChatReplNotice *n)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (event_for (n->type));
  guint leader_id = chat_repl_get_leader (self->repl);
  const char *leader = NULL;
  const char *server = NULL;
  g_autofree char *in_sync = chat_replica_describe_set (self, n->set);
  guint lost = 0;
  guint64 silence_ms = 0;

  if (n->type == CHAT_REPL_NOTICE_PEER_UP)
    chat_failover_peer_up (&self->failover, n->node);
  if (n->type == CHAT_REPL_NOTICE_PEER_DOWN
      && !chat_failover_peer_down_is_news (&self->failover, n->node))
    return;
  if (notice_names_leader (n->type) && n->node != 0)
    leader_id = n->node;
  if (n->type == CHAT_REPL_NOTICE_FORCED_LEADER && n->node == 0)
    leader_id = self->node_id;
  leader = chat_replica_address_of (self, leader_id);
  if (notice_names_server (n->type))
    server = chat_replica_address_of (self, n->node);
  /* A rejoin that names this server: its main loop was starved, it did not restart; one
   * that names its leader: that leader had heard nothing from it for a while. */
  if (n->type == CHAT_REPL_NOTICE_REJOIN_STARTED && n->node == self->node_id)
    entry.silence_ms = 0;
  if (n->type == CHAT_REPL_NOTICE_REJOIN_STARTED && n->node != 0 && n->node != self->node_id)
    server = chat_replica_address_of (self, n->node);
  if (n->type == CHAT_REPL_NOTICE_ELECTION_STARTED
      && chat_failover_get_loss (&self->failover, &lost, &silence_ms))
    {
      server = chat_replica_address_of (self, lost);
      entry.silence_ms = (gint64)silence_ms;
    }
  entry.term = n->term;
  entry.leader = leader;
  entry.server = server;
  entry.index = n->index;
  if (n->type == CHAT_REPL_NOTICE_IN_SYNC_CHANGED || n->type == CHAT_REPL_NOTICE_WAITING_FOR_IN_SYNC
      || n->type == CHAT_REPL_NOTICE_WAITING_TO_FOUND)
    entry.in_sync = in_sync;
  /* Their index field holds a cluster id or a peer's last index, not a log index of ours. */
  if (n->type == CHAT_REPL_NOTICE_FOREIGN_CLUSTER || n->type == CHAT_REPL_NOTICE_CLUSTER_EXISTS)
    entry.index = 0;
  chat_journal_log (&entry);
}

void
chat_replica_journal_update (ChatReplica *self, const ChatReplUpdate *u, guint64 now_ms)
{
  guint leader = chat_repl_get_leader (self->repl);

  if (leader != 0 && leader != self->failover.watched && leader != self->failover.leader)
    chat_metrics_count_leader_change ();
  chat_failover_leader (&self->failover, leader, now_ms);
  for (guint i = 0; i < u->notices->len; i++)
    log_notice (self, &g_array_index (u->notices, ChatReplNotice, i));
}

void
chat_replica_journal_serving (ChatReplica *self, guint64 index, guint64 now_ms)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_FAILOVER);
  ChatFailoverReport report;
  const char *old_leader = NULL;
  const char *leader = NULL;

  chat_failover_leader (&self->failover, chat_repl_get_leader (self->repl), now_ms);
  if (!chat_failover_serving (&self->failover, now_ms, &report))
    {
      g_message ("Serving as leader from index %" G_GUINT64_FORMAT, index);
      return;
    }
  old_leader = chat_replica_address_of (self, report.old_leader);
  leader = chat_replica_address_of (self, self->node_id);
  entry.term = chat_repl_get_term (self->repl);
  entry.leader = leader;
  entry.server = old_leader;
  entry.index = index;
  entry.downtime_ms = (gint64)report.downtime_ms;
  entry.silence_ms = (gint64)report.silence_ms;
  /* A leader that stepped down still answers the election that replaces it; a crashed or
   * cut-off one does not. */
  entry.alive = report.old_leader_answered;
  chat_journal_log (&entry);
}
