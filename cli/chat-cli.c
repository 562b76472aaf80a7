/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chat-cli: every chat operation from the terminal; options, sessions, passwords, output. */
#define G_LOG_DOMAIN "chat-cli"

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "chat-cli.h"
#include "chat-json.h"

#define DEFAULT_TIMEOUT_S 15
#define MAX_PASSWORD_BYTES 4096

GAsyncResult *
cli_await (Cli *cli)
{
  while (cli->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return g_steal_pointer (&cli->result);
}

void
cli_capture (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Cli *cli = user_data;

  g_clear_object (&cli->result);
  cli->result = g_object_ref (result);
}

CliExit
cli_fail (Cli *cli, const GError *error)
{
  gboolean unreachable
      = g_error_matches (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE) || error->domain == G_IO_ERROR;

  g_printerr ("chat-cli: %s: %s\n", unreachable ? "unavailable" : chat_error_slug_for (error),
              error->message);
  return unreachable ? CLI_EXIT_UNREACHABLE : CLI_EXIT_REFUSED;
}

CliExit
cli_usage (const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("chat-cli: %s\nTry “chat-cli --help”.\n", text);
  return CLI_EXIT_USAGE;
}

const char *
cli_get_user (Cli *cli)
{
  if (cli->user != NULL && cli->user[0] != '\0')
    return cli->user;
  return g_getenv ("CHAT_USER");
}

static char *
read_password_file (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, error))
    return NULL;
  if (len > MAX_PASSWORD_BYTES)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s is too large for a password", path);
      return NULL;
    }
  contents[strcspn (contents, "\r\n")] = '\0';
  return g_steal_pointer (&contents);
}

static char *
prompt_password (const char *prompt, GError **error)
{
  struct termios saved, quiet;
  char buffer[MAX_PASSWORD_BYTES];
  char *line = NULL;

  if (!isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &saved) != 0)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "No password: use --password-file or CHAT_PASSWORD");
      return NULL;
    }
  quiet = saved;
  quiet.c_lflag &= ~(tcflag_t)ECHO;
  fprintf (stderr, "%s", prompt);
  fflush (stderr);
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
  line = fgets (buffer, sizeof buffer, stdin);
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
  fprintf (stderr, "\n");
  if (line == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "No password given");
      return NULL;
    }
  buffer[strcspn (buffer, "\r\n")] = '\0';
  line = g_strdup (buffer);
  memset (buffer, 0, sizeof buffer);
  return line;
}

char *
cli_get_password (Cli *cli, const char *prompt, GError **error)
{
  const char *env = g_getenv ("CHAT_PASSWORD");

  if (cli->password_file != NULL)
    return read_password_file (cli->password_file, error);
  if (env != NULL && env[0] != '\0')
    return g_strdup (env);
  return prompt_password (prompt, error);
}

static char *
session_path (Cli *cli)
{
  const char *user = cli_get_user (cli);
  g_autofree char *key = NULL;
  g_autofree char *name = NULL;

  if (cli->session_file != NULL)
    return g_strdup (cli->session_file);
  if (user == NULL)
    return NULL;
  key = g_ascii_strdown (user, -1);
  name = g_strdup_printf ("cli-session-%s", key);
  return g_build_filename (g_get_user_state_dir (), "chatd", name, NULL);
}

gboolean
cli_save_session (Cli *cli, GError **error)
{
  g_autofree char *path = session_path (cli);
  g_autofree char *dir = NULL;
  g_autofree char *contents = NULL;
  const char *session = chat_client_get_session (cli->client);

  if (path == NULL || session == NULL)
    return TRUE;
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "Cannot create %s: %s",
                   dir, g_strerror (errno));
      return FALSE;
    }
  contents = g_strdup_printf ("%s\n", session);
  /* g_file_set_contents_full writes a new file with this mode, then renames it. */
  return g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

void
cli_forget_session (Cli *cli)
{
  g_autofree char *path = session_path (cli);

  if (path != NULL)
    g_unlink (path);
}

static char *
load_session (Cli *cli)
{
  g_autofree char *path = session_path (cli);
  g_autofree char *contents = NULL;

  if (path == NULL || !g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  contents[strcspn (contents, "\r\n")] = '\0';
  if (contents[0] == '\0')
    return NULL;
  return g_steal_pointer (&contents);
}

static CliExit
login_with_password (Cli *cli)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *password = NULL;
  const char *user = cli_get_user (cli);

  if (user == NULL)
    return cli_usage ("no user: use --user NAME or CHAT_USER");
  password = cli_get_password (cli, "Password: ", &error);
  if (password == NULL)
    return cli_usage ("%s", error->message);
  chat_client_login_async (cli->client, user, password, NULL, cli_capture, cli);
  result = cli_await (cli);
  if (!chat_client_login_finish (cli->client, result, NULL, &error))
    return cli_fail (cli, error);
  if (!cli_save_session (cli, &error))
    g_printerr ("chat-cli: warning: %s\n", error->message);
  return CLI_EXIT_OK;
}

CliExit
cli_ensure_session (Cli *cli)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *session = load_session (cli);

  if (session == NULL)
    return login_with_password (cli);
  chat_client_resume_async (cli->client, session, NULL, cli_capture, cli);
  result = cli_await (cli);
  if (chat_client_resume_finish (cli->client, result, NULL, &error))
    return CLI_EXIT_OK;
  if (!g_error_matches (error, CHAT_ERROR, CHAT_ERROR_UNAUTHENTICATED))
    return cli_fail (cli, error);
  /* The stored session ended: log in again. */
  cli_forget_session (cli);
  chat_client_set_session (cli->client, NULL);
  return login_with_password (cli);
}

static GOptionGroup *global_group (Cli *target);
static void merge_globals (Cli *cli, Cli *late);
static ChatClient *make_client (Cli *cli, GError **error);

gboolean
cli_parse_command (Cli *cli, const CliCommand *command, GOptionEntry *entries, int *argc,
                   char ***argv, CliExit *status)
{
  g_autofree char *parameter = g_strdup_printf ("%s %s", command->name, command->parameters);
  g_autoptr (GOptionContext) context = g_option_context_new (parameter);
  g_autoptr (GError) error = NULL;
  Cli late = { 0 };
  gboolean ok = FALSE;

  g_option_context_set_summary (context, command->summary);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, global_group (&late));
  ok = g_option_context_parse (context, argc, argv, &error);
  merge_globals (cli, &late);
  cli_clear (&late);
  if (!ok)
    {
      *status = cli_usage ("%s: %s", command->name, error->message);
      return FALSE;
    }
  if (cli->timeout_s <= 0)
    {
      *status = cli_usage ("--timeout must be a positive number of seconds");
      return FALSE;
    }
  cli->client = make_client (cli, &error);
  if (cli->client == NULL)
    {
      *status = cli_usage ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* Output. */

void
cli_print_json (JsonObject *object)
{
  g_autofree char *line = chat_json_to_line (object, NULL);

  fputs (line, stdout);
  fflush (stdout);
}

char *
cli_format_time (gint64 ms)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (ms / 1000);
  g_autoptr (GDateTime) local = NULL;

  if (utc == NULL)
    return g_strdup ("-");
  local = g_date_time_to_local (utc);
  return g_date_time_format (local, "%Y-%m-%d %H:%M:%S");
}

void
cli_print_message (Cli *cli, ChatMessage *message)
{
  g_autofree char *when = NULL;

  if (cli->json)
    {
      g_autoptr (JsonObject) object = chat_message_to_json (message);
      cli_print_json (object);
      return;
    }
  when = cli_format_time (chat_message_get_sent_at (message));
  printf ("%s  #%-6" G_GINT64_FORMAT " %-12s -> %-12s %s %s\n", when, chat_message_get_id (message),
          chat_message_get_from (message), chat_message_get_to (message),
          chat_message_get_read (message) ? " " : "*", chat_message_get_body (message));
  fflush (stdout);
}

void
cli_print_messages (Cli *cli, GPtrArray *messages)
{
  for (guint i = 0; i < messages->len; i++)
    cli_print_message (cli, messages->pdata[i]);
}

/* main */

static ChatClient *
make_client (Cli *cli, GError **error)
{
  g_autoptr (ChatConfig) config = NULL;
  ChatClient *client = NULL;

  if (cli->servers != NULL && cli->servers[0] != NULL)
    {
      for (guint i = 0; cli->servers[i] != NULL; i++)
        {
          g_autoptr (ChatServerAddress) address
              = chat_server_address_parse (cli->servers[i], error);
          if (address == NULL)
            return NULL;
        }
      client = chat_client_new ((const char *const *)cli->servers);
    }
  else
    {
      config = cli->config_path != NULL ? chat_config_load (cli->config_path, error)
                                        : chat_config_load_default (error);
      if (config == NULL)
        return NULL;
      client = chat_client_new_from_config (config, error);
      if (client == NULL)
        return NULL;
    }
  chat_client_set_client_name (client, "chat-cli " PACKAGE_VERSION);
  chat_client_set_request_timeout (client, (guint)cli->timeout_s * 1000);
  return client;
}

static char *
commands_description (void)
{
  GString *text = g_string_new ("Commands:\n");
  guint n = 0;
  const CliCommand *commands = cli_commands (&n);

  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "  %-16s %s\n", commands[i].name, commands[i].summary);
  g_string_append (text, "\nRun “chat-cli COMMAND --help” for a command's options.\n"
                         "Exit status: 0 ok, 1 refused by the server, 2 usage, "
                         "3 cannot reach the cluster.");
  return g_string_free (text, FALSE);
}

/* The global options, writing into target; usable before and after the command. */
static GOptionGroup *
global_group (Cli *target)
{
  GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING_ARRAY, &target->servers,
      "A server to try (repeatable; default: config.ini)", "HOST:PORT" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &target->config_path, "Read servers from FILE",
      "FILE" },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &target->user, "Act as NAME (default: $CHAT_USER)",
      "NAME" },
    { "password-file", 'p', 0, G_OPTION_ARG_FILENAME, &target->password_file,
      "Read the password from FILE (else $CHAT_PASSWORD, else a prompt)", "FILE" },
    { "session-file", 0, 0, G_OPTION_ARG_FILENAME, &target->session_file,
      "Keep the session token in FILE", "FILE" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &target->json, "One JSON object per result line", NULL },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &target->timeout_s,
      "Give up after SECONDS without an answer (default 15)", "SECONDS" },
    { NULL },
  };
  GOptionGroup *group
      = g_option_group_new ("global", "Global options:", "Show the global options", NULL, NULL);

  g_option_group_add_entries (group, entries);
  return group;
}

static gboolean
parse_global (Cli *cli, int *argc, char ***argv, GError **error)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("COMMAND [ARGS...]");
  g_autofree char *description = commands_description ();

  g_option_context_set_summary (context, "Talk to a chatd cluster from the terminal.");
  g_option_context_set_description (context, description);
  g_option_context_set_strict_posix (context, TRUE);
  g_option_context_set_main_group (context, global_group (cli));
  return g_option_context_parse (context, argc, argv, error);
}

static void
take_string (char **dest, char **src)
{
  if (*src == NULL)
    return;
  g_free (*dest);
  *dest = g_steal_pointer (src);
}

/* Global options given after the command override those given before it. */
static void
merge_globals (Cli *cli, Cli *late)
{
  if (late->servers != NULL)
    {
      g_strfreev (cli->servers);
      cli->servers = g_steal_pointer (&late->servers);
    }
  take_string (&cli->config_path, &late->config_path);
  take_string (&cli->user, &late->user);
  take_string (&cli->password_file, &late->password_file);
  take_string (&cli->session_file, &late->session_file);
  cli->json = cli->json || late->json;
  if (late->timeout_s != 0)
    cli->timeout_s = late->timeout_s;
}

static const CliCommand *
find_command (const char *name)
{
  guint n = 0;
  const CliCommand *commands = cli_commands (&n);

  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

void
cli_clear (Cli *cli)
{
  if (cli->client != NULL)
    chat_client_disconnect (cli->client);
  g_clear_object (&cli->client);
  g_clear_object (&cli->result);
  g_clear_pointer (&cli->loop, g_main_loop_unref);
  g_strfreev (cli->servers);
  g_free (cli->config_path);
  g_free (cli->user);
  g_free (cli->password_file);
  g_free (cli->session_file);
}

static CliExit
run (Cli *cli, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  const CliCommand *command = NULL;

  if (!parse_global (cli, &argc, &argv, &error))
    return cli_usage ("%s", error->message);
  if (argc < 2)
    return cli_usage ("no command given");
  command = find_command (argv[1]);
  if (command == NULL)
    return cli_usage ("unknown command “%s”", argv[1]);
  return command->run (cli, command, argc - 1, argv + 1);
}

int
main (int argc, char **argv)
{
  Cli cli = { .timeout_s = DEFAULT_TIMEOUT_S };
  CliExit status;

  setlocale (LC_ALL, "");
  status = run (&cli, argc, argv);
  cli_clear (&cli);
  return (int)status;
}
