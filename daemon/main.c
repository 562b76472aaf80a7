/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatd: command line, configuration, state directory, signals and the main loop. */
#define G_LOG_DOMAIN "chatd"

#include "config.h"

#include "chat-admin.h"
#include "chat-cluster-key.h"
#include "chat-config.h"
#include "chat-journal.h"
#include "chat-line-budget.h"
#include "chat-replica.h"
#include "chat-server.h"
#include "chat-state-dir.h"
#include "chat-store.h"
#include "chat-tls.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define EXIT_USAGE 2

typedef struct
{
  char *host;
  int port;
  char *config_path;
  char *state_dir;
  gboolean primary;
  gboolean rejoin;
  gboolean version;
} Options;

static void
options_clear (Options *options)
{
  g_free (options->host);
  g_free (options->config_path);
  g_free (options->state_dir);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

static gboolean
parse_options (Options *options, int *argc, char ***argv, GError **error)
{
  GOptionEntry entries[]
      = { { "host", 'H', 0, G_OPTION_ARG_STRING, &options->host,
            "Address to listen on; with --port it must be a server of the config", "HOST" },
          { "port", 'p', 0, G_OPTION_ARG_INT, &options->port, "TCP port to listen on", "PORT" },
          { "config", 'c', 0, G_OPTION_ARG_FILENAME, &options->config_path,
            "Cluster configuration (default: $CHATD_CONFIG, ./config.ini, "
            "$XDG_CONFIG_HOME/chatd/config.ini, then " SYSCONFDIR "/chatd/config.ini)",
            "FILE" },
          { "state-dir", 'd', 0, G_OPTION_ARG_FILENAME, &options->state_dir,
            "Where the database lives (default: $STATE_DIRECTORY, else "
            "$XDG_STATE_HOME/chatd/PORT)",
            "DIR" },
          { "primary", 0, 0, G_OPTION_ARG_NONE, &options->primary,
            "Run for the very first term at once (a new cluster still needs every server up and "
            "empty)",
            NULL },
          { "rejoin", 0, 0, G_OPTION_ARG_NONE, &options->rejoin,
            "Accepted for compatibility: a restarted server always rejoins on its own", NULL },
          { "version", 'V', 0, G_OPTION_ARG_NONE, &options->version, "Print the version and exit",
            NULL },
          { NULL } };
  g_autoptr (GOptionContext) context = g_option_context_new ("- fault-tolerant chat server");

  g_option_context_set_summary (context,
                                "Serves the chatd client protocol on HOST:PORT, one server of "
                                "the cluster listed in the [server] section of config.ini.");
  g_option_context_set_description (context,
                                    "Exit status: 0 after a clean stop (SIGTERM or SIGINT), 1 on "
                                    "a runtime failure, 2 on a usage or configuration error.\n");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (options->version)
    return TRUE;
  if (options->port <= 0 || options->port > G_MAXUINT16)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--port (1-%d) is required",
                   G_MAXUINT16);
      return FALSE;
    }
  return TRUE;
}

/* Without --host (as in chatd@PORT.service), the host of the one server with this
 * port in the config; NULL when none or several have it. */
static char *
find_host_for_port (const ChatConfig *config, int port)
{
  const ChatServerAddress *found = NULL;

  for (guint i = 0; i < config->servers->len; i++)
    {
      const ChatServerAddress *address = g_ptr_array_index (config->servers, i);

      if (address->port != port)
        continue;
      if (found != NULL)
        return NULL;
      found = address;
    }
  return found != NULL ? g_strdup (found->host) : NULL;
}

static ChatConfig *
load_config (const Options *options, GError **error)
{
  if (options->config_path != NULL)
    return chat_config_load (options->config_path, error);
  return chat_config_load_default (error);
}

/* $STATE_DIRECTORY (systemd; the first of a list), else --state-dir, else XDG. */
static char *
choose_state_dir (const Options *options)
{
  const char *systemd_dir = g_getenv ("STATE_DIRECTORY");
  g_autofree char *port = NULL;

  if (systemd_dir != NULL && *systemd_dir != '\0')
    {
      g_auto (GStrv) dirs = g_strsplit (systemd_dir, ":", 2);
      return g_strdup (dirs[0]);
    }
  if (options->state_dir != NULL)
    return g_strdup (options->state_dir);
  port = g_strdup_printf ("%d", options->port);
  return g_build_filename (g_get_user_state_dir (), "chatd", port, NULL);
}

/* Each client is a file descriptor: allow as many as the hard limit permits. */
static void
raise_file_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == limit.rlim_max)
    return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
    g_warning ("Cannot raise the open-file limit: %s", g_strerror (errno));
}

/* TRUE when every address host names is a loopback one. */
static gboolean
host_is_loopback (const char *host)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host);
  g_autoptr (GResolver) resolver = NULL;
  GList *addresses = NULL;
  gboolean loopback = TRUE;

  if (inet != NULL)
    return g_inet_address_get_is_loopback (inet);
  resolver = g_resolver_get_default ();
  addresses = g_resolver_lookup_by_name (resolver, host, NULL, NULL);
  if (addresses == NULL)
    return FALSE;
  for (GList *l = addresses; l != NULL; l = l->next)
    loopback = loopback && g_inet_address_get_is_loopback (l->data);
  g_resolver_free_addresses (addresses);
  return loopback;
}

/* [tls] gives the server its certificate; without it only loopback may be plaintext,
 * unless the operator wrote [tls] required = false. NULL with no error: plaintext. */
static ChatTls *
load_tls (const ChatConfig *config, const char *host, GError **error)
{
  if (!chat_config_tls_enabled (config))
    {
      if (config->tls_required && !host_is_loopback (host))
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     "%s is not a loopback address and config.ini has no [tls] section: "
                     "passwords and messages would cross the network in clear. Configure "
                     "[tls] certificate, key and ca (see chatd(8)), or set [tls] "
                     "required = false to accept plaintext",
                     host);
      return NULL;
    }
  if (config->tls_certificate == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "[tls] names a ca but no certificate and key for this server");
      return NULL;
    }
  return chat_tls_new (config->tls_certificate, config->tls_key, config->tls_ca, error);
}

static gboolean
on_reload_signal (gpointer user_data)
{
  ChatReplica *replica = user_data;
  g_autoptr (GError) error = NULL;

  g_message ("SIGHUP: reloading certificates");
  if (!chat_replica_reload_certificates (replica, &error))
    g_debug ("Reload refused: %s", error->message);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_quit_signal (gpointer user_data)
{
  GMainLoop *loop = user_data;

  g_message ("Stopping");
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

/* A storage fault the replica cannot undo in memory: stop at once, so that a restart
 * recovers from what the disk holds (fail-stop keeps every server consistent). */
static void
on_replica_failed (ChatReplica *replica, const GError *error, gpointer user_data)
{
  g_printerr ("chatd: %s; stopping so that a restart recovers from the disk\n", error->message);
  exit (EXIT_FAILURE);
}

static int
serve (const Options *options, ChatStore *store, ChatConfig *config, guint node_id, ChatTls *tls)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatReplica) replica = chat_replica_new (store, config, node_id, options->primary);
  g_autoptr (ChatServer) server = NULL;
  g_autoptr (ChatAdmin) admin = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  guint sigterm = 0, sigint = 0, sighup = 0;

  g_signal_connect (replica, "failed", G_CALLBACK (on_replica_failed), NULL);
  if (tls != NULL)
    chat_replica_set_tls (replica, tls);
  if (!chat_replica_start (replica, &error))
    {
      g_printerr ("chatd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  chat_line_budget_set_limit (config->partial_lines_budget_bytes);
  server = chat_server_new (config, store, replica);
  if (tls != NULL)
    chat_server_set_tls (server, tls);
  if (!chat_server_listen (server, options->host, (guint16)options->port, &error))
    {
      g_printerr ("chatd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  /* systemd, D-Bus and journal (chat-admin.c): READY=1 now, STOPPING=1 on the way out. */
  admin = chat_admin_new (replica, store, server, config, (guint16)options->port);
  chat_admin_ready (admin);
  loop = g_main_loop_new (NULL, FALSE);
  sigterm = g_unix_signal_add (SIGTERM, on_quit_signal, loop);
  sigint = g_unix_signal_add (SIGINT, on_quit_signal, loop);
  sighup = g_unix_signal_add (SIGHUP, on_reload_signal, replica);
  g_main_loop_run (loop);
  chat_admin_stopping (admin);
  g_source_remove (sigterm);
  g_source_remove (sigint);
  g_source_remove (sighup);
  chat_server_stop (server);
  chat_replica_stop (replica);
  return EXIT_SUCCESS;
}

static int
run (const Options *options, ChatConfig *config, guint node_id, ChatTls *tls)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *state_dir = choose_state_dir (options);
  g_autoptr (ChatStore) store = NULL;

  if (!chat_state_dir_prepare (state_dir, &error))
    {
      g_printerr ("chatd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  store = chat_store_open (state_dir, &error);
  if (store == NULL)
    {
      g_printerr ("chatd: cannot open the store in %s: %s\n", state_dir, error->message);
      return EXIT_FAILURE;
    }
  /* Files an older chatd or another umask created before. */
  if (!chat_state_dir_protect_files (state_dir, &error))
    {
      g_printerr ("chatd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_message ("State in %s", chat_store_get_path (store));
  return serve (options, store, config, node_id, tls);
}

int
main (int argc, char **argv)
{
  g_auto (Options) options = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatConfig) config = NULL;
  g_autofree char *address = NULL;
  g_autoptr (ChatTls) tls = NULL;
  guint node_id = 0;

  setlocale (LC_ALL, "");
  /* chatd keeps no GSettings; without this, GIO's modules (proxy lookups for the peer links)
   * open dconf, which cannot write its cache under the unit's read-only home. */
  g_setenv ("GSETTINGS_BACKEND", "memory", FALSE);
  signal (SIGPIPE, SIG_IGN);
  /* The state holds password hashes and message bodies: whatever the caller's umask,
   * what chatd creates is for its own user alone (the unit sets UMask=0077 too). */
  umask (0077);
  if (!parse_options (&options, &argc, &argv, &error))
    {
      g_printerr ("chatd: %s\nTry “chatd --help”.\n", error->message);
      return EXIT_USAGE;
    }
  if (options.version)
    {
      g_print ("chatd %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  config = load_config (&options, &error);
  if (config == NULL)
    {
      g_printerr ("chatd: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (!chat_cluster_key_load (config, &error))
    {
      g_printerr ("chatd: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (options.host == NULL)
    options.host = find_host_for_port (config, options.port);
  if (options.host == NULL)
    {
      g_printerr ("chatd: no --host given and not exactly one server with port %d in %s\n",
                  options.port, config->path ? config->path : "config.ini");
      return EXIT_USAGE;
    }
  node_id = chat_config_find_server (config, options.host, (guint16)options.port);
  if (node_id == 0)
    {
      g_printerr ("chatd: %s:%d is not a server of the cluster: add it to the [server] "
                  "section of %s\n",
                  options.host, options.port, config->path ? config->path : "config.ini");
      return EXIT_USAGE;
    }
  tls = load_tls (config, options.host, &error);
  if (error != NULL)
    {
      g_printerr ("chatd: %s\n", error->message);
      return EXIT_USAGE;
    }
  raise_file_limit ();
  /* From here on every record says which server wrote it (SYSLOG_IDENTIFIER=chatd@PORT). */
  address = chat_server_address_to_string (g_ptr_array_index (config->servers, node_id - 1));
  chat_journal_set_node (address);
  chat_journal_install_writer ();
  return run (&options, config, node_id, tls);
}
