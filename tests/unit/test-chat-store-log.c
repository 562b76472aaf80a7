/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore's replicated log and meta values: the core's entries in and out, truncation,
 * compaction, and an append that fails leaving the log as it was. */
#include "chat-store-test-util.h"
#include "chat-store-testing.h"

#include <sqlite3.h>

/* --- log --------------------------------------------------------------------- */

static void
test_log_append_load (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) first = log_entries_new (1, 1, 3, "a");
  g_autofree char *all = NULL, *tail = NULL, *none = NULL, *reopened = NULL;

  log_append (f, 0, first);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 3);
  all = log_dump (f, 0);
  tail = log_dump (f, 3);
  none = log_dump (f, 4);
  g_assert_cmpstr (all, ==, "1:1:1:a-1 1:2:2:a-2 1:3:0:a-3");
  g_assert_cmpstr (tail, ==, "1:3:0:a-3");
  g_assert_cmpstr (none, ==, "");
  store_fixture_reopen (f);
  reopened = log_dump (f, 1);
  g_assert_cmpstr (reopened, ==, all);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 3);
}

static void
test_log_truncate (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) first = log_entries_new (1, 1, 5, "a");
  g_autoptr (GPtrArray) second = log_entries_new (2, 3, 4, "b");
  g_autoptr (GPtrArray) empty = g_ptr_array_new ();
  g_autofree char *dump = NULL, *shorter = NULL;

  log_append (f, 0, first);
  log_append (f, 3, second);
  dump = log_dump (f, 1);
  g_assert_cmpstr (dump, ==, "1:1:1:a-1 1:2:2:a-2 2:3:0:b-3 2:4:1:b-4");
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 4);
  /* Truncation alone, with nothing appended. */
  log_append (f, 2, empty);
  shorter = log_dump (f, 1);
  g_assert_cmpstr (shorter, ==, "1:1:1:a-1");
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 1);
  log_append (f, 0, NULL);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 1);
}

/* Records a compaction and deletes what it covers, all of it. */
static void
compact (StoreFixture *f, guint64 up_to)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (chat_store_compact_log (f->store, up_to, &error));
  while (chat_store_compact_pending (f->store))
    g_assert_true (chat_store_compact_more (f->store, &error));
  g_assert_no_error (error);
}

static void
test_log_compact (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) first = log_entries_new (1, 1, 5, "a");
  g_autofree char *rest = NULL, *after_all = NULL;

  log_append (f, 0, first);
  compact (f, 2);
  rest = log_dump (f, 0);
  g_assert_cmpstr (rest, ==, "1:3:0:a-3 1:4:1:a-4 1:5:2:a-5");
  /* Compacting everything keeps the last index: the snapshot covers it. */
  compact (f, 5);
  after_all = log_dump (f, 0);
  g_assert_cmpstr (after_all, ==, "");
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 5);
  store_fixture_reopen (f);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 5);
  /* A lower compaction later does not move the mark back. */
  compact (f, 1);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 5);
}

/* --- meta -------------------------------------------------------------------- */

static void
test_meta (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) one = g_bytes_new_static ("term=3", 6);
  g_autoptr (GBytes) two = g_bytes_new_static ("term=4\0x", 8);
  g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr (GBytes) got = NULL, got_empty = NULL, missing = NULL;

  g_assert_true (chat_store_set_meta (f->store, "hard_state", one, &error));
  g_assert_true (chat_store_set_meta (f->store, "hard_state", two, &error));
  g_assert_true (chat_store_set_meta (f->store, "empty", empty, &error));
  g_assert_no_error (error);
  store_fixture_reopen (f);
  got = chat_store_get_meta (f->store, "hard_state");
  got_empty = chat_store_get_meta (f->store, "empty");
  missing = chat_store_get_meta (f->store, "nothing");
  g_assert_true (g_bytes_equal (got, two));
  g_assert_nonnull (got_empty);
  g_assert_cmpuint (g_bytes_get_size (got_empty), ==, 0);
  g_assert_null (missing);
}

/* The store keeps the core's entries as they are: a type the core does not know (written
 * by a newer chatd) comes back as written, for the core's host to decide on. */
static void
test_log_keeps_entries_as_written (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GPtrArray) loaded = NULL;
  ChatReplEntry *back = NULL;

  g_ptr_array_add (entries, chat_repl_entry_new (7, 1, (ChatReplEntryType)9, empty));
  log_append (f, 0, entries);
  loaded = chat_store_load_log (f->store, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->len, ==, 1);
  back = g_ptr_array_index (loaded, 0);
  g_assert_cmpuint (back->term, ==, 7);
  g_assert_cmpuint (back->index, ==, 1);
  g_assert_cmpint (back->type, ==, 9);
  g_assert_nonnull (back->data);
  g_assert_cmpuint (g_bytes_get_size (back->data), ==, 0);
}

static void
exec_elsewhere (StoreFixture *f, const char *sql)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (chat_store_get_path (f->store), &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

/* An append that fails half-way (the second new entry is refused) changes nothing: the
 * truncation before it and the first new entry are rolled back with it. */
static void
test_log_failed_append_changes_nothing (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) first = log_entries_new (1, 1, 5, "a");
  g_autoptr (GPtrArray) second = log_entries_new (2, 3, 4, "b");
  g_autofree char *before = NULL, *after = NULL;

  log_append (f, 0, first);
  before = log_dump (f, 1);
  exec_elsewhere (
      f, "CREATE TRIGGER refuse_b4 BEFORE INSERT ON log WHEN CAST (NEW.data AS TEXT) = 'b-4'"
         " BEGIN SELECT RAISE (ABORT, 'refused'); END");
  g_assert_false (chat_store_append_log_unsynced (f->store, 3, second, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "Appending to the log"));
  after = log_dump (f, 1);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 5);
  /* The connection is out of the failed transaction: the next append works. */
  g_clear_error (&error);
  exec_elsewhere (f, "DROP TRIGGER refuse_b4");
  log_append (f, 3, second);
  g_clear_pointer (&after, g_free);
  after = log_dump (f, 1);
  g_assert_cmpstr (after, ==, "1:1:1:a-1 1:2:2:a-2 2:3:0:b-3 2:4:1:b-4");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  store_test_add ("log/append-load", test_log_append_load);
  store_test_add ("log/truncate", test_log_truncate);
  store_test_add ("log/compact", test_log_compact);
  store_test_add ("log/keeps-entries-as-written", test_log_keeps_entries_as_written);
  store_test_add ("log/failed-append-changes-nothing", test_log_failed_append_changes_nothing);
  store_test_add ("meta", test_meta);

  return g_test_run ();
}
