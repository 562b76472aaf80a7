/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One budget for the bytes of unfinished request lines across every client connection. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sets the budget (main thread, before serving). */
void chat_line_budget_set_limit (gsize bytes);

/* A connection's unfinished line changed from old_bytes to new_bytes. Returns FALSE
 * while the bytes held by all unfinished lines exceed the budget: a connection that
 * reads part of a line then is closed (which releases its bytes). */
gboolean chat_line_budget_update (gsize old_bytes, gsize new_bytes);

/* Bytes held by unfinished lines now. */
gsize chat_line_budget_total (void);

G_END_DECLS
