/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatctl health: one verdict (healthy, degraded, unavailable) from the servers' properties. */
#include "config.h"

#include "chatctl-health.h"

/* A server's properties, with what stands in for those it does not have. */
typedef struct
{
  const char *node;
  const char *role;
  const char *leader;
  guint64 term;
  const char *const *in_sync;
  GVariant *peers; /* a(sstx) */
} Server;

static const char *
or_default (const char *value, const char *fallback)
{
  return value != NULL ? value : fallback;
}

/* Borrows from server, which outlives s. */
static void
server_read (Server *s, ChatctlServer1 *server)
{
  s->node = or_default (chatctl_server1_get_node (server), "this server");
  s->role = or_default (chatctl_server1_get_role (server), "unknown");
  s->leader = or_default (chatctl_server1_get_leader (server), "");
  s->term = chatctl_server1_get_term (server);
  s->in_sync = chatctl_server1_get_in_sync (server);
  s->peers = chatctl_server1_get_peers (server);
}

static gboolean
in_sync_has (const Server *s, const char *address)
{
  return s->in_sync != NULL && g_strv_contains (s->in_sync, address);
}

/* The first peer that is down or out of the in-sync set, described; NULL when none. */
static char *
describe_missing_peer (const Server *s)
{
  GVariantIter iter;
  const char *address, *state;
  guint64 lag;
  gint64 contact;

  if (s->peers == NULL)
    return NULL;
  g_variant_iter_init (&iter, s->peers);
  while (g_variant_iter_next (&iter, "(&s&stx)", &address, &state, &lag, &contact))
    {
      if (g_str_equal (state, "down") || g_str_equal (state, "unknown"))
        return g_strdup_printf ("%s is %s", address, state);
      if (!in_sync_has (s, address))
        return g_strdup_printf ("%s is not in sync (%s, %" G_GUINT64_FORMAT " entries behind)",
                                address, state, lag);
    }
  return NULL;
}

static char *
sync_summary (const Server *s)
{
  gsize members = s->in_sync != NULL ? g_strv_length ((char **)s->in_sync) : 0;
  gsize servers = (s->peers != NULL ? g_variant_n_children (s->peers) : 0) + 1;

  return g_strdup_printf ("%zu/%zu in sync", members, servers);
}

ChatctlHealth
chatctl_health_judge (ChatctlServer1 *server, char **reason)
{
  Server s = { 0 };
  g_autofree char *summary = NULL;
  g_autofree char *missing = NULL;
  gboolean leads = FALSE;

  server_read (&s, server);
  leads = g_str_equal (s.role, "leader");
  summary = sync_summary (&s);
  if (!leads && *s.leader == '\0')
    {
      *reason = g_strdup_printf ("%s knows no leader (%s, term %" G_GUINT64_FORMAT
                                 "): writes are refused",
                                 s.node, s.role, s.term);
      return CHATCTL_UNAVAILABLE;
    }
  if (g_str_equal (s.role, "recovering") || !in_sync_has (&s, s.node))
    {
      *reason = g_strdup_printf ("%s is %s and not in the in-sync set yet (leader %s, %s)", s.node,
                                 s.role, leads ? s.node : s.leader, summary);
      return CHATCTL_DEGRADED;
    }
  missing = describe_missing_peer (&s);
  if (missing != NULL)
    {
      *reason = g_strdup_printf ("%s: %s (leader %s, term %" G_GUINT64_FORMAT ", %s)", s.node,
                                 missing, leads ? s.node : s.leader, s.term, summary);
      return CHATCTL_DEGRADED;
    }
  if (leads)
    *reason
        = g_strdup_printf ("%s: leader of term %" G_GUINT64_FORMAT ", %s", s.node, s.term, summary);
  else
    *reason = g_strdup_printf ("%s: %s of %s, term %" G_GUINT64_FORMAT ", %s", s.node, s.role,
                               s.leader, s.term, summary);
  return CHATCTL_HEALTHY;
}

ChatctlHealth
chatctl_health_judge_all (GPtrArray *servers, char **reason)
{
  ChatctlHealth worst = CHATCTL_HEALTHY;

  *reason = NULL;
  if (servers->len == 0)
    {
      *reason = g_strdup ("no chatd server found on the bus");
      return CHATCTL_UNAVAILABLE;
    }
  for (guint i = 0; i < servers->len; i++)
    {
      g_autofree char *text = NULL;
      ChatctlHealth health = chatctl_health_judge (servers->pdata[i], &text);

      if (*reason == NULL || health > worst)
        {
          g_free (*reason);
          *reason = g_steal_pointer (&text);
          worst = health;
        }
    }
  return worst;
}

const char *
chatctl_health_to_string (ChatctlHealth health)
{
  switch (health)
    {
      case CHATCTL_HEALTHY:
        return "healthy";
      case CHATCTL_DEGRADED:
        return "degraded";
      default:
        return "unavailable";
    }
}
