/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of libchat's pure logic: framing, error mapping, backoff, ids, dedup, results. */
#include "chat-client.h"
#include "chat-client-codec.h"
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
test_classify (void)
{
  g_autoptr (JsonObject) response = parse ("{\"id\": 7, \"ok\": true}");
  g_autoptr (JsonObject) null_id = parse ("{\"id\": null, \"ok\": false}");
  g_autoptr (JsonObject) event = parse ("{\"event\": \"message\", \"message\": {}}");
  g_autoptr (JsonObject) junk = parse ("{\"hello\": 1}");
  g_autoptr (JsonObject) bad_event = parse ("{\"event\": 3}");
  gint64 id = 0;

  g_assert_cmpint (chat_codec_classify (response, &id), ==, CHAT_FRAME_RESPONSE);
  g_assert_cmpint (id, ==, 7);
  g_assert_cmpint (chat_codec_classify (null_id, &id), ==, CHAT_FRAME_RESPONSE);
  g_assert_cmpint (id, ==, -1);
  g_assert_cmpint (chat_codec_classify (event, &id), ==, CHAT_FRAME_EVENT);
  g_assert_cmpint (chat_codec_classify (junk, &id), ==, CHAT_FRAME_INVALID);
  g_assert_cmpint (chat_codec_classify (bad_event, &id), ==, CHAT_FRAME_INVALID);
}

static void
test_request_with_id (void)
{
  g_autoptr (JsonObject) args = parse ("{\"op\": \"send\", \"id\": 99, \"to\": \"bob\"}");
  g_autoptr (JsonObject) wire = chat_codec_request_with_id (args, 5);
  g_autoptr (JsonObject) fresh = chat_codec_request_new (6, "hello");
  g_autofree char *line = chat_json_to_line (fresh, NULL);

  g_assert_cmpint (json_object_get_int_member (wire, "id"), ==, 5);
  g_assert_cmpstr (json_object_get_string_member (wire, "op"), ==, "send");
  g_assert_cmpstr (json_object_get_string_member (wire, "to"), ==, "bob");
  g_assert_cmpint (json_object_get_int_member (args, "id"), ==, 99);
  g_assert_true (g_str_has_suffix (line, "\n"));
  g_assert_nonnull (strstr (line, "\"op\":\"hello\""));
}

static void
test_response_errors (void)
{
  g_autoptr (JsonObject) ok = parse ("{\"id\": 1, \"ok\": true}");
  g_autoptr (JsonObject) taken = parse ("{\"id\": 1, \"ok\": false, \"error\": {\"code\": "
                                        "\"username_taken\", \"message\": \"Taken\"}}");
  g_autoptr (JsonObject) redirect = parse (
      "{\"id\": 1, \"ok\": false, \"error\": {\"code\": \"not_leader\", \"message\": \"m\", "
      "\"leader\": \"127.0.0.1:5556\"}}");
  g_autoptr (JsonObject) no_leader = parse (
      "{\"id\": 1, \"ok\": false, \"error\": {\"code\": \"not_leader\", \"leader\": null}}");
  g_autoptr (JsonObject) future = parse (
      "{\"id\": 1, \"ok\": false, \"error\": {\"code\": \"brand_new\", \"message\": \"m\"}}");
  g_autoptr (JsonObject) bare = parse ("{\"id\": 1, \"ok\": false}");
  g_autoptr (GError) error = NULL;
  g_autofree char *leader = NULL;

  g_assert_true (chat_codec_response_ok (ok, &leader, &error));
  g_assert_null (leader);
  g_assert_false (chat_codec_response_ok (taken, NULL, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_USERNAME_TAKEN);
  g_assert_cmpstr (error->message, ==, "Taken");
  g_clear_error (&error);
  g_assert_false (chat_codec_response_ok (redirect, &leader, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_NOT_LEADER);
  g_assert_cmpstr (leader, ==, "127.0.0.1:5556");
  g_clear_error (&error);
  g_clear_pointer (&leader, g_free);
  g_assert_false (chat_codec_response_ok (no_leader, &leader, &error));
  g_assert_null (leader);
  g_clear_error (&error);
  g_assert_false (chat_codec_response_ok (future, NULL, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
  g_clear_error (&error);
  g_assert_false (chat_codec_response_ok (bare, NULL, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INTERNAL);
}

static void
test_backoff (void)
{
  /* Without jitter: 50, 100, 200, ... capped at 2000. */
  g_assert_cmpuint (chat_backoff_delay_ms (0, 50, 2000, 0.0, 0.3), ==, 50);
  g_assert_cmpuint (chat_backoff_delay_ms (1, 50, 2000, 0.0, 0.3), ==, 100);
  g_assert_cmpuint (chat_backoff_delay_ms (3, 50, 2000, 0.0, 0.3), ==, 400);
  g_assert_cmpuint (chat_backoff_delay_ms (6, 50, 2000, 0.0, 0.3), ==, 2000);
  g_assert_cmpuint (chat_backoff_delay_ms (1000, 50, 2000, 0.0, 0.3), ==, 2000);
  /* With ±25 % jitter. */
  g_assert_cmpuint (chat_backoff_delay_ms (2, 50, 2000, 0.5, 0.0), ==, 150);
  g_assert_cmpuint (chat_backoff_delay_ms (2, 50, 2000, 0.5, 0.5), ==, 200);
  g_assert_cmpuint (chat_backoff_delay_ms (2, 50, 2000, 0.5, 0.999), <=, 250);
  g_assert_cmpuint (chat_backoff_delay_ms (2, 50, 2000, 0.5, 0.999), >=, 249);
  /* Never above the cap. */
  g_assert_cmpuint (chat_backoff_delay_ms (50, 50, 2000, 0.5, 0.999), ==, 2000);
  for (guint i = 0; i < 200; i++)
    {
      guint delay = chat_backoff_delay_ms (i % 10, 50, 2000, 0.5, g_test_rand_double ());
      g_assert_cmpuint (delay, >=, 37);
      g_assert_cmpuint (delay, <=, 2000);
    }
}

static void
test_client_msg_ids (void)
{
  g_autofree char *a = chat_client_msg_id_prefix_new ();
  g_autofree char *b = chat_client_msg_id_prefix_new ();
  g_autofree char *id1 = chat_client_msg_id_format (a, 1);
  g_autofree char *id2 = chat_client_msg_id_format (a, 2);
  g_autofree char *huge = chat_client_msg_id_format (a, G_MAXUINT64);
  g_autoptr (ChatClient) client = chat_client_new ((const char *const[]){ "127.0.0.1:1", NULL });
  g_autofree char *c1 = chat_client_new_client_msg_id (client);
  g_autofree char *c2 = chat_client_new_client_msg_id (client);

  g_assert_cmpuint (strlen (a), ==, 12);
  g_assert_cmpstr (a, !=, b);
  g_assert_cmpstr (id1, !=, id2);
  g_assert_true (g_str_has_prefix (id1, a));
  g_assert_cmpuint (strlen (huge), <=, 64);
  g_assert_cmpstr (c1, !=, c2);
  g_assert_cmpuint (strlen (c1), >=, 1);
}

static void
test_id_set (void)
{
  g_autoptr (ChatIdSet) set = chat_id_set_new (3);

  g_assert_true (chat_id_set_add (set, 1));
  g_assert_false (chat_id_set_add (set, 1));
  g_assert_true (chat_id_set_add (set, 2));
  g_assert_true (chat_id_set_add (set, 3));
  g_assert_true (chat_id_set_add (set, 4)); /* forgets 1 */
  g_assert_cmpuint (chat_id_set_size (set), ==, 3);
  g_assert_false (chat_id_set_contains (set, 1));
  g_assert_true (chat_id_set_contains (set, 4));
  g_assert_true (chat_id_set_add (set, 1));
}

static void
test_addresses (void)
{
  g_assert_true (chat_codec_address_equal ("LocalHost:5555", "localhost:5555"));
  g_assert_false (chat_codec_address_equal ("localhost:5555", "localhost:5556"));
  g_assert_false (chat_codec_address_equal (NULL, "localhost:5556"));
  g_assert_true (chat_codec_address_equal (NULL, NULL));
}

static void
test_hello_info (void)
{
  g_autoptr (JsonObject) object = parse (
      "{\"id\": 1, \"ok\": true, \"server\": \"chatd 0.1.0\", \"proto\": 1, \"node\": "
      "\"127.0.0.1:5556\", \"role\": \"follower\", \"leader\": \"127.0.0.1:5555\", \"term\": 12, "
      "\"servers\": [{\"address\": \"127.0.0.1:5555\", \"state\": \"leader\", \"in_sync\": true},"
      "{\"address\": \"127.0.0.1:5556\", \"state\": \"follower\", \"in_sync\": true},"
      "{\"address\": \"127.0.0.1:5557\", \"state\": \"down\", \"in_sync\": false}]}");
  g_autoptr (JsonObject) bad = parse ("{\"servers\": [1]}");
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatHelloInfo) info = chat_hello_info_new_from_json (object, &error);
  g_autoptr (ChatHelloInfo) copy = NULL;
  g_autoptr (ChatHelloInfo) broken = NULL;
  guint total = 0;

  g_assert_no_error (error);
  g_assert_cmpstr (info->role, ==, "follower");
  g_assert_cmpstr (info->leader, ==, "127.0.0.1:5555");
  g_assert_cmpuint (info->term, ==, 12);
  g_assert_cmpuint (chat_hello_info_count_up (info, &total), ==, 2);
  g_assert_cmpuint (total, ==, 3);
  copy = chat_hello_info_copy (info);
  g_assert_cmpstr (((ChatServerStatus *)copy->servers->pdata[2])->state, ==, "down");
  broken = chat_hello_info_new_from_json (bad, &error);
  g_assert_null (broken);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
}

static void
test_sync_result (void)
{
  g_autoptr (JsonObject) object = parse (
      "{\"messages\": [{\"id\": 5, \"seq\": 5, \"from\": \"a\", \"to\": \"b\", \"body\": \"x\", "
      "\"sent_at\": 1, \"read\": false}], \"deleted\": [2, 3], \"read\": [4], \"more\": true, "
      "\"seq\": 9}");
  g_autoptr (JsonObject) bad = parse ("{\"deleted\": [\"2\"]}");
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatSyncResult) page = chat_sync_result_new_from_json (object, &error);
  g_autoptr (ChatSyncResult) copy = NULL;
  g_autoptr (ChatSyncResult) broken = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (page->messages->len, ==, 1);
  g_assert_cmpuint (page->deleted->len, ==, 2);
  g_assert_cmpint (g_array_index (page->deleted, gint64, 1), ==, 3);
  g_assert_cmpuint (page->read->len, ==, 1);
  g_assert_cmpint (page->seq, ==, 9);
  g_assert_true (page->more);
  copy = chat_sync_result_copy (page);
  g_assert_cmpuint (copy->messages->len, ==, 1);
  broken = chat_sync_result_new_from_json (bad, &error);
  g_assert_null (broken);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
}

static void
test_client_properties (void)
{
  g_autoptr (ChatClient) client
      = chat_client_new ((const char *const[]){ "127.0.0.1:1", "127.0.0.1:2", NULL });
  g_auto (GStrv) servers = NULL;
  ChatConnectionState state = CHAT_CONNECTION_STATE_CONNECTED;

  g_object_get (client, "servers", &servers, "connection-state", &state, NULL);
  g_assert_cmpuint (g_strv_length (servers), ==, 2);
  g_assert_cmpint (state, ==, CHAT_CONNECTION_STATE_OFFLINE);
  g_assert_cmpstr (chat_connection_state_to_string (CHAT_CONNECTION_STATE_RECONNECTING), ==,
                   "reconnecting");
  g_assert_cmpuint (chat_client_get_request_timeout (client), ==,
                    CHAT_CLIENT_DEFAULT_REQUEST_TIMEOUT_MS);
  chat_client_set_session (client, "abc");
  g_assert_cmpstr (chat_client_get_session (client), ==, "abc");
  chat_client_set_last_seq (client, 12);
  g_assert_cmpint (chat_client_get_last_seq (client), ==, 12);
  g_assert_cmpuint (chat_client_count_servers_up (client, NULL), ==, 0);
  g_assert_null (chat_client_get_username (client));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/codec/classify", test_classify);
  g_test_add_func ("/codec/request-with-id", test_request_with_id);
  g_test_add_func ("/codec/response-errors", test_response_errors);
  g_test_add_func ("/codec/backoff", test_backoff);
  g_test_add_func ("/codec/client-msg-ids", test_client_msg_ids);
  g_test_add_func ("/codec/id-set", test_id_set);
  g_test_add_func ("/codec/addresses", test_addresses);
  g_test_add_func ("/codec/hello-info", test_hello_info);
  g_test_add_func ("/codec/sync-result", test_sync_result);
  g_test_add_func ("/client/properties", test_client_properties);
  return g_test_run ();
}
