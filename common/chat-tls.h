/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatTls: the certificate, key and trusted CA of [tls], reloadable, and GIO TLS wrapping. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CHAT_TYPE_TLS (chat_tls_get_type ())
G_DECLARE_FINAL_TYPE (ChatTls, chat_tls, CHAT, TLS, GObject)

/* certificate and key (PEM; the certificate file may hold the chain) may both be NULL
 * for a client without a certificate; ca NULL trusts the system store. */
ChatTls *chat_tls_new (const char *certificate, const char *key, const char *ca, GError **error);
/* Reads the files again; on failure the credentials in use stay as they were. */
gboolean chat_tls_reload (ChatTls *self, GError **error);
gboolean chat_tls_has_certificate (ChatTls *self);
/* The trusted CA (or the system store), as loaded last. */
GTlsDatabase *chat_tls_get_database (ChatTls *self);
/* The expiry of this server's own certificate (a GDateTime), or NULL. */
GDateTime *chat_tls_get_not_valid_after (ChatTls *self);
/* Logs a warning when this server's certificate has expired: clients and peers will
 * refuse it, and the log should say why before they do. */
void chat_tls_warn_if_expired (ChatTls *self);

/* A server side over base: presents the certificate, asks for (does not require) the
 * other side's; a certificate given must chain to ca. */
GIOStream *chat_tls_wrap_server (ChatTls *self, GIOStream *base, GError **error);
/* A client side over base: verifies the server's certificate against ca for identity
 * (a host name or IP address), and presents our certificate when we have one. */
GIOStream *chat_tls_wrap_client (ChatTls *self, GIOStream *base, GSocketConnectable *identity,
                                 GError **error);
/* TRUE when stream is TLS and the other side presented a certificate that verified. */
gboolean chat_tls_peer_is_verified (GIOStream *stream);
/* The TCP socket under a plain or TLS stream. */
GSocket *chat_tls_get_socket (GIOStream *stream);

G_END_DECLS
