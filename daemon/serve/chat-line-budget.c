/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One budget for the bytes of unfinished request lines across every client connection. */
#define G_LOG_DOMAIN "chatd-server"

#include "config.h"

#include "chat-defaults.h"
#include "chat-line-budget.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

/* Freed line buffers stay in the C library's heap unless given back: after many
 * connections with partial lines close, ask it to return them once the total has
 * dropped far below its peak. */
#define TRIM_MIN_PEAK_BYTES (8 * 1024 * 1024)

static gsize limit_bytes = CHAT_DEFAULT_PARTIAL_LINES_BUDGET_BYTES;
static gsize total_bytes;
static gsize peak_bytes;
static guint trim_idle;

void
chat_line_budget_set_limit (gsize bytes)
{
  limit_bytes = bytes;
}

gsize
chat_line_budget_total (void)
{
  return total_bytes;
}

static gboolean
trim_heap (gpointer user_data)
{
  trim_idle = 0;
#ifdef __GLIBC__
  malloc_trim (0);
#endif
  peak_bytes = total_bytes;
  return G_SOURCE_REMOVE;
}

gboolean
chat_line_budget_update (gsize old_bytes, gsize new_bytes)
{
  g_warn_if_fail (total_bytes >= old_bytes);
  total_bytes = total_bytes - MIN (old_bytes, total_bytes) + new_bytes;
  peak_bytes = MAX (peak_bytes, total_bytes);
  if (peak_bytes >= TRIM_MIN_PEAK_BYTES && total_bytes <= peak_bytes / 4 && trim_idle == 0)
    trim_idle = g_idle_add_full (G_PRIORITY_LOW, trim_heap, NULL, NULL);
  return total_bytes <= limit_bytes;
}
