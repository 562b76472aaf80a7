/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a test cluster's servers say about themselves: hello, the leader, sync, the state
 * hash. */
#define G_LOG_DOMAIN "chatd-test"

#include "chat-test-cluster-private.h"

/* How long a server has to answer chat_test_hello(). */
#define HELLO_TIMEOUT_MS 2000

ChatTestLineOptions
chat_test_cluster_line_options (ChatTestCluster *cluster, guint node)
{
  ChatTestLineOptions options
      = { .netns = chat_test_cluster_server (cluster, node)->netns, .tls = cluster->tls };

  return options;
}

JsonObject *
chat_test_cluster_hello (ChatTestCluster *cluster, guint node, gboolean state_hash,
                         guint timeout_ms)
{
  ChatTestServer *server = chat_test_cluster_server (cluster, node);
  ChatTestLineOptions options = chat_test_cluster_line_options (cluster, node);

  if (!chat_test_cluster_is_running (cluster, node))
    return NULL;
  return chat_test_line_hello (server->host, server->port, &options, state_hash, timeout_ms);
}

static gboolean
is_leader (JsonObject *reply)
{
  return reply != NULL
         && g_strcmp0 (json_object_get_string_member_with_default (reply, "role", ""), "leader")
                == 0;
}

guint
chat_test_cluster_wait_leader (ChatTestCluster *cluster, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  do
    {
      for (guint node = 1; node <= cluster->n_servers; node++)
        {
          g_autoptr (JsonObject) reply
              = chat_test_cluster_hello (cluster, node, FALSE, cluster->timing.leader_hello_ms);

          if (is_leader (reply))
            return node;
        }
      g_usleep (cluster->timing.leader_poll_ms * 1000);
    }
  while (g_get_monotonic_time () < deadline);
  return 0;
}

/* Whether a leader's hello reports every server (every running one) in sync. */
static gboolean
reports_in_sync (ChatTestCluster *cluster, JsonObject *reply, gboolean only_running)
{
  JsonArray *servers = json_object_get_array_member (reply, "servers");

  for (guint i = 0; servers != NULL && i < json_array_get_length (servers); i++)
    {
      JsonObject *server = json_array_get_object_element (servers, i);
      gboolean counts = !only_running || i >= cluster->n_servers
                        || chat_test_cluster_is_running (cluster, i + 1);

      if (counts && !json_object_get_boolean_member_with_default (server, "in_sync", FALSE))
        return FALSE;
    }
  return servers != NULL;
}

gboolean
chat_test_cluster_in_sync (ChatTestCluster *cluster, gboolean only_running)
{
  for (guint node = 1; node <= cluster->n_servers; node++)
    {
      g_autoptr (JsonObject) reply
          = chat_test_cluster_hello (cluster, node, FALSE, cluster->timing.leader_hello_ms);

      if (is_leader (reply) && reports_in_sync (cluster, reply, only_running))
        return TRUE;
    }
  return FALSE;
}

JsonObject *
chat_test_hello (ChatTestCluster *cluster, guint node)
{
  return chat_test_cluster_hello (cluster, node, FALSE, HELLO_TIMEOUT_MS);
}

gboolean
chat_test_cluster_leads (ChatTestCluster *cluster, guint node)
{
  g_autoptr (JsonObject) reply = chat_test_hello (cluster, node);

  return is_leader (reply);
}

char *
chat_test_state_hash (ChatTestCluster *cluster, guint node, guint64 *applied)
{
  g_autoptr (JsonObject) reply = chat_test_cluster_hello (cluster, node, TRUE, HELLO_TIMEOUT_MS);

  if (reply == NULL || !json_object_has_member (reply, "state_hash"))
    return NULL;
  if (applied != NULL)
    *applied = (guint64)json_object_get_int_member_with_default (reply, "applied_index", 0);
  return g_strdup (json_object_get_string_member (reply, "state_hash"));
}
