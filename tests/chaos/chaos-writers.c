/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Chaos test writers: libchat clients that each keep one message in flight, retrying it
 * with the same client_msg_id until it is acknowledged. */
#define G_LOG_DOMAIN "chaos"

#include "chaos.h"
#include "chat-test-loop.h"

#define PASSWORD "chaos-password"
#define RETRY_DELAY_MS 100
#define SIGNUP_TIMEOUT_MS 60000

struct _ChaosWriter
{
  ChaosWorld *world;
  ChatClient *client;
  char *user;
  guint index;
  guint counter;
  ChaosSend *pending;
  gboolean signed_up;
  gboolean failed;
};

static void
chaos_send_free (ChaosSend *send)
{
  g_free (send->from);
  g_free (send->to);
  g_free (send->client_msg_id);
  g_free (send->body);
  g_free (send);
}

static void
chaos_writer_free (ChaosWriter *writer)
{
  if (writer->client != NULL)
    chat_client_disconnect (writer->client);
  g_clear_object (&writer->client);
  g_free (writer->user);
  g_free (writer);
}

ChaosWorld *
chaos_world_new (ChatTestCluster *cluster)
{
  ChaosWorld *world = g_new0 (ChaosWorld, 1);

  world->cluster = cluster;
  world->loop = g_main_loop_new (NULL, FALSE);
  world->writers = g_ptr_array_new_with_free_func ((GDestroyNotify)chaos_writer_free);
  world->sends
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)chaos_send_free);
  return world;
}

void
chaos_world_free (ChaosWorld *world)
{
  g_ptr_array_unref (world->writers);
  g_hash_table_unref (world->sends);
  g_main_loop_unref (world->loop);
  g_free (world);
}

static GStrv
server_list (ChatTestCluster *cluster)
{
  guint n = chat_test_cluster_n_servers (cluster);
  GStrv servers = g_new0 (char *, n + 1);

  for (guint node = 1; node <= n; node++)
    servers[node - 1] = g_strdup_printf ("127.0.0.1:%u", chat_test_cluster_port (cluster, node));
  return servers;
}

/* --- sign-up ------------------------------------------------------------------- */

static void
on_signed_up (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChaosWriter *writer = user_data;
  g_autoptr (GError) error = NULL;

  if (chat_client_signup_finish (CHAT_CLIENT (source), result, &error))
    writer->signed_up = TRUE;
  else
    {
      g_printerr ("# signup of %s: %s\n", writer->user, error->message);
      writer->failed = TRUE;
    }
}

gboolean
chaos_writers_signup (ChaosWorld *world, guint n)
{
  g_auto (GStrv) servers = server_list (world->cluster);
  gint64 deadline = g_get_monotonic_time () + SIGNUP_TIMEOUT_MS * 1000;
  guint tag = g_random_int () % 100000;
  guint done = 0;

  for (guint i = 0; i < n; i++)
    {
      ChaosWriter *writer = g_new0 (ChaosWriter, 1);

      writer->world = world;
      writer->index = i;
      writer->user = g_strdup_printf ("chaos%u-%u", tag, i);
      writer->client = chat_client_new ((const char *const *)servers);
      chat_client_set_tls_database (writer->client, chat_test_tls_database ());
      chat_client_set_request_timeout (writer->client, 10000);
      g_ptr_array_add (world->writers, writer);
      chat_client_signup_async (writer->client, writer->user, PASSWORD, NULL, on_signed_up, writer);
    }
  while (done < n && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, TRUE);
      done = 0;
      for (guint i = 0; i < n; i++)
        {
          ChaosWriter *writer = g_ptr_array_index (world->writers, i);

          if (writer->failed)
            return FALSE;
          done += writer->signed_up;
        }
    }
  return done == n;
}

/* --- sending ------------------------------------------------------------------- */

static void writer_send_pending (ChaosWriter *writer);

static void
writer_compose (ChaosWriter *writer)
{
  ChaosWorld *world = writer->world;
  ChaosWriter *to
      = g_ptr_array_index (world->writers, g_random_int_range (0, (gint32)world->writers->len));
  ChaosSend *send = g_new0 (ChaosSend, 1);

  send->from = g_strdup (writer->user);
  send->to = g_strdup (to->user);
  send->client_msg_id = g_strdup_printf ("w%u-%u", writer->index, ++writer->counter);
  send->body = g_strdup_printf ("chaos %s %s", writer->user, send->client_msg_id);
  g_hash_table_insert (world->sends, g_strdup_printf ("%s/%s", send->from, send->client_msg_id),
                       send);
  writer->pending = send;
  world->in_flight++;
  writer_send_pending (writer);
}

static gboolean
retry_cb (gpointer user_data)
{
  writer_send_pending (user_data);
  return G_SOURCE_REMOVE;
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChaosWriter *writer = user_data;
  ChaosWorld *world = writer->world;
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatMessage) message = chat_client_send_finish (CHAT_CLIENT (source), result, &error);

  if (message == NULL)
    {
      /* Same client_msg_id again: the server stores it at most once. */
      world->retries++;
      g_timeout_add (RETRY_DELAY_MS, retry_cb, writer);
      return;
    }
  writer->pending->seq = chat_message_get_seq (message);
  writer->pending = NULL;
  world->acked++;
  world->in_flight--;
  if (!world->stopping)
    writer_compose (writer);
}

static void
writer_send_pending (ChaosWriter *writer)
{
  ChaosSend *send = writer->pending;

  chat_client_send_with_id_async (writer->client, send->to, send->body, send->client_msg_id, NULL,
                                  on_sent, writer);
}

void
chaos_writers_start (ChaosWorld *world)
{
  for (guint i = 0; i < world->writers->len; i++)
    writer_compose (g_ptr_array_index (world->writers, i));
}

guint
chaos_writers_drain (ChaosWorld *world, guint timeout_ms)
{
  world->stopping = TRUE;
  chat_test_loop_until_zero (&world->in_flight, timeout_ms);
  return world->in_flight;
}
