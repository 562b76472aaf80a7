/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Background threads at a lower processor and I/O priority than the main loop. */
#include "config.h"

#include "chat-thread-priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BACKGROUND_NICE 10
/* linux/ioprio.h: class best-effort (2) in the top bits, level 7 (the lowest). */
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_BEST_EFFORT_LOWEST ((2 << IOPRIO_CLASS_SHIFT) | 7)
#define IOPRIO_WHO_PROCESS 1

void
chat_thread_yield_priority (void)
{
  pid_t tid = gettid ();

  /* Both are hints: a failure leaves the thread as it was. */
  setpriority (PRIO_PROCESS, (id_t)tid, BACKGROUND_NICE);
#ifdef SYS_ioprio_set
  syscall (SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_BEST_EFFORT_LOWEST);
#endif
}
