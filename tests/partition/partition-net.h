/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network namespaces for partition tests: one per server, joined by a bridge that lives in
 * its own namespace; a server is cut off by taking its bridge port down. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PartNet PartNet;

/* NULL (with a reason in *skip) when not root or `ip netns` does not work. */
gboolean part_net_available (char **skip);
/* Namespaces "<prefix>-sw" and "<prefix>-1".."<prefix>-n", addresses 10.213.0.N/24. */
PartNet *part_net_new (const char *prefix, guint n);
const char *part_net_namespace (PartNet *net, guint node);
const char *part_net_address (PartNet *net, guint node);
/* Takes node's bridge port down (isolated) or up again. */
void part_net_isolate (PartNet *net, guint node, gboolean isolated);
/* Kills every process in the namespaces and deletes them. */
void part_net_free (PartNet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PartNet, part_net_free)
/* The same, by prefix, for namespaces left behind by a test that died. */
void part_net_cleanup_prefix (const char *prefix);

G_END_DECLS
