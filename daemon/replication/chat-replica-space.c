/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica: a leader whose disk fills refuses writes, hands over when it can, resumes. */
#define G_LOG_DOMAIN "chatd-replica"

#include "config.h"

#include "chat-replica-private.h"
#include "chat-journal.h"

/* A server of the in-sync set that answers: it has every committed entry and can lead. */
static gboolean
follower_can_take_over (ChatReplica *self)
{
  ChatReplStatus status;

  chat_repl_get_status (self->repl, &status);
  for (guint i = 0; i < status.n_peers && i < CHAT_REPL_MAX_NODES; i++)
    {
      const ChatReplPeerStatus *peer = &status.peers[i];
      if (peer->node != 0 && peer->node != self->node_id && peer->up && peer->in_sync)
        return TRUE;
    }
  return FALSE;
}

/* From the main loop, never inside a step of the core (the check runs in propose). */
static gboolean
hand_over (gpointer user_data)
{
  ChatReplica *self = user_data;
  g_autoptr (GError) error = NULL;

  if (!self->started || !chat_disk_guard_is_full (self->disk_guard)
      || chat_repl_get_role (self->repl) != CHAT_REPL_ROLE_LEADER)
    return G_SOURCE_REMOVE;
  if (!chat_replica_step_down (self, &error))
    g_warning ("Cannot hand leadership over: %s", error->message);
  return G_SOURCE_REMOVE;
}

static void
on_space_changed (gboolean full, guint64 available_bytes, gpointer user_data)
{
  ChatReplica *self = user_data;
  gboolean leader = chat_repl_get_role (self->repl) == CHAT_REPL_ROLE_LEADER;
  gboolean handing_over = full && leader && follower_can_take_over (self);

  if (!full)
    {
      chat_journal_event (CHAT_EVENT_DISK_SPACE_BACK, chat_repl_get_term (self->repl), NULL, NULL,
                          "%" G_GUINT64_FORMAT " bytes free again; writes are taken",
                          available_bytes);
      return;
    }
  chat_journal_event (CHAT_EVENT_DISK_FULL, chat_repl_get_term (self->repl), NULL, NULL,
                      "only %" G_GUINT64_FORMAT " bytes free; writes are refused with "
                      "“unavailable” until space returns%s",
                      available_bytes,
                      handing_over ? ", leadership goes to an in-sync follower" : "");
  if (handing_over)
    g_idle_add_full (G_PRIORITY_DEFAULT, hand_over, g_object_ref (self), g_object_unref);
}

void
chat_replica_space_start (ChatReplica *self)
{
  g_autofree char *dir = g_path_get_dirname (chat_store_get_path (self->store));

  self->disk_guard
      = chat_disk_guard_new (dir, self->config->disk_reserve_bytes, on_space_changed, self);
}

void
chat_replica_space_stop (ChatReplica *self)
{
  g_clear_pointer (&self->disk_guard, chat_disk_guard_free);
}

gboolean
chat_replica_space_refuses_writes (ChatReplica *self)
{
  return chat_disk_guard_is_full (self->disk_guard);
}
