/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore off the main loop's path: WAL checkpoints and fsyncs on their own threads,
 * compaction in slices. */
#include "chat-store-test-util.h"
#include "chat-store-testing.h"

#include <sqlite3.h>

/* count entries of size bytes each from index first, in one append (fsynced or not). */
static void
append_entries (StoreFixture *f, guint64 truncate_from, guint64 first, guint count, gsize size,
                gboolean synced)
{
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < count; i++)
    {
      char *body = g_malloc (size);
      g_autoptr (GBytes) data = NULL;

      memset (body, 'a' + (int)((first + i) % 26), size);
      data = g_bytes_new_take (body, size);
      g_ptr_array_add (entries, chat_repl_entry_new (1, first + i, CHAT_REPL_ENTRY_NOOP, data));
    }
  if (synced)
    g_assert_true (chat_store_append_log (f->store, truncate_from, entries, &error));
  else
    g_assert_true (chat_store_append_log_unsynced (f->store, truncate_from, entries, &error));
  g_assert_no_error (error);
}

static void
append_sized (StoreFixture *f, guint64 truncate_from, guint64 first, guint count, gsize size)
{
  append_entries (f, truncate_from, first, count, size, TRUE);
}

static guint64
count_entries (StoreFixture *f, guint64 from)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = chat_store_load_log (f->store, from, &error);

  g_assert_no_error (error);
  return entries->len;
}

/* Commits past the checkpoint threshold (4,000 pages) are checkpointed by the store's
 * thread, never inside a commit of the main connection, and the WAL then starts over. */
static void
test_checkpoint_in_background (StoreFixture *f, gconstpointer data)
{
  guint64 next = 1;
  gboolean restarted = FALSE;
  int most_frames = 0;

  /* 24 MiB in 64 KiB entries: about 6,000 WAL pages. The thread may checkpoint and the WAL
   * start over before the last of them, so what counts is the longest the WAL got. */
  for (guint i = 0; i < 24; i++, next += 16)
    {
      append_sized (f, 0, next, 16, 64 * 1024);
      most_frames = MAX (most_frames, chat_store_wal_frames (f->store));
    }
  g_assert_cmpint (most_frames, >=, 4000);
  /* A small commit now and then, until a checkpoint has copied everything and the next
   * commit restarts the WAL from its beginning. */
  for (guint i = 0; i < 200 && !restarted; i++, next++)
    {
      append_sized (f, 0, next, 1, 100);
      restarted = chat_store_wal_frames (f->store) < 4000;
      if (!restarted)
        g_usleep (50 * 1000);
    }
  g_assert_true (restarted);
  g_assert_cmpuint (chat_store_background_checkpoints (f->store), >=, 1);
  store_fixture_reopen (f);
  g_assert_cmpuint (count_entries (f, 1), ==, next - 1);
}

/* A large compaction is recorded at once and finishes over several calls; entries written
 * again after a truncation (a snapshot installed) are never compacted by an older target. */
static void
test_compact_in_slices (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  guint calls = 0;

  append_sized (f, 0, 1, 30000, 1024);
  g_assert_true (chat_store_compact_log (f->store, 29000, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 30000);
  g_assert_true (chat_store_compact_pending (f->store));
  /* Whatever is still below the compaction is never loaded: the log is read after it. */
  g_assert_cmpuint (count_entries (f, 29001), ==, 1000);
  while (chat_store_compact_pending (f->store) && calls++ < 10000)
    {
      g_assert_true (chat_store_compact_more (f->store, &error));
      g_assert_no_error (error);
    }
  g_assert_false (chat_store_compact_pending (f->store));
  g_assert_cmpuint (count_entries (f, 0), ==, 1000);

  /* A new compaction under way, then the whole log replaced from index 1. */
  append_sized (f, 0, 30001, 30000, 1024);
  g_assert_true (chat_store_compact_log (f->store, 59000, &error));
  g_assert_true (chat_store_compact_pending (f->store));
  append_sized (f, 1, 1, 5, 10);
  while (chat_store_compact_pending (f->store) && calls++ < 20000)
    g_assert_true (chat_store_compact_more (f->store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_entries (f, 0), ==, 5);
}

/* Writes without syncs until the WAL holds at least frames frames, while a reader keeps
 * it from starting over (as the snapshot worker's long read does); returns the next index. */
static guint64
grow_wal_behind_reader (StoreFixture *f, int frames)
{
  g_autofree char *path = g_build_filename (f->dir, "chatd.db", NULL);
  sqlite3 *reader = NULL;
  guint64 next = 1;

  g_assert_cmpint (sqlite3_open_v2 (path, &reader, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (reader, "BEGIN; SELECT count(*) FROM log", NULL, NULL, NULL), ==,
                   SQLITE_OK);
  while (chat_store_wal_frames (f->store) < frames && next < 200000)
    {
      append_entries (f, 0, next, 16, 64 * 1024, FALSE);
      next += 16;
    }
  g_assert_cmpint (chat_store_wal_frames (f->store), >=, frames);
  sqlite3_exec (reader, "COMMIT", NULL, NULL, NULL);
  sqlite3_close (reader);
  return next;
}

/* Small writes back to back that wait whenever the store holds them, as the server's
 * flushes do under a steady load (where the writer always comes before a checkpoint beside
 * it has copied everything), until a write starts the WAL over; returns the next index. */
static guint64
write_until_restart (StoreFixture *f, guint64 next)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (chat_store_wal_frames (f->store) >= 16000)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      while (chat_store_writes_held (f->store))
        g_usleep (1000);
      append_entries (f, 0, next++, 1, 100, FALSE);
    }
  return next;
}

/* Writes that do not wait for holds take the WAL past frames (its bound, or twice that)
 * while a reader keeps the thread's checkpoints from copying it; then small writes that
 * honour the holds. Past the bound (64 MiB), the thread's next checkpoint runs while the
 * writes wait (chat_store_writes_held, which the server's flushes honour), so that it
 * copies everything and a write after the hold starts the WAL over. (The main
 * connection's own checkpoint did that before, and its fsyncs held the whole loop.) Once
 * the reader is gone the first checkpoint has its whole backlog to copy: the writes wait a
 * short while at most and go on beside it, and the hold after it copies only what they
 * wrote meanwhile. Nothing is lost on the way. */
static void
test_restart_after_reader (StoreFixture *f, gconstpointer data)
{
  guint64 next = grow_wal_behind_reader (f, GPOINTER_TO_INT (data));
  guint64 holds = chat_store_write_holds (f->store);

  next = write_until_restart (f, next);
  g_assert_cmpuint (chat_store_write_holds (f->store), >, holds);
  store_fixture_reopen (f);
  g_assert_cmpuint (count_entries (f, 1), ==, next - 1);
}

/* Snapshot images read back to back by another thread, as the server's snapshot worker
 * does under a steady load, until told to stop. */
typedef struct
{
  char *path;
  gint stop;
  guint taken;
} SnapshotLoop;

static gint64
file_size (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 ? (gint64)st.st_size : 0;
}

static gpointer
take_snapshots (gpointer data)
{
  SnapshotLoop *loop = data;
  g_autofree char *image_path = g_strconcat (loop->path, "-image", NULL);

  while (!g_atomic_int_get (&loop->stop))
    {
      g_autoptr (GError) error = NULL;
      guint64 applied = 0;

      g_assert_true (chat_store_snapshot_file (loop->path, image_path, &applied, &error));
      g_assert_no_error (error);
      g_assert_cmpint (file_size (image_path), >, 0);
      g_atomic_int_inc (&loop->taken);
    }
  g_unlink (image_path);
  return NULL;
}

/* Unsynced commits without a pause but for the holds (chat_store_writes_held, which the
 * server's flushes honour), with the checkpoint thread and a snapshot reader at work
 * beside them: the WAL still starts over once past its bound (16,000 pages), so its file
 * never grows far past that, however much is written. (It grew to all of it, five times
 * the bound, when the main connection's checkpoint gave way to the thread's.) */
static void
test_bounded_under_snapshots (StoreFixture *f, gconstpointer data)
{
  /* 4,120 bytes a frame (a 4 KiB page and its header). What passes the bound is written
   * while the thread finishes a checkpoint or a snapshot reads, at the speed of commits
   * without fsyncs (16,000 frames in 60 ms here); at twice the bound each write waits for
   * a checkpoint of the thread's, so the file ends within a commit of that: 2.0 times the
   * bound in 8 runs, up to 8 times when the writes waited only for the thread's
   * checkpoints that began with them held. */
  const gint64 most_bytes = (gint64)16000 * 4120 * 5 / 2;
  g_autofree char *path = g_build_filename (f->dir, "chatd.db", NULL);
  g_autofree char *wal_path = g_strconcat (path, "-wal", NULL);
  SnapshotLoop loop = { path, 0, 0 };
  GThread *reader = NULL;
  gint64 largest = 0, written = 0;
  int frames = 0;

  reader = g_thread_new ("snapshots", take_snapshots, &loop);
  /* Five times the bound in all: the same 16 entries of 16 KiB written over and over. */
  while (written < 5 * 16000)
    {
      int before = frames;

      while (chat_store_writes_held (f->store))
        g_usleep (1000);
      append_entries (f, 1, 1, 16, 16 * 1024, FALSE);
      frames = chat_store_wal_frames (f->store);
      written += frames >= before ? frames - before : frames;
      largest = MAX (largest, file_size (wal_path));
    }
  g_atomic_int_set (&loop.stop, 1);
  g_thread_join (reader);
  g_assert_cmpuint (g_atomic_int_get (&loop.taken), >=, 2);
  g_test_message ("largest WAL file: %" G_GINT64_FORMAT " bytes, %u snapshots", largest,
                  loop.taken);
  g_assert_cmpint (largest, <=, most_bytes);
  store_fixture_reopen (f);
  g_assert_cmpuint (count_entries (f, 1), ==, 16);
}

typedef struct
{
  guint calls;
  guint64 last_ticket;
  gboolean out_of_order;
  GThread *thread; /* that delivered them */
} Synced;

static void
on_synced (guint64 ticket, gint64 duration_us, const GError *error, gpointer user_data)
{
  Synced *synced = user_data;

  g_assert_no_error (error);
  g_assert_cmpint (duration_us, >=, 0);
  synced->out_of_order |= ticket <= synced->last_ticket;
  synced->last_ticket = ticket;
  synced->calls++;
  synced->thread = g_thread_self ();
}

/* Unsynced appends are fsynced by the store's sync thread: each request's ticket is
 * reported, in order, in the main context (never inside the request), several requests
 * made while one fsync runs are answered by the next one, and what was written is there
 * after the store is reopened. */
static void
test_sync_thread (StoreFixture *f, gconstpointer data)
{
  Synced synced = { 0 };
  guint64 ticket = 0;
  g_autoptr (GError) error = NULL;

  chat_store_set_synced_func (f->store, on_synced, &synced);
  for (guint i = 0; i < 50; i++)
    {
      guint64 previous = ticket;

      append_entries (f, 0, 1 + i * 10, 10, 1024, FALSE);
      ticket = chat_store_request_sync (f->store);
      g_assert_cmpuint (ticket, >, previous);
    }
  g_assert_cmpuint (synced.calls, ==, 0);
  while (synced.last_ticket < ticket)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (synced.out_of_order);
  g_assert_cmpuint (synced.last_ticket, ==, ticket);
  g_assert_cmpuint (synced.calls, <=, 50);
  g_assert_true (synced.thread == g_thread_self ());
  g_assert_true (chat_store_probe (f->store, &error));
  g_assert_no_error (error);
  chat_store_set_synced_func (f->store, NULL, NULL);
  store_fixture_reopen (f);
  g_assert_cmpuint (count_entries (f, 1), ==, 500);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  store_test_add ("wal/checkpoint-in-background", test_checkpoint_in_background);
  store_test_add ("wal/sync-thread", test_sync_thread);
  /* Past the WAL's bound, and past twice the bound (the hard bound). */
  g_test_add ("/store/wal/restart-after-held-writes", StoreFixture, GINT_TO_POINTER (16000),
              store_fixture_set_up, test_restart_after_reader, store_fixture_tear_down);
  g_test_add ("/store/wal/hard-bound", StoreFixture, GINT_TO_POINTER (32000), store_fixture_set_up,
              test_restart_after_reader, store_fixture_tear_down);
  store_test_add ("wal/bounded-under-snapshots", test_bounded_under_snapshots);
  store_test_add ("log/compact-in-slices", test_compact_in_slices);
  return g_test_run ();
}
