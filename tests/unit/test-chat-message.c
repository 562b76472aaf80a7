/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of ChatMessage and ChatConversation: parsing untrusted JSON, properties. */
#include "chat-client.h"
#include "chat-json.h"

static JsonObject *
parse (const char *text)
{
  g_autoptr (GError) error = NULL;
  JsonObject *object = chat_json_parse_object (text, strlen (text), &error);

  g_assert_no_error (error);
  return object;
}

static void
test_message_from_json (void)
{
  g_autoptr (JsonObject) object
      = parse ("{\"id\": 42, \"seq\": 43, \"from\": \"alice\", \"to\": \"bob\", \"body\": \"hi\", "
               "\"sent_at\": 1795000000000, \"read\": true}");
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatMessage) message = chat_message_new_from_json (object, &error);
  g_autoptr (JsonObject) back = NULL;
  g_autofree char *from = NULL;
  gint64 seq = 0;

  g_assert_no_error (error);
  g_assert_cmpint (chat_message_get_id (message), ==, 42);
  g_assert_cmpint (chat_message_get_seq (message), ==, 43);
  g_assert_cmpstr (chat_message_get_from (message), ==, "alice");
  g_assert_cmpstr (chat_message_get_to (message), ==, "bob");
  g_assert_cmpstr (chat_message_get_body (message), ==, "hi");
  g_assert_cmpint (chat_message_get_sent_at (message), ==, 1795000000000);
  g_assert_true (chat_message_get_read (message));
  g_object_get (message, "from", &from, "seq", &seq, NULL);
  g_assert_cmpstr (from, ==, "alice");
  g_assert_cmpint (seq, ==, 43);

  back = chat_message_to_json (message);
  g_assert_cmpint (json_object_get_int_member (back, "id"), ==, 42);
  g_assert_cmpstr (json_object_get_string_member (back, "body"), ==, "hi");
  g_assert_true (json_object_get_boolean_member (back, "read"));
}

static void
test_message_bad_fields (void)
{
  const char *bad[] = {
    "{\"seq\": 1, \"from\": \"a\", \"to\": \"b\", \"body\": \"x\"}",
    "{\"id\": \"1\", \"seq\": 1, \"from\": \"a\", \"to\": \"b\", \"body\": \"x\"}",
    "{\"id\": -1, \"seq\": 1, \"from\": \"a\", \"to\": \"b\", \"body\": \"x\"}",
    "{\"id\": 1, \"seq\": 1, \"from\": 5, \"to\": \"b\", \"body\": \"x\"}",
    "{\"id\": 1, \"seq\": 1, \"from\": \"a\", \"to\": \"b\", \"body\": \"x\", \"read\": 1}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (JsonObject) object = parse (bad[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (ChatMessage) message = chat_message_new_from_json (object, &error);

      g_assert_null (message);
      g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
    }
}

static void
on_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  (*(guint *)user_data)++;
}

static void
test_message_read_notify (void)
{
  g_autoptr (ChatMessage) message = chat_message_new (1, 1, "a", "b", "x", 0, FALSE);
  guint notified = 0;

  g_signal_connect (message, "notify::read", G_CALLBACK (on_notify), &notified);
  chat_message_set_read (message, TRUE);
  chat_message_set_read (message, TRUE);
  g_object_set (message, "read", FALSE, NULL);
  g_assert_cmpuint (notified, ==, 2);
  g_assert_false (chat_message_get_read (message));
}

static void
test_message_peer (void)
{
  g_autoptr (ChatMessage) message = chat_message_new (1, 1, "Alice", "bob", "x", 0, FALSE);
  g_autoptr (GDateTime) when = NULL;

  g_assert_cmpstr (chat_message_get_peer (message, "alice"), ==, "bob");
  g_assert_cmpstr (chat_message_get_peer (message, "BOB"), ==, "Alice");
  when = chat_message_dup_sent_at_local (message);
  g_assert_nonnull (when);
}

static void
test_conversation_from_json (void)
{
  g_autoptr (JsonObject) object = parse (
      "{\"user\": \"bob\", \"unread\": 3, \"last_message\": {\"id\": 7, \"seq\": 7, \"from\": "
      "\"bob\", \"to\": \"alice\", \"body\": \"yo\", \"sent_at\": 5, \"read\": false}}");
  g_autoptr (JsonObject) broken = parse ("{\"user\": \"bob\", \"last_message\": {\"id\": 7}}");
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatConversation) conversation = chat_conversation_new_from_json (object, &error);
  g_autoptr (ChatConversation) bad = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (chat_conversation_get_user (conversation), ==, "bob");
  g_assert_cmpuint (chat_conversation_get_unread (conversation), ==, 3);
  g_assert_cmpstr (chat_message_get_body (chat_conversation_get_last_message (conversation)), ==,
                   "yo");
  bad = chat_conversation_new_from_json (broken, &error);
  g_assert_null (bad);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
}

/* A list model binds the conversation itself: its last message and count notify once per
 * change, and it goes back to its protocol form (the offline cache of chat-gtk). */
static void
test_conversation_notify (void)
{
  g_autoptr (ChatConversation) conversation = chat_conversation_new ("bob", NULL, 0);
  g_autoptr (ChatMessage) last = chat_message_new (7, 9, "bob", "alice", "hi", 1000, FALSE);
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (ChatConversation) again = NULL;
  g_autoptr (GError) error = NULL;
  guint n_last = 0, n_unread = 0;

  g_signal_connect (conversation, "notify::last-message", G_CALLBACK (on_notify), &n_last);
  g_signal_connect (conversation, "notify::unread", G_CALLBACK (on_notify), &n_unread);
  chat_conversation_set_last_message (conversation, last);
  chat_conversation_set_last_message (conversation, last);
  chat_conversation_set_unread (conversation, 2);
  g_object_set (conversation, "unread", 2, NULL);
  g_assert_cmpuint (n_last, ==, 1);
  g_assert_cmpuint (n_unread, ==, 1);

  object = chat_conversation_to_json (conversation);
  again = chat_conversation_new_from_json (object, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (chat_conversation_get_user (again), ==, "bob");
  g_assert_cmpuint (chat_conversation_get_unread (again), ==, 2);
  g_assert_cmpint (chat_message_get_id (chat_conversation_get_last_message (again)), ==, 7);
}

/* A pending message becomes the committed one in place: id, seq, time and state notify. */
static void
test_message_pending_commit (void)
{
  g_autoptr (ChatMessage) pending = chat_message_new_pending ("alice", "bob", "hi", "c-1");
  g_autoptr (ChatMessage) committed = chat_message_new (5, 8, "alice", "bob", "hi", 1000, FALSE);
  guint n_state = 0, n_id = 0;

  g_assert_cmpint (chat_message_get_state (pending), ==, CHAT_DELIVERY_PENDING);
  g_assert_cmpint (chat_message_get_id (pending), ==, 0);
  g_assert_cmpstr (chat_message_get_client_msg_id (pending), ==, "c-1");
  g_signal_connect (pending, "notify::state", G_CALLBACK (on_notify), &n_state);
  g_signal_connect (pending, "notify::id", G_CALLBACK (on_notify), &n_id);
  chat_message_commit (pending, committed);
  g_assert_cmpint (chat_message_get_state (pending), ==, CHAT_DELIVERY_SENT);
  g_assert_cmpint (chat_message_get_id (pending), ==, 5);
  g_assert_cmpint (chat_message_get_seq (pending), ==, 8);
  g_assert_cmpint (chat_message_get_sent_at (pending), ==, 1000);
  g_assert_cmpuint (n_state, ==, 1);
  g_assert_cmpuint (n_id, ==, 1);
  /* Read by the recipient: one more state change. */
  chat_message_set_read (pending, TRUE);
  g_assert_cmpint (chat_message_get_state (pending), ==, CHAT_DELIVERY_READ);
  g_assert_cmpuint (n_state, ==, 2);
  g_assert_cmpint (chat_message_get_state (committed), ==, CHAT_DELIVERY_SENT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/message/from-json", test_message_from_json);
  g_test_add_func ("/message/bad-fields", test_message_bad_fields);
  g_test_add_func ("/message/read-notify", test_message_read_notify);
  g_test_add_func ("/message/peer", test_message_peer);
  g_test_add_func ("/message/pending-commit", test_message_pending_commit);
  g_test_add_func ("/conversation/from-json", test_conversation_from_json);
  g_test_add_func ("/conversation/notify", test_conversation_notify);
  return g_test_run ();
}
