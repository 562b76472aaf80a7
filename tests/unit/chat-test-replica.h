/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the unit tests that run a ChatReplica: deadlines, waiting until it serves. */
#pragma once

#include "chat-replica.h"

/* A timeout's callback: sets the gboolean user_data points to. */
static gboolean
chat_test_replica_on_deadline (gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the default main loop until replica serves as leader (an election takes up to a
 * second), for at most timeout_ms; fails the test past that. */
static G_GNUC_UNUSED void
chat_test_replica_run_until_serving (ChatReplica *replica, guint timeout_ms)
{
  gboolean expired = FALSE;
  guint deadline = g_timeout_add (timeout_ms, chat_test_replica_on_deadline, &expired);

  while (!chat_replica_is_serving (replica) && !expired)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (chat_replica_is_serving (replica));
  if (!expired)
    g_source_remove (deadline);
}
