/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The benchmark's line connections (tests/lib's line client with the benchmark's TLS
 * setting), and raw I/O on the sockets the load generator takes out of them. */
#pragma once

#include "chat-test-line.h"

G_BEGIN_DECLS

typedef ChatTestLine BenchConn;

/* From now on every connection speaks TLS, verifying servers against database (NULL:
 * plaintext again). Call before any connection is made. */
void bench_conn_set_tls (GTlsDatabase *database);
GTlsDatabase *bench_conn_get_tls (void);
/* send()/recv()/close() on a connection's fd that go through its TLS stream when it has
 * one. recv drains what TLS has decrypted as far as len allows; -1 with EAGAIN when
 * nothing is there. */
gssize bench_io_send (int fd, const void *data, gsize len);
gssize bench_io_recv (int fd, void *data, gsize len);
void bench_io_close (int fd);

/* Connects to host:port (IPv4 or a name) within timeout_ms; NULL with error otherwise. */
BenchConn *bench_conn_new (const char *host, guint16 port, guint timeout_ms, GError **error);
void bench_conn_free (BenchConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchConn, bench_conn_free)

/* Takes the socket out of the connection (non-blocking from then on, read and written
 * with bench_io_*), with any bytes already read but not consumed left in *pending. */
int bench_conn_steal_fd (BenchConn *conn, GString **pending);

gboolean bench_conn_send_line (BenchConn *conn, const char *line, GError **error);
/* The next response (an object with no "event" member) within timeout_ms. */
JsonObject *bench_conn_read_response (BenchConn *conn, guint timeout_ms, GError **error);
/* Sends a request line and reads its response. */
JsonObject *bench_conn_request (BenchConn *conn, const char *line, guint timeout_ms,
                                GError **error);
/* TRUE when reply has "ok": true; otherwise the error code (or "none"). */
gboolean bench_reply_ok (JsonObject *reply, const char **code);

/* hello on host:port: the reply when it says ok, or NULL if the server does not answer
 * so in time. */
JsonObject *bench_hello (const char *host, guint16 port, guint timeout_ms);

G_END_DECLS
