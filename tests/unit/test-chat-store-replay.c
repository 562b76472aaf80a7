/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the store's replay queue: adding, listing oldest first, removing. */
#include "chat-store-test-util.h"

static GPtrArray *
ops_of (const char *const *texts)
{
  GPtrArray *ops = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);

  for (guint i = 0; texts[i] != NULL; i++)
    g_ptr_array_add (ops, g_bytes_new (texts[i], strlen (texts[i])));
  return ops;
}

static guint
add (StoreFixture *f, const char *const *texts)
{
  g_autoptr (GPtrArray) ops = ops_of (texts);
  g_autoptr (GError) error = NULL;
  guint added = G_MAXUINT;

  g_assert_true (chat_store_add_replay (f->store, ops, &added, &error));
  g_assert_no_error (error);
  return added;
}

static guint64
count (StoreFixture *f)
{
  g_autoptr (GError) error = NULL;
  guint64 n = chat_store_count_replay (f->store, &error);

  g_assert_no_error (error);
  return n;
}

static GPtrArray *
list (StoreFixture *f, guint limit)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *rows = chat_store_list_replay (f->store, limit, &error);

  g_assert_no_error (error);
  g_assert_nonnull (rows);
  return rows;
}

/* The ops of rows as text, separated by '|'. */
static char *
texts_of (GPtrArray *rows)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < rows->len; i++)
    {
      ChatReplayOp *row = g_ptr_array_index (rows, i);
      gsize size = 0;
      const char *data = g_bytes_get_data (row->op, &size);

      g_string_append_printf (text, "%s%.*s", i > 0 ? "|" : "", (int)size, data);
    }
  return g_string_free (text, FALSE);
}

static void
remove_rows (StoreFixture *f, GPtrArray *rows, guint first, guint n)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GError) error = NULL;

  for (guint i = first; i < first + n; i++)
    g_array_append_val (ids, ((ChatReplayOp *)g_ptr_array_index (rows, i))->id);
  g_assert_true (chat_store_delete_replay (f->store, ids, &error));
  g_assert_no_error (error);
}

static void
test_empty (StoreFixture *f, gconstpointer data)
{
  static const char *const none[] = { NULL };
  g_autoptr (GPtrArray) rows = list (f, 10);

  g_assert_cmpuint (rows->len, ==, 0);
  g_assert_cmpuint (count (f), ==, 0);
  g_assert_cmpuint (add (f, none), ==, 0);
  g_assert_cmpuint (count (f), ==, 0);
}

static void
test_oldest_first (StoreFixture *f, gconstpointer data)
{
  static const char *const first[] = { "{\"op\":\"a\"}", "{\"op\":\"b\"}", "{\"op\":\"c\"}", NULL };
  static const char *const later[] = { "{\"op\":\"d\"}", NULL };
  g_autoptr (GPtrArray) rows = NULL;
  g_autofree char *texts = NULL;

  g_assert_cmpuint (add (f, first), ==, 3);
  g_assert_cmpuint (add (f, later), ==, 1);
  g_assert_cmpuint (count (f), ==, 4);
  rows = list (f, 10);
  texts = texts_of (rows);
  g_assert_cmpstr (texts, ==, "{\"op\":\"a\"}|{\"op\":\"b\"}|{\"op\":\"c\"}|{\"op\":\"d\"}");
  for (guint i = 1; i < rows->len; i++)
    g_assert_cmpint (((ChatReplayOp *)g_ptr_array_index (rows, i - 1))->id, <,
                     ((ChatReplayOp *)g_ptr_array_index (rows, i))->id);
  g_clear_pointer (&rows, g_ptr_array_unref);
  g_clear_pointer (&texts, g_free);
  rows = list (f, 2);
  texts = texts_of (rows);
  g_assert_cmpstr (texts, ==, "{\"op\":\"a\"}|{\"op\":\"b\"}");
}

/* The same history diverging twice (a crash between queueing and the reset) queues
 * each op once; a new op beside known ones is still added. */
static void
test_exact_copies_once (StoreFixture *f, gconstpointer data)
{
  static const char *const history[] = { "{\"op\":\"a\"}", "{\"op\":\"b\"}", NULL };
  static const char *const again[] = { "{\"op\":\"b\"}", "{\"op\":\"a\"}", "{\"op\":\"c\"}", NULL };
  static const char *const twice[] = { "{\"op\":\"d\"}", "{\"op\":\"d\"}", NULL };
  g_autoptr (GPtrArray) rows = NULL;
  g_autofree char *texts = NULL;

  g_assert_cmpuint (add (f, history), ==, 2);
  g_assert_cmpuint (add (f, history), ==, 0);
  g_assert_cmpuint (add (f, again), ==, 1);
  g_assert_cmpuint (add (f, twice), ==, 1);
  rows = list (f, 10);
  texts = texts_of (rows);
  g_assert_cmpstr (texts, ==, "{\"op\":\"a\"}|{\"op\":\"b\"}|{\"op\":\"c\"}|{\"op\":\"d\"}");
}

static void
test_delete (StoreFixture *f, gconstpointer data)
{
  static const char *const ops[]
      = { "{\"op\":\"a\"}", "{\"op\":\"b\"}", "{\"op\":\"c\"}", "{\"op\":\"d\"}", NULL };
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GPtrArray) left = NULL;
  g_autoptr (GArray) none = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GError) error = NULL;
  g_autofree char *texts = NULL;

  add (f, ops);
  rows = list (f, 10);
  remove_rows (f, rows, 0, 2);
  /* Removing rows already gone, or none at all, is not an error. */
  remove_rows (f, rows, 1, 2);
  g_assert_true (chat_store_delete_replay (f->store, none, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count (f), ==, 1);
  left = list (f, 10);
  texts = texts_of (left);
  g_assert_cmpstr (texts, ==, "{\"op\":\"d\"}");
}

/* Queued ops outlive the process; removed ones stay removed. */
static void
test_survives_reopen (StoreFixture *f, gconstpointer data)
{
  static const char *const ops[] = { "{\"op\":\"a\"}", "{\"op\":\"b\"}", "{\"op\":\"c\"}", NULL };
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GPtrArray) after = NULL;
  g_autofree char *texts = NULL;

  add (f, ops);
  rows = list (f, 10);
  remove_rows (f, rows, 1, 1);
  store_fixture_reopen (f);
  g_assert_cmpuint (count (f), ==, 2);
  after = list (f, 10);
  texts = texts_of (after);
  g_assert_cmpstr (texts, ==, "{\"op\":\"a\"}|{\"op\":\"c\"}");
  g_assert_cmpint (((ChatReplayOp *)g_ptr_array_index (after, 0))->id, ==,
                   ((ChatReplayOp *)g_ptr_array_index (rows, 0))->id);
}

/* The queue is not chat state: snapshots and the state hash ignore it. */
static void
test_not_chat_state (StoreFixture *f, gconstpointer data)
{
  static const char *const ops[] = { "{\"op\":\"a\"}", NULL };
  g_autofree char *before = store_hash (f->store);
  g_autofree char *after = NULL;

  add (f, ops);
  after = store_hash (f->store);
  g_assert_cmpstr (before, ==, after);
}

/* Ops are kept byte for byte, binary included. */
static void
test_bytes_kept (StoreFixture *f, gconstpointer data)
{
  static const guint8 raw[] = { 0x00, 0xff, '{', 0x01 };
  g_autoptr (GPtrArray) ops = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GError) error = NULL;
  guint added = 0;

  g_ptr_array_add (ops, g_bytes_new (raw, sizeof raw));
  g_assert_true (chat_store_add_replay (f->store, ops, &added, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (added, ==, 1);
  rows = list (f, 1);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_true (g_bytes_equal (((ChatReplayOp *)g_ptr_array_index (rows, 0))->op,
                                g_ptr_array_index (ops, 0)));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                                            \
  g_test_add ("/store-replay/" path, StoreFixture, NULL, store_fixture_set_up, func,               \
              store_fixture_tear_down)
  ADD ("empty", test_empty);
  ADD ("oldest-first", test_oldest_first);
  ADD ("exact-copies-once", test_exact_copies_once);
  ADD ("delete", test_delete);
  ADD ("survives-reopen", test_survives_reopen);
  ADD ("not-chat-state", test_not_chat_state);
  ADD ("bytes-kept", test_bytes_kept);
#undef ADD

  return g_test_run ();
}