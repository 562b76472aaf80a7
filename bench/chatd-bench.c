/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatd-bench: load, idle-connection, failover, rejoin and peer codec measurements of chatd. */
#include "config.h"

#include "bench-common.h"
#include "bench-conn.h"
#include "chat-config.h"
#include "chat-fs.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static const struct
{
  const char *name;
  int (*main) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "load", bench_load_main, "closed-loop send load: throughput and latency" },
  { "idle", bench_idle_main, "memory per idle connection, and load with them open" },
  { "failover", bench_failover_main, "time from SIGKILL of the leader to the next ack" },
  { "rejoin", bench_rejoin_main, "catch-up rate of a restarted server, live p99 meanwhile" },
  { "codec", bench_codec_main, "processor time to encode and decode a peer append" },
};

void
bench_common_init (BenchCommon *common, int default_nodes)
{
  memset (common, 0, sizeof *common);
  common->nodes = default_nodes;
  common->runs = 1;
}

GOptionGroup *
bench_common_option_group (BenchCommon *common)
{
  GOptionEntry entries[]
      = { { "servers", 0, 0, G_OPTION_ARG_STRING, &common->servers,
            "Use these running servers instead of starting some", "HOST:PORT,..." },
          { "config", 0, 0, G_OPTION_ARG_FILENAME, &common->config,
            "Use the running servers listed in this config.ini", "FILE" },
          { "nodes", 'n', 0, G_OPTION_ARG_INT, &common->nodes, "Local servers to start", "N" },
          { "mode", 0, 0, G_OPTION_ARG_STRING, &common->mode,
            "Cluster mode of local servers: available (default) or quorum", "MODE" },
          { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &common->settings,
            "A config.ini value for local servers (repeatable)", "GROUP.KEY=VALUE" },
          { "chatd", 0, 0, G_OPTION_ARG_FILENAME, &common->chatd,
            "chatd binary (default: the build tree's, else from PATH)", "PATH" },
          { "json", 0, 0, G_OPTION_ARG_NONE, &common->json, "Print one JSON object", NULL },
          { "tls", 0, 0, G_OPTION_ARG_NONE, &common->tls,
            "Local servers speak TLS (a CA made now by scripts/make-certificates)", NULL },
          { "runs", 'r', 0, G_OPTION_ARG_INT, &common->runs,
            "Measure each point this many times; report the median of runs", "R" },
          { NULL } };
  GOptionGroup *group = g_option_group_new (
      "servers", "Servers and output:", "Show server and output options", NULL, NULL);

  g_option_group_add_entries (group, entries);
  return group;
}

void
bench_common_clear (BenchCommon *common)
{
  g_free (common->servers);
  g_free (common->config);
  g_free (common->mode);
  g_strfreev (common->settings);
  g_free (common->chatd);
  if (common->tls_dir != NULL)
    chat_fs_remove_tree (common->tls_dir);
  g_free (common->tls_dir);
}

/* The [tls] settings of local servers that use the files made in dir. */
static void
add_tls_settings (BenchCommon *common, const char *dir)
{
  g_autoptr (GStrvBuilder) settings = g_strv_builder_new ();
  g_autofree char *certificate = g_strdup_printf ("tls.certificate=%s/127.0.0.1.pem", dir);
  g_autofree char *key = g_strdup_printf ("tls.key=%s/127.0.0.1.key", dir);
  g_autofree char *ca = g_strdup_printf ("tls.ca=%s/ca.pem", dir);

  if (common->settings != NULL)
    g_strv_builder_addv (settings, (const char **)common->settings);
  g_strv_builder_add_many (settings, certificate, key, ca, NULL);
  g_strfreev (common->settings);
  common->settings = g_strv_builder_end (settings);
}

/* --tls: a CA and a certificate for 127.0.0.1, the [tls] settings of the local servers,
 * and every connection of the bench over TLS trusting that CA. */
static gboolean
setup_tls (BenchCommon *common, GError **error)
{
  const char *script = g_getenv ("CHATD_MAKE_CERTIFICATES");
  g_autofree char *in_tree
      = g_build_filename (BENCH_SOURCE_ROOT, "scripts", "make-certificates", NULL);
  g_autofree char *ca = NULL;
  g_autoptr (GTlsDatabase) database = NULL;
  const char *argv[] = { script ? script : in_tree, NULL, "127.0.0.1", NULL };
  int status = 0;

  common->tls_dir = g_dir_make_tmp ("chatd-bench-tls-XXXXXX", error);
  if (common->tls_dir == NULL)
    return FALSE;
  argv[1] = common->tls_dir;
  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status,
                     error)
      || !g_spawn_check_wait_status (status, error))
    return FALSE;
  ca = g_build_filename (common->tls_dir, "ca.pem", NULL);
  database = g_tls_file_database_new (ca, error);
  if (database == NULL)
    return FALSE;
  bench_conn_set_tls (database);
  add_tls_settings (common, common->tls_dir);
  return TRUE;
}

static char *
servers_from_config (const char *path, GError **error)
{
  g_autoptr (ChatConfig) config = chat_config_load (path, error);
  g_autoptr (GString) servers = g_string_new (NULL);

  if (config == NULL)
    return NULL;
  for (guint i = 0; i < config->servers->len; i++)
    {
      g_autofree char *address
          = chat_server_address_to_string (g_ptr_array_index (config->servers, i));

      g_string_append_printf (servers, "%s%s", i ? "," : "", address);
    }
  return g_string_free (g_steal_pointer (&servers), FALSE);
}

/* The running servers' metrics endpoints, when their config.ini has [metrics] listen. */
static void
metrics_from_config (BenchCluster *cluster, const char *path)
{
  g_autoptr (ChatConfig) config = chat_config_load (path, NULL);

  if (config != NULL && config->metrics_listen != NULL)
    bench_cluster_set_metrics (cluster, config->metrics_listen->host, config->metrics_listen->port);
}

BenchCluster *
bench_common_cluster (BenchCommon *common, GError **error)
{
  g_autoptr (BenchCluster) cluster = NULL;

  if (common->chatd != NULL)
    bench_cluster_set_chatd_path (common->chatd);
  if (common->config != NULL && common->servers == NULL)
    {
      common->servers = servers_from_config (common->config, error);
      if (common->servers == NULL)
        return NULL;
    }
  if (common->servers != NULL)
    {
      cluster = bench_cluster_new_external (common->servers, error);
      if (cluster != NULL && common->config != NULL)
        metrics_from_config (cluster, common->config);
      return g_steal_pointer (&cluster);
    }
  if (common->tls && common->tls_dir == NULL && !setup_tls (common, error))
    return NULL;
  cluster = bench_cluster_new_local ((guint)CLAMP (common->nodes, 1, 9), common->mode,
                                     (const char *const *)common->settings, error);
  if (cluster == NULL || !bench_cluster_start_all (cluster, error))
    return NULL;
  return g_steal_pointer (&cluster);
}

GArray *
bench_parse_uint_list (const char *text, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  g_autoptr (GArray) values = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; parts[i] != NULL; i++)
    {
      guint64 value = 0;
      guint v = 0;

      if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, 1000000, &value, error))
        return NULL;
      v = (guint)value;
      g_array_append_val (values, v);
    }
  return g_steal_pointer (&values);
}

static char *
cpu_model (void)
{
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/cpuinfo", &contents, NULL, NULL))
    return g_strdup ("unknown");
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "model name"))
      return g_strstrip (g_strdup (strchr (lines[i], ':') + 1));
  return g_strdup ("unknown");
}

JsonObject *
bench_host_info (void)
{
  JsonObject *object = json_object_new ();
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format_iso8601 (now);
  g_autofree char *cpu = cpu_model ();
  g_autofree char *loadavg = NULL;

  g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL);
  json_object_set_string_member (object, "date", date);
  json_object_set_int_member (object, "nproc", g_get_num_processors ());
  json_object_set_string_member (object, "cpu", cpu);
  json_object_set_string_member (object, "loadavg", loadavg ? g_strstrip (loadavg) : "");
  return object;
}

void
bench_print_host_info (void)
{
  g_autoptr (JsonObject) info = bench_host_info ();

  g_print ("# %s  nproc %" G_GINT64_FORMAT "  cpu %s  loadavg %s\n",
           json_object_get_string_member (info, "date"), json_object_get_int_member (info, "nproc"),
           json_object_get_string_member (info, "cpu"),
           json_object_get_string_member (info, "loadavg"));
}

void
bench_print_json (JsonObject *object)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), object);
  g_autofree char *text = json_to_string (node, TRUE);

  g_print ("%s\n", text);
}

/* Each connection is a file descriptor: allow as many as the hard limit permits. */
static void
raise_file_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
}

static void
usage (void)
{
  g_printerr ("Usage: chatd-bench COMMAND [OPTION…]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_printerr ("  %-10s %s\n", commands[i].name, commands[i].summary);
  g_printerr ("\n“chatd-bench COMMAND --help” lists a command's options.\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  signal (SIGPIPE, SIG_IGN);
  raise_file_limit ();
  chat_test_line_set_client_name ("chatd-bench");
  if (argc < 2)
    {
      usage ();
      return 2;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].main (argc - 1, argv + 1);
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      usage ();
      return 0;
    }
  g_printerr ("chatd-bench: unknown command “%s”\n", argv[1]);
  usage ();
  return 2;
}
