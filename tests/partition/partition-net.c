/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network namespaces for partition tests: one per server, joined by a bridge that lives in
 * its own namespace; a server is cut off by taking its bridge port down. */
#define G_LOG_DOMAIN "partition"

#include "partition-net.h"

#include <signal.h>
#include <unistd.h>

#define SUBNET "10.213.0."

struct _PartNet
{
  char *prefix;
  guint n;
  char **namespaces; /* [0] the switch, [1..n] the servers */
  char **addresses;  /* [1..n] */
};

/* Runs argv; TRUE when it exits 0. Output goes to the test log on failure. */
static gboolean
run (const char *const *argv, gboolean must)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                     &status, &error)
      || !g_spawn_check_wait_status (status, NULL))
    {
      g_autofree char *command = g_strjoinv (" ", (char **)argv);

      if (must)
        g_error ("“%s” failed: %s%s", command, error ? error->message : "", err ? err : "");
      return FALSE;
    }
  return TRUE;
}

#define RUN(...) run ((const char *const[]){ __VA_ARGS__, NULL }, TRUE)

gboolean
part_net_available (char **skip)
{
  g_autofree char *name = g_strdup_printf ("chatdprobe%d", (int)getpid ());

  if (geteuid () != 0)
    {
      *skip = g_strdup ("partition tests need root (network namespaces)");
      return FALSE;
    }
  if (!run ((const char *const[]){ "ip", "netns", "add", name, NULL }, FALSE))
    {
      *skip = g_strdup ("`ip netns add` does not work here (iproute2 missing or no permission)");
      return FALSE;
    }
  run ((const char *const[]){ "ip", "netns", "del", name, NULL }, FALSE);
  return TRUE;
}

static void
add_server_namespace (PartNet *net, guint node)
{
  g_autofree char *port = g_strdup_printf ("v%u", node);
  g_autofree char *cidr = g_strdup_printf ("%s/24", net->addresses[node]);
  const char *sw = net->namespaces[0], *ns = net->namespaces[node];

  RUN ("ip", "netns", "add", ns);
  RUN ("ip", "-n", ns, "link", "set", "lo", "up");
  RUN ("ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
  RUN ("ip", "-n", sw, "link", "set", port, "master", "br0");
  RUN ("ip", "-n", sw, "link", "set", port, "up");
  RUN ("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0");
  RUN ("ip", "-n", ns, "link", "set", "eth0", "up");
}

PartNet *
part_net_new (const char *prefix, guint n)
{
  PartNet *net = g_new0 (PartNet, 1);

  net->prefix = g_strdup (prefix);
  net->n = n;
  net->namespaces = g_new0 (char *, n + 2);
  net->addresses = g_new0 (char *, n + 2);
  net->namespaces[0] = g_strdup_printf ("%s-sw", prefix);
  RUN ("ip", "netns", "add", net->namespaces[0]);
  RUN ("ip", "-n", net->namespaces[0], "link", "add", "br0", "type", "bridge");
  RUN ("ip", "-n", net->namespaces[0], "link", "set", "br0", "up");
  for (guint node = 1; node <= n; node++)
    {
      net->namespaces[node] = g_strdup_printf ("%s-%u", prefix, node);
      net->addresses[node] = g_strdup_printf (SUBNET "%u", node);
      add_server_namespace (net, node);
    }
  return net;
}

const char *
part_net_namespace (PartNet *net, guint node)
{
  g_assert (node >= 1 && node <= net->n);
  return net->namespaces[node];
}

const char *
part_net_address (PartNet *net, guint node)
{
  g_assert (node >= 1 && node <= net->n);
  return net->addresses[node];
}

void
part_net_isolate (PartNet *net, guint node, gboolean isolated)
{
  g_autofree char *port = g_strdup_printf ("v%u", node);

  RUN ("ip", "-n", net->namespaces[0], "link", "set", port, isolated ? "down" : "up");
}

/* SIGKILLs every process inside namespace ns, then deletes it. */
static void
delete_namespace (const char *ns)
{
  g_autofree char *out = NULL;
  const char *argv[] = { "ip", "netns", "pids", ns, NULL };

  if (g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, &out, NULL, NULL, NULL)
      && out != NULL)
    {
      g_auto (GStrv) pids = g_strsplit (out, "\n", -1);

      for (guint i = 0; pids[i] != NULL; i++)
        {
          gint64 pid = g_ascii_strtoll (pids[i], NULL, 10);

          if (pid > 1 && pid != getpid ())
            kill ((pid_t)pid, SIGKILL);
        }
    }
  run ((const char *const[]){ "ip", "netns", "del", ns, NULL }, FALSE);
}

void
part_net_cleanup_prefix (const char *prefix)
{
  g_autoptr (GDir) dir = g_dir_open ("/run/netns", 0, NULL);
  const char *name = NULL;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, prefix))
      delete_namespace (name);
}

void
part_net_free (PartNet *net)
{
  if (net == NULL)
    return;
  for (guint node = net->n; node >= 1; node--)
    delete_namespace (net->namespaces[node]);
  delete_namespace (net->namespaces[0]);
  g_strfreev (net->namespaces);
  for (guint node = 0; node <= net->n; node++)
    g_free (net->addresses[node]);
  g_free (net->addresses);
  g_free (net->prefix);
  g_free (net);
}
