/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore's chat state: apply batches, crash safety, determinism, snapshots and the hash. */
#include "chat-store-test-util.h"
#include "chat-store-testing.h"

#include <sqlite3.h>
#include <string.h>

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
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  const char *op = "{\"op\":\"signup\",\"username\":\"alice\",\"password_hash\":\"h\","
                   "\"session\":\"s1\",\"at\":1}";
  g_autoptr (GBytes) bytes = g_bytes_new_static (op, strlen (op));
  g_autoptr (ChatApplyResult) result = NULL;
  g_autofree char *dump = NULL;

  g_ptr_array_add (entries, chat_repl_entry_new (1, 1, CHAT_REPL_ENTRY_OP, bytes));
  log_append (f, 0, entries);
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
  g_autofree char *reply = NULL;
  GString *summary = g_string_new (NULL);

  merge_reply_message (result);
  reply = object_to_string (result->reply);
  g_string_append_printf (summary, "%d %s %s", result->error_code, reply,
                          result->error_message != NULL ? result->error_message : "");
  for (guint i = 0; i < result->events->len; i++)
    {
      ChatApplyEvent *event = g_ptr_array_index (result->events, i);
      g_autofree char *text = object_to_string (event_object (event));
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

/* The SQL of every index of the store in dir, by name: a restore rebuilds them. */
static char *
index_schema (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "chatd.db", NULL);
  g_autoptr (GString) out = g_string_new (NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                                       " AND sql IS NOT NULL ORDER BY name",
                                       -1, &stmt, NULL),
                   ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_string_append_printf (out, "%s: %s\n", sqlite3_column_text (stmt, 0),
                            sqlite3_column_text (stmt, 1));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
test_snapshot_restore (void)
{
  StoreFixture a = { 0 }, b = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) snapshot = NULL;
  g_autofree char *hash_a = NULL, *hash_b = NULL, *later_a = NULL, *later_b = NULL;
  g_autoptr (ChatApplyResult) ra = NULL, rb = NULL;
  g_autofree char *owner = NULL, *indexes = NULL, *restored_indexes = NULL;
  guint64 applied = 0;

  store_fixture_set_up (&a, NULL);
  store_fixture_set_up (&b, NULL);
  run_script (&a, NULL);
  signup (&b, "zed"); /* state that the restore must replace */
  snapshot = chat_store_snapshot (a.store, &applied, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (applied, ==, G_N_ELEMENTS (script));
  indexes = index_schema (b.dir);
  g_assert_nonnull (strstr (indexes, "messages_by_conversation"));
  g_assert_true (chat_store_restore (b.store, snapshot, &error));
  g_assert_no_error (error);
  restored_indexes = index_schema (b.dir);
  g_assert_cmpstr (restored_indexes, ==, indexes);
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
  const char *dir;
  guint64 applied;
  GBytes *snapshot;
  GError *error;
} FileSnapshot;

/* The image file, built in the store's directory, read back and removed. */
static gpointer
snapshot_file_thread (gpointer data)
{
  FileSnapshot *job = data;
  g_autofree char *image_path = g_build_filename (job->dir, "image.tmp", NULL);
  char *contents = NULL;
  gsize size = 0;

  if (!chat_store_snapshot_file (job->path, image_path, &job->applied, &job->error))
    {
      g_assert_false (g_file_test (image_path, G_FILE_TEST_EXISTS));
      return NULL;
    }
  if (g_file_get_contents (image_path, &contents, &size, &job->error))
    job->snapshot = g_bytes_new_take (contents, size);
  g_unlink (image_path);
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
  job.dir = a.dir;
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

/* main() lowers the memdb VFS's default bound on a database's size to this, so that a state
 * of a few hundred KiB stands for one past the real default of 1 GiB (a restore loads the
 * image as a memdb database). */
#define SMALL_MEMDB_MAX (128 * 1024)
/* The worker's image has pages of this size (its header's bytes 16-17, big-endian). */
#define IMAGE_PAGE_BYTES 16384
#define LARGE_BODY_BYTES 8000
#define LARGE_SENDS 64

static void
apply_large_state (StoreFixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatApplyResult) signup = NULL;
  g_autofree char *body = g_strnfill (LARGE_BODY_BYTES, 'x');

  g_assert_true (chat_store_begin_apply (f->store, &error));
  signup = apply_op (f, "{\"op\":\"signup\",\"username\":\"ann\",\"password_hash\":\"h\","
                        "\"session\":\"s1\",\"at\":1}");
  g_assert_cmpint (signup->error_code, <, 0);
  for (guint i = 0; i < LARGE_SENDS; i++)
    {
      g_autofree char *op = g_strdup_printf ("{\"op\":\"send\",\"from\":\"ann\",\"to\":\"ann\","
                                             "\"body\":\"%s\",\"client_msg_id\":\"%u\",\"at\":2}",
                                             body, i);
      g_autoptr (ChatApplyResult) result = apply_op (f, op);

      g_assert_cmpint (result->error_code, <, 0);
    }
  g_assert_true (chat_store_commit_apply (f->store, &error));
}

/* The worker's image of a state of many pages is whole, in pages of 16 KiB, replaces what
 * was at its path, and restores past memdb's bound on a database's size. */
static void
test_snapshot_file_large_state (void)
{
  StoreFixture a = { 0 }, b = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *source = NULL, *restored = NULL;
  FileSnapshot job = { 0 };
  const guint8 *header = NULL;
  g_autofree char *stale = NULL;

  store_fixture_set_up (&a, NULL);
  store_fixture_set_up (&b, NULL);
  apply_large_state (&a);
  /* A file a crash left where the image goes is replaced, not opened. */
  stale = g_build_filename (a.dir, "image.tmp", NULL);
  g_assert_true (g_file_set_contents (stale, "left by a crash", -1, NULL));
  job.path = chat_store_get_path (a.store);
  job.dir = a.dir;
  g_thread_join (g_thread_new ("snapshot", snapshot_file_thread, &job));
  g_assert_no_error (job.error);
  g_assert_nonnull (job.snapshot);
  g_assert_cmpuint (g_bytes_get_size (job.snapshot), >, SMALL_MEMDB_MAX * 2);
  header = g_bytes_get_data (job.snapshot, NULL);
  g_assert_cmpuint ((guint)header[16] << 8 | header[17], ==, IMAGE_PAGE_BYTES);
  g_assert_cmpuint (g_bytes_get_size (job.snapshot) % IMAGE_PAGE_BYTES, ==, 0);
  g_assert_true (chat_store_restore (b.store, job.snapshot, &error));
  g_assert_no_error (error);
  source = store_hash (a.store);
  restored = store_hash (b.store);
  g_assert_cmpstr (restored, ==, source);
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
  /* Before SQLite's first use: it reads the bound once, at initialization. */
  g_assert_cmpint (sqlite3_config (SQLITE_CONFIG_MEMDB_MAXSIZE, (sqlite3_int64)SMALL_MEMDB_MAX), ==,
                   SQLITE_OK);
  g_test_init (&argc, &argv, NULL);

  store_test_add ("apply/batch", test_batch_commit_and_rollback);
  store_test_add ("apply/crash-before-commit", test_crash_before_commit);
  store_test_add ("apply/null-op", test_null_op_moves_applied_index);
  g_test_add_func ("/store/determinism", test_determinism);
  store_test_add ("hash/tracks-changes", test_hash_tracks_changes);
  g_test_add_func ("/store/snapshot/restore", test_snapshot_restore);
  g_test_add_func ("/store/snapshot/file-while-writing", test_snapshot_file_while_writing);
  g_test_add_func ("/store/snapshot/file-large-state", test_snapshot_file_large_state);
  store_test_add ("snapshot/rejects-garbage", test_restore_rejects_garbage);

  return g_test_run ();
}
