/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The main-loop slice probe (G_MESSAGES_DEBUG=chatd-node shows it). */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-slice.h"

void
chat_slice_note (const char *what, gint64 start_us, guint count)
{
  gint64 took = g_get_monotonic_time () - start_us;

  if (took >= CHAT_SLICE_SLOW_US)
    g_debug ("Main loop held %" G_GINT64_FORMAT " ms by %s (%u)", took / 1000, what, count);
}
