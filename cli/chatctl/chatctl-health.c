/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatctl health: one verdict (healthy, degraded, unavailable) from the servers' properties. */
#include "config.h"

#include "chatctl-health.h"

typedef struct
{
  const char *node;
  const char *role;
  const char *leader;
  guint64 term;
  GVariant *in_sync; /* as */
  GVariant *peers;   /* a(sstx) */
} Server;

static void
server_clear (Server *s)
{
  g_clear_pointer (&s->in_sync, g_variant_unref);
  g_clear_pointer (&s->peers, g_variant_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Server, server_clear)

static void
server_read (Server *s, GVariant *properties)
{
  g_autoptr (GVariantDict) dict = g_variant_dict_new (properties);

  /* The strings stay valid as long as properties does. */
  if (!g_variant_lookup (properties, "Node", "&s", &s->node))
    s->node = "this server";
  if (!g_variant_lookup (properties, "Role", "&s", &s->role))
    s->role = "unknown";
  if (!g_variant_lookup (properties, "Leader", "&s", &s->leader))
    s->leader = "";
  g_variant_lookup (properties, "Term", "t", &s->term);
  s->in_sync = g_variant_dict_lookup_value (dict, "InSync", G_VARIANT_TYPE ("as"));
  s->peers = g_variant_dict_lookup_value (dict, "Peers", G_VARIANT_TYPE ("a(sstx)"));
}

static gboolean
in_sync_has (const Server *s, const char *address)
{
  g_autofree const char **members = NULL;

  if (s->in_sync == NULL)
    return FALSE;
  members = g_variant_get_strv (s->in_sync, NULL);
  return g_strv_contains (members, address);
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
  gsize members = s->in_sync != NULL ? g_variant_n_children (s->in_sync) : 0;
  gsize servers = (s->peers != NULL ? g_variant_n_children (s->peers) : 0) + 1;

  return g_strdup_printf ("%zu/%zu in sync", members, servers);
}

ChatctlHealth
chatctl_health_judge (GVariant *properties, char **reason)
{
  g_auto (Server) s = { 0 };
  g_autofree char *summary = NULL;
  g_autofree char *missing = NULL;
  gboolean leads = FALSE;

  server_read (&s, properties);
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
chatctl_health_judge_all (GPtrArray *properties, char **reason)
{
  ChatctlHealth worst = CHATCTL_HEALTHY;

  *reason = NULL;
  if (properties->len == 0)
    {
      *reason = g_strdup ("no chatd server found on the bus");
      return CHATCTL_UNAVAILABLE;
    }
  for (guint i = 0; i < properties->len; i++)
    {
      g_autofree char *text = NULL;
      ChatctlHealth health = chatctl_health_judge (properties->pdata[i], &text);

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
