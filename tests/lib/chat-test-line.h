/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A raw JSON-line connection to a chatd server with deadlines: plaintext or TLS, from
 * another loopback address or from inside a network namespace. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _ChatTestLine ChatTestLine;

typedef struct
{
  const char *source; /* the local address to connect from (127.0.0.2), or NULL */
  const char *netns;  /* make the socket inside /run/netns/NETNS, or NULL */
  GTlsDatabase *tls;  /* speak TLS and verify the server against this CA, or NULL */
  guint handshake_ms; /* bound of the TLS handshake; 0: the connect timeout */
} ChatTestLineOptions;

/* Connects to host:port (IPv4 address or name) within timeout_ms. options may be NULL. */
ChatTestLine *chat_test_line_connect (const char *host, guint16 port,
                                      const ChatTestLineOptions *options, guint timeout_ms,
                                      GError **error);
void chat_test_line_free (ChatTestLine *line);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatTestLine, chat_test_line_free)

/* Writes all of data within timeout_ms. */
gboolean chat_test_line_send (ChatTestLine *line, const void *data, gsize len, guint timeout_ms,
                              GError **error);
/* Writes text and a newline. */
gboolean chat_test_line_send_line (ChatTestLine *line, const char *text, guint timeout_ms,
                                   GError **error);
/* The next line without its newline; NULL with G_IO_ERROR_TIMED_OUT, or with
 * G_IO_ERROR_CONNECTION_CLOSED once the server closed the connection. */
char *chat_test_line_read_line (ChatTestLine *line, guint timeout_ms, GError **error);
/* The next line as a JSON object (a response or an event). */
JsonObject *chat_test_line_read_object (ChatTestLine *line, guint timeout_ms, GError **error);
/* The next response (an object without "event"); events read on the way are added to
 * events when it is not NULL, dropped otherwise. */
JsonObject *chat_test_line_read_response (ChatTestLine *line, guint timeout_ms, GPtrArray *events,
                                          GError **error);
/* Sends a request line and reads its response, both within timeout_ms. */
JsonObject *chat_test_line_request (ChatTestLine *line, const char *text, guint timeout_ms,
                                    GPtrArray *events, GError **error);
/* TRUE once the server closed the connection (or reading from it failed). */
gboolean chat_test_line_is_closed (ChatTestLine *line);
/* Takes the non-blocking socket out of the line, with its TLS stream (NULL: plaintext;
 * it reads and writes through a copy of the fd) and the bytes read but not consumed. */
int chat_test_line_steal_fd (ChatTestLine *line, GIOStream **tls, GString **pending);

/* The name hello requests give as "client" (default "chat-test"). */
void chat_test_line_set_client_name (const char *name);
/* hello (with "state_hash": true if asked) on a fresh connection: the reply when it says
 * ok, NULL when the server does not answer so within timeout_ms. */
JsonObject *chat_test_line_hello (const char *host, guint16 port,
                                  const ChatTestLineOptions *options, gboolean state_hash,
                                  guint timeout_ms);

G_END_DECLS
