/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running the default main context until something happens or a deadline passes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* No deadline: run until the condition holds. */
#define CHAT_TEST_LOOP_FOREVER G_MAXUINT

typedef gboolean (*ChatTestCondition) (gpointer user_data);

/* Iterates the default main context (blocking between events; a timeout source wakes it
 * at the deadline) until condition (user_data) holds or timeout_ms passed. Returns
 * whether the condition holds. */
gboolean chat_test_loop_until (ChatTestCondition condition, gpointer user_data, guint timeout_ms);
/* The usual conditions: *slot is no longer NULL, *flag is TRUE, *counter reached
 * target, *counter is down to 0. */
gboolean chat_test_loop_until_set (gpointer *slot, guint timeout_ms);
gboolean chat_test_loop_until_true (const gboolean *flag, guint timeout_ms);
gboolean chat_test_loop_until_count (const guint *counter, guint target, guint timeout_ms);
gboolean chat_test_loop_until_zero (const guint *counter, guint timeout_ms);
/* Iterates the default main context for ms milliseconds. */
void chat_test_loop_for (guint ms);

G_END_DECLS
