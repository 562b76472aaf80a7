/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a test server's database (read-only, also while it runs). */
#define G_LOG_DOMAIN "chatd-test"

#include "chat-test-db.h"

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 2000
#define POLL_US 100000
#define STABLE_US G_USEC_PER_SEC

gint64
chat_test_db_query_int (const char *state_dir, const char *sql)
{
  g_autofree char *path = g_build_filename (state_dir, "chatd.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 value = -1;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return -1;
  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
    {
      sqlite3_busy_timeout (db, BUSY_TIMEOUT_MS);
      if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK
          && sqlite3_step (stmt) == SQLITE_ROW)
        value = sqlite3_column_int64 (stmt, 0);
      sqlite3_finalize (stmt);
    }
  sqlite3_close (db);
  return value;
}

gint64
chat_test_cluster_applied_index (ChatTestCluster *cluster, guint node)
{
  return chat_test_db_query_int (chat_test_cluster_state_dir (cluster, node),
                                 "SELECT CAST (CAST (value AS TEXT) AS INTEGER) FROM meta "
                                 "WHERE key = 'store.applied_index'");
}

/* The applied index of every server if they all agree, else -1. */
static gint64
common_applied_index (ChatTestCluster *cluster)
{
  gint64 first = chat_test_cluster_applied_index (cluster, 1);

  for (guint node = 2; node <= chat_test_cluster_n_servers (cluster); node++)
    if (chat_test_cluster_applied_index (cluster, node) != first)
      return -1;
  return first;
}

gint64
chat_test_cluster_wait_same_applied (ChatTestCluster *cluster, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  gint64 last = -1, since = 0;

  while (g_get_monotonic_time () < deadline)
    {
      gint64 index = common_applied_index (cluster);

      if (index < 0 || index != last)
        {
          last = index;
          since = g_get_monotonic_time ();
        }
      else if (g_get_monotonic_time () - since >= STABLE_US)
        return since;
      g_usleep (POLL_US);
    }
  return 0;
}
