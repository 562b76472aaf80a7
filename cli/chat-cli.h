/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chat-cli internals: the shared context, output helpers and the command table. */
#pragma once

#include "chat-client.h"

G_BEGIN_DECLS

typedef enum
{
  CLI_EXIT_OK = 0,
  CLI_EXIT_REFUSED = 1,
  CLI_EXIT_USAGE = 2,
  CLI_EXIT_UNREACHABLE = 3,
} CliExit;

typedef struct
{
  /* Global options. */
  char **servers;
  char *config_path;
  char *user;
  char *password_file;
  char *session_file;
  gboolean json;
  int timeout_s;

  ChatClient *client;
  GAsyncResult *result; /* the latest finished async call */
  GMainLoop *loop;      /* for watch */
  int watch_status;
} Cli;

typedef struct _CliCommand
{
  const char *name;
  const char *parameters; /* shown in --help */
  const char *summary;
  CliExit (*run) (Cli *cli, const struct _CliCommand *command, int argc, char **argv);
} CliCommand;

/* chat-cli.c */
/* Waits for the callback of the async call just started with cli_capture. */
GAsyncResult *cli_await (Cli *cli);
void cli_capture (GObject *source, GAsyncResult *result, gpointer user_data);
/* Reports an error as "chat-cli: <code>: <message>" and returns its exit code. */
CliExit cli_fail (Cli *cli, const GError *error);
CliExit cli_usage (const char *format, ...) G_GNUC_PRINTF (1, 2);
/* Gets the password: --password-file, $CHAT_PASSWORD, or a prompt on a terminal. */
char *cli_get_password (Cli *cli, const char *prompt, GError **error);
/* The user: --user or $CHAT_USER. */
const char *cli_get_user (Cli *cli);
/* Makes sure the client has a session: resumes the stored one or logs in. */
CliExit cli_ensure_session (Cli *cli);
gboolean cli_save_session (Cli *cli, GError **error);
void cli_forget_session (Cli *cli);
/* Parses a command's own options (and global ones given after the command), then
 * creates the client; FALSE with *status set on an error. */
gboolean cli_parse_command (Cli *cli, const CliCommand *command, GOptionEntry *entries, int *argc,
                            char ***argv, CliExit *status);
/* Frees what the context holds. */
void cli_clear (Cli *cli);

/* Output. */
void cli_print_json (JsonObject *object);
void cli_print_message (Cli *cli, ChatMessage *message);
void cli_print_messages (Cli *cli, GPtrArray *messages);
char *cli_format_time (gint64 ms);

/* chat-cli-commands.c */
const CliCommand *cli_commands (guint *n_commands);

G_END_DECLS
