/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore's connection: transactions (commit, rollback, a failed COMMIT reported), the
 * savepoint, the prepare/bind/step helpers, and the synchronous mode of every write. */
#include "chat-store-test-util.h"
#include "chat-store-connection.h"

/* A value of the store's own connection (it sees its open transaction). */
static gint64
int_query (StoreFixture *f, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  gint64 value = -1;

  g_assert_cmpint (sqlite3_prepare_v2 (f->store->db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

static gint64
count_meta (StoreFixture *f, const char *key)
{
  g_autoptr (GBytes) value = chat_store_get_meta (f->store, key);

  return value != NULL ? 1 : 0;
}

typedef struct
{
  StoreFixture *f;
  const char *key;
  gboolean fail;       /* the work fails after writing */
  gboolean break_keys; /* the work leaves a deferred foreign key broken: COMMIT fails */
} Work;

static gboolean
write_meta (ChatStore *store, gpointer data, GError **error)
{
  Work *w = data;
  g_autoptr (GBytes) value = g_bytes_new_static ("1", 1);

  if (!chat_store_run (w->f->store, "INSERT INTO meta (key, value) VALUES (?1, ?2)", error,
                       CHAT_SQL_TEXT (w->key), CHAT_SQL_BLOB (value)))
    return FALSE;
  if (w->break_keys
      && (!chat_store_exec (w->f->store, "PRAGMA defer_foreign_keys = ON", error)
          || !chat_store_run (w->f->store,
                              "INSERT INTO sessions (token_hash, user_key, created_at)"
                              " VALUES (?1, ?2, 0)",
                              error, CHAT_SQL_TEXT ("t"), CHAT_SQL_TEXT ("nobody"))))
    return FALSE;
  if (w->fail)
    g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "the work failed");
  return !w->fail;
}

static void
test_transaction_commits (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Work work = { f, "a", FALSE, FALSE };

  g_assert_true (
      chat_store_transaction (f->store, CHAT_STORE_WRITE_SYNCED, write_meta, &work, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_get_autocommit (f->store->db), !=, 0);
  store_fixture_reopen (f);
  g_assert_cmpint (count_meta (f, "a"), ==, 1);
}

static void
test_transaction_rolls_back (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Work work = { f, "a", TRUE, FALSE };

  /* The work's own error comes back, and nothing it wrote stays. */
  g_assert_false (
      chat_store_transaction (f->store, CHAT_STORE_WRITE_UNSYNCED, write_meta, &work, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_assert_cmpstr (error->message, ==, "the work failed");
  g_assert_cmpint (sqlite3_get_autocommit (f->store->db), !=, 0);
  g_assert_cmpint (count_meta (f, "a"), ==, 0);
  /* Without a GError from the caller the work still fails and rolls back. */
  g_assert_false (
      chat_store_transaction (f->store, CHAT_STORE_WRITE_UNSYNCED, write_meta, &work, NULL));
  g_assert_cmpint (count_meta (f, "a"), ==, 0);
}

/* A COMMIT that fails (here: a deferred foreign key left broken) is an error, and the
 * transaction is rolled back rather than left open for the next write to inherit. */
static void
test_failed_commit_is_reported (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Work broken = { f, "a", FALSE, TRUE };
  Work fine = { f, "b", FALSE, FALSE };

  g_assert_false (
      chat_store_transaction (f->store, CHAT_STORE_WRITE_SYNCED, write_meta, &broken, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "Committing"));
  g_assert_nonnull (strstr (error->message, "FOREIGN KEY"));
  g_assert_cmpint (sqlite3_get_autocommit (f->store->db), !=, 0);
  g_assert_cmpint (count_meta (f, "a"), ==, 0);
  g_clear_error (&error);
  g_assert_true (
      chat_store_transaction (f->store, CHAT_STORE_WRITE_SYNCED, write_meta, &fine, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_meta (f, "b"), ==, 1);
}

static gboolean
count_in_work (ChatStore *store, gpointer data, GError **error)
{
  StoreFixture *f = ((Work *)data)->f;

  return count_meta (f, "a") == 1;
}

/* A read transaction inside an open write transaction is that transaction: it sees what
 * the write has not committed yet. A savepoint's failure undoes its own work alone. */
static void
test_nested_read_and_savepoint (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Work first = { f, "a", FALSE, FALSE };
  Work failing = { f, "b", TRUE, FALSE };

  g_assert_true (chat_store_begin (f->store, CHAT_STORE_WRITE_UNSYNCED, &error));
  g_assert_true (chat_store_savepoint (f->store, write_meta, &first, &error));
  g_assert_true (chat_store_transaction (f->store, CHAT_STORE_READ, count_in_work, &first, &error));
  g_assert_false (chat_store_savepoint (f->store, write_meta, &failing, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_clear_error (&error);
  g_assert_cmpint (sqlite3_get_autocommit (f->store->db), ==, 0);
  g_assert_true (chat_store_end (f->store, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_meta (f, "a"), ==, 1);
  g_assert_cmpint (count_meta (f, "b"), ==, 0);
  /* Ending with a rollback undoes the lot. */
  first.key = "c";
  g_assert_true (chat_store_begin (f->store, CHAT_STORE_WRITE_UNSYNCED, &error));
  g_assert_true (write_meta (f->store, &first, &error));
  g_assert_false (chat_store_end (f->store, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_meta (f, "c"), ==, 0);
}

/* Ints, text, NULL text and blobs are bound in order; a statement that does not prepare is
 * an error, not a crash. */
static void
test_bind_and_step (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) blob = g_bytes_new_static ("b\0b", 3);
  g_autoptr (ChatStmt) stmt = NULL;
  gboolean found = FALSE;

  stmt = chat_store_query (f->store, "SELECT ?1 + 1, ?2, ?3 IS NULL, length (?4), ?4 = ?5", &error,
                           CHAT_SQL_INT (G_GINT64_CONSTANT (1) << 40), CHAT_SQL_TEXT ("two"),
                           CHAT_SQL_TEXT (NULL), CHAT_SQL_BLOB (blob), CHAT_SQL_BLOB (blob));
  g_assert_nonnull (stmt);
  g_assert_true (chat_store_step_row (f->store, stmt, &found, &error));
  g_assert_true (found);
  g_assert_cmpint (sqlite3_column_int64 (stmt, 0), ==, (G_GINT64_CONSTANT (1) << 40) + 1);
  g_assert_cmpstr ((const char *)sqlite3_column_text (stmt, 1), ==, "two");
  g_assert_cmpint (sqlite3_column_int (stmt, 2), ==, 1);
  g_assert_cmpint (sqlite3_column_int (stmt, 3), ==, 3);
  g_assert_cmpint (sqlite3_column_int (stmt, 4), ==, 1);
  g_assert_no_error (error);
  g_assert_false (chat_store_run (f->store, "DELETE FROM no_such_table WHERE x = ?1", &error,
                                  CHAT_SQL_INT (1)));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_assert_nonnull (strstr (error->message, "no_such_table"));
}

/* --- the synchronous mode of each write (docs/storage.md, "Durability") ------------ */

#define SYNC_OFF 0
#define SYNC_FULL 2

static gint64
synchronous (StoreFixture *f)
{
  return int_query (f, "PRAGMA synchronous");
}

static GPtrArray *
one_entry (guint64 index)
{
  return log_entries_new (1, index, index, "e");
}

static void
test_synchronous_modes (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) value = g_bytes_new_static ("v", 1);
  g_autoptr (GPtrArray) first = one_entry (1), second = one_entry (2);
  g_autoptr (GPtrArray) ops = g_ptr_array_new ();
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GBytes) image = NULL;
  g_autoptr (ChatApplyResult) result = NULL;
  gint64 id = 1;
  guint64 applied = 0;

  g_assert_cmpint (synchronous (f), ==, SYNC_FULL); /* as opened */
  g_assert_true (chat_store_append_log_unsynced (f->store, 0, first, &error));
  g_assert_cmpint (synchronous (f), ==, SYNC_OFF);
  g_assert_true (chat_store_append_log (f->store, 0, second, &error));
  g_assert_cmpint (synchronous (f), ==, SYNC_FULL);
  g_assert_true (chat_store_set_meta_unsynced (f->store, "k", value, &error));
  g_assert_cmpint (synchronous (f), ==, SYNC_OFF);
  g_assert_true (chat_store_set_meta (f->store, "k", value, &error));
  g_assert_cmpint (synchronous (f), ==, SYNC_FULL);
  result = apply_op (f, NULL); /* an apply batch */
  g_assert_cmpint (synchronous (f), ==, SYNC_OFF);
  g_ptr_array_add (ops, value);
  g_assert_true (chat_store_add_replay (f->store, ops, NULL, &error));
  g_assert_cmpint (synchronous (f), ==, SYNC_FULL);
  g_array_append_val (ids, id);
  g_assert_true (chat_store_delete_replay (f->store, ids, &error));
  g_assert_cmpint (synchronous (f), ==, SYNC_OFF);
  image = chat_store_snapshot (f->store, &applied, &error);
  g_assert_nonnull (image);
  g_assert_true (chat_store_restore (f->store, image, &error));
  g_assert_cmpint (synchronous (f), ==, SYNC_FULL);
  g_assert_true (chat_store_compact_log (f->store, 1, &error));
  g_assert_cmpint (synchronous (f), ==, SYNC_OFF);
  g_assert_true (chat_store_delete_meta (f->store, "k", &error));
  g_assert_cmpint (synchronous (f), ==, SYNC_FULL);
  g_assert_no_error (error);
}

/* A store opened again on a path whose old store is still open, then the old one closed:
 * the snapshot worker's lookup by path finds the new one (under AddressSanitizer, the
 * old code's lookup read the freed path it had kept as the key). */
static void
test_wal_gauge_reopened (void)
{
  const char *path = "/nonexistent/chatd.db";
  ChatWalGauge *old_gauge = chat_wal_gauge_new (path);
  ChatWalGauge *new_gauge = NULL;

  chat_wal_gauge_set (old_gauge, 1);
  new_gauge = chat_wal_gauge_new (path);
  chat_wal_gauge_set (new_gauge, 2);
  chat_wal_gauge_free (old_gauge);
  g_assert_cmpint (chat_wal_gauge_frames (path), ==, 2);
  chat_wal_gauge_free (new_gauge);
  g_assert_cmpint (chat_wal_gauge_frames (path), ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/connection/wal-gauge-reopened", test_wal_gauge_reopened);

  store_test_add ("connection/transaction/commits", test_transaction_commits);
  store_test_add ("connection/transaction/rolls-back", test_transaction_rolls_back);
  store_test_add ("connection/transaction/failed-commit", test_failed_commit_is_reported);
  store_test_add ("connection/transaction/nested", test_nested_read_and_savepoint);
  store_test_add ("connection/bind-and-step", test_bind_and_step);
  store_test_add ("connection/synchronous-modes", test_synchronous_modes);

  return g_test_run ();
}
