/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore tests: the reads behind list_users, history, conversations, unread and sync. */
#include "chat-store-test-util.h"

/* --- list_users ---------------------------------------------------------------- */

static char *
names (JsonArray *users)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (users); i++)
    g_string_append_printf (
        out, "%s%s", i > 0 ? "," : "",
        json_object_get_string_member (json_array_get_object_element (users, i), "username"));
  return g_string_free (out, FALSE);
}

static char *
list (StoreFixture *f, const char *pattern, const char *after, guint limit, gboolean *more)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonArray) users = NULL;

  users = chat_store_list_users (f->store, pattern, after, limit, more, &error);
  g_assert_no_error (error);
  return names (users);
}

static void
signup_many (StoreFixture *f)
{
  static const char *const users[] = { "Anne", "alice", "bob", "a_b", "axb", "carol.x", "Dave-1" };

  for (guint i = 0; i < G_N_ELEMENTS (users); i++)
    signup (f, users[i]);
}

static void
test_list_users_patterns (StoreFixture *f, gconstpointer data)
{
  static const struct
  {
    const char *pattern;
    const char *expected;
  } cases[] = {
    { "", "a_b,alice,Anne,axb,bob,carol.x,Dave-1" },
    { NULL, "a_b,alice,Anne,axb,bob,carol.x,Dave-1" },
    { "*", "a_b,alice,Anne,axb,bob,carol.x,Dave-1" },
    { "A*E", "alice,Anne" },
    { "a?b", "a_b,axb" },
    { "a*", "a_b,alice,Anne,axb" },
    { "*B", "a_b,axb,bob" },
    { "LIC", "alice" },
    { "b", "a_b,axb,bob" },
    { "_", "a_b" },
    { ".", "carol.x" },
    { "-1", "Dave-1" },
    { "%", "" },
    { "a%", "" },
    { "'", "" },
    { "' OR '1'='1", "" },
    { "\"; DROP TABLE accounts; --", "" },
    { "[a]*", "" },
    { "[", "" },
    { "]", "" },
    { "\\", "" },
    { "????", "Anne" },
    { "?????", "alice" },
    { "é", "" },
  };

  signup_many (f);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gboolean more = TRUE;
      g_autofree char *got = list (f, cases[i].pattern, NULL, 50, &more);
      g_test_message ("pattern %s", cases[i].pattern);
      g_assert_cmpstr (got, ==, cases[i].expected);
      g_assert_false (more);
    }
  g_assert_cmpuint (chat_store_count_accounts (f->store), ==, 7);
}

static void
test_list_users_paging (StoreFixture *f, gconstpointer data)
{
  gboolean more = FALSE;
  g_autofree char *page1 = NULL, *page2 = NULL, *page3 = NULL, *exact = NULL;

  signup_many (f);
  page1 = list (f, "", NULL, 3, &more);
  g_assert_cmpstr (page1, ==, "a_b,alice,Anne");
  g_assert_true (more);
  page2 = list (f, "", "ANNE", 3, &more);
  g_assert_cmpstr (page2, ==, "axb,bob,carol.x");
  g_assert_true (more);
  page3 = list (f, "", "carol.x", 3, &more);
  g_assert_cmpstr (page3, ==, "Dave-1");
  g_assert_false (more);
  exact = list (f, "a*", NULL, 4, &more);
  g_assert_cmpstr (exact, ==, "a_b,alice,Anne,axb");
  g_assert_false (more);
}

/* --- history ------------------------------------------------------------------- */

static void
test_history_paging (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GString) all = g_string_new (NULL);
  g_autoptr (GString) paged = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  guint64 before = 0;
  gboolean more = TRUE;
  guint pages = 0;

  signup (f, "alice");
  signup (f, "Bob");
  signup (f, "carol");
  for (guint i = 0; i < 7; i++)
    {
      gint64 id = send_message (f, i % 2 ? "bob" : "alice", i % 2 ? "alice" : "bob", "x");
      g_autofree char *item = g_strdup_printf ("%" G_GINT64_FORMAT ",", id);
      g_string_prepend (all, item);
      send_message (f, "alice", "carol", "noise");
      send_message (f, "carol", "bob", "noise");
    }
  /* Pages come newest first; each page is ascending. */
  while (more)
    {
      g_autoptr (JsonArray) page
          = chat_store_history (f->store, "BOB", "Alice", before, 3, &more, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (json_array_get_length (page), <=, 3);
      for (guint i = json_array_get_length (page); i > 0; i--)
        {
          JsonObject *message = json_array_get_object_element (page, i - 1);
          if (i > 1)
            g_assert_cmpint (
                json_object_get_int_member (message, "id"), >,
                json_object_get_int_member (json_array_get_object_element (page, i - 2), "id"));
          g_string_append_printf (paged, "%" G_GINT64_FORMAT ",",
                                  json_object_get_int_member (message, "id"));
        }
      before = (guint64)json_object_get_int_member (json_array_get_object_element (page, 0), "id");
      pages++;
    }
  g_assert_cmpuint (pages, ==, 3);
  g_assert_cmpstr (paged->str, ==, all->str);
}

static void
test_history_details (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonArray) self_history = NULL, none = NULL, empty = NULL;
  gboolean more = TRUE;
  JsonObject *message;

  signup (f, "alice");
  signup (f, "Bob");
  send_message (f, "alice", "alice", "note");
  send_message (f, "alice", "bob", "hi");
  self_history = chat_store_history (f->store, "alice", "ALICE", 0, 10, &more, &error);
  g_assert_no_error (error);
  g_assert_false (more);
  g_assert_cmpuint (json_array_get_length (self_history), ==, 1);
  message = json_array_get_object_element (self_history, 0);
  g_assert_cmpstr (json_object_get_string_member (message, "body"), ==, "note");
  empty = chat_store_history (f->store, "alice", "bob", 4, 10, &more, &error);
  g_assert_cmpuint (json_array_get_length (empty), ==, 0);
  g_assert_false (more);
  none = chat_store_history (f->store, "alice", "nobody", 0, 10, &more, &error);
  g_assert_null (none);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_NO_SUCH_USER);
}

/* --- conversations and unread -------------------------------------------------- */

static void
test_conversations (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonArray) conversations = NULL, none = NULL;
  g_autoptr (ChatApplyResult) read = NULL;
  JsonObject *first, *second;
  gint64 last_bob;

  signup (f, "alice");
  signup (f, "Bob");
  signup (f, "carol");
  signup (f, "dave");
  send_message (f, "bob", "alice", "b1");
  send_message (f, "carol", "alice", "c1");
  send_message (f, "bob", "alice", "b2");
  last_bob = send_message (f, "alice", "bob", "a1");
  send_message (f, "carol", "dave", "not alice's");
  read = apply_op (f, "{\"op\":\"mark_read\",\"user\":\"alice\",\"with\":\"bob\",\"up_to\":5}");
  conversations = chat_store_conversations (f->store, "ALICE", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (conversations), ==, 2);
  first = json_array_get_object_element (conversations, 0);
  second = json_array_get_object_element (conversations, 1);
  g_assert_cmpstr (json_object_get_string_member (first, "user"), ==, "Bob");
  g_assert_cmpint (
      json_object_get_int_member (json_object_get_object_member (first, "last_message"), "id"), ==,
      last_bob);
  g_assert_cmpint (json_object_get_int_member (first, "unread"), ==, 1); /* b2 */
  g_assert_cmpstr (json_object_get_string_member (second, "user"), ==, "carol");
  g_assert_cmpint (json_object_get_int_member (second, "unread"), ==, 1);
  none = chat_store_conversations (f->store, "nobody", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (none), ==, 0);
}

static void
test_unread (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonArray) two = NULL, all = NULL;
  g_autoptr (JsonObject) counts = NULL, zero = NULL;
  g_autofree char *two_ids = NULL, *all_ids = NULL;
  JsonObject *by_user;

  signup (f, "alice");
  signup (f, "Bob");
  signup (f, "carol");
  send_message (f, "bob", "alice", "1");
  send_message (f, "carol", "alice", "2");
  send_message (f, "alice", "bob", "mine");
  send_message (f, "bob", "alice", "3");
  two = chat_store_unread (f->store, "Alice", 2, &error);
  all = chat_store_unread (f->store, "alice", 50, &error);
  g_assert_no_error (error);
  two_ids = message_ids (two);
  all_ids = message_ids (all);
  g_assert_cmpstr (two_ids, ==, "4,5");
  g_assert_cmpstr (all_ids, ==, "4,5,7");
  counts = chat_store_unread_count (f->store, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (counts, "total"), ==, 3);
  by_user = json_object_get_object_member (counts, "by_user");
  g_assert_cmpuint (json_object_get_size (by_user), ==, 2);
  g_assert_cmpint (json_object_get_int_member (by_user, "Bob"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (by_user, "carol"), ==, 1);
  zero = chat_store_unread_count (f->store, "carol", &error);
  g_assert_cmpint (json_object_get_int_member (zero, "total"), ==, 0);
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (zero, "by_user")), ==, 0);
}

/* --- sync ---------------------------------------------------------------------- */

/* A history with every kind of change, including one op (delete_account) that
 * produces more changes under one seq than a page holds. */
static void
build_sync_history (StoreFixture *f)
{
  g_autoptr (ChatApplyResult) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL;

  signup (f, "alice");
  signup (f, "bob");
  signup (f, "carol");
  for (guint i = 0; i < 6; i++)
    send_message (f, "carol", "bob", "from carol");
  send_message (f, "alice", "bob", "a1");
  send_message (f, "bob", "alice", "b1");
  send_message (f, "bob", "bob", "note");
  r1 = apply_op (f, "{\"op\":\"mark_read\",\"user\":\"alice\",\"with\":\"bob\",\"up_to\":100}");
  send_message (f, "alice", "bob", "a2");
  r2 = apply_op (f, "{\"op\":\"delete_messages\",\"user\":\"alice\",\"ids\":[10]}");
  send_message (f, "alice", "carol", "not bob's");
  r3 = apply_op (f, "{\"op\":\"mark_read\",\"user\":\"carol\",\"with\":\"alice\",\"up_to\":100}");
  r4 = apply_op (f, "{\"op\":\"delete_account\",\"username\":\"carol\"}");
  send_message (f, "alice", "bob", "a3");
}

static void
append_ids (GString *out, JsonArray *array, gboolean messages)
{
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      gint64 id = messages
                      ? json_object_get_int_member (json_array_get_object_element (array, i), "id")
                      : json_array_get_int_element (array, i);
      g_string_append_printf (out, "%" G_GINT64_FORMAT ",", id);
    }
}

static JsonObject *
sync_page (StoreFixture *f, const char *user, guint64 after, guint limit)
{
  g_autoptr (GError) error = NULL;
  JsonObject *page = chat_store_sync (f->store, user, after, limit, &error);

  g_assert_no_error (error);
  g_assert_nonnull (page);
  return page;
}

static void
test_sync_single_page (StoreFixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) page = NULL, later = NULL, beyond = NULL;
  g_autoptr (GString) messages = g_string_new (NULL);
  g_autoptr (GString) deleted = g_string_new (NULL);
  g_autoptr (GString) read = g_string_new (NULL);

  build_sync_history (f);
  page = sync_page (f, "Bob", 0, 500);
  append_ids (messages, json_object_get_array_member (page, "messages"), TRUE);
  append_ids (deleted, json_object_get_array_member (page, "deleted"), FALSE);
  append_ids (read, json_object_get_array_member (page, "read"), FALSE);
  /* carol's six went with her account; alice deleted 10; 12 is bob's note to himself. */
  g_assert_cmpstr (messages->str, ==, "11,12,14,19,");
  g_assert_cmpstr (deleted->str, ==, "10,4,5,6,7,8,9,");
  g_assert_cmpstr (read->str, ==, "11,");
  g_assert_false (json_object_get_boolean_member (page, "more"));
  g_assert_cmpint (json_object_get_int_member (page, "seq"), ==, 19);

  /* After the delete_account only the last message is new. */
  later = sync_page (f, "bob", 18, 500);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (later, "messages")), ==,
                    1);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (later, "deleted")), ==, 0);
  beyond = sync_page (f, "bob", 1000, 500);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (beyond, "messages")), ==,
                    0);
  g_assert_false (json_object_get_boolean_member (beyond, "more"));
  g_assert_cmpint (json_object_get_int_member (beyond, "seq"), ==, 19);
}

static char *
read_ids (StoreFixture *f, const char *user, guint64 after)
{
  g_autoptr (JsonObject) page = sync_page (f, user, after, 500);
  GString *read = g_string_new (NULL);

  append_ids (read, json_object_get_array_member (page, "read"), FALSE);
  return g_string_free (read, FALSE);
}

static void
test_sync_read_changes (StoreFixture *f, gconstpointer data)
{
  g_autofree char *bob_all = NULL, *bob_before = NULL, *bob_after = NULL, *alice = NULL;

  build_sync_history (f);
  /* Alice read bob's 11 at seq 13. Carol read alice's 16, then 16 went with her account. */
  bob_all = read_ids (f, "bob", 0);
  bob_before = read_ids (f, "bob", 12);
  bob_after = read_ids (f, "bob", 13);
  alice = read_ids (f, "alice", 0);
  g_assert_cmpstr (bob_all, ==, "11,");
  g_assert_cmpstr (bob_before, ==, "11,");
  g_assert_cmpstr (bob_after, ==, "");
  g_assert_cmpstr (alice, ==, "");
}

/* Pages of a small limit give exactly what one large page gives, in order. */
static void
test_sync_paging (StoreFixture *f, gconstpointer data)
{
  static const char *const users[] = { "bob", "alice" };

  build_sync_history (f);
  for (guint u = 0; u < G_N_ELEMENTS (users); u++)
    for (guint limit = 1; limit <= 4; limit++)
      {
        g_autoptr (JsonObject) whole = sync_page (f, users[u], 0, 500);
        g_autoptr (GString) want = g_string_new (NULL), got = g_string_new (NULL);
        guint64 after = 0;
        gboolean more = TRUE;
        guint pages = 0;

        append_ids (want, json_object_get_array_member (whole, "messages"), TRUE);
        g_string_append (want, "|");
        append_ids (want, json_object_get_array_member (whole, "deleted"), FALSE);
        g_string_append (want, "|");
        append_ids (want, json_object_get_array_member (whole, "read"), FALSE);
        {
          g_autoptr (GString) m = g_string_new (NULL), d = g_string_new (NULL),
                              r = g_string_new (NULL);
          while (more)
            {
              g_autoptr (JsonObject) page = sync_page (f, users[u], after, limit);
              guint64 seq = (guint64)json_object_get_int_member (page, "seq");
              g_assert_cmpuint (
                  json_array_get_length (json_object_get_array_member (page, "messages")), <=,
                  limit);
              g_assert_cmpuint (seq, >, after);
              append_ids (m, json_object_get_array_member (page, "messages"), TRUE);
              append_ids (d, json_object_get_array_member (page, "deleted"), FALSE);
              append_ids (r, json_object_get_array_member (page, "read"), FALSE);
              more = json_object_get_boolean_member (page, "more");
              after = seq;
              g_assert_cmpuint (++pages, <, 40);
            }
          g_string_append_printf (got, "%s|%s|%s", m->str, d->str, r->str);
        }
        g_test_message ("user %s limit %u: %u pages", users[u], limit, pages);
        g_assert_cmpstr (got->str, ==, want->str);
        g_assert_cmpuint (after, ==, chat_store_applied_index (f->store));
      }
}

/* A single op whose changes outnumber the page limit still lands in one page. */
static void
test_sync_oversize_group (StoreFixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) page = NULL;
  g_autoptr (ChatApplyResult) gone = NULL;

  signup (f, "bob");
  signup (f, "carol");
  for (guint i = 0; i < 5; i++)
    send_message (f, "carol", "bob", "x");
  gone = apply_op (f, "{\"op\":\"delete_account\",\"username\":\"carol\"}");
  page = sync_page (f, "bob", 7, 2);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (page, "deleted")), ==, 5);
  g_assert_cmpint (json_object_get_int_member (page, "seq"), ==, 8);
  g_assert_false (json_object_get_boolean_member (page, "more"));
}

/* --- one read transaction per request ------------------------------------------------- */

/* The reads of a send inside chat_store_begin_reads() answer as without it, an apply after
 * the scope finds no transaction left open, and inside the scope a second one opens none. */
static void
test_reads_share_a_transaction (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) sent = NULL;
  g_autofree char *name = NULL;
  gboolean opened;

  signup (f, "Alice");
  signup (f, "bob");
  send_message (f, "Alice", "bob", "hello");

  opened = chat_store_begin_reads (f->store);
  g_assert_true (opened);
  sent = chat_store_find_sent (f->store, "alice", "m3");
  name = chat_store_user_name (f->store, "ALICE");
  g_assert_cmpint (chat_store_account_since (f->store, "bob", &error), ==, 1000);
  g_assert_no_error (error);
  chat_store_end_reads (f->store, opened);
  g_assert_nonnull (sent);
  g_assert_cmpstr (json_object_get_string_member (sent, "body"), ==, "hello");
  g_assert_cmpstr (name, ==, "Alice");

  /* The next apply begins its own write transaction. */
  send_message (f, "bob", "Alice", "hi");
  opened = chat_store_begin_reads (f->store);
  g_assert_true (opened);
  g_assert_false (chat_store_begin_reads (f->store));
  chat_store_end_reads (f->store, FALSE);
  g_assert_cmpint (chat_store_account_since (f->store, "alice", &error), ==, 1000);
  chat_store_end_reads (f->store, opened);
  send_message (f, "Alice", "bob", "again");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  store_test_add ("query/list-users/patterns", test_list_users_patterns);
  store_test_add ("query/list-users/paging", test_list_users_paging);
  store_test_add ("query/history/paging", test_history_paging);
  store_test_add ("query/history/details", test_history_details);
  store_test_add ("query/conversations", test_conversations);
  store_test_add ("query/unread", test_unread);
  store_test_add ("query/sync/single-page", test_sync_single_page);
  store_test_add ("query/sync/read-changes", test_sync_read_changes);
  store_test_add ("query/sync/paging", test_sync_paging);
  store_test_add ("query/sync/oversize-group", test_sync_oversize_group);
  store_test_add ("query/reads-share-a-transaction", test_reads_share_a_transaction);

  return g_test_run ();
}
