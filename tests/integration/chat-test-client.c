/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster tests: synchronous libchat calls, alice and bob on a cluster, hello with the state
 * hash, convergence. */
#define G_LOG_DOMAIN "chatd-test"

#include "chat-test-client.h"
#include "chat-test-loop.h"

#include <string.h>

#define CALL_TIMEOUT_MS 60000

void
chat_test_wait_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChatTestWait *wait = user_data;

  g_assert_null (wait->result);
  wait->result = g_object_ref (result);
}

GAsyncResult *
chat_test_wait (ChatTestWait *wait, guint timeout_ms)
{
  if (!chat_test_loop_until_set ((gpointer *)&wait->result, timeout_ms))
    g_error ("A client call did not finish within %u ms", timeout_ms);
  return wait->result;
}

void
chat_test_wait_clear (ChatTestWait *wait)
{
  g_clear_object (&wait->result);
}

void
chat_test_spin (guint ms)
{
  chat_test_loop_for (ms);
}

ChatClient *
chat_test_client_new (ChatTestCluster *cluster)
{
  guint n = chat_test_cluster_n_servers (cluster);
  g_auto (GStrv) servers = g_new0 (char *, n + 1);
  ChatClient *client = NULL;

  for (guint i = 0; i < n; i++)
    servers[i] = g_strdup_printf ("127.0.0.1:%u", chat_test_cluster_port (cluster, i + 1));
  client = chat_client_new ((const char *const *)servers);
  chat_client_set_tls_database (client, chat_test_tls_database ());
  return client;
}

void
chat_test_client_signup (ChatClient *client, const char *username, const char *password)
{
  ChatTestWait wait = { 0 };
  g_autoptr (GError) error = NULL;

  chat_client_signup_async (client, username, password, NULL, chat_test_wait_cb, &wait);
  chat_client_signup_finish (client, chat_test_wait (&wait, CALL_TIMEOUT_MS), &error);
  g_assert_no_error (error);
  chat_test_wait_clear (&wait);
}

void
chat_test_client_login (ChatClient *client, const char *username, const char *password)
{
  ChatTestWait wait = { 0 };
  g_autoptr (GError) error = NULL;

  chat_client_login_async (client, username, password, NULL, chat_test_wait_cb, &wait);
  chat_client_login_finish (client, chat_test_wait (&wait, CALL_TIMEOUT_MS), NULL, &error);
  g_assert_no_error (error);
  chat_test_wait_clear (&wait);
}

gint64
chat_test_client_send (ChatClient *client, const char *to, const char *body)
{
  ChatTestWait wait = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatMessage) message = NULL;

  chat_client_send_async (client, to, body, NULL, chat_test_wait_cb, &wait);
  message = chat_client_send_finish (client, chat_test_wait (&wait, CALL_TIMEOUT_MS), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (chat_message_get_body (message), ==, body);
  chat_test_wait_clear (&wait);
  return chat_message_get_seq (message);
}

GPtrArray *
chat_test_client_history_all (ChatClient *client, const char *with)
{
  GPtrArray *all = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 before = 0;
  gboolean more = TRUE;

  while (more)
    {
      ChatTestWait wait = { 0 };
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) page = NULL;

      chat_client_history_async (client, with, before, 500, NULL, chat_test_wait_cb, &wait);
      page = chat_client_history_finish (client, chat_test_wait (&wait, CALL_TIMEOUT_MS), &more,
                                         &error);
      g_assert_no_error (error);
      chat_test_wait_clear (&wait);
      /* Pages come newest first, each ascending: prepend each page whole. */
      for (guint i = page->len; i > 0; i--)
        g_ptr_array_insert (all, 0, g_object_ref (g_ptr_array_index (page, i - 1)));
      if (page->len == 0)
        break;
      before = chat_message_get_seq (g_ptr_array_index (page, 0));
    }
  return all;
}

guint
chat_test_client_count_body (ChatClient *client, const char *with, const char *body)
{
  g_autoptr (GPtrArray) all = chat_test_client_history_all (client, with);
  guint n = 0;

  for (guint i = 0; i < all->len; i++)
    n += g_strcmp0 (chat_message_get_body (g_ptr_array_index (all, i)), body) == 0;
  return n;
}

void
chat_test_assert_all_once (ChatClient *reader, const char *with, GPtrArray *sent)
{
  g_autoptr (GPtrArray) history = chat_test_client_history_all (reader, with);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < history->len; i++)
    {
      const char *body = chat_message_get_body (g_ptr_array_index (history, i));

      g_assert_false (g_hash_table_contains (seen, body));
      g_hash_table_add (seen, (gpointer)body);
    }
  for (guint i = 0; i < sent->len; i++)
    {
      if (!g_hash_table_contains (seen, g_ptr_array_index (sent, i)))
        g_error ("Acknowledged “%s” is lost", (const char *)g_ptr_array_index (sent, i));
    }
  g_assert_cmpuint (history->len, ==, sent->len);
}

/* --- alice and bob on a cluster ------------------------------------------------------------ */

void
chat_test_pair_set_up (ChatTestPair *pair, gconstpointer snapshot_interval)
{
  ChatTestCluster *cluster = chat_test_cluster_new (3, NULL);

  if (snapshot_interval != NULL)
    chat_test_cluster_set_option (cluster, "cluster", "snapshot_interval", snapshot_interval);
  chat_test_pair_set_up_on (pair, cluster);
}

void
chat_test_pair_set_up_failure_timeout (ChatTestPair *pair, gconstpointer failure_timeout_ms)
{
  ChatTestCluster *cluster = chat_test_cluster_new (3, NULL);

  chat_test_cluster_set_option (cluster, "cluster", "failure_timeout_ms", failure_timeout_ms);
  chat_test_pair_set_up_on (pair, cluster);
}

void
chat_test_pair_set_up_on (ChatTestPair *pair, ChatTestCluster *cluster)
{
  pair->cluster = cluster;
  chat_test_cluster_start_all (pair->cluster);
  pair->alice = chat_test_client_new (pair->cluster);
  pair->bob = chat_test_client_new (pair->cluster);
  pair->sent = g_ptr_array_new_with_free_func (g_free);
  pair->ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  pair->in_flight = 0;
  pair->failed = 0;
  chat_test_client_signup (pair->alice, "alice", CHAT_TEST_PAIR_PASSWORD);
  chat_test_client_signup (pair->bob, "bob", CHAT_TEST_PAIR_PASSWORD);
}

void
chat_test_pair_tear_down (ChatTestPair *pair, gconstpointer data)
{
  g_clear_object (&pair->alice);
  g_clear_object (&pair->bob);
  g_clear_pointer (&pair->sent, g_ptr_array_unref);
  g_clear_pointer (&pair->ids, g_hash_table_unref);
  g_clear_pointer (&pair->cluster, chat_test_cluster_free);
}

static void
pair_acknowledged (ChatTestPair *pair, const char *body, gint64 id)
{
  g_hash_table_replace (pair->ids, g_strdup (body), g_memdup2 (&id, sizeof id));
}

void
chat_test_pair_send (ChatTestPair *pair, const char *body)
{
  gint64 id = chat_test_client_send (pair->alice, "bob", body);

  g_ptr_array_add (pair->sent, g_strdup (body));
  pair_acknowledged (pair, body, id);
}

void
chat_test_pair_send_some (ChatTestPair *pair, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *body = g_strdup_printf ("message %u", pair->sent->len);

      chat_test_pair_send (pair, body);
    }
}

guint
chat_test_pair_wait_leader (ChatTestPair *pair, guint timeout_ms)
{
  guint leader = chat_test_cluster_wait_leader (pair->cluster, timeout_ms);

  g_assert_cmpuint (leader, !=, 0);
  return leader;
}

static void
on_pair_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChatTestPair *pair = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatMessage) message = chat_client_send_finish (CHAT_CLIENT (source), result, &error);

  if (message == NULL)
    {
      g_test_message ("a send failed: %s", error->message);
      pair->failed++;
    }
  else
    pair_acknowledged (pair, chat_message_get_body (message), chat_message_get_seq (message));
  pair->in_flight--;
}

void
chat_test_pair_send_async (ChatTestPair *pair, const char *body)
{
  g_ptr_array_add (pair->sent, g_strdup (body));
  pair->in_flight++;
  chat_client_send_async (pair->alice, "bob", body, NULL, on_pair_sent, pair);
}

void
chat_test_pair_send_next (ChatTestPair *pair)
{
  g_autofree char *body = g_strdup_printf ("message %u", pair->sent->len);

  chat_test_pair_send_async (pair, body);
}

void
chat_test_pair_write_pipelined (ChatTestPair *pair, guint n, guint window)
{
  guint target = pair->sent->len + n;

  while (pair->sent->len < target || pair->in_flight > 0)
    {
      while (pair->sent->len < target && pair->in_flight < window)
        chat_test_pair_send_next (pair);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (pair->failed, ==, 0);
}

void
chat_test_pair_wait_all_in_sync (ChatTestPair *pair, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  while (!chat_test_cluster_in_sync (pair->cluster, FALSE))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      chat_test_spin (50);
    }
}

gboolean
chat_test_leads_naming_in_sync (ChatTestCluster *cluster, guint node, guint member,
                                gboolean *in_sync)
{
  g_autoptr (JsonObject) hello = chat_test_hello (cluster, node);
  JsonArray *servers = NULL;

  if (hello == NULL
      || g_strcmp0 (json_object_get_string_member_with_default (hello, "role", ""), "leader") != 0)
    return FALSE;
  servers = json_object_get_array_member (hello, "servers");
  g_assert_cmpuint (json_array_get_length (servers), >=, member);
  *in_sync = json_object_get_boolean_member_with_default (
      json_array_get_object_element (servers, member - 1), "in_sync", FALSE);
  return TRUE;
}

gboolean
chat_test_leader_names_in_sync (ChatTestCluster *cluster, guint leader, guint member)
{
  gboolean in_sync = FALSE;

  g_assert_true (chat_test_leads_naming_in_sync (cluster, leader, member, &in_sync));
  return in_sync;
}

void
chat_test_pair_wait_sent (ChatTestPair *pair)
{
  chat_test_loop_until_zero (&pair->in_flight, CHAT_TEST_LOOP_FOREVER);
}

void
chat_test_pair_assert_all_once (ChatTestPair *pair)
{
  g_autoptr (GPtrArray) history = NULL;

  chat_test_assert_all_once (pair->bob, "alice", pair->sent);
  history = chat_test_client_history_all (pair->bob, "alice");
  for (guint i = 0; i < history->len; i++)
    {
      ChatMessage *message = g_ptr_array_index (history, i);
      const gint64 *id = g_hash_table_lookup (pair->ids, chat_message_get_body (message));

      if (id != NULL && *id != chat_message_get_seq (message))
        g_error ("Acknowledged “%s” (id %" G_GINT64_FORMAT ") is stored as %" G_GINT64_FORMAT,
                 chat_message_get_body (message), *id, chat_message_get_seq (message));
    }
}

/* --- hello -------------------------------------------------------------------------------- */

static gboolean
hashes_agree (ChatTestCluster *cluster)
{
  g_autofree char *first = NULL;
  guint64 first_applied = 0;

  for (guint node = 1; node <= chat_test_cluster_n_servers (cluster); node++)
    {
      g_autofree char *hash = NULL;
      guint64 applied = 0;

      if (!chat_test_cluster_is_running (cluster, node))
        continue;
      hash = chat_test_state_hash (cluster, node, &applied);
      if (hash == NULL)
        return FALSE;
      if (first == NULL)
        {
          first = g_steal_pointer (&hash);
          first_applied = applied;
        }
      else if (!g_str_equal (first, hash) || applied != first_applied)
        return FALSE;
    }
  return first != NULL;
}

void
chat_test_wait_converged (ChatTestCluster *cluster, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      guint leader = chat_test_cluster_wait_leader (cluster, 1000);

      if (leader != 0 && chat_test_cluster_in_sync (cluster, TRUE) && hashes_agree (cluster))
        return;
      g_usleep (100 * 1000);
    }
  g_error ("The servers did not converge within %u ms", timeout_ms);
}

guint
chat_test_cluster_other (ChatTestCluster *cluster, guint except)
{
  for (guint node = 1; node <= chat_test_cluster_n_servers (cluster); node++)
    {
      if (node != except && chat_test_cluster_is_running (cluster, node))
        return node;
    }
  return 0;
}

char *
chat_test_cluster_log_path (ChatTestCluster *cluster, guint node)
{
  return g_strdup (chat_test_cluster_log_file (cluster, node));
}
