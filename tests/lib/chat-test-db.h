/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a test server's database (read-only, also while it runs): the applied index,
 * and waiting until every server applied the same. */
#pragma once

#include "chat-test-cluster.h"

G_BEGIN_DECLS

/* The one integer sql selects from state_dir/chatd.db; -1 when there is none. */
gint64 chat_test_db_query_int (const char *state_dir, const char *sql);
/* The applied index node's database records; -1 when unknown. */
gint64 chat_test_cluster_applied_index (ChatTestCluster *cluster, guint node);
/* Waits until every server applied the same index and kept it for a second. Returns when
 * that index was first seen on all of them (monotonic time), or 0 after timeout_ms. */
gint64 chat_test_cluster_wait_same_applied (ChatTestCluster *cluster, guint timeout_ms);

G_END_DECLS
