/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMetricsServer: serves chat_metrics_render() at GET /metrics over HTTP (libsoup 3). */
#define G_LOG_DOMAIN "chatd-metrics"

#include "config.h"

#include "chat-metrics-server.h"

#include "chat-error.h"
#include "chat-metrics.h"

#include <libsoup/soup.h>

struct _ChatMetricsServer
{
  GObject parent_instance;

  SoupServer *http;
  ChatStatusFunc status_func;
  gpointer user_data;
  guint n_servers;
};

G_DEFINE_FINAL_TYPE (ChatMetricsServer, chat_metrics_server, G_TYPE_OBJECT)

static void
chat_metrics_server_dispose (GObject *object)
{
  ChatMetricsServer *self = CHAT_METRICS_SERVER (object);

  if (self->http != NULL)
    soup_server_disconnect (self->http);
  g_clear_object (&self->http);
  G_OBJECT_CLASS (chat_metrics_server_parent_class)->dispose (object);
}

static void
chat_metrics_server_class_init (ChatMetricsServerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = chat_metrics_server_dispose;
}

static void
chat_metrics_server_init (ChatMetricsServer *self)
{
}

static void
handle_metrics (SoupServer *http, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  ChatMetricsServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  g_autoptr (ChatStatus) status = chat_status_new ();
  char *text = NULL;

  if (g_strcmp0 (path, "/metrics") != 0)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  if (g_strcmp0 (method, SOUP_METHOD_GET) != 0 && g_strcmp0 (method, SOUP_METHOD_HEAD) != 0)
    {
      soup_message_headers_append (soup_server_message_get_response_headers (msg), "Allow",
                                   "GET, HEAD");
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }
  self->status_func (status, CHAT_STATUS_WANT_DEFAULT, self->user_data);
  text = chat_metrics_render (status, self->n_servers);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, CHAT_METRICS_CONTENT_TYPE, SOUP_MEMORY_TAKE, text,
                                    strlen (text));
}

ChatMetricsServer *
chat_metrics_server_new (ChatStatusFunc status_func, gpointer user_data, guint n_servers)
{
  ChatMetricsServer *self = g_object_new (CHAT_TYPE_METRICS_SERVER, NULL);

  self->status_func = status_func;
  self->user_data = user_data;
  self->n_servers = n_servers;
  /* No server header: the version of chatd is nobody's business on a scrape port. */
  self->http = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (self->http, NULL, handle_metrics, self, NULL);
  return self;
}

static GSocketAddress *
resolve (const ChatServerAddress *address, GError **error)
{
  g_autoptr (GResolver) resolver = g_resolver_get_default ();
  g_autoptr (GInetAddress) literal = g_inet_address_new_from_string (address->host);
  g_autolist (GInetAddress) found = NULL;

  if (literal != NULL)
    return g_inet_socket_address_new (literal, address->port);
  found = g_resolver_lookup_by_name (resolver, address->host, NULL, error);
  if (found == NULL)
    return NULL;
  return g_inet_socket_address_new (found->data, address->port);
}

gboolean
chat_metrics_server_listen (ChatMetricsServer *self, const ChatServerAddress *address,
                            GError **error)
{
  g_autoptr (GSocketAddress) socket_address = resolve (address, error);
  g_autofree char *text = chat_server_address_to_string (address);

  g_return_val_if_fail (CHAT_IS_METRICS_SERVER (self), FALSE);

  if (socket_address == NULL || !soup_server_listen (self->http, socket_address, 0, error))
    {
      g_prefix_error (error, "Cannot serve metrics on %s: ", text);
      return FALSE;
    }
  g_message ("Metrics at http://%s/metrics", text);
  return TRUE;
}

guint16
chat_metrics_server_get_port (ChatMetricsServer *self)
{
  g_autoslist (GUri) uris = soup_server_get_uris (self->http);

  return uris != NULL ? (guint16)g_uri_get_port (uris->data) : 0;
}

ChatServerAddress *
chat_metrics_listen_address (const ChatConfig *config, guint node_id)
{
  const ChatServerAddress *base = config->metrics_listen;

  if (base == NULL || node_id == 0)
    return NULL;
  return chat_server_address_new (base->host, (guint16)(base->port + node_id - 1));
}
