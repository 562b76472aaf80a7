/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshot files: a worker writes the image, the main loop records it, and a restart after
 * a crash at any reachable point finds the old or the new snapshot whole. */
#include "chat-replica.h"
#include "chat-replica-private.h"
#include "chat-snapshot-file.h"

#include "chat-error.h"
#include "chat-json.h"

#include <glib/gstdio.h>
#include <string.h>

#define TIMEOUT_US (20 * G_USEC_PER_SEC)
#define INTERVAL 5

typedef struct
{
  char *dir;
  ChatConfig *config;
  ChatStore *store;
  ChatReplica *replica;
  guint done;
} Fixture;

static void
open_replica (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  f->store = chat_store_open (f->dir, &error);
  g_assert_no_error (error);
  f->replica = chat_replica_new (f->store, f->config, 1, TRUE);
  g_assert_true (chat_replica_start (f->replica, &error));
  g_assert_no_error (error);
}

/* After the snapshot a worker may still be taking: its file is no leftover. */
static void
close_replica (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;

  while (f->replica->snapshot_running)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  chat_replica_stop (f->replica);
  g_clear_object (&f->replica);
  g_clear_object (&f->store);
}

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ini = g_strdup_printf ("[server]\nhost1 = 127.0.0.1\nport1 = 7001\n"
                                          "[cluster]\nsnapshot_interval = %d\n",
                                          INTERVAL);

  f->dir = g_dir_make_tmp ("chat-snapshot-XXXXXX", &error);
  g_assert_no_error (error);
  f->config = chat_config_load_from_data (ini, &error);
  g_assert_no_error (error);
  open_replica (f);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (f->replica != NULL)
    close_replica (f);
  dir = g_dir_open (f->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
  chat_config_free (f->config);
}

static void
on_done (guint64 index, ChatApplyResult *result, const GError *error, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_no_error (error);
  f->done++;
}

static void
wait_for (gboolean (*ready) (Fixture *f), Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;

  while (!ready (f))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static gboolean
is_serving (Fixture *f)
{
  return chat_replica_is_serving (f->replica);
}

static guint want_done;

static gboolean
all_done (Fixture *f)
{
  return f->done >= want_done;
}

static guint64
saved_snapshot_index (Fixture *f)
{
  ChatReplStatus status = { 0 };

  chat_replica_get_status (f->replica, &status);
  return status.snapshot_index;
}

/* The meta row names a snapshot file at an index past want_index (a snapshot the core
 * took is saved on a later main-loop iteration). */
static guint64 want_index;

static gboolean
snapshot_saved (Fixture *f)
{
  g_autoptr (GBytes) value = chat_store_get_meta (f->store, CHAT_REPLICA_META_SNAPSHOT);
  g_autofree char *text = NULL;
  g_auto (GStrv) parts = NULL;

  if (value == NULL)
    return FALSE;
  text = g_strndup (g_bytes_get_data (value, NULL), g_bytes_get_size (value));
  parts = g_strsplit (text, " ", -1);
  return g_strv_length (parts) == 4 && g_ascii_strtoull (parts[0], NULL, 10) > want_index;
}

static void
sign_up (Fixture *f, guint count)
{
  wait_for (is_serving, f);
  want_done = f->done + count;
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *line = g_strdup_printf (
          "{\"op\":\"signup\",\"username\":\"user%u-%u\",\"password_hash\":\"h\","
          "\"session\":\"s-%u-%u\",\"at\":1}",
          f->done, i, f->done, i);
      g_autoptr (JsonObject) op = chat_json_parse_object (line, strlen (line), NULL);

      chat_replica_propose (f->replica, op, on_done, f);
    }
  wait_for (all_done, f);
}

/* The names in dir that look like snapshot files, sorted. */
static GPtrArray *
snapshot_files (Fixture *f)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (g_str_has_prefix (name, "snapshot-"))
        g_ptr_array_add (names, g_strdup (name));
    }
  return names;
}

/* "index term isr serial", and the one file it names. */
static char *
recorded_file (Fixture *f)
{
  g_autoptr (GBytes) value = chat_store_get_meta (f->store, CHAT_REPLICA_META_SNAPSHOT);
  g_autofree char *text = NULL;
  g_auto (GStrv) parts = NULL;

  g_assert_nonnull (value);
  text = g_strndup (g_bytes_get_data (value, NULL), g_bytes_get_size (value));
  parts = g_strsplit (text, " ", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 4);
  return chat_snapshot_file_name (g_ascii_strtoull (parts[0], NULL, 10),
                                  g_ascii_strtoull (parts[3], NULL, 10));
}

static void
write_file (Fixture *f, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
}

static char *
take_a_snapshot (Fixture *f)
{
  g_autoptr (GPtrArray) files = NULL;
  g_autoptr (GBytes) legacy = NULL;
  char *name = NULL;

  /* With the leader's own first entry, one interval and one more: one snapshot, not two. */
  want_index = 0;
  sign_up (f, INTERVAL);
  wait_for (snapshot_saved, f);
  name = recorded_file (f);
  files = snapshot_files (f);
  g_assert_cmpuint (files->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (files, 0), ==, name);
  legacy = chat_store_get_meta (f->store, CHAT_REPLICA_META_SNAPSHOT_DATA);
  g_assert_null (legacy);
  return name;
}

/* The periodic snapshot lands in a file of its own, named by the meta row. */
static void
test_worker_writes_file (Fixture *f, gconstpointer data)
{
  g_autofree char *name = take_a_snapshot (f);
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  gsize size = 0;
  g_autofree char *image = NULL;

  g_assert_true (g_file_get_contents (path, &image, &size, NULL));
  g_assert_cmpuint (size, >, 0);
  g_assert_true (g_str_has_prefix (image, "SQLite format 3"));
}

/* Killed while a temporary file was being written, and after a newer file was written
 * but before the meta row named it: the recorded snapshot is the one loaded, the rest
 * goes, and the state is what it was. */
static void
test_restart_after_crash (Fixture *f, gconstpointer data)
{
  g_autofree char *name = take_a_snapshot (f);
  guint64 index = saved_snapshot_index (f);
  g_autofree char *hash = chat_store_state_hash (f->store, NULL);
  g_autofree char *after = NULL;
  g_autoptr (GPtrArray) files = NULL;

  close_replica (f);
  write_file (f, "snapshot-999-1.img.tmp", "SQLite format 3 torn");
  write_file (f, "snapshot-999-2.img", "SQLite format 3 never recorded");
  open_replica (f);
  g_assert_cmpuint (saved_snapshot_index (f), ==, index);
  files = snapshot_files (f);
  g_assert_cmpuint (files->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (files, 0), ==, name);
  after = chat_store_state_hash (f->store, NULL);
  g_assert_cmpstr (after, ==, hash);
}

/* chatd.db copied without its snapshot file: the server starts on its chat state. */
static void
test_restart_without_file (Fixture *f, gconstpointer data)
{
  g_autofree char *name = take_a_snapshot (f);
  g_autofree char *path = g_build_filename (f->dir, name, NULL);

  close_replica (f);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_test_expect_message ("chatd-node", G_LOG_LEVEL_WARNING, "*waits for the next one*");
  open_replica (f);
  g_test_assert_expected_messages ();
  sign_up (f, 2 * INTERVAL);
}

/* A store from before snapshot files keeps the image in the meta table: it loads, and
 * the next snapshot moves it to a file. */
static void
test_legacy_store (Fixture *f, gconstpointer data)
{
  g_autofree char *name = take_a_snapshot (f);
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  guint64 index = saved_snapshot_index (f);
  g_autoptr (GBytes) image = NULL;
  g_autoptr (GBytes) meta = NULL;
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) legacy = NULL;

  close_replica (f);
  f->store = chat_store_open (f->dir, &error);
  g_assert_no_error (error);
  image = chat_snapshot_file_read (f->dir, index, 0, NULL);
  g_assert_null (image);
  {
    gchar *contents = NULL;
    gsize size = 0;

    g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
    image = g_bytes_new_take (contents, size);
  }
  g_assert_true (chat_store_set_meta (f->store, CHAT_REPLICA_META_SNAPSHOT_DATA, image, &error));
  text = g_strdup_printf ("%" G_GUINT64_FORMAT " 1 1", index);
  meta = g_bytes_new (text, strlen (text));
  g_assert_true (chat_store_set_meta (f->store, CHAT_REPLICA_META_SNAPSHOT, meta, &error));
  g_assert_no_error (error);
  g_clear_object (&f->store);
  g_assert_cmpint (g_unlink (path), ==, 0);
  open_replica (f);
  g_assert_cmpuint (saved_snapshot_index (f), ==, index);
  want_index = index;
  sign_up (f, 2 * INTERVAL);
  wait_for (snapshot_saved, f);
  g_free (recorded_file (f));
  legacy = chat_store_get_meta (f->store, CHAT_REPLICA_META_SNAPSHOT_DATA);
  g_assert_null (legacy);
}

/* Waits until the file at path is gone (its removal runs on a worker thread). */
static void
wait_removed (const char *path)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;

  while (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

/* A removed image is gone, and one still mapped (a snapshot on its way to a follower) keeps
 * every byte readable through its mapping: a removal that cut the file back would take
 * the pages from under it. */
static void
test_remove_mapped_and_not (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gsize size = 20 * 1024 * 1024 + 123; /* several chunks and a partial one */
  g_autofree guint8 *bytes = g_malloc (size);
  g_autoptr (GBytes) image = NULL;
  g_autoptr (GBytes) mapped = NULL;
  guint64 kept = 0, dropped = 0;
  g_autofree char *kept_path = NULL, *dropped_path = NULL, *kept_name = NULL;
  g_autofree char *dropped_name = NULL;

  for (gsize i = 0; i < size; i++)
    bytes[i] = (guint8)(i * 7 + i / 4096);
  image = g_bytes_new_static (bytes, size);
  g_assert_true (chat_snapshot_file_write (f->dir, 10, image, &kept, &error));
  g_assert_true (chat_snapshot_file_write (f->dir, 20, image, &dropped, &error));
  g_assert_no_error (error);
  kept_name = chat_snapshot_file_name (10, kept);
  dropped_name = chat_snapshot_file_name (20, dropped);
  kept_path = g_build_filename (f->dir, kept_name, NULL);
  dropped_path = g_build_filename (f->dir, dropped_name, NULL);
  mapped = chat_snapshot_file_read (f->dir, 10, kept, &error);
  g_assert_no_error (error);

  chat_snapshot_file_remove_later (kept_path);
  chat_snapshot_file_remove_later (dropped_path);
  wait_removed (kept_path);
  wait_removed (dropped_path);
  g_assert_cmpmem (g_bytes_get_data (mapped, NULL), g_bytes_get_size (mapped), bytes, size);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/replica-snapshot/worker-writes-file", Fixture, NULL, set_up,
              test_worker_writes_file, tear_down);
  g_test_add ("/replica-snapshot/restart-after-crash", Fixture, NULL, set_up,
              test_restart_after_crash, tear_down);
  g_test_add ("/replica-snapshot/restart-without-file", Fixture, NULL, set_up,
              test_restart_without_file, tear_down);
  g_test_add ("/replica-snapshot/remove-mapped-and-not", Fixture, NULL, set_up,
              test_remove_mapped_and_not, tear_down);
  g_test_add ("/replica-snapshot/legacy-store", Fixture, NULL, set_up, test_legacy_store,
              tear_down);
  return g_test_run ();
}
