/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every operation through ChatClient against a real chatd: live signals, restart, errors. */
#include "chat-client.h"
#include "chat-test-cluster.h"
#include "chat-test-loop.h"

#include <string.h>

#define PASSWORD "correct horse"
#define WAIT_MS 10000

static ChatTestCluster *cluster;
static GAsyncResult *last_result;
static guint name_counter;

/* Waiting. */

static void
capture (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_assert_null (last_result);
  last_result = g_object_ref (result);
}

static GAsyncResult *
await (void)
{
  g_assert_true (chat_test_loop_until_set ((gpointer *)&last_result, WAIT_MS));
  return g_steal_pointer (&last_result);
}

/* Iterates the main loop until *counter reaches at least target. */
static void
wait_count (guint *counter, guint target)
{
  g_assert_true (chat_test_loop_until_count (counter, target, WAIT_MS));
}

static void
settle (guint ms)
{
  chat_test_loop_for (ms);
}

static char *
unique_name (const char *prefix)
{
  return g_strdup_printf ("%s%u%u", prefix, (guint)getpid () % 10000, ++name_counter);
}

/* A client that records what it is told. */

typedef struct
{
  ChatClient *client;
  GPtrArray *messages; /* ChatMessage * received */
  GArray *deleted;     /* gint64 */
  guint n_read_events;
  gint64 read_up_to;
  guint n_session_ended;
  char *account_deleted;
  guint n_reconnecting;
} Peer;

static void
on_message (ChatClient *client, ChatMessage *message, Peer *peer)
{
  g_ptr_array_add (peer->messages, g_object_ref (message));
}

static void
on_deleted (ChatClient *client, GArray *ids, Peer *peer)
{
  g_array_append_vals (peer->deleted, ids->data, ids->len);
}

static void
on_read (ChatClient *client, const char *by, const char *with, gint64 up_to, Peer *peer)
{
  peer->n_read_events++;
  peer->read_up_to = up_to;
}

static void
on_session_ended (ChatClient *client, const char *reason, Peer *peer)
{
  peer->n_session_ended++;
}

static void
on_account_deleted (ChatClient *client, const char *user, Peer *peer)
{
  g_free (peer->account_deleted);
  peer->account_deleted = g_strdup (user);
}

static void
on_state (ChatClient *client, ChatConnectionState state, Peer *peer)
{
  if (state == CHAT_CONNECTION_STATE_RECONNECTING)
    peer->n_reconnecting++;
}

static Peer *
peer_new (void)
{
  Peer *peer = g_new0 (Peer, 1);
  g_autofree char *address = g_strdup_printf ("127.0.0.1:%u", chat_test_cluster_port (cluster, 1));

  peer->client = chat_client_new ((const char *const[]){ address, NULL });
  peer->messages = g_ptr_array_new_with_free_func (g_object_unref);
  peer->deleted = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_signal_connect (peer->client, "message-received", G_CALLBACK (on_message), peer);
  g_signal_connect (peer->client, "messages-deleted", G_CALLBACK (on_deleted), peer);
  g_signal_connect (peer->client, "messages-read", G_CALLBACK (on_read), peer);
  g_signal_connect (peer->client, "session-ended", G_CALLBACK (on_session_ended), peer);
  g_signal_connect (peer->client, "account-deleted", G_CALLBACK (on_account_deleted), peer);
  g_signal_connect (peer->client, "connection-state-changed", G_CALLBACK (on_state), peer);
  return peer;
}

static void
peer_free (Peer *peer)
{
  chat_client_disconnect (peer->client);
  g_object_unref (peer->client);
  g_ptr_array_unref (peer->messages);
  g_array_unref (peer->deleted);
  g_free (peer->account_deleted);
  g_free (peer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Peer, peer_free)

/* Synchronous shorthands. */

static void
do_signup (Peer *peer, const char *name)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  chat_client_signup_async (peer->client, name, PASSWORD, NULL, capture, NULL);
  result = await ();
  g_assert_true (chat_client_signup_finish (peer->client, result, &error));
  g_assert_no_error (error);
}

static Peer *
new_user (const char *prefix, char **name)
{
  Peer *peer = peer_new ();
  g_autofree char *username = unique_name (prefix);

  do_signup (peer, username);
  g_assert_cmpstr (chat_client_get_username (peer->client), ==, username);
  *name = g_steal_pointer (&username);
  return peer;
}

static ChatMessage *
do_send (Peer *peer, const char *to, const char *body, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  chat_client_send_async (peer->client, to, body, NULL, capture, NULL);
  result = await ();
  return chat_client_send_finish (peer->client, result, error);
}

static ChatMessage *
send_ok (Peer *peer, const char *to, const char *body)
{
  g_autoptr (GError) error = NULL;
  ChatMessage *message = do_send (peer, to, body, &error);

  g_assert_no_error (error);
  return message;
}

/* Tests. */

static void
test_accounts (void)
{
  g_autofree char *name = NULL;
  g_autoptr (Peer) alice = new_user ("alice", &name);
  g_autoptr (Peer) other = peer_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *session = g_strdup (chat_client_get_session (alice->client));
  guint unread = 99;

  g_assert_cmpuint (strlen (session), ==, 64);
  g_assert_cmpint (chat_client_get_connection_state (alice->client), ==,
                   CHAT_CONNECTION_STATE_CONNECTED);

  /* The same session resumed by another client. */
  chat_client_resume_async (other->client, session, NULL, capture, NULL);
  result = await ();
  g_assert_true (chat_client_resume_finish (other->client, result, &unread, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (unread, ==, 0);
  g_assert_cmpstr (chat_client_get_username (other->client), ==, name);
  g_clear_object (&result);

  /* Logout ends it everywhere: the other client hears session_ended. */
  chat_client_logout_async (alice->client, NULL, capture, NULL);
  result = await ();
  g_assert_true (chat_client_logout_finish (alice->client, result, &error));
  g_assert_null (chat_client_get_session (alice->client));
  g_assert_cmpuint (alice->n_session_ended, ==, 1);
  wait_count (&other->n_session_ended, 1);
  g_clear_object (&result);

  /* Login again. */
  chat_client_login_async (alice->client, name, PASSWORD, NULL, capture, NULL);
  result = await ();
  g_assert_true (chat_client_login_finish (alice->client, result, &unread, &error));
  g_assert_nonnull (chat_client_get_session (alice->client));
  g_assert_cmpstr (chat_client_get_session (alice->client), !=, session);
}

static void
test_account_errors (void)
{
  g_autofree char *name = NULL;
  g_autoptr (Peer) alice = new_user ("erin", &name);
  g_autoptr (Peer) fresh = peer_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatMessage) message = NULL;

  chat_client_signup_async (fresh->client, name, PASSWORD, NULL, capture, NULL);
  result = await ();
  g_assert_false (chat_client_signup_finish (fresh->client, result, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_USERNAME_TAKEN);
  g_clear_error (&error);
  g_clear_object (&result);

  chat_client_signup_async (fresh->client, "-bad name-", PASSWORD, NULL, capture, NULL);
  result = await ();
  g_assert_false (chat_client_signup_finish (fresh->client, result, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INVALID_USERNAME);
  g_clear_error (&error);
  g_clear_object (&result);

  chat_client_login_async (fresh->client, name, "wrong password", NULL, capture, NULL);
  result = await ();
  g_assert_false (chat_client_login_finish (fresh->client, result, NULL, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_CREDENTIALS);
  g_clear_error (&error);
  g_clear_object (&result);

  /* Not logged in. */
  message = do_send (fresh, name, "hi", &error);
  g_assert_null (message);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_UNAUTHENTICATED);
  g_clear_error (&error);

  /* No such user, empty body. */
  message = do_send (alice, "nobody-at-all", "hi", &error);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_NO_SUCH_USER);
  g_clear_error (&error);
  message = do_send (alice, name, "", &error);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
}

static void
test_unreachable (void)
{
  g_autoptr (ChatClient) client = chat_client_new ((const char *const[]){ "127.0.0.1:1", NULL });
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  chat_client_set_request_timeout (client, 500);
  chat_client_hello_async (client, NULL, capture, NULL);
  result = await ();
  g_assert_null (chat_client_hello_finish (client, result, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE);
  chat_client_disconnect (client);
}

static void
test_hello (void)
{
  g_autoptr (Peer) peer = peer_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatHelloInfo) info = NULL;
  guint total = 0;

  chat_client_hello_async (peer->client, NULL, capture, NULL);
  result = await ();
  info = chat_client_hello_finish (peer->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->role, ==, "leader");
  g_assert_cmpuint (info->proto, ==, 1);
  g_assert_nonnull (chat_client_get_leader (peer->client));
  g_assert_nonnull (chat_client_get_server (peer->client));
  g_assert_cmpuint (chat_client_count_servers_up (peer->client, &total), ==, total);
  g_assert_cmpuint (total, >=, 1);
}

static void
test_list_users (void)
{
  g_autofree char *a_name = NULL, *b_name = NULL;
  g_autoptr (Peer) a = new_user ("zedlist", &a_name);
  g_autoptr (Peer) b G_GNUC_UNUSED = new_user ("zedlist", &b_name);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) users = NULL;
  g_auto (GStrv) page = NULL;
  gboolean more = FALSE;

  chat_client_list_users_async (a->client, "ZEDLIST*", 0, NULL, NULL, capture, NULL);
  result = await ();
  users = chat_client_list_users_finish (a->client, result, &more, &error);
  g_assert_no_error (error);
  g_assert_true (g_strv_contains ((const char *const *)users, a_name));
  g_assert_true (g_strv_contains ((const char *const *)users, b_name));
  g_clear_object (&result);

  chat_client_list_users_async (a->client, "zedlist", 1, NULL, NULL, capture, NULL);
  result = await ();
  page = chat_client_list_users_finish (a->client, result, &more, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (page), ==, 1);
  g_assert_true (more);
}

static void
test_messaging (void)
{
  g_autofree char *a_name = NULL, *b_name = NULL;
  g_autoptr (Peer) alice = new_user ("alice", &a_name);
  g_autoptr (Peer) bob = new_user ("bob", &b_name);
  g_autoptr (ChatMessage) first = send_ok (alice, b_name, "hello bob");
  g_autoptr (ChatMessage) second = send_ok (alice, b_name, "are you there?");
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) by_user = NULL;
  g_autoptr (GPtrArray) unread = NULL;
  g_autoptr (GPtrArray) history = NULL;
  g_autoptr (GPtrArray) conversations = NULL;
  guint total = 0, marked = 0;
  gboolean more = TRUE;

  /* Live delivery, each message once. */
  wait_count (&bob->messages->len, 2);
  settle (100);
  g_assert_cmpuint (bob->messages->len, ==, 2);
  g_assert_cmpstr (chat_message_get_body (bob->messages->pdata[0]), ==, "hello bob");
  g_assert_cmpint (chat_client_get_last_seq (bob->client), >=, chat_message_get_seq (second));
  g_assert_cmpuint (alice->messages->len, ==, 0);

  chat_client_unread_count_async (bob->client, NULL, capture, NULL);
  result = await ();
  g_assert_true (chat_client_unread_count_finish (bob->client, result, &total, &by_user, &error));
  g_assert_cmpuint (total, ==, 2);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (by_user, a_name)), ==, 2);
  g_clear_object (&result);

  chat_client_conversations_async (bob->client, NULL, capture, NULL);
  result = await ();
  conversations = chat_client_conversations_finish (bob->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (conversations->len, ==, 1);
  g_assert_cmpstr (chat_conversation_get_user (conversations->pdata[0]), ==, a_name);
  g_assert_cmpuint (chat_conversation_get_unread (conversations->pdata[0]), ==, 2);
  g_clear_object (&result);

  chat_client_history_async (bob->client, a_name, 0, 1, NULL, capture, NULL);
  result = await ();
  history = chat_client_history_finish (bob->client, result, &more, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (history->len, ==, 1);
  g_assert_cmpint (chat_message_get_id (history->pdata[0]), ==, chat_message_get_id (second));
  g_assert_true (more);
  g_clear_object (&result);

  /* mark_read of the first: alice hears about it. */
  chat_client_mark_read_async (bob->client, a_name, chat_message_get_seq (first), NULL, capture,
                               NULL);
  result = await ();
  g_assert_true (chat_client_mark_read_finish (bob->client, result, &marked, &error));
  g_assert_cmpuint (marked, ==, 1);
  wait_count (&alice->n_read_events, 1);
  g_assert_cmpint (alice->read_up_to, ==, chat_message_get_seq (first));
  g_clear_object (&result);

  chat_client_read_unread_async (bob->client, 10, NULL, capture, NULL);
  result = await ();
  unread = chat_client_read_unread_finish (bob->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unread->len, ==, 1);
  g_assert_cmpstr (chat_message_get_body (unread->pdata[0]), ==, "are you there?");
}

static void
test_delete_and_sync (void)
{
  g_autofree char *a_name = NULL, *b_name = NULL;
  g_autoptr (Peer) alice = new_user ("alice", &a_name);
  g_autoptr (Peer) bob = new_user ("bob", &b_name);
  g_autoptr (ChatMessage) message = send_ok (alice, b_name, "delete me");
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) deleted = NULL, hidden = NULL;
  g_autoptr (ChatSyncResult) page = NULL;
  gint64 id = chat_message_get_id (message);
  gint64 bogus = id + 1000000;

  wait_count (&bob->messages->len, 1);
  chat_client_sync_async (bob->client, 0, 0, NULL, capture, NULL);
  result = await ();
  page = chat_client_sync_finish (bob->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->messages->len, ==, 1);
  g_assert_cmpint (page->seq, >=, chat_message_get_seq (message));
  g_clear_object (&result);

  /* The recipient may not delete alice's message for everyone: nothing changes. */
  chat_client_delete_messages_async (bob->client, (gint64[]){ id }, 1, CHAT_DELETE_SCOPE_EVERYONE,
                                     NULL, capture, NULL);
  result = await ();
  g_assert_false (chat_client_delete_messages_finish (bob->client, result, NULL, NULL, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_FORBIDDEN);
  g_clear_error (&error);
  g_clear_object (&result);

  /* By default the recipient hides it from its own view only. */
  chat_client_delete_messages_async (bob->client, (gint64[]){ id, bogus }, 2,
                                     CHAT_DELETE_SCOPE_DEFAULT, NULL, capture, NULL);
  result = await ();
  g_assert_true (
      chat_client_delete_messages_finish (bob->client, result, &deleted, &hidden, &error));
  g_assert_cmpuint (deleted->len, ==, 0);
  g_assert_cmpuint (hidden->len, ==, 1);
  g_assert_cmpint (g_array_index (hidden, gint64, 0), ==, id);
  wait_count (&bob->deleted->len, 1);
  g_clear_object (&result);
  g_clear_pointer (&deleted, g_array_unref);
  g_clear_pointer (&hidden, g_array_unref);

  /* The sender still has it, and deletes it for everyone: alice hears of it too. */
  g_assert_cmpuint (alice->deleted->len, ==, 0);
  chat_client_delete_messages_async (alice->client, (gint64[]){ id }, 1, CHAT_DELETE_SCOPE_EVERYONE,
                                     NULL, capture, NULL);
  result = await ();
  g_assert_true (
      chat_client_delete_messages_finish (alice->client, result, &deleted, &hidden, &error));
  g_assert_cmpuint (deleted->len, ==, 1);
  g_assert_cmpuint (hidden->len, ==, 0);
  wait_count (&alice->deleted->len, 1);
  g_assert_cmpint (g_array_index (alice->deleted, gint64, 0), ==, id);
}

static void
test_delete_account (void)
{
  g_autofree char *a_name = NULL, *b_name = NULL;
  g_autoptr (Peer) alice = new_user ("alice", &a_name);
  g_autoptr (Peer) bob = new_user ("bob", &b_name);
  g_autoptr (ChatMessage) message G_GNUC_UNUSED = send_ok (bob, a_name, "bye");
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  chat_client_delete_account_async (bob->client, "not the password", NULL, capture, NULL);
  result = await ();
  g_assert_false (chat_client_delete_account_finish (bob->client, result, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_CREDENTIALS);
  g_clear_error (&error);
  g_clear_object (&result);

  chat_client_delete_account_async (bob->client, PASSWORD, NULL, capture, NULL);
  result = await ();
  g_assert_true (chat_client_delete_account_finish (bob->client, result, &error));
  g_assert_null (chat_client_get_username (bob->client));
  g_assert_cmpuint (bob->n_session_ended, ==, 1);
  /* alice hears of it; bob's message to her is gone. */
  chat_test_loop_until_set ((gpointer *)&alice->account_deleted, CHAT_TEST_LOOP_FOREVER);
  g_assert_cmpstr (alice->account_deleted, ==, b_name);
}

/* The server is killed and restarted: clients reconnect, resume, re-send what was in
 * flight, and get what they missed exactly once. */
static void
test_restart_resume (void)
{
  g_autofree char *a_name = NULL, *b_name = NULL;
  g_autoptr (Peer) alice = new_user ("alice", &a_name);
  g_autoptr (Peer) bob = new_user ("bob", &b_name);
  g_autoptr (ChatMessage) before = send_ok (bob, a_name, "before the crash");
  g_autoptr (ChatMessage) after = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  wait_count (&alice->messages->len, 1);
  chat_test_cluster_kill (cluster, 1);
  /* bob sends while the server is down: the request waits and is sent on reconnect. */
  chat_client_send_async (bob->client, a_name, "while it was down", NULL, capture, NULL);
  settle (200);
  g_assert_null (last_result);
  chat_test_cluster_start (cluster, 1, TRUE);
  result = await ();
  after = chat_client_send_finish (bob->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (chat_message_get_seq (after), >, chat_message_get_seq (before));

  wait_count (&alice->messages->len, 2);
  settle (300);
  g_assert_cmpuint (alice->messages->len, ==, 2);
  g_assert_cmpstr (chat_message_get_body (alice->messages->pdata[1]), ==, "while it was down");
  g_assert_cmpuint (alice->n_reconnecting, >=, 1);
  g_assert_cmpint (chat_client_get_connection_state (alice->client), ==,
                   CHAT_CONNECTION_STATE_CONNECTED);
  g_assert_cmpstr (chat_client_get_username (alice->client), ==, a_name);
  /* The resumed session still works. */
  g_clear_object (&after);
  after = send_ok (alice, b_name, "still here");
  wait_count (&bob->messages->len, 1);
}

/* A queued send and a queued resume outlive "request-timeout" while the server is down, and
 * complete once it is back: the message stored once, the session attached. */
static void
test_queued_outlives_deadline (void)
{
  g_autofree char *a_name = NULL, *b_name = NULL;
  g_autoptr (Peer) alice = new_user ("alice", &a_name);
  g_autoptr (Peer) bob = new_user ("bob", &b_name);
  g_autoptr (Peer) again = peer_new ();
  g_autoptr (GAsyncResult) plain = NULL;
  g_autoptr (GAsyncResult) queued = NULL;
  g_autoptr (GAsyncResult) resumed = NULL;
  g_autoptr (ChatMessage) message = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *msg_id = chat_client_new_client_msg_id (bob->client);

  chat_test_cluster_kill (cluster, 1);
  chat_client_set_request_timeout (bob->client, 300);
  chat_client_set_request_timeout (again->client, 300);
  chat_client_send_async (bob->client, a_name, "plain", NULL, capture, NULL);
  plain = await ();
  g_assert_null (chat_client_send_finish (bob->client, plain, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE);
  g_clear_error (&error);

  chat_client_send_queued_async (bob->client, a_name, "queued", msg_id, NULL, capture, NULL);
  settle (1000); /* three deadlines */
  queued = g_steal_pointer (&last_result);
  g_assert_null (queued);
  chat_client_resume_queued_async (again->client, chat_client_get_session (bob->client), NULL,
                                   capture, NULL);
  settle (1000);
  g_assert_null (last_result);

  chat_test_cluster_start (cluster, 1, TRUE);
  queued = await ();
  /* Either may finish first; each is told apart by its source object. */
  if (g_async_result_get_source_object (queued) == G_OBJECT (again->client))
    {
      g_object_unref (g_async_result_get_source_object (queued));
      resumed = g_steal_pointer (&queued);
      queued = await ();
    }
  else
    {
      g_object_unref (g_async_result_get_source_object (queued));
      resumed = await ();
    }
  message = chat_client_send_finish (bob->client, queued, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (chat_message_get_body (message), ==, "queued");
  g_assert_true (chat_client_resume_finish (again->client, resumed, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (chat_client_get_username (again->client), ==, b_name);
  wait_count (&alice->messages->len, 1);
  settle (300);
  g_assert_cmpuint (alice->messages->len, ==, 1);
  g_assert_cmpstr (chat_message_get_body (alice->messages->pdata[0]), ==, "queued");
}

int
main (int argc, char **argv)
{
  int status = 0;

  g_test_init (&argc, &argv, NULL);
  cluster = chat_test_cluster_new (1, NULL);
  chat_test_cluster_start_all (cluster);
  g_test_add_func ("/libchat/hello", test_hello);
  g_test_add_func ("/libchat/accounts", test_accounts);
  g_test_add_func ("/libchat/account-errors", test_account_errors);
  g_test_add_func ("/libchat/unreachable", test_unreachable);
  g_test_add_func ("/libchat/list-users", test_list_users);
  g_test_add_func ("/libchat/messaging", test_messaging);
  g_test_add_func ("/libchat/delete-and-sync", test_delete_and_sync);
  g_test_add_func ("/libchat/delete-account", test_delete_account);
  g_test_add_func ("/libchat/restart-resume", test_restart_resume);
  g_test_add_func ("/libchat/queued-outlives-deadline", test_queued_outlives_deadline);
  status = g_test_run ();
  chat_test_cluster_free (cluster);
  return status;
}
