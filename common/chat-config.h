/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.ini: the cluster's servers ([server] hostN/portN) and its tunables. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  CHAT_CLUSTER_MODE_AVAILABLE,
  CHAT_CLUSTER_MODE_QUORUM,
} ChatClusterMode;

typedef struct
{
  char *host;
  guint16 port;
} ChatServerAddress;

typedef struct
{
  /* ChatServerAddress *, in config order; a server's node id is its position + 1. */
  GPtrArray *servers;
  ChatClusterMode mode;
  /* The cluster key: never read from config.ini, filled by the daemon from cluster.key. */
  char *secret;
  /* config.ini still holds a [cluster] secret line, which is ignored. */
  gboolean has_stale_secret;
  guint heartbeat_ms;
  guint election_timeout_min_ms;
  guint election_timeout_max_ms;
  guint failure_timeout_ms;
  guint64 snapshot_interval; /* take a snapshot after this many applied entries */
  gsize max_line_bytes;
  gsize max_body_bytes;
  guint max_connections;
  guint idle_line_timeout_s;
  gsize partial_lines_budget_bytes; /* unfinished lines of all connections together */
  guint64 disk_reserve_bytes;       /* below this much free space writes are refused */
  /* [tls]: PEM files; TLS is on when certificate or ca is set (see docs/operations.md). */
  char *tls_certificate;
  char *tls_key;
  char *tls_ca;          /* NULL: the system trust store */
  gboolean tls_required; /* FALSE only when the operator accepts plaintext off loopback */
  char *path;            /* where it was read from, or NULL for built-in defaults */
  /* [metrics] listen: server N of [server] serves /metrics on this port + N - 1; NULL: off */
  ChatServerAddress *metrics_listen;
} ChatConfig;

/* Built-in defaults: the three servers of the shipped config.ini. */
ChatConfig *chat_config_new_default (void);
ChatConfig *chat_config_load (const char *path, GError **error);
ChatConfig *chat_config_load_from_data (const char *data, GError **error);
/* The first existing of: $CHATD_CONFIG, ./config.ini, $XDG_CONFIG_HOME/chatd/config.ini,
 * SYSCONFDIR/chatd/config.ini. Returns built-in defaults when none exists. */
ChatConfig *chat_config_load_default (GError **error);
void chat_config_free (ChatConfig *config);
/* Whether the cluster speaks TLS: [tls] names a certificate or a ca. */
gboolean chat_config_tls_enabled (const ChatConfig *config);

/* The node id (1-based) of host:port, or 0 when it is not in the cluster. */
guint chat_config_find_server (const ChatConfig *config, const char *host, guint16 port);
const char *chat_cluster_mode_to_string (ChatClusterMode mode);

ChatServerAddress *chat_server_address_new (const char *host, guint16 port);
void chat_server_address_free (ChatServerAddress *address);
/* "host:port" (IPv6 hosts in brackets). */
char *chat_server_address_to_string (const ChatServerAddress *address);
/* Parses "host:port" or "[v6]:port". */
ChatServerAddress *chat_server_address_parse (const char *text, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatConfig, chat_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatServerAddress, chat_server_address_free)

G_END_DECLS
