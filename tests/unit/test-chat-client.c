/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of ChatClient failover against scripted in-process peers (not a chatd). */
#include "chat-test-net.h"
#include "chat-client.h"
#include "chat-json.h"
#include "chat-line.h"

/* A scripted peer: answers hello with a role, and a few ops with canned answers. */
typedef struct
{
  GSocketService *service;
  char *address;
  const char *role;      /* "leader" or "follower" */
  char *leader;          /* what hello and not_leader report */
  gboolean swallow_send; /* drop the connection instead of answering send */
  GPtrArray *connections;
  guint n_hello, n_resume, n_send, n_sync;
  struct _World *world;
} Peer;

typedef struct _World
{
  GHashTable *sent; /* client_msg_id -> message id: idempotent send */
  gint64 next_seq;
  GPtrArray *missed; /* JsonObject * messages only sync returns */
} World;

static JsonObject *
message_object (gint64 seq, const char *from, const char *to, const char *body)
{
  JsonObject *message = json_object_new ();

  json_object_set_int_member (message, "id", seq);
  json_object_set_int_member (message, "seq", seq);
  json_object_set_string_member (message, "from", from);
  json_object_set_string_member (message, "to", to);
  json_object_set_string_member (message, "body", body);
  json_object_set_int_member (message, "sent_at", 1795000000000);
  json_object_set_boolean_member (message, "read", FALSE);
  return message;
}

static void
reply (GSocketConnection *connection, JsonObject *object)
{
  g_autofree char *line = chat_json_to_line (object, NULL);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  g_output_stream_write_all (out, line, strlen (line), NULL, NULL, NULL);
}

static void
answer_hello (Peer *peer, JsonObject *response)
{
  JsonArray *servers = json_array_new ();

  json_object_set_string_member (response, "server", "scripted");
  json_object_set_int_member (response, "proto", 1);
  json_object_set_string_member (response, "node", peer->address);
  json_object_set_string_member (response, "role", peer->role);
  json_object_set_string_member (response, "leader", peer->leader);
  json_object_set_int_member (response, "term", 1);
  json_object_set_array_member (response, "servers", servers);
  peer->n_hello++;
}

static void
answer_send (Peer *peer, JsonObject *request, JsonObject *response)
{
  const char *key = json_object_get_string_member (request, "client_msg_id");
  gpointer known = g_hash_table_lookup (peer->world->sent, key);
  gint64 seq = known != NULL ? GPOINTER_TO_INT (known) : peer->world->next_seq++;

  g_hash_table_insert (peer->world->sent, g_strdup (key), GINT_TO_POINTER ((int)seq));
  json_object_set_object_member (response, "message",
                                 message_object (seq, "alice",
                                                 json_object_get_string_member (request, "to"),
                                                 json_object_get_string_member (request, "body")));
}

static void
answer_sync (Peer *peer, JsonObject *response)
{
  JsonArray *messages = json_array_new ();
  gint64 seq = 0;

  for (guint i = 0; i < peer->world->missed->len; i++)
    {
      JsonObject *message = peer->world->missed->pdata[i];
      json_array_add_object_element (messages, json_object_ref (message));
      seq = MAX (seq, json_object_get_int_member (message, "seq"));
    }
  json_object_set_array_member (response, "messages", messages);
  json_object_set_array_member (response, "deleted", json_array_new ());
  json_object_set_array_member (response, "read", json_array_new ());
  json_object_set_boolean_member (response, "more", FALSE);
  json_object_set_int_member (response, "seq", seq);
  peer->n_sync++;
}

static void
answer_not_leader (Peer *peer, JsonObject *response)
{
  JsonObject *error = json_object_new ();

  json_object_set_boolean_member (response, "ok", FALSE);
  json_object_set_string_member (error, "code", "not_leader");
  json_object_set_string_member (error, "message", "not the leader");
  json_object_set_string_member (error, "leader", peer->leader);
  json_object_set_object_member (response, "error", error);
}

static void
answer_op (Peer *peer, JsonObject *request, JsonObject *response)
{
  const char *op = json_object_get_string_member (request, "op");

  if (g_strcmp0 (op, "hello") == 0)
    answer_hello (peer, response);
  else if (g_strcmp0 (peer->role, "leader") != 0)
    answer_not_leader (peer, response);
  else if (g_strcmp0 (op, "login") == 0 || g_strcmp0 (op, "resume") == 0)
    {
      JsonObject *user = json_object_new ();
      json_object_set_string_member (user, "username", "alice");
      json_object_set_object_member (response, "user", user);
      json_object_set_string_member (response, "session", "0123456789abcdef");
      json_object_set_int_member (response, "unread", 0);
      if (g_strcmp0 (op, "resume") == 0)
        peer->n_resume++;
    }
  else if (g_strcmp0 (op, "send") == 0)
    answer_send (peer, request, response);
  else if (g_strcmp0 (op, "sync") == 0)
    answer_sync (peer, response);
}

/* Handles one line; FALSE to drop the connection. */
static gboolean
handle_line (Peer *peer, GSocketConnection *connection, const char *line, gsize len)
{
  g_autoptr (JsonObject) request = chat_json_parse_object (line, len, NULL);
  g_autoptr (JsonObject) response = json_object_new ();

  g_assert_nonnull (request);
  if (g_strcmp0 (json_object_get_string_member (request, "op"), "send") == 0)
    {
      peer->n_send++;
      if (peer->swallow_send)
        return FALSE;
    }
  json_object_set_member (response, "id", json_node_copy (json_object_get_member (request, "id")));
  json_object_set_boolean_member (response, "ok", TRUE);
  answer_op (peer, request, response);
  reply (connection, response);
  return TRUE;
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer user_data)
{
  Peer *peer = user_data;

  g_ptr_array_add (peer->connections, g_object_ref (connection));
  return FALSE; /* read by pump_peer() from the test loop */
}

/* Reads every connection of every peer without blocking: polled from the test loop. */
static void
pump_peer (Peer *peer)
{
  for (guint i = 0; i < peer->connections->len; i++)
    {
      GSocketConnection *connection = peer->connections->pdata[i];
      GSocket *socket = g_socket_connection_get_socket (connection);
      char buffer[65536];
      gssize n = 0;
      ChatLineBuffer *lines = g_object_get_data (G_OBJECT (connection), "lines");
      char *line = NULL;
      gsize len = 0;

      if (lines == NULL)
        {
          lines = chat_line_buffer_new (1 << 20);
          g_object_set_data_full (G_OBJECT (connection), "lines", lines,
                                  (GDestroyNotify)chat_line_buffer_free);
        }
      n = g_socket_receive_with_blocking (socket, buffer, sizeof buffer, FALSE, NULL, NULL);
      if (n == 0)
        {
          g_ptr_array_remove_index (peer->connections, i--);
          continue;
        }
      if (n > 0)
        chat_line_buffer_feed (lines, buffer, (gsize)n);
      while (chat_line_buffer_next (lines, &line, &len, NULL))
        {
          gboolean keep = handle_line (peer, connection, line, len);
          g_free (line);
          if (!keep)
            {
              g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
              g_ptr_array_remove_index (peer->connections, i--);
              break;
            }
        }
    }
}

static Peer *
peer_new (World *world, const char *role)
{
  Peer *peer = g_new0 (Peer, 1);
  g_autoptr (GError) error = NULL;
  guint16 port = 0;

  peer->world = world;
  peer->role = role;
  peer->connections = g_ptr_array_new_with_free_func (g_object_unref);
  peer->service = g_socket_service_new ();
  port = chat_test_listen_loopback (G_SOCKET_LISTENER (peer->service));
  peer->address = g_strdup_printf ("127.0.0.1:%u", port);
  g_signal_connect (peer->service, "incoming", G_CALLBACK (on_incoming), peer);
  g_socket_service_start (peer->service);
  return peer;
}

static void
peer_drop_all (Peer *peer)
{
  for (guint i = 0; i < peer->connections->len; i++)
    g_io_stream_close (peer->connections->pdata[i], NULL, NULL);
  g_ptr_array_set_size (peer->connections, 0);
}

static void
peer_free (Peer *peer)
{
  peer_drop_all (peer);
  g_socket_service_stop (peer->service);
  g_socket_listener_close (G_SOCKET_LISTENER (peer->service));
  g_object_unref (peer->service);
  g_ptr_array_unref (peer->connections);
  g_free (peer->address);
  g_free (peer->leader);
  g_free (peer);
}

typedef struct
{
  World world;
  Peer *a, *b;
  ChatClient *client;
  GAsyncResult *result;
  GPtrArray *received; /* ChatMessage * */
  guint leader_changes;
} Fixture;

static void
capture (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *fixture = user_data;

  fixture->result = g_object_ref (result);
}

static GAsyncResult *
await (Fixture *fixture)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (fixture->result == NULL && g_get_monotonic_time () < deadline)
    {
      pump_peer (fixture->a);
      pump_peer (fixture->b);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (500);
    }
  g_assert_nonnull (fixture->result);
  return g_steal_pointer (&fixture->result);
}

static void
on_message (ChatClient *client, ChatMessage *message, gpointer user_data)
{
  Fixture *fixture = user_data;

  g_ptr_array_add (fixture->received, g_object_ref (message));
}

static void
on_leader (ChatClient *client, const char *leader, gpointer user_data)
{
  ((Fixture *)user_data)->leader_changes++;
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  fixture->world.sent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  fixture->world.next_seq = 10;
  fixture->world.missed = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  fixture->a = peer_new (&fixture->world, "follower");
  fixture->b = peer_new (&fixture->world, "leader");
  fixture->a->leader = g_strdup (fixture->b->address);
  fixture->b->leader = g_strdup (fixture->b->address);
  fixture->client
      = chat_client_new ((const char *const[]){ fixture->a->address, fixture->b->address, NULL });
  chat_client_set_request_timeout (fixture->client, 5000);
  fixture->received = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (fixture->client, "message-received", G_CALLBACK (on_message), fixture);
  g_signal_connect (fixture->client, "leader-changed", G_CALLBACK (on_leader), fixture);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  chat_client_disconnect (fixture->client);
  g_clear_object (&fixture->client);
  peer_free (fixture->a);
  peer_free (fixture->b);
  g_hash_table_unref (fixture->world.sent);
  g_ptr_array_unref (fixture->world.missed);
  g_ptr_array_unref (fixture->received);
}

static void
login (Fixture *fixture)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  chat_client_login_async (fixture->client, "alice", "password1", NULL, capture, fixture);
  result = await (fixture);
  g_assert_true (chat_client_login_finish (fixture->client, result, NULL, &error));
  g_assert_no_error (error);
}

static void
test_follows_leader (Fixture *fixture, gconstpointer data)
{
  login (fixture);
  g_assert_cmpstr (chat_client_get_server (fixture->client), ==, fixture->b->address);
  g_assert_cmpstr (chat_client_get_leader (fixture->client), ==, fixture->b->address);
  g_assert_cmpstr (chat_client_get_username (fixture->client), ==, "alice");
  g_assert_cmpint (chat_client_get_connection_state (fixture->client), ==,
                   CHAT_CONNECTION_STATE_CONNECTED);
  g_assert_cmpuint (fixture->leader_changes, >=, 1);
  g_assert_cmpuint (fixture->a->n_hello, ==, 1);
}

static void
test_failover_resends (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatMessage) sent = NULL;
  g_autoptr (JsonObject) missed = message_object (11, "bob", "alice", "while you were away");

  login (fixture);
  /* The leader dies on the send; a takes over and holds a message alice missed. */
  fixture->b->swallow_send = TRUE;
  chat_client_send_async (fixture->client, "bob", "hello", NULL, capture, fixture);
  while (fixture->b->n_send == 0)
    {
      pump_peer (fixture->b);
      g_main_context_iteration (NULL, FALSE);
    }
  g_ptr_array_add (fixture->world.missed, json_object_ref (missed));
  fixture->b->role = "follower";
  fixture->a->role = "leader";
  g_free (fixture->a->leader);
  fixture->a->leader = g_strdup (fixture->a->address);
  g_free (fixture->b->leader);
  fixture->b->leader = g_strdup (fixture->a->address);
  result = await (fixture);
  sent = chat_client_send_finish (fixture->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (chat_message_get_body (sent), ==, "hello");
  g_assert_cmpuint (fixture->a->n_send, ==, 1);
  g_assert_cmpuint (fixture->a->n_resume, ==, 1);
  g_assert_cmpstr (chat_client_get_server (fixture->client), ==, fixture->a->address);
  /* The sync after the reconnect delivered the missed message, once. */
  for (gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
       fixture->received->len == 0 && g_get_monotonic_time () < deadline;)
    {
      pump_peer (fixture->a);
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_cmpuint (fixture->a->n_sync, ==, 1);
  g_assert_cmpuint (fixture->received->len, ==, 1);
  g_assert_cmpstr (chat_message_get_body (fixture->received->pdata[0]), ==, "while you were away");
  g_assert_cmpint (chat_client_get_last_seq (fixture->client), >=, 11);
}

static void
test_deadline (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  /* Nobody leads: a follower that knows no leader, twice. */
  fixture->b->role = "follower";
  g_clear_pointer (&fixture->a->leader, g_free);
  g_clear_pointer (&fixture->b->leader, g_free);
  chat_client_set_request_timeout (fixture->client, 400);
  chat_client_connect_async (fixture->client, NULL, capture, fixture);
  result = await (fixture);
  g_assert_false (chat_client_connect_finish (fixture->client, result, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE);
}

static void
test_cancel (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();

  fixture->b->role = "follower";
  g_clear_pointer (&fixture->a->leader, g_free);
  g_clear_pointer (&fixture->b->leader, g_free);
  chat_client_hello_async (fixture->client, cancellable, capture, fixture);
  g_cancellable_cancel (cancellable);
  result = await (fixture);
  g_assert_null (chat_client_hello_finish (fixture->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/client/follows-leader", Fixture, NULL, fixture_set_up, test_follows_leader,
              fixture_tear_down);
  g_test_add ("/client/failover-resends", Fixture, NULL, fixture_set_up, test_failover_resends,
              fixture_tear_down);
  g_test_add ("/client/deadline", Fixture, NULL, fixture_set_up, test_deadline, fixture_tear_down);
  g_test_add ("/client/cancel", Fixture, NULL, fixture_set_up, test_cancel, fixture_tear_down);
  return g_test_run ();
}
