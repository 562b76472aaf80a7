/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore tests: schema and migrations, log, meta, apply batches, crash safety, snapshots. */
#include "chat-store-test-util.h"

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
  g_assert_cmpstr (version, ==, "2");
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

/* --- log --------------------------------------------------------------------- */

static GPtrArray *
entries_new (guint64 term, guint64 first, guint64 last, const char *tag)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_log_entry_free);

  for (guint64 i = first; i <= last; i++)
    {
      g_autofree char *text = g_strdup_printf ("%s-%" G_GUINT64_FORMAT, tag, i);
      g_autoptr (GBytes) data = g_bytes_new (text, strlen (text));
      g_ptr_array_add (entries, chat_log_entry_new (term, i, (guint)(i % 3), data));
    }
  return entries;
}

static void
append (StoreFixture *f, guint64 truncate_from, GPtrArray *entries)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (chat_store_append_log (f->store, truncate_from, entries, &error));
  g_assert_no_error (error);
}

/* "term:index:type:data" for each entry from index from. */
static char *
log_dump (StoreFixture *f, guint64 from)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = chat_store_load_log (f->store, from, &error);
  GString *dump = g_string_new (NULL);

  g_assert_no_error (error);
  for (guint i = 0; i < entries->len; i++)
    {
      ChatLogEntry *entry = g_ptr_array_index (entries, i);
      gsize len = 0;
      const char *data = g_bytes_get_data (entry->data, &len);
      g_string_append_printf (dump, "%s%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT ":%u:%.*s",
                              i > 0 ? " " : "", entry->term, entry->index, entry->type, (int)len,
                              data != NULL ? data : "");
    }
  return g_string_free (dump, FALSE);
}

static void
test_log_append_load (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) first = entries_new (1, 1, 3, "a");
  g_autofree char *all = NULL, *tail = NULL, *none = NULL, *reopened = NULL;

  append (f, 0, first);
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
  g_autoptr (GPtrArray) first = entries_new (1, 1, 5, "a");
  g_autoptr (GPtrArray) second = entries_new (2, 3, 4, "b");
  g_autoptr (GPtrArray) empty = g_ptr_array_new ();
  g_autofree char *dump = NULL, *shorter = NULL;

  append (f, 0, first);
  append (f, 3, second);
  dump = log_dump (f, 1);
  g_assert_cmpstr (dump, ==, "1:1:1:a-1 1:2:2:a-2 2:3:0:b-3 2:4:1:b-4");
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 4);
  /* Truncation alone, with nothing appended. */
  append (f, 2, empty);
  shorter = log_dump (f, 1);
  g_assert_cmpstr (shorter, ==, "1:1:1:a-1");
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 1);
  append (f, 0, NULL);
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
  g_autoptr (GPtrArray) first = entries_new (1, 1, 5, "a");
  g_autoptr (GError) error = NULL;
  g_autofree char *rest = NULL, *after_all = NULL;

  append (f, 0, first);
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

/* --- apply batches ----------------------------------------------------------- */

static void
test_batch_commit_and_rollback (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *before = NULL, *after = NULL;
  g_autoptr (ChatApplyResult) first = NULL, second = NULL, third = NULL;

  g_assert_true (chat_store_begin_apply (f->store, &error));
  first = apply_op (f, "{\"op\":\"signup\",\"username\":\"alice\",\"password_hash\":\"h\","
                       "\"session\":\"s1\",\"at\":1}");
  second = apply_op (f, "{\"op\":\"signup\",\"username\":\"bob\",\"password_hash\":\"h\","
                        "\"session\":\"s2\",\"at\":1}");
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 2);
  g_assert_true (chat_store_commit_apply (f->store, &error));
  g_assert_no_error (error);
  before = store_hash (f->store);

  g_assert_true (chat_store_begin_apply (f->store, &error));
  third = apply_to (f->store, 3,
                    "{\"op\":\"signup\",\"username\":\"carol\","
                    "\"password_hash\":\"h\",\"session\":\"s3\",\"at\":1}");
  g_assert_cmpuint (chat_store_count_accounts (f->store), ==, 3);
  chat_store_rollback_apply (f->store);
  after = store_hash (f->store);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 2);
  store_fixture_reopen (f);
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 2);
}

static void
test_crash_before_commit (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_log_entry_free);
  const char *op = "{\"op\":\"signup\",\"username\":\"alice\",\"password_hash\":\"h\","
                   "\"session\":\"s1\",\"at\":1}";
  g_autoptr (GBytes) bytes = g_bytes_new_static (op, strlen (op));
  g_autoptr (ChatApplyResult) result = NULL;
  g_autofree char *dump = NULL;

  g_ptr_array_add (entries, chat_log_entry_new (1, 1, 0, bytes));
  append (f, 0, entries);
  g_assert_true (chat_store_begin_apply (f->store, &error));
  result = apply_op (f, op);
  assert_applied (result);
  /* The process dies here: the batch was never committed. */
  g_test_expect_message ("chatd-store", G_LOG_LEVEL_WARNING, "*apply batch*");
  store_fixture_reopen (f);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 0);
  g_assert_cmpuint (chat_store_count_accounts (f->store), ==, 0);
  g_assert_cmpuint (chat_store_last_log_index (f->store), ==, 1);
  dump = log_dump (f, 1);
  g_assert_nonnull (strstr (dump, "alice"));
  /* Replaying the entry gives the state the lost batch would have had. */
  g_clear_pointer (&result, chat_apply_result_free);
  result = apply_op (f, op);
  assert_applied (result);
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 1);
}

static void
test_null_op_moves_applied_index (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) result = apply_op (f, NULL);

  g_assert_cmpint (result->error_code, <, 0);
  g_assert_cmpuint (json_object_get_size (result->reply), ==, 0);
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 1);
  store_fixture_reopen (f);
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 1);
}

/* --- determinism and snapshots ----------------------------------------------- */

/* Ops that touch every table, including refusals and corrupt entries. */
static const char *const script[] = {
  "{\"op\":\"signup\",\"username\":\"Alice\",\"password_hash\":\"h1\",\"session\":\"sa\",\"at\":"
  "10}",
  "{\"op\":\"signup\",\"username\":\"bob\",\"password_hash\":\"h2\",\"session\":\"sb\",\"at\":11}",
  "{\"op\":\"signup\",\"username\":\"ALICE\",\"password_hash\":\"h3\",\"session\":\"sx\",\"at\":"
  "12}",
  "{\"op\":\"signup\",\"username\":\"carol\",\"password_hash\":\"h4\",\"session\":\"sc\",\"at\":"
  "13}",
  "{\"op\":\"login\",\"username\":\"BOB\",\"session\":\"sb2\",\"at\":14}",
  "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"bob\",\"body\":\"one\",\"client_msg_id\":\"1\","
  "\"at\":20,\"session\":\"sa\"}",
  "{\"op\":\"send\",\"from\":\"bob\",\"to\":\"alice\",\"body\":\"two\",\"client_msg_id\":\"1\","
  "\"at\":21}",
  "{\"op\":\"send\",\"from\":\"carol\",\"to\":\"bob\",\"body\":\"three\",\"client_msg_id\":\"x\","
  "\"at\":22}",
  "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"bob\",\"body\":\"again\",\"client_msg_id\":\"1\","
  "\"at\":23}",
  "{\"op\":\"mark_read\",\"user\":\"bob\",\"with\":\"alice\",\"up_to\":100}",
  "{\"op\":\"mark_read\",\"user\":\"alice\",\"ids\":[7,7,1]}",
  "{\"op\":\"delete_messages\",\"user\":\"bob\",\"ids\":[8]}",
  "{\"op\":\"nonsense\"}",
  "{\"no_op\":true}",
  "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"bob\",\"body\":7}",
  "{\"op\":\"logout\",\"session\":\"sb2\",\"origin\":{\"session\":\"sb2\",\"request\":4}}",
  "{\"op\":\"send\",\"from\":\"carol\",\"to\":\"alice\",\"body\":\"four\",\"client_msg_id\":\"y\","
  "\"at\":30}",
  "{\"op\":\"delete_account\",\"username\":\"Carol\"}",
};

static char *
result_summary (ChatApplyResult *result)
{
  g_autofree char *reply = object_to_string (result->reply);
  GString *summary = g_string_new (NULL);

  g_string_append_printf (summary, "%d %s %s", result->error_code, reply,
                          result->error_message != NULL ? result->error_message : "");
  for (guint i = 0; i < result->events->len; i++)
    {
      ChatApplyEvent *event = g_ptr_array_index (result->events, i);
      g_autofree char *text = object_to_string (event->event);
      g_string_append_printf (summary, " [%s %s %s]", event->user_key, text,
                              event->except_session != NULL ? event->except_session : "-");
    }
  for (guint i = 0; i < result->ended_sessions->len; i++)
    g_string_append_printf (summary, " ended:%s",
                            (const char *)g_ptr_array_index (result->ended_sessions, i));
  return g_string_free (summary, FALSE);
}

static void
run_script (StoreFixture *f, GPtrArray *summaries)
{
  g_autoptr (GError) error = NULL;

  /* Two batches, split in the middle, as a server would commit them. */
  for (guint i = 0; i < G_N_ELEMENTS (script); i++)
    {
      g_autoptr (ChatApplyResult) result = NULL;
      if (i == 0 || i == G_N_ELEMENTS (script) / 2)
        g_assert_true (chat_store_begin_apply (f->store, &error));
      result = apply_op (f, script[i]);
      if (summaries != NULL)
        g_ptr_array_add (summaries, result_summary (result));
      if (i == G_N_ELEMENTS (script) / 2 - 1 || i == G_N_ELEMENTS (script) - 1)
        g_assert_true (chat_store_commit_apply (f->store, &error));
    }
  g_assert_no_error (error);
}

static void
test_determinism (void)
{
  StoreFixture a = { 0 }, b = { 0 };
  g_autoptr (GPtrArray) results_a = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) results_b = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *hash_a = NULL, *hash_b = NULL, *empty = NULL;

  store_fixture_set_up (&a, NULL);
  store_fixture_set_up (&b, NULL);
  empty = store_hash (a.store);
  run_script (&a, results_a);
  run_script (&b, results_b);
  hash_a = store_hash (a.store);
  hash_b = store_hash (b.store);
  g_assert_cmpstr (hash_a, ==, hash_b);
  g_assert_cmpstr (hash_a, !=, empty);
  g_assert_cmpuint (strlen (hash_a), ==, 64);
  for (guint i = 0; i < results_a->len; i++)
    g_assert_cmpstr (g_ptr_array_index (results_a, i), ==, g_ptr_array_index (results_b, i));
  store_fixture_tear_down (&a, NULL);
  store_fixture_tear_down (&b, NULL);
}

static void
test_hash_tracks_changes (StoreFixture *f, gconstpointer data)
{
  g_autofree char *empty = store_hash (f->store);
  g_autofree char *one = NULL, *refused = NULL;
  g_autoptr (ChatApplyResult) result = NULL;

  signup (f, "alice");
  one = store_hash (f->store);
  g_assert_cmpstr (empty, !=, one);
  result = apply_op (f, "{\"op\":\"login\",\"username\":\"nobody\",\"session\":\"s\",\"at\":1}");
  assert_refused (result, CHAT_ERROR_BAD_CREDENTIALS);
  refused = store_hash (f->store);
  g_assert_cmpstr (one, ==, refused);
}

static void
test_snapshot_restore (void)
{
  StoreFixture a = { 0 }, b = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) snapshot = NULL;
  g_autofree char *hash_a = NULL, *hash_b = NULL, *later_a = NULL, *later_b = NULL;
  g_autoptr (ChatApplyResult) ra = NULL, rb = NULL;
  g_autofree char *owner = NULL;
  guint64 applied = 0;

  store_fixture_set_up (&a, NULL);
  store_fixture_set_up (&b, NULL);
  run_script (&a, NULL);
  signup (&b, "zed"); /* state that the restore must replace */
  snapshot = chat_store_snapshot (a.store, &applied, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (applied, ==, G_N_ELEMENTS (script));
  g_assert_true (chat_store_restore (b.store, snapshot, &error));
  g_assert_no_error (error);
  hash_a = store_hash (a.store);
  hash_b = store_hash (b.store);
  g_assert_cmpstr (hash_a, ==, hash_b);
  g_assert_cmpuint (chat_store_applied_index (b.store), ==, applied);
  owner = chat_store_session_user (b.store, "sa");
  g_assert_cmpstr (owner, ==, "Alice");
  g_assert_null (chat_store_user_name (b.store, "zed"));

  /* Both continue identically, and the restore survives a reopen. */
  store_fixture_reopen (&b);
  g_assert_cmpuint (chat_store_applied_index (b.store), ==, applied);
  ra = apply_to (a.store, applied + 1, "{\"op\":\"delete_account\",\"username\":\"bob\"}");
  rb = apply_to (b.store, applied + 1, "{\"op\":\"delete_account\",\"username\":\"bob\"}");
  later_a = store_hash (a.store);
  later_b = store_hash (b.store);
  g_assert_cmpstr (later_a, ==, later_b);
  g_assert_cmpstr (later_a, !=, hash_a);
  store_fixture_tear_down (&a, NULL);
  store_fixture_tear_down (&b, NULL);
}

typedef struct
{
  const char *path;
  guint64 applied;
  GBytes *snapshot;
  GError *error;
} FileSnapshot;

static gpointer
snapshot_file_thread (gpointer data)
{
  FileSnapshot *job = data;

  job->snapshot = chat_store_snapshot_file (job->path, &job->applied, &job->error);
  return NULL;
}

/* A worker thread reads the committed state through its own connection while the store
 * holds a batch open: it sees the last commit and its applied index, not the batch. */
static void
test_snapshot_file_while_writing (void)
{
  StoreFixture a = { 0 }, b = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatApplyResult) pending = NULL;
  g_autofree char *committed = NULL, *restored = NULL, *after = NULL;
  FileSnapshot job = { 0 };

  store_fixture_set_up (&a, NULL);
  store_fixture_set_up (&b, NULL);
  run_script (&a, NULL);
  committed = store_hash (a.store);
  g_assert_true (chat_store_begin_apply (a.store, &error));
  pending = apply_op (&a, "{\"op\":\"delete_account\",\"username\":\"bob\"}");
  job.path = chat_store_get_path (a.store);
  g_thread_join (g_thread_new ("snapshot", snapshot_file_thread, &job));
  g_assert_no_error (job.error);
  g_assert_nonnull (job.snapshot);
  g_assert_cmpuint (job.applied, ==, G_N_ELEMENTS (script));
  g_assert_true (chat_store_commit_apply (a.store, &error));
  after = store_hash (a.store);
  g_assert_cmpstr (after, !=, committed);
  g_assert_true (chat_store_restore (b.store, job.snapshot, &error));
  g_assert_no_error (error);
  restored = store_hash (b.store);
  g_assert_cmpstr (restored, ==, committed);
  g_assert_cmpuint (chat_store_applied_index (b.store), ==, G_N_ELEMENTS (script));
  g_bytes_unref (job.snapshot);
  store_fixture_tear_down (&a, NULL);
  store_fixture_tear_down (&b, NULL);
}

static void
test_restore_rejects_garbage (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) garbage = g_bytes_new_static ("not a snapshot at all", 21);
  g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);
  g_autofree char *before = NULL, *after = NULL;

  signup (f, "alice");
  before = store_hash (f->store);
  g_assert_false (chat_store_restore (f->store, garbage, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_clear_error (&error);
  g_assert_false (chat_store_restore (f->store, empty, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  after = store_hash (f->store);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 1);
  /* The store is still usable, snapshots included. */
  signup (f, "bob");
  g_clear_error (&error);
  g_autoptr (GBytes) snapshot = chat_store_snapshot (f->store, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (snapshot);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                                            \
  g_test_add ("/store/" path, StoreFixture, NULL, store_fixture_set_up, func,                      \
              store_fixture_tear_down)
  ADD ("open/creates-schema", test_open_creates_schema);
  ADD ("open/reopen", test_open_reopen_keeps_state);
  ADD ("probe", test_probe);
  g_test_add_func ("/store/open/migrates-empty-file", test_open_migrates_empty_file);
  g_test_add_func ("/store/open/migrates-version-1", test_open_migrates_version_1);
  g_test_add_func ("/store/open/refuses-newer-schema", test_open_refuses_newer_schema);
  g_test_add_func ("/store/open/bad-dir", test_open_bad_dir);
  ADD ("log/append-load", test_log_append_load);
  ADD ("log/truncate", test_log_truncate);
  ADD ("log/compact", test_log_compact);
  ADD ("meta", test_meta);
  ADD ("apply/batch", test_batch_commit_and_rollback);
  ADD ("apply/crash-before-commit", test_crash_before_commit);
  ADD ("apply/null-op", test_null_op_moves_applied_index);
  g_test_add_func ("/store/determinism", test_determinism);
  ADD ("hash/tracks-changes", test_hash_tracks_changes);
  g_test_add_func ("/store/snapshot/restore", test_snapshot_restore);
  g_test_add_func ("/store/snapshot/file-while-writing", test_snapshot_file_while_writing);
  ADD ("snapshot/rejects-garbage", test_restore_rejects_garbage);
#undef ADD

  return g_test_run ();
}
