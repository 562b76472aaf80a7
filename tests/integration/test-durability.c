/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Acknowledged writes survive kill -9, and a restart applies logged operations it had not. */
#include "chat-test-util.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#define PASSWORD "correct horse"
#define N_SENDS 500

static ChatTestConn *
login (ChatTestCluster *cluster, const char *name)
{
  ChatTestConn *conn = chat_test_conn_new (chat_test_cluster_port (cluster, 1));

  json_object_unref (
      chat_test_ok (conn, "{'id':1,'op':'login','username':'%s','password':'" PASSWORD "'}", name));
  return conn;
}

/* Every message seq the user can see, through sync pages. */
static GHashTable *
all_seqs (ChatTestConn *conn)
{
  GHashTable *seqs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  gint64 after = 0;
  gboolean more = TRUE;

  while (more)
    {
      g_autoptr (JsonObject) page
          = chat_test_ok (conn, "{'id':1,'op':'sync','after':%" G_GINT64_FORMAT "}", after);
      JsonArray *messages = json_object_get_array_member (page, "messages");

      for (guint i = 0; i < json_array_get_length (messages); i++)
        {
          JsonObject *message = json_array_get_object_element (messages, i);
          gint64 *seq = g_new (gint64, 1);

          *seq = json_object_get_int_member (message, "seq");
          g_hash_table_add (seqs, seq);
        }
      more = json_object_get_boolean_member (page, "more");
      after = json_object_get_int_member (page, "seq");
    }
  return seqs;
}

/* Pipelines n sends in one write and returns the acknowledged seqs. */
static GArray *
send_many (ChatTestConn *conn, const char *to, const char *tag, guint n)
{
  g_autoptr (GString) batch = g_string_new (NULL);
  GArray *acked = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < n; i++)
    g_string_append_printf (batch,
                            "{\"id\":%u,\"op\":\"send\",\"to\":\"%s\",\"body\":\"durable %u\","
                            "\"client_msg_id\":\"%s-%u\"}\n",
                            i, to, i, tag, i);
  chat_test_conn_send_raw (conn, batch->str, batch->len);
  while (acked->len < n)
    {
      g_autoptr (JsonObject) reply = chat_test_conn_read (conn, 60000);
      gint64 seq = 0;

      g_assert_nonnull (reply);
      if (json_object_has_member (reply, "event"))
        continue;
      g_assert_true (json_object_get_boolean_member (reply, "ok"));
      seq = json_object_get_int_member (json_object_get_object_member (reply, "message"), "seq");
      g_array_append_val (acked, seq);
    }
  return acked;
}

static void
assert_all_present (ChatTestCluster *cluster, const char *reader, GArray *acked)
{
  g_autoptr (ChatTestConn) conn = login (cluster, reader);
  g_autoptr (GHashTable) seqs = all_seqs (conn);

  for (guint i = 0; i < acked->len; i++)
    g_assert_true (g_hash_table_contains (seqs, &g_array_index (acked, gint64, i)));
}

static void
test_kill_after_ack (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (1, NULL);
  g_autoptr (ChatTestConn) alice = NULL;
  g_autoptr (ChatTestConn) bob = NULL;
  g_autoptr (GArray) acked = NULL;

  chat_test_cluster_start_all (cluster);
  alice = chat_test_conn_new (chat_test_cluster_port (cluster, 1));
  bob = chat_test_conn_new (chat_test_cluster_port (cluster, 1));
  g_free (chat_test_signup (alice, "alice", PASSWORD));
  g_free (chat_test_signup (bob, "bob", PASSWORD));
  acked = send_many (alice, "bob", "k", N_SENDS);
  /* No pause: the last acknowledgement was just read. */
  chat_test_cluster_kill (cluster, 1);
  g_assert_false (chat_test_cluster_is_running (cluster, 1));
  chat_test_cluster_start (cluster, 1, TRUE);
  g_assert_cmpuint (chat_test_cluster_wait_leader (cluster, 10000), ==, 1);
  assert_all_present (cluster, "bob", acked);
}

static void
copy_file (const char *from, const char *to)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;

  if (!g_file_get_contents (from, &contents, &len, NULL))
    return; /* e.g. no -wal file after a clean stop */
  g_file_set_contents (to, contents, (gssize)len, &error);
  g_assert_no_error (error);
}

static void
remove_db (const char *db)
{
  g_autofree char *wal = g_strconcat (db, "-wal", NULL);
  g_autofree char *shm = g_strconcat (db, "-shm", NULL);

  g_unlink (db);
  g_unlink (wal);
  g_unlink (shm);
}

/* A stopped server's database with its write-ahead log, if any. */
static void
copy_db (const char *from, const char *to)
{
  g_autofree char *from_wal = g_strconcat (from, "-wal", NULL);
  g_autofree char *to_wal = g_strconcat (to, "-wal", NULL);

  copy_file (from, to);
  copy_file (from_wal, to_wal);
}

/* Edits a stopped server's database directly, as an operator with sqlite3 would. */
static void
run_sqlite (const char *db, const char *sql)
{
  sqlite3 *handle = NULL;
  char *message = NULL;

  g_assert_cmpint (sqlite3_open (db, &handle), ==, SQLITE_OK);
  if (sqlite3_exec (handle, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
  g_assert_cmpint (sqlite3_close (handle), ==, SQLITE_OK);
}

/* The state of an earlier stop plus the log of a later one: the restart must apply
 * the logged operations the state lacks. */
static void
test_restart_replays_log (void)
{
  g_autoptr (ChatTestCluster) cluster = chat_test_cluster_new (1, NULL);
  g_autofree char *db = NULL, *saved = NULL, *sql = NULL;
  g_autoptr (GArray) early = NULL, late = NULL;
  g_autoptr (ChatTestConn) alice = NULL;

  db = g_build_filename (chat_test_cluster_state_dir (cluster, 1), "chatd.db", NULL);
  saved = g_strconcat (db, ".saved", NULL);
  chat_test_cluster_start_all (cluster);
  alice = chat_test_conn_new (chat_test_cluster_port (cluster, 1));
  g_free (chat_test_signup (alice, "alice", PASSWORD));
  early = send_many (alice, "alice", "early", 20);
  g_clear_pointer (&alice, chat_test_conn_free);
  chat_test_cluster_stop (cluster, 1);
  copy_db (db, saved);

  chat_test_cluster_start (cluster, 1, TRUE);
  /* A restarted server leads only once it has been elected. */
  g_assert_cmpuint (chat_test_cluster_wait_leader (cluster, 10000), ==, 1);
  alice = login (cluster, "alice");
  late = send_many (alice, "alice", "late", 20);
  g_clear_pointer (&alice, chat_test_conn_free);
  chat_test_cluster_stop (cluster, 1);

  sql = g_strdup_printf ("ATTACH '%s' AS later; INSERT INTO log SELECT * FROM later.log "
                         "WHERE idx > (SELECT MAX(idx) FROM log);",
                         db);
  run_sqlite (saved, sql);
  remove_db (db);
  copy_db (saved, db);
  chat_test_cluster_start (cluster, 1, TRUE);
  g_assert_cmpuint (chat_test_cluster_wait_leader (cluster, 10000), ==, 1);
  assert_all_present (cluster, "alice", early);
  assert_all_present (cluster, "alice", late);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/durability/kill-after-ack", test_kill_after_ack);
  g_test_add_func ("/durability/restart-replays-log", test_restart_replays_log);
  return g_test_run ();
}
