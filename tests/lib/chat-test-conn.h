/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A raw line connection to a loopback server that fails the test when something is off
 * (for protocol and bad-input tests). */
#pragma once

#include "chat-test-line.h"

G_BEGIN_DECLS

typedef struct _ChatTestConn ChatTestConn;

/* Connects to 127.0.0.1:port, over TLS when a cluster of this process speaks it. */
ChatTestConn *chat_test_conn_new (guint16 port);
/* Connects from a given loopback address ("127.0.0.2"): another client address. */
ChatTestConn *chat_test_conn_new_from (guint16 port, const char *source);
void chat_test_conn_send_raw (ChatTestConn *conn, const void *data, gsize len);
void chat_test_conn_send_line (ChatTestConn *conn, const char *line); /* appends '\n' */
/* The next line as an object (event or response), or NULL on timeout or close. */
JsonObject *chat_test_conn_read (ChatTestConn *conn, guint timeout_ms);
/* Sends a request line and returns the response to it, collecting events seen on
 * the way (readable with chat_test_conn_take_events). Fails the test on timeout. */
JsonObject *chat_test_conn_request (ChatTestConn *conn, const char *json_line);
GPtrArray *chat_test_conn_take_events (ChatTestConn *conn); /* JsonObject * */
/* TRUE once the server has closed the connection (reads EOF within timeout). */
gboolean chat_test_conn_wait_closed (ChatTestConn *conn, guint timeout_ms);
void chat_test_conn_free (ChatTestConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatTestConn, chat_test_conn_free)

G_END_DECLS
