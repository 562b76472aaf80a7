/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A client request in flight and the building of its response line. */
#define G_LOG_DOMAIN "chatd-request"

#include "chat-request.h"

#include "chat-connection.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-metrics.h"

struct _ChatRequest
{
  ChatConnection *conn;
  JsonNode *id;
  char *op;
  JsonObject *params;
  GError *error;
  char *session_hash;
  char *username;
  guint64 ticket;
  gboolean pipelined;
  gboolean answered;
  gint64 received_us; /* monotonic time the line was read, for the latency metric */
};

static void
chat_request_clear (ChatRequest *request)
{
  g_clear_object (&request->conn);
  g_clear_pointer (&request->id, json_node_unref);
  g_clear_pointer (&request->op, g_free);
  g_clear_pointer (&request->params, json_object_unref);
  g_clear_error (&request->error);
  g_clear_pointer (&request->session_hash, g_free);
  g_clear_pointer (&request->username, g_free);
}

ChatRequest *
chat_request_new (ChatConnection *conn, JsonNode *id, const char *op, JsonObject *params)
{
  ChatRequest *request = g_rc_box_new0 (ChatRequest);

  request->conn = g_object_ref (conn);
  request->id = id ? json_node_copy (id) : NULL;
  request->op = g_strdup (op);
  request->params = params ? json_object_ref (params) : json_object_new ();
  request->pipelined = TRUE;
  request->received_us = g_get_monotonic_time ();
  return request;
}

ChatRequest *
chat_request_new_failed (ChatConnection *conn, JsonNode *id, GError *error)
{
  ChatRequest *request = chat_request_new (conn, id, NULL, NULL);

  request->error = error;
  return request;
}

ChatRequest *
chat_request_ref (ChatRequest *request)
{
  return g_rc_box_acquire (request);
}

void
chat_request_unref (ChatRequest *request)
{
  g_rc_box_release_full (request, (GDestroyNotify)chat_request_clear);
}

ChatConnection *
chat_request_get_connection (ChatRequest *request)
{
  return request->conn;
}

const char *
chat_request_get_op (ChatRequest *request)
{
  return request->op;
}

JsonObject *
chat_request_get_params (ChatRequest *request)
{
  return request->params;
}

JsonNode *
chat_request_get_id (ChatRequest *request)
{
  return request->id;
}

const GError *
chat_request_get_error (ChatRequest *request)
{
  return request->error;
}

gboolean
chat_request_get_pipelined (ChatRequest *request)
{
  return request->pipelined;
}

void
chat_request_set_pipelined (ChatRequest *request, gboolean pipelined)
{
  request->pipelined = pipelined;
}

void
chat_request_set_ticket (ChatRequest *request, guint64 ticket)
{
  request->ticket = ticket;
}

const char *
chat_request_get_session_hash (ChatRequest *request)
{
  return request->session_hash;
}

const char *
chat_request_get_username (ChatRequest *request)
{
  return request->username;
}

void
chat_request_set_session (ChatRequest *request, const char *session_hash, const char *username)
{
  g_free (request->session_hash);
  g_free (request->username);
  request->session_hash = g_strdup (session_hash);
  request->username = g_strdup (username);
}

static JsonObject *
response_new (ChatRequest *request, gboolean ok)
{
  JsonObject *response = json_object_new ();

  if (request->id != NULL)
    json_object_set_member (response, "id", json_node_copy (request->id));
  else
    json_object_set_null_member (response, "id");
  json_object_set_boolean_member (response, "ok", ok);
  return response;
}

static void
copy_members (JsonObject *to, JsonObject *from)
{
  JsonObjectIter iter;
  const char *name = NULL;
  JsonNode *node = NULL;

  if (from == NULL)
    return;
  json_object_iter_init (&iter, from);
  while (json_object_iter_next (&iter, &name, &node))
    json_object_set_member (to, name, json_node_copy (node));
}

static void
send_line (ChatRequest *request, gboolean ok, GBytes *line)
{
  gint64 elapsed_us = g_get_monotonic_time () - request->received_us;

  request->answered = TRUE;
  chat_metrics_observe_request (request->op, ok, (double)elapsed_us / G_USEC_PER_SEC);
  chat_connection_complete (request->conn, request->ticket, request->pipelined, line);
}

static void
send_response (ChatRequest *request, JsonObject *response)
{
  gsize len = 0;
  char *line = chat_json_to_line (response, &len);
  g_autoptr (GBytes) bytes = g_bytes_new_take (line, len);

  send_line (request, json_object_get_boolean_member (response, "ok"), bytes);
}

/* The id as response_new sets it: a whole number, a string or null (check_id in
 * chat-dispatch.c lets no other kind through). */
static void
append_id (GString *out, JsonNode *id)
{
  chat_json_append_member (out, "id");
  if (id == NULL || JSON_NODE_HOLDS_NULL (id))
    g_string_append (out, "null");
  else if (JSON_NODE_HOLDS_VALUE (id) && json_node_get_value_type (id) == G_TYPE_INT64)
    chat_json_append_int (out, json_node_get_int (id));
  else if (JSON_NODE_HOLDS_VALUE (id) && json_node_get_value_type (id) == G_TYPE_STRING)
    chat_json_append_string (out, json_node_get_string (id));
  else
    {
      g_autofree char *text = json_to_string (id, FALSE);

      g_string_append (out, text);
    }
}

void
chat_request_reply_json (ChatRequest *request, const char *name, const char *value, gsize value_len)
{
  GString *out = NULL;
  g_autoptr (GBytes) line = NULL;

  if (request->answered)
    return;
  out = g_string_sized_new (value_len + 64);
  g_string_append_c (out, '{');
  append_id (out, request->id);
  chat_json_append_member (out, "ok");
  g_string_append (out, "true");
  chat_json_append_member (out, name);
  g_string_append_len (out, value, (gssize)value_len);
  g_string_append (out, "}\n");
  line = g_string_free_to_bytes (out);
  send_line (request, TRUE, line);
}

void
chat_request_reply (ChatRequest *request, JsonObject *fields)
{
  g_autoptr (JsonObject) response = NULL;

  if (request->answered)
    return;
  response = response_new (request, TRUE);
  copy_members (response, fields);
  send_response (request, response);
}

void
chat_request_fail_with (ChatRequest *request, const GError *error, JsonObject *extra)
{
  g_autoptr (JsonObject) response = NULL;
  g_autoptr (JsonObject) error_object = json_object_new ();

  if (request->answered)
    return;
  response = response_new (request, FALSE);
  json_object_set_string_member (error_object, "code", chat_error_slug_for (error));
  if (error->domain == CHAT_ERROR)
    {
      /* A message may quote the request (a parser's error names the byte it stopped at):
       * a reply is UTF-8 whatever the request held. */
      g_autofree char *message = g_utf8_make_valid (error->message, -1);

      json_object_set_string_member (error_object, "message", message);
    }
  else
    json_object_set_string_member (error_object, "message", "The server failed");
  copy_members (error_object, extra);
  json_object_set_object_member (response, "error", g_steal_pointer (&error_object));
  send_response (request, response);
}

void
chat_request_fail (ChatRequest *request, const GError *error)
{
  chat_request_fail_with (request, error, NULL);
}

void
chat_request_fail_literal (ChatRequest *request, int code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (CHAT_ERROR, code, message);

  chat_request_fail (request, error);
}
