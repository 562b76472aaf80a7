/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where the main loop's time goes: slices of work that held it long enough to matter. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A slice of main-loop work at least this long is logged (debug) with what it was. */
#define CHAT_SLICE_SLOW_US (20 * 1000)

/* Logs "Main loop held N ms by WHAT (COUNT)" in the chatd-node domain when the time since
 * start_us (g_get_monotonic_time) reaches CHAT_SLICE_SLOW_US. Main-loop code only. */
void chat_slice_note (const char *what, gint64 start_us, guint count);

G_END_DECLS
