/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore tests: every operation of the apply function, its replies, events and refusals. */
#include "chat-store-test-util.h"

static ChatApplyEvent *
event_at (ChatApplyResult *result, guint i)
{
  g_assert_cmpuint (i, <, result->events->len);
  return g_ptr_array_index (result->events, i);
}

static const char *
event_name (ChatApplyEvent *event)
{
  return json_object_get_string_member (event_object (event), "event");
}

/* --- signup, login, logout ----------------------------------------------------- */

static void
test_signup (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) result = NULL;
  g_autofree char *owner = NULL, *hash = NULL, *name = NULL;

  result
      = apply_op (f, "{\"op\":\"signup\",\"username\":\"Alice\",\"password_hash\":\"$argon2id$x\","
                     "\"session\":\"s-alice\",\"at\":1795000000000,\"origin\":{\"node\":\"n1\"}}");
  assert_applied (result);
  g_assert_cmpstr (json_object_get_string_member (
                       json_object_get_object_member (result->reply, "user"), "username"),
                   ==, "Alice");
  g_assert_false (json_object_has_member (result->reply, "session"));
  g_assert_cmpuint (result->events->len, ==, 0);
  owner = chat_store_session_user (f->store, "s-alice");
  hash = chat_store_password_hash (f->store, "ALICE");
  name = chat_store_user_name (f->store, "aLiCe");
  g_assert_cmpstr (owner, ==, "Alice");
  g_assert_cmpstr (hash, ==, "$argon2id$x");
  g_assert_cmpstr (name, ==, "Alice");
  g_assert_null (chat_store_user_name (f->store, "bob"));
  g_assert_null (chat_store_password_hash (f->store, "bob"));
}

static void
test_signup_refusals (StoreFixture *f, gconstpointer data)
{
  static const struct
  {
    const char *op;
    ChatErrorCode code;
  } cases[] = {
    { "{\"op\":\"signup\",\"username\":\"ALICE\",\"password_hash\":\"h\",\"session\":\"s2\",\"at\":"
      "1}",
      CHAT_ERROR_USERNAME_TAKEN },
    { "{\"op\":\"signup\",\"username\":\"a "
      "b\",\"password_hash\":\"h\",\"session\":\"s2\",\"at\":1}",
      CHAT_ERROR_INVALID_USERNAME },
    { "{\"op\":\"signup\",\"username\":\"al\",\"password_hash\":\"h\",\"session\":\"s2\",\"at\":1}",
      CHAT_ERROR_INVALID_USERNAME },
    { "{\"op\":\"signup\",\"password_hash\":\"h\",\"session\":\"s2\",\"at\":1}",
      CHAT_ERROR_BAD_REQUEST },
    { "{\"op\":\"signup\",\"username\":\"carl\",\"password_hash\":\"h\",\"session\":\"s2\"}",
      CHAT_ERROR_BAD_REQUEST },
    { "{\"op\":\"signup\",\"username\":\"carl\",\"password_hash\":\"h\",\"session\":\"s2\","
      "\"at\":-5}",
      CHAT_ERROR_BAD_REQUEST },
    { "{\"op\":\"signup\",\"username\":[],\"password_hash\":\"h\",\"session\":\"s2\",\"at\":1}",
      CHAT_ERROR_BAD_REQUEST },
    { "{\"op\":\"signup\",\"username\":\"carl\",\"password_hash\":\"\",\"session\":\"s2\",\"at\":"
      "1}",
      CHAT_ERROR_BAD_REQUEST },
    { "{\"op\":17}", CHAT_ERROR_BAD_REQUEST },
    { "{\"op\":\"SIGNUP\"}", CHAT_ERROR_BAD_REQUEST },
    { "{}", CHAT_ERROR_BAD_REQUEST },
  };
  g_autofree char *before = NULL, *after = NULL;

  signup (f, "alice");
  before = store_hash (f->store);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (ChatApplyResult) result = apply_op (f, cases[i].op);
      g_test_message ("case %u: %s", i, cases[i].op);
      assert_refused (result, cases[i].code);
    }
  after = store_hash (f->store);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (chat_store_applied_index (f->store), ==, 1 + G_N_ELEMENTS (cases));
  g_assert_null (chat_store_session_user (f->store, "s2"));
}

static void
test_login (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) result = NULL, unknown = NULL;
  g_autofree char *owner = NULL;

  signup (f, "Alice");
  signup (f, "bob");
  send_message (f, "bob", "alice", "one");
  send_message (f, "bob", "alice", "two");
  result = apply_op (f, "{\"op\":\"login\",\"username\":\"ALICE\",\"session\":\"s-new\",\"at\":9}");
  assert_applied (result);
  g_assert_cmpstr (json_object_get_string_member (
                       json_object_get_object_member (result->reply, "user"), "username"),
                   ==, "Alice");
  g_assert_cmpint (json_object_get_int_member (result->reply, "unread"), ==, 2);
  owner = chat_store_session_user (f->store, "s-new");
  g_assert_cmpstr (owner, ==, "Alice");
  unknown = apply_op (f, "{\"op\":\"login\",\"username\":\"nobody\",\"session\":\"s-x\",\"at\":9}");
  assert_refused (unknown, CHAT_ERROR_BAD_CREDENTIALS);
  g_assert_null (chat_store_session_user (f->store, "s-x"));
}

static void
test_logout (StoreFixture *f, gconstpointer data)
{
  g_autofree char *session = session_hash ("alice");
  g_autofree char *owner = NULL, *name = NULL;
  g_autoptr (ChatApplyResult) result = NULL, again = NULL;

  signup (f, "alice");
  owner = chat_store_session_user (f->store, session);
  g_assert_cmpstr (owner, ==, "alice");
  result = apply_printf (f, "{\"op\":\"logout\",\"session\":\"%s\"}", session);
  assert_applied (result);
  g_assert_cmpuint (result->ended_sessions->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (result->ended_sessions, 0), ==, session);
  g_assert_cmpuint (json_object_get_size (result->reply), ==, 0);
  g_assert_null (chat_store_session_user (f->store, session));
  /* Logging out twice changes nothing and ends nothing. */
  again = apply_printf (f, "{\"op\":\"logout\",\"session\":\"%s\"}", session);
  assert_applied (again);
  g_assert_cmpuint (again->ended_sessions->len, ==, 0);
  name = chat_store_user_name (f->store, "alice");
  g_assert_cmpstr (name, ==, "alice");
}

/* --- send ---------------------------------------------------------------------- */

static void
test_send (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) result = NULL;
  JsonObject *message;
  ChatApplyEvent *to_bob, *to_alice;

  signup (f, "Alice");
  signup (f, "Bob");
  result = apply_op (
      f, "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"BOB\",\"body\":\"hé \\\"there\\\"\","
         "\"client_msg_id\":\"c1\",\"at\":1795000000123,\"session\":\"s-a\"}");
  assert_applied (result);
  message = reply_message (result);
  g_assert_cmpint (json_object_get_int_member (message, "id"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (message, "seq"), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (message, "from"), ==, "Alice");
  g_assert_cmpstr (json_object_get_string_member (message, "to"), ==, "Bob");
  g_assert_cmpstr (json_object_get_string_member (message, "body"), ==, "hé \"there\"");
  g_assert_cmpint (json_object_get_int_member (message, "sent_at"), ==, 1795000000123);
  g_assert_false (json_object_get_boolean_member (message, "read"));
  g_assert_cmpuint (json_object_get_size (message), ==, 7);

  g_assert_cmpuint (result->events->len, ==, 2);
  to_bob = event_at (result, 0);
  to_alice = event_at (result, 1);
  g_assert_cmpstr (to_bob->user_key, ==, "bob");
  g_assert_null (to_bob->except_session);
  g_assert_cmpstr (event_name (to_bob), ==, "message");
  g_assert_cmpint (json_object_get_int_member (
                       json_object_get_object_member (event_object (to_bob), "message"), "id"),
                   ==, 3);
  g_assert_cmpstr (to_alice->user_key, ==, "alice");
  g_assert_cmpstr (to_alice->except_session, ==, "s-a");
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 1);
}

static void
test_send_to_self (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) result = NULL;

  signup (f, "alice");
  result = apply_op (f, "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"alice\",\"body\":\"note\","
                        "\"client_msg_id\":\"n1\",\"at\":1,\"session\":\"s-a\"}");
  assert_applied (result);
  /* One event, to every connection including the sender's: it is also the recipient. */
  g_assert_cmpuint (result->events->len, ==, 1);
  g_assert_cmpstr (event_at (result, 0)->user_key, ==, "alice");
  g_assert_null (event_at (result, 0)->except_session);
}

static void
test_send_idempotent (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) first = NULL, retry = NULL, other_sender = NULL;
  g_autofree char *first_text = NULL, *retry_text = NULL, *before = NULL, *after = NULL;
  g_autoptr (JsonObject) found = NULL;

  signup (f, "alice");
  signup (f, "bob");
  first = apply_op (f, "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"bob\",\"body\":\"hi\","
                       "\"client_msg_id\":\"c1\",\"at\":100}");
  assert_applied (first);
  before = store_hash (f->store);
  /* A retry after a failover: different body, time and recipient case. */
  retry = apply_op (f, "{\"op\":\"send\",\"from\":\"ALICE\",\"to\":\"Bob\",\"body\":\"changed\","
                       "\"client_msg_id\":\"c1\",\"at\":999}");
  assert_applied (retry);
  after = store_hash (f->store);
  first_text = object_to_string (reply_message (first));
  retry_text = object_to_string (reply_message (retry));
  g_assert_cmpstr (first_text, ==, retry_text);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (retry->events->len, ==, 0);
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 1);
  found = chat_store_find_sent (f->store, "Alice", "c1");
  g_assert_nonnull (found);
  g_assert_cmpint (json_object_get_int_member (found, "id"), ==, 3);
  g_assert_null (chat_store_find_sent (f->store, "bob", "c1"));
  /* The same client_msg_id from another sender is a different message. */
  other_sender = apply_op (f, "{\"op\":\"send\",\"from\":\"bob\",\"to\":\"alice\",\"body\":\"yo\","
                              "\"client_msg_id\":\"c1\",\"at\":101}");
  assert_applied (other_sender);
  g_assert_cmpint (json_object_get_int_member (reply_message (other_sender), "id"), ==, 5);
}

static void
test_send_refusals (StoreFixture *f, gconstpointer data)
{
  static const struct
  {
    const char *op;
    ChatErrorCode code;
  } cases[] = {
    { "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"nobody\",\"body\":\"x\",\"client_msg_id\":"
      "\"1\","
      "\"at\":1}",
      CHAT_ERROR_NO_SUCH_USER },
    { "{\"op\":\"send\",\"from\":\"ghost\",\"to\":\"alice\",\"body\":\"x\",\"client_msg_id\":\"1\","
      "\"at\":1}",
      CHAT_ERROR_NO_SUCH_USER },
    { "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"alice\",\"body\":\"\",\"client_msg_id\":\"1\","
      "\"at\":1}",
      CHAT_ERROR_BAD_REQUEST },
    { "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"alice\",\"body\":\"x\",\"at\":1}",
      CHAT_ERROR_BAD_REQUEST },
    { "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"alice\",\"body\":\"x\",\"client_msg_id\":\"1\","
      "\"at\":\"soon\"}",
      CHAT_ERROR_BAD_REQUEST },
    { "{\"op\":\"send\",\"from\":\"alice\",\"to\":{\"x\":1},\"body\":\"x\",\"client_msg_id\":\"1\","
      "\"at\":1}",
      CHAT_ERROR_BAD_REQUEST },
  };
  g_autofree char *before = NULL, *after = NULL;

  signup (f, "alice");
  before = store_hash (f->store);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (ChatApplyResult) result = apply_op (f, cases[i].op);
      g_test_message ("case %u: %s", i, cases[i].op);
      assert_refused (result, cases[i].code);
    }
  after = store_hash (f->store);
  g_assert_cmpstr (before, ==, after);
}

/* --- mark_read ----------------------------------------------------------------- */

static void
test_mark_read_with (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) result = NULL, again = NULL, unknown = NULL;
  g_autoptr (JsonObject) counts = NULL;
  ChatApplyEvent *event;
  gint64 m2;

  signup (f, "alice");
  signup (f, "Bob");
  signup (f, "carol");
  send_message (f, "alice", "bob", "1");
  send_message (f, "carol", "bob", "c");
  m2 = send_message (f, "alice", "bob", "2");
  send_message (f, "bob", "alice", "b");
  send_message (f, "alice", "bob", "3");
  result = apply_printf (
      f,
      "{\"op\":\"mark_read\",\"user\":\"BOB\",\"with\":\"Alice\",\"up_to\":%" G_GINT64_FORMAT "}",
      m2);
  assert_applied (result);
  g_assert_cmpint (json_object_get_int_member (result->reply, "marked"), ==, 2);
  g_assert_cmpuint (result->events->len, ==, 1);
  event = event_at (result, 0);
  g_assert_cmpstr (event->user_key, ==, "alice");
  g_assert_cmpstr (event_name (event), ==, "read");
  g_assert_cmpstr (json_object_get_string_member (event_object (event), "by"), ==, "Bob");
  g_assert_cmpstr (json_object_get_string_member (event_object (event), "with"), ==, "alice");
  g_assert_cmpint (json_object_get_int_member (event_object (event), "up_to"), ==, m2);
  g_assert_cmpint (json_object_get_int_member (event_object (event), "seq"), ==, (gint64)f->index);
  counts = chat_store_unread_count (f->store, "bob", NULL);
  g_assert_cmpint (json_object_get_int_member (counts, "total"), ==, 2); /* m3 and carol's */
  again = apply_printf (
      f,
      "{\"op\":\"mark_read\",\"user\":\"bob\",\"with\":\"alice\",\"up_to\":%" G_GINT64_FORMAT "}",
      m2);
  g_assert_cmpint (json_object_get_int_member (again->reply, "marked"), ==, 0);
  g_assert_cmpuint (again->events->len, ==, 0);
  unknown = apply_op (f, "{\"op\":\"mark_read\",\"user\":\"bob\",\"with\":\"nobody\",\"up_to\":9}");
  assert_refused (unknown, CHAT_ERROR_NO_SUCH_USER);
}

static void
test_mark_read_ids (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) result = NULL;
  g_autofree char *ids = NULL;
  gint64 a1, c1, a2, to_alice;

  signup (f, "alice");
  signup (f, "bob");
  signup (f, "carol");
  a1 = send_message (f, "alice", "bob", "a1");
  c1 = send_message (f, "carol", "bob", "c1");
  a2 = send_message (f, "alice", "bob", "a2");
  to_alice = send_message (f, "bob", "alice", "not bob's to mark");
  result = apply_printf (f,
                         "{\"op\":\"mark_read\",\"user\":\"bob\",\"ids\":[%" G_GINT64_FORMAT
                         ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                         ",999,%" G_GINT64_FORMAT "]}",
                         a2, c1, a1, to_alice, a1);
  assert_applied (result);
  g_assert_cmpint (json_object_get_int_member (result->reply, "marked"), ==, 3);
  ids = message_ids (json_object_get_array_member (result->reply, "messages"));
  g_assert_cmpstr (ids, ==, "4,5,6");
  g_assert_true (json_object_get_boolean_member (
      json_array_get_object_element (json_object_get_array_member (result->reply, "messages"), 0),
      "read"));
  /* One read event per sender, in key order, each naming its own messages. */
  g_assert_cmpuint (result->events->len, ==, 2);
  g_assert_cmpstr (event_at (result, 0)->user_key, ==, "alice");
  g_assert_cmpint (json_object_get_int_member (event_object (event_at (result, 0)), "up_to"), ==,
                   a2);
  g_assert_cmpstr (event_at (result, 1)->user_key, ==, "carol");
  g_assert_cmpint (json_object_get_int_member (event_object (event_at (result, 1)), "up_to"), ==,
                   c1);
  g_assert_cmpuint (json_array_get_length (
                        json_object_get_array_member (event_object (event_at (result, 1)), "ids")),
                    ==, 1);
  {
    g_autoptr (JsonArray) unread = chat_store_unread (f->store, "alice", 10, NULL);
    g_assert_cmpuint (json_array_get_length (unread), ==, 1);
  }
  {
    g_autoptr (ChatApplyResult) bad = apply_op (f, "{\"op\":\"mark_read\",\"user\":\"bob\","
                                                   "\"ids\":[\"x\"]}");
    assert_refused (bad, CHAT_ERROR_BAD_REQUEST);
  }
}

/* --- delete_messages ----------------------------------------------------------- */

static void
test_delete_messages (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) result = NULL;
  g_autofree char *deleted = NULL, *hidden = NULL, *bob_ids = NULL, *alice_ids = NULL;
  g_autofree char *alice_hidden = NULL;
  gint64 ab, ba, cb;

  signup (f, "alice");
  signup (f, "bob");
  signup (f, "carol");
  ab = send_message (f, "alice", "bob", "1");
  ba = send_message (f, "bob", "alice", "2");
  cb = send_message (f, "carol", "bob", "3");
  send_message (f, "alice", "carol", "4");
  /* Alice deletes one she sent (for both), one she received (for her only), one between
   * others and a missing id (both ignored). */
  result = apply_printf (f,
                         "{\"op\":\"delete_messages\",\"user\":\"alice\",\"ids\":[%" G_GINT64_FORMAT
                         ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",4242]}",
                         ba, cb, ab);
  assert_applied (result);
  deleted = int_list (json_object_get_array_member (result->reply, "deleted"));
  hidden = int_list (json_object_get_array_member (result->reply, "hidden"));
  g_assert_cmpstr (deleted, ==, "4");
  g_assert_cmpstr (hidden, ==, "5");
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 3);
  g_assert_cmpuint (result->events->len, ==, 3);
  g_assert_cmpstr (event_at (result, 0)->user_key, ==, "alice");
  g_assert_cmpstr (event_at (result, 1)->user_key, ==, "bob");
  g_assert_cmpstr (event_at (result, 2)->user_key, ==, "alice");
  g_assert_cmpstr (event_name (event_at (result, 1)), ==, "deleted");
  alice_ids = int_list (json_object_get_array_member (event_object (event_at (result, 0)), "ids"));
  bob_ids = int_list (json_object_get_array_member (event_object (event_at (result, 1)), "ids"));
  alice_hidden
      = int_list (json_object_get_array_member (event_object (event_at (result, 2)), "ids"));
  g_assert_cmpstr (alice_ids, ==, "4");
  g_assert_cmpstr (bob_ids, ==, "4");
  g_assert_cmpstr (alice_hidden, ==, "5");
  g_assert_cmpstr (json_object_get_string_member (event_object (event_at (result, 1)), "scope"), ==,
                   "everyone");
  g_assert_cmpstr (json_object_get_string_member (event_object (event_at (result, 2)), "scope"), ==,
                   "me");
  g_assert_cmpint (json_object_get_int_member (event_object (event_at (result, 1)), "seq"), ==,
                   (gint64)f->index);
  {
    /* Nothing of hers left among those: an empty answer and no events. */
    g_autoptr (ChatApplyResult) none = apply_printf (f,
                                                     "{\"op\":\"delete_messages\",\"user\":"
                                                     "\"alice\",\"ids\":[%" G_GINT64_FORMAT "]}",
                                                     cb);
    assert_applied (none);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (none->reply, "deleted")),
                      ==, 0);
    g_assert_cmpuint (none->events->len, ==, 0);
  }
}

/* A send applied again after its message was deleted for everyone (a partition's losing side
 * replays it, or a client retries after a lost answer, docs/partitions.md) must not bring the
 * message back: it is refused as not_found and nothing changes. */
static void
test_delete_then_send_again (StoreFixture *f, gconstpointer data)
{
  static const char send[] = "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"bob\","
                             "\"body\":\"hi\",\"client_msg_id\":\"c1\",\"at\":100}";
  g_autoptr (ChatApplyResult) first = NULL, deletion = NULL, again = NULL, twice = NULL;
  g_autofree char *before = NULL;
  gint64 id;

  signup (f, "alice");
  signup (f, "bob");
  first = apply_op (f, send);
  assert_applied (first);
  id = json_object_get_int_member (reply_message (first), "id");
  deletion = apply_printf (f,
                           "{\"op\":\"delete_messages\",\"user\":\"alice\",\"scope\":"
                           "\"everyone\",\"ids\":[%" G_GINT64_FORMAT "]}",
                           id);
  assert_applied (deletion);
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 0);
  before = store_hash (f->store);
  again = apply_op (f, send);
  assert_refused (again, CHAT_ERROR_NOT_FOUND);
  twice = apply_op (f, send);
  assert_refused (twice, CHAT_ERROR_NOT_FOUND);
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 0);
  g_assert_cmpuint (again->events->len + twice->events->len, ==, 0);
  {
    g_autofree char *after = store_hash (f->store);

    g_assert_cmpstr (before, ==, after);
  }
}

/* Case 7: a recipient cannot delete what the sender wrote for both; nothing changes. */
static void
test_delete_forbidden (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) refused = NULL, mine = NULL, bad = NULL;
  g_autoptr (JsonArray) bob_history = NULL, alice_history = NULL;
  g_autoptr (JsonObject) alice_sync = NULL;
  g_autofree char *synced = NULL;
  gint64 ab, ba;

  signup (f, "alice");
  signup (f, "bob");
  ab = send_message (f, "alice", "bob", "from alice");
  ba = send_message (f, "bob", "alice", "from bob");
  refused = apply_printf (f,
                          "{\"op\":\"delete_messages\",\"user\":\"bob\",\"scope\":\"everyone\","
                          "\"ids\":[%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "]}",
                          ba, ab);
  assert_refused (refused, CHAT_ERROR_FORBIDDEN);
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 2);
  bad = apply_printf (f,
                      "{\"op\":\"delete_messages\",\"user\":\"bob\",\"scope\":\"all\","
                      "\"ids\":[%" G_GINT64_FORMAT "]}",
                      ba);
  assert_refused (bad, CHAT_ERROR_BAD_REQUEST);
  /* The sender hides her own message for herself: bob keeps it. */
  mine = apply_printf (f,
                       "{\"op\":\"delete_messages\",\"user\":\"alice\",\"scope\":\"me\","
                       "\"ids\":[%" G_GINT64_FORMAT "]}",
                       ab);
  assert_applied (mine);
  g_assert_cmpuint (mine->events->len, ==, 1);
  bob_history = chat_store_history (f->store, "bob", "alice", 0, 50, NULL, NULL);
  alice_history = chat_store_history (f->store, "alice", "bob", 0, 50, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (bob_history), ==, 2);
  g_assert_cmpuint (json_array_get_length (alice_history), ==, 1);
  alice_sync = chat_store_sync (f->store, "alice", 0, 100, NULL);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (alice_sync, "messages")),
                    ==, 1);
  synced = int_list (json_object_get_array_member (alice_sync, "deleted"));
  g_assert_cmpstr (synced, ==, "3");
}

/* --- delete_account ------------------------------------------------------------ */

static void
test_delete_account (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) login = NULL, result = NULL, again = NULL;
  g_autoptr (JsonObject) bob_sync = NULL;
  g_autoptr (JsonArray) bob_history = NULL, bob_conversations = NULL;
  g_autofree char *alice_session = session_hash ("alice");
  g_autofree char *deleted = NULL, *expected = NULL;
  gint64 ab, ba;

  signup (f, "alice");
  signup (f, "bob");
  signup (f, "carol");
  signup (f, "dave");
  login = apply_op (f, "{\"op\":\"login\",\"username\":\"alice\",\"session\":\"second\",\"at\":2}");
  ab = send_message (f, "alice", "bob", "1");
  ba = send_message (f, "bob", "alice", "2");
  send_message (f, "carol", "bob", "3");
  send_message (f, "alice", "carol", "4");
  send_message (f, "alice", "alice", "self");
  result = apply_op (f, "{\"op\":\"delete_account\",\"username\":\"ALICE\"}");
  assert_applied (result);
  g_assert_cmpuint (json_object_get_size (result->reply), ==, 0);
  g_assert_null (chat_store_user_name (f->store, "alice"));
  g_assert_null (chat_store_session_user (f->store, alice_session));
  g_assert_null (chat_store_session_user (f->store, "second"));
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 1); /* carol -> bob */
  g_assert_cmpuint (result->ended_sessions->len, ==, 2);
  /* account_deleted to bob and carol (not dave, not alice herself), in key order. */
  g_assert_cmpuint (result->events->len, ==, 2);
  g_assert_cmpstr (event_at (result, 0)->user_key, ==, "bob");
  g_assert_cmpstr (event_at (result, 1)->user_key, ==, "carol");
  g_assert_cmpstr (event_name (event_at (result, 0)), ==, "account_deleted");
  g_assert_cmpstr (json_object_get_string_member (event_object (event_at (result, 0)), "user"), ==,
                   "alice");
  /* Bob's sync reports both messages of the conversation as deleted. */
  bob_sync = chat_store_sync (f->store, "bob", 0, 100, NULL);
  deleted = int_list (json_object_get_array_member (bob_sync, "deleted"));
  expected = g_strdup_printf ("%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT, ab, ba);
  g_assert_cmpstr (deleted, ==, expected);
  bob_conversations = chat_store_conversations (f->store, "bob", NULL);
  g_assert_cmpuint (json_array_get_length (bob_conversations), ==, 1);
  /* Refused once gone; the name is free again. */
  again = apply_op (f, "{\"op\":\"delete_account\",\"username\":\"alice\"}");
  assert_refused (again, CHAT_ERROR_NO_SUCH_USER);
  signup (f, "Alice");
  g_assert_cmpuint (chat_store_count_accounts (f->store), ==, 4);
  bob_history = chat_store_history (f->store, "bob", "alice", 0, 50, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (bob_history), ==, 0);
}

/* A send from alice to bob; stamp is what follows the fields ("" or ",\"account_since\":N"). */
static ChatApplyResult *
send_stamped (StoreFixture *f, const char *client_msg_id, const char *stamp)
{
  return apply_printf (f,
                       "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"bob\",\"body\":\"x\","
                       "\"client_msg_id\":\"%s\",\"at\":2100%s}",
                       client_msg_id, stamp);
}

/* After a partition the losing side's ops are replayed on the winner, where the account
 * may have been deleted and its name signed up again: what the old account did there (a
 * login, a send, a deletion) must not act for the new one. Ops are stamped with the
 * account's signup time; unstamped ops (older logs) keep working. */
static void
test_replay_for_deleted_account (StoreFixture *f, gconstpointer data)
{
  static const char *old_ops[] = {
    "{\"op\":\"login\",\"username\":\"alice\",\"session\":\"s-old\",\"at\":1500,"
    "\"account_since\":1000}",
    "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"bob\",\"body\":\"old\","
    "\"client_msg_id\":\"c-old\",\"at\":1600,\"account_since\":1000}",
    "{\"op\":\"mark_read\",\"user\":\"alice\",\"with\":\"bob\",\"account_since\":1000}",
    "{\"op\":\"delete_account\",\"username\":\"alice\",\"account_since\":1000}",
  };
  g_autoptr (ChatApplyResult) gone = NULL, again = NULL, current = NULL, unstamped = NULL;
  g_autofree char *before = NULL, *after = NULL, *owner = NULL;

  signup (f, "alice");
  signup (f, "bob");
  gone = apply_op (f, "{\"op\":\"delete_account\",\"username\":\"alice\","
                      "\"account_since\":1000}");
  assert_applied (gone);
  again = apply_op (f, "{\"op\":\"signup\",\"username\":\"alice\",\"password_hash\":\"h2\","
                       "\"session\":\"s-new\",\"at\":2000}");
  assert_applied (again);
  g_assert_cmpint (chat_store_account_since (f->store, "ALICE", NULL), ==, 2000);
  g_assert_cmpint (chat_store_account_since (f->store, "carol", NULL), ==, -1);
  before = store_hash (f->store);
  for (guint i = 0; i < G_N_ELEMENTS (old_ops); i++)
    {
      g_autoptr (ChatApplyResult) result = apply_op (f, old_ops[i]);

      assert_refused (result, CHAT_ERROR_NO_SUCH_USER);
    }
  after = store_hash (f->store);
  g_assert_cmpstr (before, ==, after);
  owner = chat_store_session_user (f->store, "s-old");
  g_assert_null (owner);
  g_assert_cmpuint (chat_store_count_accounts (f->store), ==, 2);
  /* The new account's own ops, and ops without a stamp, go through. */
  current = send_stamped (f, "c-new", ",\"account_since\":2000");
  assert_applied (current);
  unstamped = send_stamped (f, "c-n", "");
  assert_applied (unstamped);
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 2);
}

/* A stamp that is not a time is refused like any malformed field. */
static void
test_bad_account_stamp (StoreFixture *f, gconstpointer data)
{
  g_autoptr (ChatApplyResult) text = NULL, negative = NULL;

  signup (f, "alice");
  signup (f, "bob");
  text = send_stamped (f, "c1", ",\"account_since\":\"1000\"");
  assert_refused (text, CHAT_ERROR_BAD_REQUEST);
  negative = send_stamped (f, "c1", ",\"account_since\":-1");
  assert_refused (negative, CHAT_ERROR_BAD_REQUEST);
  g_assert_cmpuint (chat_store_count_messages (f->store), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  store_test_add ("apply/signup", test_signup);
  store_test_add ("apply/signup/refusals", test_signup_refusals);
  store_test_add ("apply/login", test_login);
  store_test_add ("apply/logout", test_logout);
  store_test_add ("apply/send", test_send);
  store_test_add ("apply/send/to-self", test_send_to_self);
  store_test_add ("apply/send/idempotent", test_send_idempotent);
  store_test_add ("apply/send/refusals", test_send_refusals);
  store_test_add ("apply/mark-read/with", test_mark_read_with);
  store_test_add ("apply/mark-read/ids", test_mark_read_ids);
  store_test_add ("apply/delete-messages", test_delete_messages);
  store_test_add ("apply/delete-forbidden", test_delete_forbidden);
  store_test_add ("apply/delete-account", test_delete_account);
  store_test_add ("apply/delete-then-send-again", test_delete_then_send_again);
  store_test_add ("apply/replay-for-deleted-account", test_replay_for_deleted_account);
  store_test_add ("apply/bad-account-stamp", test_bad_account_stamp);

  return g_test_run ();
}
