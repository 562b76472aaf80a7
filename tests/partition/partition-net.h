/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network namespaces for partition tests: one per server, joined by a bridge that lives in
 * its own namespace; a server is cut off by taking its bridge port down. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _PartNet PartNet;
typedef struct _PartConn PartConn;

/* NULL (with a reason in *skip) when not root or `ip netns` does not work. */
gboolean part_net_available (char **skip);
/* Namespaces "<prefix>-sw" and "<prefix>-1".."<prefix>-n", addresses 10.213.0.N/24. */
PartNet *part_net_new (const char *prefix, guint n);
const char *part_net_namespace (PartNet *net, guint node);
const char *part_net_address (PartNet *net, guint node);
/* Takes node's bridge port down (isolated) or up again. */
void part_net_isolate (PartNet *net, guint node, gboolean isolated);
/* Connections made through net from now on speak TLS and verify each server's certificate
 * for its address against ca. */
void part_net_set_tls (PartNet *net, GTlsDatabase *ca);
/* Kills every process in the namespaces and deletes them. */
void part_net_free (PartNet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PartNet, part_net_free)
/* The same, by prefix, for namespaces left behind by a test that died. */
void part_net_cleanup_prefix (const char *prefix);

/* A blocking line connection made from inside node's namespace. NULL if it fails. */
PartConn *part_conn_new (PartNet *net, guint node, guint16 port, guint timeout_ms);
/* Sends a request line and returns the response (events skipped), or NULL on timeout
 * or a closed connection. */
JsonObject *part_conn_request (PartConn *conn, const char *line, guint timeout_ms);
void part_conn_free (PartConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PartConn, part_conn_free)

G_END_DECLS
