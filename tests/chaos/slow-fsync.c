/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A disk that is sometimes slow to make writes durable, for the chaos test: preloaded into
 * chatd (LD_PRELOAD), it makes every $CHATD_TEST_FSYNC_SLOW_EVERY-th fsync() or fdatasync()
 * of the process (default: each one) take $CHATD_TEST_FSYNC_DELAY_MS longer, in whichever
 * thread calls it, as a disk shared with other busy writers does now and then. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef int (*SyncFunc) (int fd);

static long
number_from_env (const char *name, long fallback)
{
  const char *text = getenv (name);

  return text != NULL ? strtol (text, NULL, 10) : fallback;
}

static void
wait_for_the_disk (void)
{
  static unsigned long calls;
  long ms = number_from_env ("CHATD_TEST_FSYNC_DELAY_MS", 0);
  long every = number_from_env ("CHATD_TEST_FSYNC_SLOW_EVERY", 1);
  unsigned long call = __atomic_add_fetch (&calls, 1, __ATOMIC_RELAXED);
  struct timespec left = { ms / 1000, (ms % 1000) * 1000000L };

  if (ms <= 0 || (every > 1 && call % (unsigned long)every != 0))
    return;
  while (nanosleep (&left, &left) != 0 && errno == EINTR)
    ;
}

static int
delayed (const char *name, int fd)
{
  SyncFunc real = (SyncFunc)dlsym (RTLD_NEXT, name);
  int saved_errno = errno;

  wait_for_the_disk ();
  errno = saved_errno;
  if (real == NULL)
    {
      errno = ENOSYS;
      return -1;
    }
  return real (fd);
}

int
fsync (int fd)
{
  return delayed ("fsync", fd);
}

int
fdatasync (int fd)
{
  return delayed ("fdatasync", fd);
}
