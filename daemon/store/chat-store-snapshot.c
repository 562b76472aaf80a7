/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: snapshots of the chat state (a serialized SQLite database) and the state hash. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-state-private.h"
#include "chat-error.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

/* A snapshot is an SQLite database image with these tables; info.format says
 * which layout, so a newer chatd can still read an older snapshot. */
#define SNAPSHOT_FORMAT 1

static const char snapshot_schema[]
    = "CREATE TABLE snap.info (format INTEGER NOT NULL, applied_index INTEGER NOT NULL);"
      "CREATE TABLE snap.accounts (key TEXT PRIMARY KEY, name TEXT NOT NULL,"
      " password_hash TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE snap.sessions (token_hash TEXT PRIMARY KEY, user_key TEXT NOT NULL,"
      " created_at INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE snap.messages (id INTEGER PRIMARY KEY, from_key TEXT NOT NULL,"
      " to_key TEXT NOT NULL, body TEXT NOT NULL, sent_at INTEGER NOT NULL, read INTEGER NOT NULL,"
      " read_seq INTEGER, client_msg_id TEXT NOT NULL);"
      "CREATE TABLE snap.tombstones (user_key TEXT NOT NULL, id INTEGER NOT NULL,"
      " seq INTEGER NOT NULL, PRIMARY KEY (user_key, id)) WITHOUT ROWID;";

#define ACCOUNT_COLUMNS "key, name, password_hash, created_at"
#define SESSION_COLUMNS "token_hash, user_key, created_at"
#define MESSAGE_COLUMNS "id, from_key, to_key, body, sent_at, read, read_seq, client_msg_id"
#define TOMBSTONE_COLUMNS "user_key, id, seq"

/* Parents before children, so foreign keys hold at every insert. */
static const char copy_to_snapshot[]
    = "INSERT INTO snap.accounts SELECT " ACCOUNT_COLUMNS " FROM main.accounts;"
      "INSERT INTO snap.sessions SELECT " SESSION_COLUMNS " FROM main.sessions;"
      "INSERT INTO snap.messages SELECT " MESSAGE_COLUMNS " FROM main.messages;"
      "INSERT INTO snap.tombstones SELECT " TOMBSTONE_COLUMNS " FROM main.tombstones;";

static const char replace_from_snapshot[] = "DELETE FROM main.tombstones;"
                                            "DELETE FROM main.sessions;"
                                            "DELETE FROM main.messages;"
                                            "DELETE FROM main.accounts;"
                                            "INSERT INTO main.accounts (" ACCOUNT_COLUMNS
                                            ") SELECT " ACCOUNT_COLUMNS " FROM snap.accounts;"
                                            "INSERT INTO main.sessions (" SESSION_COLUMNS
                                            ") SELECT " SESSION_COLUMNS " FROM snap.sessions;"
                                            "INSERT INTO main.messages (" MESSAGE_COLUMNS
                                            ") SELECT " MESSAGE_COLUMNS " FROM snap.messages;"
                                            "INSERT INTO main.tombstones (" TOMBSTONE_COLUMNS
                                            ") SELECT " TOMBSTONE_COLUMNS " FROM snap.tombstones;";

static void
detach (sqlite3 *db)
{
  sqlite3_exec (db, "DETACH DATABASE snap", NULL, NULL, NULL);
}

static gboolean
read_applied_on (sqlite3 *db, guint64 *applied_index, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;

  if (sqlite3_prepare_v2 (db,
                          "SELECT CAST (CAST (value AS TEXT) AS INTEGER) FROM main.meta"
                          " WHERE key = '" CHAT_STORE_META_APPLIED "'",
                          -1, &stmt, NULL)
      != SQLITE_OK)
    return chat_store_db_fail (db, error, "Reading the applied index");
  *applied_index = sqlite3_step (stmt) == SQLITE_ROW ? (guint64)sqlite3_column_int64 (stmt, 0) : 0;
  return TRUE;
}

/* Inside one read transaction: in WAL mode it sees one committed state, whatever another
 * connection writes meanwhile, and the applied index of that same state. */
static gboolean
copy_state (sqlite3 *db, gpointer data, GError **error)
{
  guint64 *applied_index = data;
  g_autofree char *info = NULL;

  if (!read_applied_on (db, applied_index, error))
    return FALSE;
  info = g_strdup_printf ("INSERT INTO snap.info VALUES (%d, %" G_GUINT64_FORMAT ")",
                          SNAPSHOT_FORMAT, *applied_index);
  return chat_store_db_exec (db, snapshot_schema, error) && chat_store_db_exec (db, info, error)
         && chat_store_db_exec (db, copy_to_snapshot, error);
}

/* Copies the chat state of db's main database into the attached database "snap", in one
 * read transaction; detaches "snap" when that fails. */
static gboolean
copy_into_snap (sqlite3 *db, guint64 *applied_index, GError **error)
{
  if (chat_store_db_transaction (db, "BEGIN", copy_state, applied_index, error))
    return TRUE;
  detach (db);
  g_prefix_error (error, "Taking a snapshot: ");
  return FALSE;
}

/* The chat state of db's main database as an image: copied into an attached in-memory
 * database, which is serialized. */
static GBytes *
serialize_state (sqlite3 *db, guint64 *applied_index, GError **error)
{
  guint64 copied_index = 0;
  unsigned char *data = NULL;
  sqlite3_int64 size = 0;

  if (!chat_store_db_exec (db, "ATTACH DATABASE ':memory:' AS snap", error)
      || !copy_into_snap (db, &copied_index, error))
    return NULL;
  data = sqlite3_serialize (db, "snap", &size, 0);
  detach (db);
  if (data == NULL)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                           "Taking a snapshot: cannot serialize it (out of memory)");
      return NULL;
    }
  if (applied_index != NULL)
    *applied_index = copied_index;
  return g_bytes_new_with_free_func (data, (gsize)size, sqlite3_free, data);
}

GBytes *
chat_store_snapshot (ChatStore *self, guint64 *applied_index, GError **error)
{
  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (!self->in_apply, NULL);

  return serialize_state (self->db, applied_index, error);
}

/* --- a snapshot read through a connection of its own ----------------------------- */

/* How long a snapshot read waits for the WAL to start over, and how often it looks. */
#define SHORT_WAL_WAIT_US (5 * G_USEC_PER_SEC)
#define SHORT_WAL_POLL_US (2 * 1000)

/* A read transaction keeps the WAL from starting over until it ends, and a snapshot's
 * lasts as long as copying the whole chat state. Begun with the WAL past its bound, and
 * followed at once by the next one under a steady load, it let the WAL grow to 471 MB in
 * 15 s. So the read begins only once the store's connection has started the WAL over
 * (at most SHORT_WAL_WAIT_US later: a store that writes nothing more never does). */
static void
wait_for_short_wal (const char *path)
{
  gint64 deadline = g_get_monotonic_time () + SHORT_WAL_WAIT_US;

  while (chat_wal_gauge_frames (path) >= CHAT_STORE_WAL_MAX_PAGES
         && g_get_monotonic_time () < deadline)
    g_usleep (SHORT_WAL_POLL_US);
}

/* The worker's image is built in a file of its own, attached as "snap", which the caller
 * makes durable and names: each page goes from SQLite's cache to the file's once. Built in
 * a memdb database before, every page was copied once more, into a buffer that grew with
 * the image and was faulted in page by page, and then written out from it: about half of
 * the snapshot worker's processor time at etcd's l load, and a second copy of the state in
 * memory while it lasted (docs/benchmarks.md). No rollback journal (a build that fails or
 * is cut short leaves a file that nothing names), no syncs (the caller's one fsync makes
 * it durable), a small cache (the pages are written once each, in order), and 16 KiB
 * pages: a quarter of the writes and of the cache's work per page at the default 4 KiB,
 * and less room lost at the end of each page to 1 KiB messages. Not larger: the empty
 * image is a page per table, and with 64 KiB pages a small state's image outweighed a log
 * of a few thousand entries, which a follower then got instead (C8, docs/replication.md). */
static const char image_file_settings[]
    = "PRAGMA snap.journal_mode = OFF; PRAGMA snap.synchronous = OFF;"
      " PRAGMA snap.page_size = 16384; PRAGMA snap.cache_size = -4096;";

static gboolean
attach_image_file (sqlite3 *db, const char *image_path, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;

  if (sqlite3_prepare_v2 (db, "ATTACH DATABASE ?1 AS snap", -1, &stmt, NULL) != SQLITE_OK
      || sqlite3_bind_text (stmt, 1, image_path, -1, SQLITE_STATIC) != SQLITE_OK
      || sqlite3_step (stmt) != SQLITE_DONE)
    return chat_store_db_fail (db, error, "Taking a snapshot: creating its file");
  return TRUE;
}

static gboolean
build_image (sqlite3 *db, const char *image_path, guint64 *applied_index, GError **error)
{
  if (!attach_image_file (db, image_path, error))
    return FALSE;
  if (!chat_store_db_exec (db, image_file_settings, error))
    {
      detach (db);
      return FALSE;
    }
  if (!copy_into_snap (db, applied_index, error))
    return FALSE;
  detach (db);
  return TRUE;
}

static gboolean
snapshot_into (const char *path, const char *image_path, guint64 *applied_index, GError **error)
{
  sqlite3 *db = NULL;
  gboolean ok;

  /* CREATE for the image's file: an attached database is opened with the connection's
   * flags. The store's own file is there already. */
  if (chat_store_db_open (path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, &db)
      != SQLITE_OK)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "Opening %s: %s", path,
                   db ? sqlite3_errmsg (db) : "out of memory");
      sqlite3_close (db);
      return FALSE;
    }
  sqlite3_busy_timeout (db, 5000);
  wait_for_short_wal (path);
  ok = build_image (db, image_path, applied_index, error);
  sqlite3_close (db);
  return ok;
}

gboolean
chat_store_snapshot_file (const char *path, const char *image_path, guint64 *applied_index,
                          GError **error)
{
  g_return_val_if_fail (path != NULL && image_path != NULL && applied_index != NULL, FALSE);

  /* A file already there (left by a crash) would be opened as a database. */
  if (g_unlink (image_path) != 0 && errno != ENOENT)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "Taking a snapshot: removing %s: %s",
                   image_path, g_strerror (errno));
      return FALSE;
    }
  if (snapshot_into (path, image_path, applied_index, error))
    return TRUE;
  g_unlink (image_path);
  return FALSE;
}

/* Loads the snapshot bytes as the attached database "snap" and checks its layout. */
static gboolean
load_snapshot (ChatStore *self, GBytes *snapshot, guint64 *applied_index, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gsize size = 0;
  gconstpointer bytes = g_bytes_get_data (snapshot, &size);
  unsigned char *copy = NULL;

  if (size == 0 || (copy = sqlite3_malloc64 (size)) == NULL)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "The snapshot is empty");
      return FALSE;
    }
  memcpy (copy, bytes, size);
  if (sqlite3_deserialize (self->db, "snap", copy, (sqlite3_int64)size, (sqlite3_int64)size,
                           SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE)
      != SQLITE_OK)
    return chat_store_fail (self, error, "Loading the snapshot");
  if (sqlite3_prepare_v2 (self->db, "SELECT format, applied_index FROM snap.info", -1, &stmt, NULL)
          != SQLITE_OK
      || sqlite3_step (stmt) != SQLITE_ROW)
    return chat_store_fail (self, error, "Reading the snapshot");
  if (sqlite3_column_int (stmt, 0) != SNAPSHOT_FORMAT || sqlite3_column_int64 (stmt, 1) < 0)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL, "Unknown snapshot format %d",
                   sqlite3_column_int (stmt, 0));
      return FALSE;
    }
  *applied_index = (guint64)sqlite3_column_int64 (stmt, 1);
  return TRUE;
}

/* The "DROP INDEX" and "CREATE INDEX" statements of the chat tables' own indexes (not those
 * of a PRIMARY KEY or UNIQUE constraint, which have no SQL), read from the schema. */
static gboolean
chat_indexes (ChatStore *self, GPtrArray *drops, GPtrArray *creates, GError **error)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (self->db,
                          "SELECT name, sql FROM main.sqlite_master WHERE type = 'index'"
                          " AND sql IS NOT NULL"
                          " AND tbl_name IN ('accounts', 'sessions', 'messages', 'tombstones')",
                          -1, &stmt, NULL)
      != SQLITE_OK)
    return chat_store_fail (self, error, "Reading the indexes");
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_ptr_array_add (drops, g_strdup_printf ("DROP INDEX main.\"%s\"",
                                               (const char *)sqlite3_column_text (stmt, 0)));
      g_ptr_array_add (creates, g_strdup ((const char *)sqlite3_column_text (stmt, 1)));
    }
  return rc == SQLITE_DONE || chat_store_fail (self, error, "Reading the indexes");
}

static gboolean
exec_all (ChatStore *self, GPtrArray *statements, GError **error)
{
  for (guint i = 0; i < statements->len; i++)
    {
      if (!chat_store_exec (self, g_ptr_array_index (statements, i), error))
        return FALSE;
    }
  return TRUE;
}

/* The indexes go first and are built again after the copy: one sort per index instead of
 * an insert into each per row (a restore of 40,000 messages held the main loop for 0.6 s;
 * docs/benchmarks.md). In the transaction, so a failure leaves them as they were. */
static gboolean
replace_state (ChatStore *self, gpointer data, GError **error)
{
  g_autoptr (GPtrArray) drops = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) creates = g_ptr_array_new_with_free_func (g_free);

  return chat_indexes (self, drops, creates, error) && exec_all (self, drops, error)
         && chat_store_exec (self, replace_from_snapshot, error) && exec_all (self, creates, error)
         && chat_store_put_meta_uint (self, CHAT_STORE_META_APPLIED, *(guint64 *)data, error);
}

gboolean
chat_store_restore (ChatStore *self, GBytes *snapshot, GError **error)
{
  guint64 applied_index = 0;
  gboolean ok;

  g_return_val_if_fail (CHAT_IS_STORE (self), FALSE);
  g_return_val_if_fail (snapshot != NULL, FALSE);
  g_return_val_if_fail (!self->in_apply, FALSE);

  if (!chat_store_exec (self, "ATTACH DATABASE ':memory:' AS snap", error))
    return FALSE;
  /* Synced: the log is emptied or compacted after a restore, relying on it. */
  ok = load_snapshot (self, snapshot, &applied_index, error)
       && chat_store_transaction (self, CHAT_STORE_WRITE_SYNCED, replace_state, &applied_index,
                                  error);
  detach (self->db);
  if (!ok)
    {
      g_prefix_error (error, "Restoring a snapshot: ");
      return FALSE;
    }
  self->applied_index = applied_index;
  g_debug ("Restored a snapshot at applied index %" G_GUINT64_FORMAT, self->applied_index);
  return TRUE;
}

/* --- state hash ---------------------------------------------------------------- */

/* Feeds every column of a row, typed and length-prefixed, so no two different states
 * produce the same byte stream. */
static gboolean
hash_row (ChatStmt *stmt, gpointer checksum, GError **error)
{
  for (int col = 0; col < sqlite3_column_count (stmt); col++)
    {
      g_autofree char *head = NULL;
      int type = sqlite3_column_type (stmt, col);
      const unsigned char *text = sqlite3_column_text (stmt, col);
      int len = sqlite3_column_bytes (stmt, col);
      head = g_strdup_printf ("|%d:%d:", type, type == SQLITE_NULL ? 0 : len);
      g_checksum_update (checksum, (const guchar *)head, -1);
      if (type != SQLITE_NULL)
        g_checksum_update (checksum, text, len);
    }
  g_checksum_update (checksum, (const guchar *)"\n", 1);
  return TRUE;
}

static gboolean
hash_table (ChatStore *self, GChecksum *checksum, const char *sql, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (self, sql, error);

  if (stmt == NULL)
    return FALSE;
  g_checksum_update (checksum, (const guchar *)sql, -1);
  return chat_store_each_row (self, stmt, hash_row, checksum, "Hashing the state", error);
}

static gboolean
hash_state (ChatStore *self, gpointer checksum, GError **error)
{
  static const char *const dumps[] = {
    "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY key",
    "SELECT " SESSION_COLUMNS " FROM sessions ORDER BY token_hash",
    "SELECT " MESSAGE_COLUMNS " FROM messages ORDER BY id",
    "SELECT " TOMBSTONE_COLUMNS " FROM tombstones ORDER BY user_key, id",
  };

  for (guint i = 0; i < G_N_ELEMENTS (dumps); i++)
    {
      if (!hash_table (self, checksum, dumps[i], error))
        return FALSE;
    }
  return TRUE;
}

char *
chat_store_state_hash (ChatStore *self, GError **error)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);

  /* One read transaction, or the one open (an apply batch): one state, whole. */
  if (!chat_store_transaction (self, CHAT_STORE_READ, hash_state, checksum, error))
    return NULL;
  return g_strdup (g_checksum_get_string (checksum));
}
