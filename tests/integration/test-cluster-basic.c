/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Three real servers: creation, hello, redirects, and every user operation through libchat. */
#include "chat-test-client.h"
#include "chat-test-loop.h"
#include "chat-test-util.h"

#include <string.h>

#define PASSWORD "correct horse"
#define CONVERGE_MS 20000

static ChatTestCluster *
start_cluster (void)
{
  ChatTestCluster *cluster = chat_test_cluster_new (3, NULL);

  chat_test_cluster_start_all (cluster);
  return cluster;
}

static char *
address_of (ChatTestCluster *cluster, guint node)
{
  return g_strdup_printf ("127.0.0.1:%u", chat_test_cluster_port (cluster, node));
}

/* Every server's view of the others, as hello lists it, says "leader" or "follower". A
 * follower's view of another follower depends on its own link to it, which may still be
 * reconnecting right after the start: poll for it. */
static gboolean
views_agree (ChatTestCluster *cluster, guint leader)
{
  for (guint node = 1; node <= 3; node++)
    {
      g_autoptr (JsonObject) hello = chat_test_hello (cluster, node);
      JsonArray *servers = hello != NULL ? json_object_get_array_member (hello, "servers") : NULL;

      for (guint i = 0; servers != NULL && i < json_array_get_length (servers); i++)
        {
          JsonObject *server = json_array_get_object_element (servers, i);

          if (g_strcmp0 (json_object_get_string_member (server, "state"),
                         i + 1 == leader ? "leader" : "follower")
              != 0)
            return FALSE;
        }
      if (servers == NULL)
        return FALSE;
    }
  return TRUE;
}

/* Every server answers hello with the same leader and term, and lists all three. */
static void
test_servers_start (void)
{
  g_autoptr (ChatTestCluster) cluster = start_cluster ();
  guint leader = chat_test_cluster_wait_leader (cluster, 10000);
  g_autofree char *leader_address = address_of (cluster, leader);
  gint64 term = -1;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_cmpuint (leader, !=, 0);
  chat_test_wait_converged (cluster, CONVERGE_MS);
  while (!views_agree (cluster, leader) && g_get_monotonic_time () < deadline)
    g_usleep (100 * 1000);
  for (guint node = 1; node <= 3; node++)
    {
      g_autoptr (JsonObject) hello = chat_test_hello (cluster, node);
      g_autofree char *me = address_of (cluster, node);
      JsonArray *servers = NULL;

      g_assert_nonnull (hello);
      g_assert_cmpstr (json_object_get_string_member (hello, "node"), ==, me);
      g_assert_cmpstr (json_object_get_string_member (hello, "role"), ==,
                       node == leader ? "leader" : "follower");
      g_assert_cmpstr (json_object_get_string_member (hello, "leader"), ==, leader_address);
      if (term < 0)
        term = json_object_get_int_member (hello, "term");
      g_assert_cmpint (json_object_get_int_member (hello, "term"), ==, term);
      g_assert_cmpint (term, >, 0);
      servers = json_object_get_array_member (hello, "servers");
      g_assert_cmpuint (json_array_get_length (servers), ==, 3);
      for (guint i = 0; i < 3; i++)
        {
          JsonObject *server = json_array_get_object_element (servers, i);
          g_autofree char *address = address_of (cluster, i + 1);

          g_assert_cmpstr (json_object_get_string_member (server, "address"), ==, address);
          g_assert_true (json_object_get_boolean_member (server, "in_sync"));
          g_assert_cmpstr (json_object_get_string_member (server, "state"), ==,
                           i + 1 == leader ? "leader" : "follower");
        }
    }
}

/* A follower answers every operation but hello with not_leader and the leader's address. */
static void
test_followers_redirect (void)
{
  static const char *const requests[] = {
    "{'id':1,'op':'signup','username':'zed','password':'" PASSWORD "'}",
    "{'id':1,'op':'login','username':'zed','password':'" PASSWORD "'}",
    "{'id':1,'op':'resume','session':'00'}",
    "{'id':1,'op':'logout'}",
    "{'id':1,'op':'list_users','pattern':'*'}",
    "{'id':1,'op':'send','to':'zed','body':'x','client_msg_id':'c'}",
    "{'id':1,'op':'read_unread'}",
    "{'id':1,'op':'history','with':'zed'}",
    "{'id':1,'op':'conversations'}",
    "{'id':1,'op':'mark_read','with':'zed','up_to':1}",
    "{'id':1,'op':'unread_count'}",
    "{'id':1,'op':'delete_messages','ids':[1]}",
    "{'id':1,'op':'delete_account','password':'" PASSWORD "'}",
    "{'id':1,'op':'sync','after':0}",
  };
  g_autoptr (ChatTestCluster) cluster = start_cluster ();
  guint leader = chat_test_cluster_wait_leader (cluster, 10000);
  g_autofree char *leader_address = address_of (cluster, leader);

  chat_test_wait_converged (cluster, CONVERGE_MS);
  for (guint node = 1; node <= 3; node++)
    {
      g_autoptr (ChatTestConn) conn = NULL;

      if (node == leader)
        continue;
      conn = chat_test_conn_new (chat_test_cluster_port (cluster, node));
      for (guint i = 0; i < G_N_ELEMENTS (requests); i++)
        {
          g_autoptr (JsonObject) reply = chat_test_rq (conn, "%s", requests[i]);
          JsonObject *error = NULL;

          chat_test_assert_error (reply, "not_leader");
          error = json_object_get_object_member (reply, "error");
          g_assert_cmpstr (json_object_get_string_member (error, "leader"), ==, leader_address);
        }
    }
}

typedef struct
{
  guint received;
  gint64 last_seq;
} Inbox;

static void
on_message (ChatClient *client, ChatMessage *message, gpointer user_data)
{
  Inbox *inbox = user_data;

  inbox->received++;
  inbox->last_seq = MAX (inbox->last_seq, chat_message_get_seq (message));
}

static void
check_reads (ChatClient *bob, gint64 last_seq)
{
  ChatTestWait wait = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) unread = NULL;
  g_autoptr (GPtrArray) conversations = NULL;
  g_autoptr (GHashTable) by_user = NULL;
  guint total = 0, marked = 0;

  chat_client_unread_count_async (bob, NULL, chat_test_wait_cb, &wait);
  chat_client_unread_count_finish (bob, chat_test_wait (&wait, 30000), &total, &by_user, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (total, ==, 3);
  chat_test_wait_clear (&wait);

  chat_client_read_unread_async (bob, 1, NULL, chat_test_wait_cb, &wait);
  unread = chat_client_read_unread_finish (bob, chat_test_wait (&wait, 30000), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unread->len, ==, 1);
  g_assert_cmpstr (chat_message_get_body (g_ptr_array_index (unread, 0)), ==, "one");
  chat_test_wait_clear (&wait);

  chat_client_mark_read_async (bob, "alice", last_seq, NULL, chat_test_wait_cb, &wait);
  chat_client_mark_read_finish (bob, chat_test_wait (&wait, 30000), &marked, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (marked, ==, 2);
  chat_test_wait_clear (&wait);

  chat_client_conversations_async (bob, NULL, chat_test_wait_cb, &wait);
  conversations = chat_client_conversations_finish (bob, chat_test_wait (&wait, 30000), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (conversations->len, ==, 1);
  g_assert_cmpstr (chat_conversation_get_user (g_ptr_array_index (conversations, 0)), ==, "alice");
  chat_test_wait_clear (&wait);
}

static void
check_list_and_delete (ChatClient *alice, ChatClient *bob, gint64 first_seq)
{
  ChatTestWait wait = { 0 };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) users = NULL;
  g_autoptr (GArray) deleted = NULL;
  g_autoptr (ChatSyncResult) page = NULL;
  gboolean more = FALSE;

  chat_client_list_users_async (bob, "AL*", 0, NULL, NULL, chat_test_wait_cb, &wait);
  users = chat_client_list_users_finish (bob, chat_test_wait (&wait, 30000), &more, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (users), ==, 1);
  g_assert_cmpstr (users[0], ==, "alice");
  chat_test_wait_clear (&wait);

  chat_client_delete_messages_async (alice, &first_seq, 1, CHAT_DELETE_SCOPE_DEFAULT, NULL,
                                     chat_test_wait_cb, &wait);
  g_assert_true (chat_client_delete_messages_finish (alice, chat_test_wait (&wait, 30000), &deleted,
                                                     NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (deleted->len, ==, 1);
  chat_test_wait_clear (&wait);

  chat_client_sync_async (bob, 0, 0, NULL, chat_test_wait_cb, &wait);
  page = chat_client_sync_finish (bob, chat_test_wait (&wait, 30000), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->messages->len, ==, 2);
  chat_test_wait_clear (&wait);
  g_assert_cmpuint (chat_test_client_count_body (bob, "alice", "one"), ==, 0);
  g_assert_cmpuint (chat_test_client_count_body (bob, "alice", "three"), ==, 1);
}

static void
check_logout_and_delete_account (ChatTestCluster *cluster, ChatClient *alice, ChatClient *bob)
{
  ChatTestWait wait = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatClient) again = chat_test_client_new (cluster);
  g_auto (GStrv) users = NULL;

  chat_client_logout_async (alice, NULL, chat_test_wait_cb, &wait);
  chat_client_logout_finish (alice, chat_test_wait (&wait, 30000), &error);
  g_assert_no_error (error);
  g_assert_null (chat_client_get_session (alice));
  chat_test_wait_clear (&wait);

  chat_test_client_login (again, "alice", PASSWORD);
  chat_client_delete_account_async (bob, PASSWORD, NULL, chat_test_wait_cb, &wait);
  chat_client_delete_account_finish (bob, chat_test_wait (&wait, 30000), &error);
  g_assert_no_error (error);
  chat_test_wait_clear (&wait);

  chat_client_list_users_async (again, "bob", 0, NULL, NULL, chat_test_wait_cb, &wait);
  users = chat_client_list_users_finish (again, chat_test_wait (&wait, 30000), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (users), ==, 0);
  chat_test_wait_clear (&wait);
}

/* libchat finds the leader by itself, whichever server it tries first, and every user
 * operation works through the cluster; afterwards every server holds the same state. */
static void
test_operations (void)
{
  g_autoptr (ChatTestCluster) cluster = start_cluster ();
  g_autoptr (ChatClient) alice = chat_test_client_new (cluster);
  g_autoptr (ChatClient) bob = chat_test_client_new (cluster);
  Inbox inbox = { 0 };
  gint64 first = 0, last = 0;
  g_autoptr (GPtrArray) history = NULL;

  g_signal_connect (bob, "message-received", G_CALLBACK (on_message), &inbox);
  chat_test_client_signup (alice, "alice", PASSWORD);
  chat_test_client_signup (bob, "bob", PASSWORD);
  first = chat_test_client_send (alice, "bob", "one");
  chat_test_client_send (alice, "bob", "two");
  last = chat_test_client_send (alice, "bob", "three");
  g_assert_cmpint (first, <, last);
  chat_test_loop_until_count (&inbox.received, 3, CHAT_TEST_LOOP_FOREVER);
  g_assert_cmpint (inbox.last_seq, ==, last);
  history = chat_test_client_history_all (bob, "alice");
  g_assert_cmpuint (history->len, ==, 3);
  check_reads (bob, last);
  check_list_and_delete (alice, bob, first);
  check_logout_and_delete_account (cluster, alice, bob);
  chat_test_wait_converged (cluster, CONVERGE_MS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cluster/basic/servers-start", test_servers_start);
  g_test_add_func ("/cluster/basic/followers-redirect", test_followers_redirect);
  g_test_add_func ("/cluster/basic/operations", test_operations);
  return g_test_run ();
}
