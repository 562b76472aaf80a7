/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loads the [tls] files into GIO's TLS objects and wraps connections; no TLS code of our own. */
#define G_LOG_DOMAIN "chatd-tls"

#include "config.h"

#include "chat-tls.h"

struct _ChatTls
{
  GObject parent_instance;

  char *certificate_path;
  char *key_path;
  char *ca_path;
  GTlsCertificate *certificate; /* NULL without certificate_path */
  GTlsDatabase *database;
};

G_DEFINE_FINAL_TYPE (ChatTls, chat_tls, G_TYPE_OBJECT)

static void
chat_tls_finalize (GObject *object)
{
  ChatTls *self = CHAT_TLS (object);

  g_free (self->certificate_path);
  g_free (self->key_path);
  g_free (self->ca_path);
  g_clear_object (&self->certificate);
  g_clear_object (&self->database);
  G_OBJECT_CLASS (chat_tls_parent_class)->finalize (object);
}

static void
chat_tls_class_init (ChatTlsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = chat_tls_finalize;
}

static void
chat_tls_init (ChatTls *self)
{
}

static GTlsDatabase *
load_database (const char *ca_path, GError **error)
{
  GTlsDatabase *database = NULL;

  if (ca_path == NULL)
    {
      database = g_tls_backend_get_default_database (g_tls_backend_get_default ());
      if (database == NULL)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                             "No system trust store (is glib-networking installed?)");
      return database;
    }
  database = g_tls_file_database_new (ca_path, error);
  if (database == NULL)
    g_prefix_error (error, "[tls] ca %s: ", ca_path);
  return database;
}

gboolean
chat_tls_reload (ChatTls *self, GError **error)
{
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (GTlsDatabase) database = NULL;

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "GIO has no TLS backend: install glib-networking");
      return FALSE;
    }
  if (self->certificate_path != NULL)
    {
      certificate
          = g_tls_certificate_new_from_files (self->certificate_path, self->key_path, error);
      if (certificate == NULL)
        {
          g_prefix_error (error, "[tls] certificate %s, key %s: ", self->certificate_path,
                          self->key_path);
          return FALSE;
        }
    }
  database = load_database (self->ca_path, error);
  if (database == NULL)
    return FALSE;
  g_set_object (&self->certificate, certificate);
  g_set_object (&self->database, database);
  return TRUE;
}

ChatTls *
chat_tls_new (const char *certificate, const char *key, const char *ca, GError **error)
{
  g_autoptr (ChatTls) self = g_object_new (CHAT_TYPE_TLS, NULL);

  g_return_val_if_fail ((certificate == NULL) == (key == NULL), NULL);
  self->certificate_path = g_strdup (certificate);
  self->key_path = g_strdup (key);
  self->ca_path = g_strdup (ca);
  if (!chat_tls_reload (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

gboolean
chat_tls_has_certificate (ChatTls *self)
{
  return self->certificate != NULL;
}

GTlsDatabase *
chat_tls_get_database (ChatTls *self)
{
  return self->database;
}

GDateTime *
chat_tls_get_not_valid_after (ChatTls *self)
{
  GDateTime *after = NULL;

  if (self->certificate != NULL)
    g_object_get (self->certificate, "not-valid-after", &after, NULL);
  return after;
}

/* A server-side connection emits this for every client certificate and refuses it unless
 * a handler accepts: accept exactly those that verified against the database. */
static gboolean
on_accept_certificate (GTlsConnection *tls, GTlsCertificate *peer, GTlsCertificateFlags errors,
                       gpointer user_data)
{
  if (errors != 0)
    g_debug ("Refusing a client certificate (GTlsCertificateFlags 0x%x)", errors);
  return errors == 0;
}

void
chat_tls_warn_if_expired (ChatTls *self)
{
  g_autoptr (GDateTime) after = chat_tls_get_not_valid_after (self);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *when = NULL;

  if (after == NULL || g_date_time_compare (after, now) > 0)
    return;
  when = g_date_time_format_iso8601 (after);
  g_warning ("The certificate %s expired on %s: clients and peers will refuse it",
             self->certificate_path, when);
}

GIOStream *
chat_tls_wrap_server (ChatTls *self, GIOStream *base, GError **error)
{
  GIOStream *tls = g_tls_server_connection_new (base, self->certificate, error);

  if (tls == NULL)
    return NULL;
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), self->database);
  g_object_set (tls, "authentication-mode", G_TLS_AUTHENTICATION_REQUESTED, NULL);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (on_accept_certificate), NULL);
  return tls;
}

GIOStream *
chat_tls_wrap_client (ChatTls *self, GIOStream *base, GSocketConnectable *identity, GError **error)
{
  GIOStream *tls = g_tls_client_connection_new (base, identity, error);

  if (tls == NULL)
    return NULL;
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), self->database);
  if (self->certificate != NULL)
    g_tls_connection_set_certificate (G_TLS_CONNECTION (tls), self->certificate);
  return tls;
}

gboolean
chat_tls_peer_is_verified (GIOStream *stream)
{
  GTlsConnection *tls = NULL;

  if (!G_IS_TLS_CONNECTION (stream))
    return FALSE;
  tls = G_TLS_CONNECTION (stream);
  return g_tls_connection_get_peer_certificate (tls) != NULL
         && g_tls_connection_get_peer_certificate_errors (tls) == 0;
}

GSocket *
chat_tls_get_socket (GIOStream *stream)
{
  g_autoptr (GIOStream) base = NULL;

  if (G_IS_SOCKET_CONNECTION (stream))
    return g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));
  if (!G_IS_TLS_CONNECTION (stream))
    return NULL;
  g_object_get (stream, "base-io-stream", &base, NULL);
  return G_IS_SOCKET_CONNECTION (base) ? g_socket_connection_get_socket (G_SOCKET_CONNECTION (base))
                                       : NULL;
}
