/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A scripted dispatcher for the tests of ChatConnection and ChatRequest. */
#pragma once

/* A connection hands its lines to chat_dispatch_parse() and chat_dispatch_run() and
 * calls nothing else of the dispatcher. A test program that includes this header (in one
 * file only) defines both, so the linker takes these and leaves chat-dispatch.c's object
 * in the daemon's static library: no store, no replication behind the connection. */

#include "chat-connection.h"
#include "chat-dispatch.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-request.h"

/* Ops the scripted dispatcher knows (any other op is held, like "hold"):
 *   {"op":"echo","text":T}   answers at once {"ok":true,"text":T}
 *   {"op":"hold"}            waits until the test answers it
 *   {"op":"big","size":N}    answers at once with a "text" of N bytes
 * "barrier": true makes a request not pipelined (it waits for every earlier one). */
typedef struct
{
  guint parsed;
  GPtrArray *held; /* ChatRequest *, in the order they were run */
  GPtrArray *ops;  /* char *, the op of every request run, in order */
} ChatTestDispatch;

static ChatTestDispatch chat_test_dispatch;

static G_GNUC_UNUSED ChatDispatch *
chat_test_dispatch_reset (void)
{
  g_clear_pointer (&chat_test_dispatch.held, g_ptr_array_unref);
  g_clear_pointer (&chat_test_dispatch.ops, g_ptr_array_unref);
  chat_test_dispatch.parsed = 0;
  chat_test_dispatch.held = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_request_unref);
  chat_test_dispatch.ops = g_ptr_array_new_with_free_func (g_free);
  /* The connection keeps the pointer and passes it back; it never looks inside. */
  return (ChatDispatch *)&chat_test_dispatch;
}

static G_GNUC_UNUSED void
chat_test_dispatch_clear (void)
{
  g_clear_pointer (&chat_test_dispatch.held, g_ptr_array_unref);
  g_clear_pointer (&chat_test_dispatch.ops, g_ptr_array_unref);
}

ChatRequest *
chat_dispatch_parse (ChatDispatch *self, ChatConnection *conn, const char *line, gsize len)
{
  GError *error = NULL;
  g_autoptr (JsonObject) object = chat_json_parse_object (line, len, &error);
  ChatRequest *request = NULL;

  chat_test_dispatch.parsed++;
  if (object == NULL)
    return chat_request_new_failed (conn, NULL, error);
  request
      = chat_request_new (conn, json_object_get_member (object, "id"),
                          json_object_get_string_member_with_default (object, "op", ""), object);
  chat_request_set_pipelined (
      request, !json_object_get_boolean_member_with_default (object, "barrier", FALSE));
  return request;
}

static void
chat_test_dispatch_answer_now (ChatRequest *request, const char *op)
{
  JsonObject *params = chat_request_get_params (request);
  g_autoptr (JsonObject) fields = json_object_new ();

  if (g_str_equal (op, "echo"))
    json_object_set_string_member (fields, "text",
                                   json_object_get_string_member_with_default (params, "text", ""));
  else
    {
      gint64 size = json_object_get_int_member_with_default (params, "size", 0);
      g_autofree char *text = g_strnfill ((gsize)size, 'b');

      json_object_set_string_member (fields, "text", text);
    }
  chat_request_reply (request, fields);
}

void
chat_dispatch_run (ChatDispatch *self, ChatRequest *request)
{
  const char *op = chat_request_get_op (request);

  g_assert_true (self == (ChatDispatch *)&chat_test_dispatch);
  g_ptr_array_add (chat_test_dispatch.ops, g_strdup (op != NULL ? op : "(failed)"));
  if (chat_request_get_error (request) != NULL)
    chat_request_fail (request, chat_request_get_error (request));
  else if (g_str_equal (op, "echo") || g_str_equal (op, "big"))
    chat_test_dispatch_answer_now (request, op);
  else
    g_ptr_array_add (chat_test_dispatch.held, chat_request_ref (request));
}

/* Answers the index-th held request {"ok":true,"n":index}. */
static G_GNUC_UNUSED void
chat_test_dispatch_answer_held (guint index)
{
  g_autoptr (JsonObject) fields = json_object_new ();

  g_assert_cmpuint (index, <, chat_test_dispatch.held->len);
  json_object_set_int_member (fields, "n", index);
  chat_request_reply (g_ptr_array_index (chat_test_dispatch.held, index), fields);
}
