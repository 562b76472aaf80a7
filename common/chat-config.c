/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reads config.ini with GKeyFile and checks every value before the daemon trusts it. */
#include "config.h"

#include "chat-config.h"
#include "chat-defaults.h"
#include "chat-error.h"

#include <string.h>

#define MAX_SERVERS 64
/* What a request line needs beside its message body (the JSON around it). */
#define LINE_BYTES_BESIDE_BODY 1024

ChatServerAddress *
chat_server_address_new (const char *host, guint16 port)
{
  ChatServerAddress *address = g_new0 (ChatServerAddress, 1);
  address->host = g_strdup (host);
  address->port = port;
  return address;
}

void
chat_server_address_free (ChatServerAddress *address)
{
  if (address == NULL)
    return;
  g_free (address->host);
  g_free (address);
}

char *
chat_server_address_to_string (const ChatServerAddress *address)
{
  if (strchr (address->host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", address->host, address->port);
  return g_strdup_printf ("%s:%u", address->host, address->port);
}

static gboolean
parse_port (const char *text, guint16 *port, GError **error)
{
  guint64 value = 0;
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT16, &value, NULL))
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "“%s” is not a port number (1–%d)",
                   text, G_MAXUINT16);
      return FALSE;
    }
  *port = (guint16)value;
  return TRUE;
}

ChatServerAddress *
chat_server_address_parse (const char *text, GError **error)
{
  g_autofree char *host = NULL;
  const char *colon = NULL;
  guint16 port = 0;

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');
      if (close == NULL || close[1] != ':')
        {
          g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                       "“%s” is not an address of the form [host]:port", text);
          return NULL;
        }
      host = g_strndup (text + 1, close - text - 1);
      colon = close + 1;
    }
  else
    {
      colon = strrchr (text, ':');
      if (colon == NULL || colon == text)
        {
          g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                       "“%s” is not an address of the form host:port", text);
          return NULL;
        }
      host = g_strndup (text, colon - text);
    }
  if (!parse_port (colon + 1, &port, error))
    return NULL;
  return chat_server_address_new (host, port);
}

ChatConfig *
chat_config_new_default (void)
{
  ChatConfig *config = g_new0 (ChatConfig, 1);
  config->servers = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_server_address_free);
  for (guint i = 0; i < 3; i++)
    g_ptr_array_add (config->servers, chat_server_address_new ("127.0.0.1", 5555 + i));
  config->mode = CHAT_CLUSTER_MODE_AVAILABLE;
  config->heartbeat_ms = CHAT_DEFAULT_HEARTBEAT_MS;
  config->election_timeout_min_ms = CHAT_DEFAULT_ELECTION_TIMEOUT_MIN_MS;
  config->election_timeout_max_ms = CHAT_DEFAULT_ELECTION_TIMEOUT_MAX_MS;
  config->failure_timeout_ms = CHAT_DEFAULT_FAILURE_TIMEOUT_MS;
  config->snapshot_interval = CHAT_DEFAULT_SNAPSHOT_INTERVAL;
  config->max_line_bytes = CHAT_DEFAULT_MAX_LINE_BYTES;
  config->max_body_bytes = CHAT_DEFAULT_MAX_BODY_BYTES;
  config->max_connections = CHAT_DEFAULT_MAX_CONNECTIONS;
  config->idle_line_timeout_s = CHAT_DEFAULT_IDLE_LINE_TIMEOUT_S;
  config->partial_lines_budget_bytes = CHAT_DEFAULT_PARTIAL_LINES_BUDGET_BYTES;
  config->disk_reserve_bytes = CHAT_DEFAULT_DISK_RESERVE_BYTES;
  config->tls_required = TRUE;
  return config;
}

void
chat_config_free (ChatConfig *config)
{
  if (config == NULL)
    return;
  g_ptr_array_unref (config->servers);
  g_free (config->secret);
  g_free (config->tls_certificate);
  g_free (config->tls_key);
  g_free (config->tls_ca);
  g_free (config->path);
  g_clear_pointer (&config->metrics_listen, chat_server_address_free);
  g_free (config);
}

/* Reads an optional unsigned key into *value, keeping the default when absent. */
static gboolean
read_uint (GKeyFile *file, const char *group, const char *key, guint64 min, guint64 max,
           guint64 *value, GError **error)
{
  g_autofree char *text = g_key_file_get_value (file, group, key, NULL);
  if (text == NULL)
    return TRUE;
  g_strstrip (text);
  if (!g_ascii_string_to_unsigned (text, 10, min, max, value, NULL))
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                   "[%s] %s = “%s”: expected a whole number from %" G_GUINT64_FORMAT
                   " to %" G_GUINT64_FORMAT,
                   group, key, text, min, max);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_servers (GKeyFile *file, ChatConfig *config, GError **error)
{
  g_ptr_array_set_size (config->servers, 0);
  for (guint n = 1; n <= MAX_SERVERS; n++)
    {
      g_autofree char *host_key = g_strdup_printf ("host%u", n);
      g_autofree char *port_key = g_strdup_printf ("port%u", n);
      g_autofree char *host = g_key_file_get_value (file, "server", host_key, NULL);
      g_autofree char *port_text = g_key_file_get_value (file, "server", port_key, NULL);
      guint16 port = 0;

      if (host == NULL && port_text == NULL)
        break;
      if (host == NULL || port_text == NULL)
        {
          g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                       "[server] %s needs both %s and %s", host ? host_key : port_key, host_key,
                       port_key);
          return FALSE;
        }
      if (!parse_port (g_strstrip (port_text), &port, error))
        {
          g_prefix_error (error, "[server] %s: ", port_key);
          return FALSE;
        }
      if (chat_config_find_server (config, g_strstrip (host), port) != 0)
        {
          g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "[server] %s:%u is listed twice",
                       host, port);
          return FALSE;
        }
      g_ptr_array_add (config->servers, chat_server_address_new (host, port));
    }
  if (config->servers->len == 0)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "[server] lists no servers (host1/port1, host2/port2, ...)");
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_cluster (GKeyFile *file, ChatConfig *config, GError **error)
{
  g_autofree char *mode = g_key_file_get_value (file, "cluster", "mode", NULL);
  g_autofree char *secret = g_key_file_get_value (file, "cluster", "secret", NULL);
  guint64 heartbeat = config->heartbeat_ms, emin = config->election_timeout_min_ms;
  guint64 emax = config->election_timeout_max_ms, failure = config->failure_timeout_ms;
  guint64 snapshot = config->snapshot_interval;

  if (mode != NULL && g_strcmp0 (g_strstrip (mode), "available") == 0)
    config->mode = CHAT_CLUSTER_MODE_AVAILABLE;
  else if (mode != NULL && g_strcmp0 (mode, "quorum") == 0)
    config->mode = CHAT_CLUSTER_MODE_QUORUM;
  else if (mode != NULL)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                   "[cluster] mode = “%s”: expected available or quorum", mode);
      return FALSE;
    }
  /* Older releases kept the key here, in a file every user can read. */
  config->has_stale_secret = secret != NULL;
  if (!read_uint (file, "cluster", "heartbeat_ms", 10, 60000, &heartbeat, error)
      || !read_uint (file, "cluster", "election_timeout_min_ms", 20, 600000, &emin, error)
      || !read_uint (file, "cluster", "election_timeout_max_ms", 20, 600000, &emax, error)
      || !read_uint (file, "cluster", "failure_timeout_ms", 20, 600000, &failure, error)
      || !read_uint (file, "cluster", "snapshot_interval", 1, G_MAXUINT32, &snapshot, error))
    return FALSE;
  if (emax < emin || emin <= heartbeat)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "[cluster] needs heartbeat_ms < election_timeout_min_ms "
                           "<= election_timeout_max_ms");
      return FALSE;
    }
  config->heartbeat_ms = heartbeat;
  config->election_timeout_min_ms = emin;
  config->election_timeout_max_ms = emax;
  config->failure_timeout_ms = failure;
  config->snapshot_interval = snapshot;
  return TRUE;
}

static gboolean
read_limits (GKeyFile *file, ChatConfig *config, GError **error)
{
  guint64 line = config->max_line_bytes, body = config->max_body_bytes;
  guint64 conns = config->max_connections, idle = config->idle_line_timeout_s;
  guint64 partial = config->partial_lines_budget_bytes, reserve = config->disk_reserve_bytes;

  if (!read_uint (file, "limits", "max_line_bytes", 1024, 16 * 1024 * 1024, &line, error)
      || !read_uint (file, "limits", "max_body_bytes", 1, 1024 * 1024, &body, error)
      || !read_uint (file, "limits", "max_connections", 1, 1000000, &conns, error)
      || !read_uint (file, "limits", "idle_line_timeout_s", 1, 86400, &idle, error)
      || !read_uint (file, "limits", "partial_lines_budget_bytes", 64 * 1024, G_MAXUINT32, &partial,
                     error)
      || !read_uint (file, "limits", "disk_reserve_bytes", 0, G_MAXINT64, &reserve, error))
    return FALSE;
  if (body + LINE_BYTES_BESIDE_BODY > line)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                   "[limits] max_body_bytes must leave %d bytes of max_line_bytes",
                   LINE_BYTES_BESIDE_BODY);
      return FALSE;
    }
  config->max_line_bytes = line;
  config->max_body_bytes = body;
  config->max_connections = conns;
  config->idle_line_timeout_s = idle;
  config->partial_lines_budget_bytes = partial;
  config->disk_reserve_bytes = reserve;
  return TRUE;
}

/* [metrics] listen = host:port, off when absent; the servers' ports count up from it. */
static gboolean
read_metrics (GKeyFile *file, ChatConfig *config, GError **error)
{
  g_autofree char *listen = g_key_file_get_value (file, "metrics", "listen", NULL);
  ChatServerAddress *address = NULL;

  if (listen == NULL || *g_strstrip (listen) == '\0')
    return TRUE;
  address = chat_server_address_parse (listen, error);
  if (address == NULL)
    {
      g_prefix_error (error, "[metrics] listen: ");
      return FALSE;
    }
  if ((guint)address->port + config->servers->len - 1 > G_MAXUINT16)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                   "[metrics] listen: port %u leaves no room for %u servers", address->port,
                   config->servers->len);
      chat_server_address_free (address);
      return FALSE;
    }
  config->metrics_listen = address;
  return TRUE;
}

static char *
read_path (GKeyFile *file, const char *key)
{
  g_autofree char *text = g_key_file_get_value (file, "tls", key, NULL);

  if (text == NULL || *g_strstrip (text) == '\0')
    return NULL;
  return g_steal_pointer (&text);
}

static gboolean
read_tls (GKeyFile *file, ChatConfig *config, GError **error)
{
  g_autofree char *required = g_key_file_get_value (file, "tls", "required", NULL);

  config->tls_certificate = read_path (file, "certificate");
  config->tls_key = read_path (file, "key");
  config->tls_ca = read_path (file, "ca");
  if ((config->tls_certificate == NULL) != (config->tls_key == NULL))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "[tls] needs both certificate and key, or neither");
      return FALSE;
    }
  if (required == NULL)
    return TRUE;
  g_strstrip (required);
  if (g_strcmp0 (required, "true") != 0 && g_strcmp0 (required, "false") != 0)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                   "[tls] required = “%s”: expected true or false", required);
      return FALSE;
    }
  config->tls_required = g_strcmp0 (required, "true") == 0;
  return TRUE;
}

gboolean
chat_config_tls_enabled (const ChatConfig *config)
{
  return config->tls_certificate != NULL || config->tls_ca != NULL;
}

/* The prototype's config.ini was read by Python's configparser, which also takes
 * ';' comments; GKeyFile only knows '#', so those lines are rewritten first. */
static char *
semicolon_comments_to_hash (const char *data)
{
  g_auto (GStrv) lines = g_strsplit (data, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *first = lines[i] + strspn (lines[i], " \t");
      if (*first == ';')
        *first = '#';
    }
  return g_strjoinv ("\n", lines);
}

ChatConfig *
chat_config_load_from_data (const char *data, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (ChatConfig) config = chat_config_new_default ();
  g_autofree char *text = semicolon_comments_to_hash (data);

  if (!g_key_file_load_from_data (file, text, -1, G_KEY_FILE_NONE, error))
    return NULL;
  if (!read_servers (file, config, error) || !read_cluster (file, config, error)
      || !read_limits (file, config, error) || !read_metrics (file, config, error)
      || !read_tls (file, config, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* A relative [tls] path names a systemd credential (LoadCredential=) when the file is in
 * $CREDENTIALS_DIRECTORY, else a file next to config.ini. */
static void
resolve_tls_path (char **path, const char *config_dir)
{
  const char *credentials = g_getenv ("CREDENTIALS_DIRECTORY");
  g_autofree char *credential = NULL;

  if (*path == NULL || g_path_is_absolute (*path))
    return;
  if (credentials != NULL && *credentials != '\0')
    credential = g_build_filename (credentials, *path, NULL);
  if (credential != NULL && g_file_test (credential, G_FILE_TEST_EXISTS))
    {
      g_free (*path);
      *path = g_steal_pointer (&credential);
      return;
    }
  /* GTlsFileDatabase takes absolute paths only. */
  credential = g_canonicalize_filename (*path, config_dir);
  g_free (*path);
  *path = g_steal_pointer (&credential);
}

static void
resolve_tls_paths (ChatConfig *config)
{
  g_autofree char *relative = g_path_get_dirname (config->path);
  g_autofree char *dir = g_canonicalize_filename (relative, NULL);

  resolve_tls_path (&config->tls_certificate, dir);
  resolve_tls_path (&config->tls_key, dir);
  resolve_tls_path (&config->tls_ca, dir);
}

ChatConfig *
chat_config_load (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  ChatConfig *config = NULL;

  if (!g_file_get_contents (path, &data, NULL, error))
    return NULL;
  config = chat_config_load_from_data (data, error);
  if (config == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  config->path = g_strdup (path);
  resolve_tls_paths (config);
  return config;
}

ChatConfig *
chat_config_load_default (GError **error)
{
  g_autofree char *user = g_build_filename (g_get_user_config_dir (), "chatd", "config.ini", NULL);
  g_autofree char *system = g_build_filename (SYSCONFDIR, "chatd", "config.ini", NULL);
  const char *candidates[] = { g_getenv ("CHATD_CONFIG"), "config.ini", user, system };

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      if (candidates[i] != NULL && g_file_test (candidates[i], G_FILE_TEST_IS_REGULAR))
        return chat_config_load (candidates[i], error);
    }
  return chat_config_new_default ();
}

guint
chat_config_find_server (const ChatConfig *config, const char *host, guint16 port)
{
  for (guint i = 0; i < config->servers->len; i++)
    {
      const ChatServerAddress *address = g_ptr_array_index (config->servers, i);
      if (address->port == port && g_strcmp0 (address->host, host) == 0)
        return i + 1;
    }
  return 0;
}

const char *
chat_cluster_mode_to_string (ChatClusterMode mode)
{
  return mode == CHAT_CLUSTER_MODE_QUORUM ? "quorum" : "available";
}
