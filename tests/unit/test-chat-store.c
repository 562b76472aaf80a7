/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore tests: opening, schema and migrations, the health check. */
#include "chat-store-test-util.h"
#include "chat-store-testing.h"

#include <sqlite3.h>

/* Runs a single-value query against the database file with a separate connection. */
static char *
peek (StoreFixture *f, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *value = NULL;

  g_assert_cmpint (
      sqlite3_open_v2 (chat_store_get_path (f->store), &db, SQLITE_OPEN_READONLY, NULL), ==,
      SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

static void
write_file_db (const char *path, const char *sql)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static void
test_open_creates_schema (StoreFixture *f, gconstpointer data)
{
  g_autofree char *version = peek (f, "PRAGMA user_version");
  g_autofree char *mode = peek (f, "PRAGMA journal_mode");
  g_autofree char *tables = peek (f, "SELECT group_concat (name, ',') FROM (SELECT name FROM"
                                     " sqlite_schema WHERE type = 'table' ORDER BY name)");

  g_assert_true (g_str_has_suffix (chat_store_get_path (f->store), "chatd.db"));
  g_assert_cmpstr (version, ==, "3");
  g_assert_cmpstr (mode, ==, "wal");
  g_assert_cmpstr (tables, ==, "accounts,log,messages,meta,replay,sessions,tombstones");
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 0);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 0);
  g_assert_cmpuint (chat_store_count_accounts (f->store), ==, 0);
}

static void
test_open_reopen_keeps_state (StoreFixture *f, gconstpointer data)
{
  g_autofree char *before = NULL, *after = NULL;

  signup (f, "Alice");
  signup (f, "bob");
  send_message (f, "alice", "bob", "hi");
  before = store_hash (f->store);
  store_fixture_reopen (f);
  after = store_hash (f->store);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 3);
  g_assert_cmpuint (chat_store_count_accounts (f->store), ==, 2);
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 1);
}

/* The watchdog's health check: passes on a usable database, fails once SQLite cannot
 * read it (here another process dropped a table underneath the server). */
static void
test_probe (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (chat_store_probe (f->store, &error));
  g_assert_no_error (error);
  write_file_db (chat_store_get_path (f->store), "DROP TABLE meta");
  g_assert_false (chat_store_probe (f->store, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
}

static void
test_open_migrates_empty_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("chat-store-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "chatd.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatStore) store = NULL;

  /* A version 0 database (created by hand, no tables) is brought to the current version. */
  write_file_db (path, "CREATE TABLE unrelated (x); DROP TABLE unrelated;");
  store = chat_store_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (chat_store_count_accounts (store), ==, 0);
  g_clear_object (&store);
  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* A version 1 database (meta WITHOUT ROWID, no replay table) keeps its meta values. */
static void
test_open_migrates_version_1 (void)
{
  g_autofree char *dir = g_dir_make_tmp ("chat-store-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "chatd.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatStore) store = chat_store_open (dir, &error);
  g_autoptr (GBytes) hard_state = g_bytes_new_static ("7 2", 3);
  g_autoptr (GBytes) value = NULL;

  g_assert_no_error (error);
  g_assert_true (chat_store_set_meta (store, "repl.hard_state", hard_state, &error));
  g_clear_object (&store);
  /* Turn the file back into what version 1 wrote. */
  write_file_db (path, "BEGIN;"
                       "CREATE TABLE meta_v1 (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
                       " WITHOUT ROWID;"
                       "INSERT INTO meta_v1 SELECT key, value FROM meta;"
                       "DROP TABLE meta; ALTER TABLE meta_v1 RENAME TO meta;"
                       "DROP TABLE replay; PRAGMA user_version = 1; COMMIT;");
  store = chat_store_open (dir, &error);
  g_assert_no_error (error);
  value = chat_store_get_meta (store, "repl.hard_state");
  g_assert_nonnull (value);
  g_assert_true (g_bytes_equal (value, hard_state));
  g_clear_object (&store);
  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* A version 2 database (two unread indexes) gets the one of version 3, and the unread
 * counts and mark_read, which now read that index alone, see the same messages. */
static void
test_open_migrates_version_2 (StoreFixture *f, gconstpointer data)
{
  g_autofree char *path = g_strdup (chat_store_get_path (f->store));
  g_autofree char *index_sql = NULL, *old_index = NULL, *version = NULL;
  g_autoptr (JsonObject) counts = NULL;
  g_autoptr (ChatApplyResult) read = NULL;
  g_autoptr (GError) error = NULL;

  signup (f, "alice");
  signup (f, "bob");
  signup (f, "carol");
  send_message (f, "bob", "alice", "one");
  send_message (f, "carol", "alice", "two");
  send_message (f, "bob", "alice", "three");
  g_clear_object (&f->store);
  write_file_db (path, "BEGIN; DROP INDEX messages_unread;"
                       "CREATE INDEX messages_unread ON messages (to_key, id) WHERE read = 0;"
                       "CREATE INDEX messages_unread_by_sender"
                       " ON messages (to_key, from_key, id) WHERE read = 0;"
                       "PRAGMA user_version = 2; COMMIT;");
  store_fixture_open (f);

  version = peek (f, "PRAGMA user_version");
  g_assert_cmpstr (version, ==, "3");
  index_sql = peek (f, "SELECT sql FROM sqlite_master WHERE name = 'messages_unread'");
  g_assert_nonnull (strstr (index_sql, "(to_key, id, from_key)"));
  old_index = peek (f, "SELECT sql FROM sqlite_master WHERE name = 'messages_unread_by_sender'");
  g_assert_null (old_index);
  counts = chat_store_unread_count (f->store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (counts, "total"), ==, 3);
  g_assert_cmpint (
      json_object_get_int_member (json_object_get_object_member (counts, "by_user"), "bob"), ==, 2);
  read = apply_op (f, "{\"op\":\"mark_read\",\"user\":\"alice\",\"with\":\"bob\",\"up_to\":100}");
  assert_applied (read);
  g_assert_cmpint (json_object_get_int_member (read->reply, "marked"), ==, 2);
  g_clear_pointer (&counts, json_object_unref);
  counts = chat_store_unread_count (f->store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (counts, "total"), ==, 1);
}

static void
test_open_refuses_newer_schema (void)
{
  g_autofree char *dir = g_dir_make_tmp ("chat-store-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "chatd.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatStore) store = NULL;

  write_file_db (path, "PRAGMA user_version = 99");
  store = chat_store_open (dir, &error);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_assert_null (store);
  g_assert_nonnull (strstr (error->message, "newer"));
  g_remove (path);
  g_rmdir (dir);
}

static void
test_open_bad_dir (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatStore) store = chat_store_open ("/proc/chatd-no-such-dir/x", &error);

  g_assert_null (store);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  store_test_add ("open/creates-schema", test_open_creates_schema);
  store_test_add ("open/reopen", test_open_reopen_keeps_state);
  store_test_add ("probe", test_probe);
  g_test_add_func ("/store/open/migrates-empty-file", test_open_migrates_empty_file);
  g_test_add_func ("/store/open/migrates-version-1", test_open_migrates_version_1);
  store_test_add ("open/migrates-version-2", test_open_migrates_version_2);
  g_test_add_func ("/store/open/refuses-newer-schema", test_open_refuses_newer_schema);
  g_test_add_func ("/store/open/bad-dir", test_open_bad_dir);

  return g_test_run ();
}
