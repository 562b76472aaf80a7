/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatFailover: follows who leads, as one server sees it, to report each leader change once. */
#include "config.h"

#include "chat-failover.h"

void
chat_failover_init (ChatFailover *failover, guint self_id)
{
  *failover = (ChatFailover){ .self_id = self_id };
}

void
chat_failover_contact (ChatFailover *failover, guint from, guint64 now_ms)
{
  if (from != 0 && from == failover->watched)
    failover->contact_ms = now_ms;
  if (from != 0 && from == failover->lost)
    failover->lost_answered = TRUE;
}

/* The leader this server followed is gone: remember when it was last heard from. Only the
 * first loss counts until a new leader is known, so that failed elections in between do
 * not shorten the time without a leader. */
static void
lose (ChatFailover *failover, guint old_leader, guint64 now_ms)
{
  if (failover->lost != 0 || old_leader == failover->self_id)
    return;
  failover->lost = old_leader;
  failover->lost_contact_ms = failover->contact_ms;
  failover->noticed_ms = now_ms;
  failover->lost_answered = FALSE;
}

void
chat_failover_leader (ChatFailover *failover, guint leader, guint64 now_ms)
{
  guint previous = failover->leader;

  if (leader == previous)
    return;
  failover->leader = leader;
  if (previous != 0)
    lose (failover, previous, now_ms);
  if (leader == 0)
    return;
  if (leader == failover->self_id)
    {
      /* The server that replaced the old leader reports the change; the others do not. */
      failover->pending = failover->lost != 0;
      return;
    }
  failover->pending = FALSE;
  failover->lost = 0;
  failover->watched = leader;
  failover->contact_ms = now_ms;
}

gboolean
chat_failover_get_loss (const ChatFailover *failover, guint *old_leader, guint64 *silence_ms)
{
  if (failover->lost == 0 || failover->leader != 0)
    return FALSE;
  *old_leader = failover->lost;
  *silence_ms = failover->noticed_ms - MIN (failover->lost_contact_ms, failover->noticed_ms);
  return TRUE;
}

gboolean
chat_failover_serving (ChatFailover *failover, guint64 now_ms, ChatFailoverReport *report)
{
  if (!failover->pending || failover->leader != failover->self_id)
    return FALSE;
  report->old_leader = failover->lost;
  report->downtime_ms = now_ms - MIN (failover->lost_contact_ms, now_ms);
  report->silence_ms = failover->noticed_ms - MIN (failover->lost_contact_ms, failover->noticed_ms);
  report->old_leader_answered = failover->lost_answered;
  failover->reported_down = failover->lost_answered ? 0 : failover->lost;
  failover->pending = FALSE;
  failover->lost = 0;
  return TRUE;
}

gboolean
chat_failover_peer_down_is_news (ChatFailover *failover, guint node)
{
  if (node == 0 || node != failover->reported_down)
    return TRUE;
  failover->reported_down = 0;
  return FALSE;
}

void
chat_failover_peer_up (ChatFailover *failover, guint node)
{
  if (node == failover->reported_down)
    failover->reported_down = 0;
}
