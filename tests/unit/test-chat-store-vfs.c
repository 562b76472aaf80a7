/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store's VFS: a transaction's WAL frames reach the file in a few writes, and every
 * committed frame is in the file, with valid checksums, when the commit returns. */
#include "chat-store-vfs.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

typedef struct
{
  char *dir;
  char *path;
  sqlite3 *db; /* the store's VFS, as the main connection */
  int wal_frames;
} VfsFixture;

static int
on_wal_commit (void *data, sqlite3 *db, const char *name, int frames)
{
  ((VfsFixture *)data)->wal_frames = frames;
  return SQLITE_OK;
}

static void
exec (sqlite3 *db, const char *sql)
{
  char *message = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
}

static gint64
query_int (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  gint64 value = 0;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

static void
vfs_setup (VfsFixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("chat-store-vfs-XXXXXX", NULL);
  f->path = g_build_filename (f->dir, "test.db", NULL);
  g_assert_cmpint (sqlite3_open_v2 (f->path, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                    chat_store_vfs_name ()),
                   ==, SQLITE_OK);
  /* As the store runs it: WAL, no automatic checkpoint, no fsync by SQLite. */
  exec (f->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;"
               "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL);"
               "CREATE INDEX t_by_v ON t (v);");
  sqlite3_wal_autocheckpoint (f->db, 0);
  sqlite3_wal_hook (f->db, on_wal_commit, f);
}

static void
vfs_teardown (VfsFixture *f, gconstpointer data)
{
  g_autoptr (GFile) dir = g_file_new_for_path (f->dir);
  g_autoptr (GFileEnumerator) children = NULL;
  GFileInfo *info = NULL;

  sqlite3_close (f->db);
  children = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME, 0, NULL, NULL);
  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (f->dir, g_file_info_get_name (info), NULL);

      g_remove (child);
      g_object_unref (info);
    }
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

/* rows rows with random 200-byte values (so the index's pages are scattered), keys from
 * first, in one transaction. */
static void
insert_rows (VfsFixture *f, gint64 first, guint rows)
{
  sqlite3_stmt *stmt = NULL;

  exec (f->db, "BEGIN");
  g_assert_cmpint (sqlite3_prepare_v2 (f->db,
                                       "INSERT OR REPLACE INTO t VALUES (?1, randomblob (200))", -1,
                                       &stmt, NULL),
                   ==, SQLITE_OK);
  for (guint i = 0; i < rows; i++)
    {
      sqlite3_bind_int64 (stmt, 1, first + i);
      g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
      sqlite3_reset (stmt);
    }
  sqlite3_finalize (stmt);
  exec (f->db, "COMMIT");
}

/* What a crash right now would leave: the database and the WAL files copied without the
 * shared memory, so opening the copy recovers from the WAL's frames and checksums alone. */
static void
assert_copy_recovers (VfsFixture *f, gint64 rows)
{
  g_autofree char *copy_dir = g_dir_make_tmp ("chat-store-vfs-copy-XXXXXX", NULL);
  g_autofree char *copy = g_build_filename (copy_dir, "test.db", NULL);
  g_autofree char *copy_wal = g_strconcat (copy, "-wal", NULL);
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *shm = g_strconcat (copy, "-shm", NULL);
  sqlite3 *db = NULL;
  gsize length = 0;

  g_assert_true (g_file_get_contents (f->path, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (copy, contents, (gssize)length, NULL));
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (wal, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (copy_wal, contents, (gssize)length, NULL));
  g_assert_cmpint (sqlite3_open_v2 (copy, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (query_int (db, "SELECT count (*) FROM t"), ==, rows);
  g_assert_cmpint (
      query_int (db, "SELECT count (*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"),
      ==, 0);
  sqlite3_close (db);
  g_remove (copy_wal);
  g_remove (shm);
  g_remove (copy);
  g_rmdir (copy_dir);
}

/* A transaction of a few hundred frames reaches the file in a few writes, and both
 * another connection and a recovery from the files see all of it at once. */
static void
test_batches_frames (VfsFixture *f, gconstpointer data)
{
  sqlite3 *other = NULL;
  guint flushes = chat_store_vfs_flushes ();
  int frames_before = f->wal_frames;

  insert_rows (f, 1, 3000);
  g_assert_cmpint (f->wal_frames - frames_before, >, 200);
  /* 4,120 bytes a frame, at most 128 KiB a write: 31 frames each, and the commit. */
  g_assert_cmpuint (chat_store_vfs_flushes () - flushes, >=, 1);
  g_assert_cmpuint (chat_store_vfs_flushes () - flushes, <=,
                    (guint)(f->wal_frames - frames_before) / 31 + 2);
  g_assert_cmpint (sqlite3_open_v2 (f->path, &other, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (query_int (other, "SELECT count (*) FROM t"), ==, 3000);
  sqlite3_close (other);
  assert_copy_recovers (f, 3000);
}

/* A transaction larger than the page cache writes frames before its commit and rewrites
 * some of them in place; then the WAL starts over from its first frame once checkpointed.
 * Each time the files alone hold every committed row. */
static void
test_spill_and_restart (VfsFixture *f, gconstpointer data)
{
  exec (f->db, "PRAGMA cache_size = 20");
  insert_rows (f, 1, 4000);
  insert_rows (f, 1, 4000); /* the same keys again: pages changed twice in one spill */
  assert_copy_recovers (f, 4000);
  g_assert_cmpint (sqlite3_wal_checkpoint_v2 (f->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL),
                   ==, SQLITE_OK);
  insert_rows (f, 4001, 500);
  g_assert_cmpint (f->wal_frames, <, 1000); /* started over */
  assert_copy_recovers (f, 4500);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/vfs/batches-frames", VfsFixture, NULL, vfs_setup, test_batches_frames,
              vfs_teardown);
  g_test_add ("/store/vfs/spill-and-restart", VfsFixture, NULL, vfs_setup, test_spill_and_restart,
              vfs_teardown);
  return g_test_run ();
}
