/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatRequest: one client request in flight, from its parsed line to its one response. */
#pragma once

#include <json-glib/json-glib.h>

#include "chat-daemon-types.h"

G_BEGIN_DECLS

/* A reference-counted request. Handlers keep a reference while they wait for a
 * worker thread or a commit; the response goes to the connection's slot for the
 * request whatever happened to the connection meanwhile. */
ChatRequest *chat_request_new (ChatConnection *conn, JsonNode *id, const char *op,
                               JsonObject *params);
/* A request that failed before dispatch (bad JSON, unknown op): it only answers error. */
ChatRequest *chat_request_new_failed (ChatConnection *conn, JsonNode *id, GError *error);
ChatRequest *chat_request_ref (ChatRequest *request);
void chat_request_unref (ChatRequest *request);

ChatConnection *chat_request_get_connection (ChatRequest *request);
const char *chat_request_get_op (ChatRequest *request);
JsonObject *chat_request_get_params (ChatRequest *request);
/* The id as sent, or NULL when the request had none. */
JsonNode *chat_request_get_id (ChatRequest *request);
const GError *chat_request_get_error (ChatRequest *request);

/* Pipelined requests may run while earlier pipelined ones are still committing;
 * any other request waits for every earlier request and holds back later ones. */
gboolean chat_request_get_pipelined (ChatRequest *request);
void chat_request_set_pipelined (ChatRequest *request, gboolean pipelined);
void chat_request_set_ticket (ChatRequest *request, guint64 ticket);

/* The session the connection had when the request started (NULL if none). */
const char *chat_request_get_session_hash (ChatRequest *request);
const char *chat_request_get_username (ChatRequest *request);
void chat_request_set_session (ChatRequest *request, const char *session_hash,
                               const char *username);

/* Answers {"id", "ok": true, ...fields}. fields may be NULL. Only the first answer counts. */
void chat_request_reply (ChatRequest *request, JsonObject *fields);
/* Answers {"id", "ok": true, name: value}, value being JSON text as json-glib's generator
 * prints it: the same line as chat_request_reply, without building a tree for it. */
void chat_request_reply_json (ChatRequest *request, const char *name, const char *value,
                              gsize value_len);
/* Answers {"id", "ok": false, "error": {code, message, ...extra}}. */
void chat_request_fail (ChatRequest *request, const GError *error);
void chat_request_fail_with (ChatRequest *request, const GError *error, JsonObject *extra);
void chat_request_fail_literal (ChatRequest *request, int code, const char *message);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatRequest, chat_request_unref)

G_END_DECLS
