/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running the default main context until something happens or a deadline passes. */
#include "chat-test-loop.h"

static gboolean
on_deadline (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
chat_test_loop_until (ChatTestCondition condition, gpointer user_data, guint timeout_ms)
{
  gboolean expired = FALSE, held = FALSE;
  guint deadline = 0;

  if (timeout_ms != CHAT_TEST_LOOP_FOREVER)
    deadline = g_timeout_add (timeout_ms, on_deadline, &expired);
  while (!(held = condition (user_data)) && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired && deadline != 0)
    g_source_remove (deadline);
  return held;
}

static gboolean
slot_set (gpointer user_data)
{
  gpointer *slot = user_data;

  return *slot != NULL;
}

gboolean
chat_test_loop_until_set (gpointer *slot, guint timeout_ms)
{
  return chat_test_loop_until (slot_set, slot, timeout_ms);
}

static gboolean
flag_true (gpointer user_data)
{
  const gboolean *flag = user_data;

  return *flag;
}

gboolean
chat_test_loop_until_true (const gboolean *flag, guint timeout_ms)
{
  return chat_test_loop_until (flag_true, (gpointer)flag, timeout_ms);
}

typedef struct
{
  const guint *counter;
  guint target;
  gboolean down; /* wait for 0 rather than for target */
} Count;

static gboolean
count_reached (gpointer user_data)
{
  const Count *count = user_data;

  return count->down ? *count->counter == 0 : *count->counter >= count->target;
}

gboolean
chat_test_loop_until_count (const guint *counter, guint target, guint timeout_ms)
{
  Count count = { .counter = counter, .target = target };

  return chat_test_loop_until (count_reached, &count, timeout_ms);
}

gboolean
chat_test_loop_until_zero (const guint *counter, guint timeout_ms)
{
  Count count = { .counter = counter, .down = TRUE };

  return chat_test_loop_until (count_reached, &count, timeout_ms);
}

static gboolean
never (gpointer user_data)
{
  return FALSE;
}

void
chat_test_loop_for (guint ms)
{
  chat_test_loop_until (never, NULL, ms);
}
