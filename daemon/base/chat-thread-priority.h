/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Background threads (checkpoints, snapshot images) yield the processor and the disk. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The calling thread runs at nice 10 and at the lowest best-effort I/O priority: on a
 * machine whose cores and disk the servers share, a checkpoint or a snapshot may wait,
 * a main loop's fsync and answers to its peers may not. */
void chat_thread_yield_priority (void);

G_END_DECLS
