/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chat-cli commands: one function per command, each a thin layer over a ChatClient call. */
#define G_LOG_DOMAIN "chat-cli"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

#include "chat-cli.h"
#include "chat-json.h"

#define MAX_STDIN_BODY (1024 * 1024)

static CliExit
expect_args (const CliCommand *command, int argc, int min, int max)
{
  if (argc - 1 < min || (max >= 0 && argc - 1 > max))
    return cli_usage ("usage: chat-cli %s %s", command->name, command->parameters);
  return CLI_EXIT_OK;
}

static void
print_ok (Cli *cli, const char *text)
{
  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_boolean_member (object, "ok", TRUE);
      cli_print_json (object);
    }
  else
    printf ("%s\n", text);
}

static gboolean
parse_int64 (const char *text, gint64 *out)
{
  guint64 value = 0;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &value, NULL))
    return FALSE;
  *out = (gint64)value;
  return TRUE;
}

/* signup, login, logout */

static CliExit
credentials_command (Cli *cli, const CliCommand *command, int argc, char **argv, gboolean signup)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *password = NULL;
  g_autofree char *text = NULL;
  const char *user = cli_get_user (cli);
  CliExit status = CLI_EXIT_OK;
  guint unread = 0;
  gboolean ok = FALSE;

  if (!cli_parse_command (cli, command, NULL, &argc, &argv, &status))
    return status;
  if ((status = expect_args (command, argc, 0, 0)) != CLI_EXIT_OK)
    return status;
  if (user == NULL)
    return cli_usage ("%s needs --user NAME (or CHAT_USER)", command->name);
  password = cli_get_password (cli, "Password: ", &error);
  if (password == NULL)
    return cli_usage ("%s", error->message);
  if (signup)
    chat_client_signup_async (cli->client, user, password, NULL, cli_capture, cli);
  else
    chat_client_login_async (cli->client, user, password, NULL, cli_capture, cli);
  result = cli_await (cli);
  ok = signup ? chat_client_signup_finish (cli->client, result, &error)
              : chat_client_login_finish (cli->client, result, &unread, &error);
  if (!ok)
    return cli_fail (cli, error);
  if (!cli_save_session (cli, &error))
    g_printerr ("chat-cli: warning: %s\n", error->message);
  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_string_member (object, "user", chat_client_get_username (cli->client));
      if (!signup)
        json_object_set_int_member (object, "unread", unread);
      cli_print_json (object);
      return CLI_EXIT_OK;
    }
  text = signup ? g_strdup_printf ("Signed up as %s", chat_client_get_username (cli->client))
                : g_strdup_printf ("Logged in as %s (%u unread)",
                                   chat_client_get_username (cli->client), unread);
  print_ok (cli, text);
  return CLI_EXIT_OK;
}

/* Parses options and arguments, then makes sure of a session. */
static gboolean
prepare (Cli *cli, const CliCommand *command, GOptionEntry *entries, int *argc, char ***argv,
         int min, int max, CliExit *status)
{
  if (!cli_parse_command (cli, command, entries, argc, argv, status))
    return FALSE;
  if ((*status = expect_args (command, *argc, min, max)) != CLI_EXIT_OK)
    return FALSE;
  *status = cli_ensure_session (cli);
  return *status == CLI_EXIT_OK;
}

static CliExit
cmd_signup (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  return credentials_command (cli, command, argc, argv, TRUE);
}

static CliExit
cmd_login (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  return credentials_command (cli, command, argc, argv, FALSE);
}

static CliExit
cmd_logout (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  CliExit status = CLI_EXIT_OK;

  if (!prepare (cli, command, NULL, &argc, &argv, 0, 0, &status))
    return status;
  chat_client_logout_async (cli->client, NULL, cli_capture, cli);
  result = cli_await (cli);
  if (!chat_client_logout_finish (cli->client, result, &error))
    return cli_fail (cli, error);
  cli_forget_session (cli);
  print_ok (cli, "Logged out");
  return CLI_EXIT_OK;
}

/* users */

static void
print_users (Cli *cli, GStrv users, gboolean more)
{
  guint n = g_strv_length (users);

  for (guint i = 0; i < n; i++)
    {
      if (cli->json)
        {
          g_autoptr (JsonObject) object = json_object_new ();
          json_object_set_string_member (object, "username", users[i]);
          cli_print_json (object);
        }
      else
        printf ("%s\n", users[i]);
    }
  if (!more || n == 0)
    return;
  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_boolean_member (object, "more", TRUE);
      json_object_set_string_member (object, "after", users[n - 1]);
      cli_print_json (object);
    }
  else
    g_printerr ("(more: --after %s)\n", users[n - 1]);
}

static CliExit
cmd_users (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_auto (GStrv) users = NULL;
  g_autofree char *after = NULL;
  int limit = 0;
  gboolean more = FALSE;
  CliExit status = CLI_EXIT_OK;
  GOptionEntry entries[] = {
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N names (1-500)", "N" },
    { "after", 'a', 0, G_OPTION_ARG_STRING, &after, "Continue after NAME", "NAME" },
    { NULL },
  };

  if (!prepare (cli, command, entries, &argc, &argv, 0, 1, &status))
    return status;
  if (limit < 0)
    return cli_usage ("--limit must be positive");
  chat_client_list_users_async (cli->client, argc > 1 ? argv[1] : "", (guint)limit, after, NULL,
                                cli_capture, cli);
  result = cli_await (cli);
  users = chat_client_list_users_finish (cli->client, result, &more, &error);
  if (users == NULL)
    return cli_fail (cli, error);
  print_users (cli, users, more);
  return CLI_EXIT_OK;
}

/* send */

static char *
read_stdin_body (GError **error)
{
  GString *body = g_string_new (NULL);
  char buffer[4096];
  size_t n = 0;

  while ((n = fread (buffer, 1, sizeof buffer, stdin)) > 0)
    {
      g_string_append_len (body, buffer, (gssize)n);
      if (body->len > MAX_STDIN_BODY)
        {
          g_string_free (body, TRUE);
          g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_TOO_LARGE,
                               "The message on standard input is too large");
          return NULL;
        }
    }
  if (body->len > 0 && body->str[body->len - 1] == '\n')
    g_string_truncate (body, body->len - 1);
  return g_string_free (body, FALSE);
}

static CliExit
cmd_send (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (ChatMessage) message = NULL;
  g_autofree char *body = NULL;
  CliExit status = CLI_EXIT_OK;

  if (!cli_parse_command (cli, command, NULL, &argc, &argv, &status))
    return status;
  if ((status = expect_args (command, argc, 2, -1)) != CLI_EXIT_OK)
    return status;
  if (argc == 3 && strcmp (argv[2], "-") == 0)
    body = read_stdin_body (&error);
  else
    body = g_strjoinv (" ", argv + 2);
  if (body == NULL)
    return cli_fail (cli, error);
  if ((status = cli_ensure_session (cli)) != CLI_EXIT_OK)
    return status;
  chat_client_send_async (cli->client, argv[1], body, NULL, cli_capture, cli);
  result = cli_await (cli);
  message = chat_client_send_finish (cli->client, result, &error);
  if (message == NULL)
    return cli_fail (cli, error);
  cli_print_message (cli, message);
  return CLI_EXIT_OK;
}

/* unread, count, history */

static CliExit
cmd_unread (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  int limit = 0;
  CliExit status = CLI_EXIT_OK;
  GOptionEntry entries[] = {
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "Read at most N messages (1-500)", "N" },
    { NULL },
  };

  if (!prepare (cli, command, entries, &argc, &argv, 0, 0, &status))
    return status;
  if (limit < 0)
    return cli_usage ("--limit must be positive");
  chat_client_read_unread_async (cli->client, (guint)limit, NULL, cli_capture, cli);
  result = cli_await (cli);
  messages = chat_client_read_unread_finish (cli->client, result, &error);
  if (messages == NULL)
    return cli_fail (cli, error);
  cli_print_messages (cli, messages);
  return CLI_EXIT_OK;
}

static void
print_count (Cli *cli, guint total, GHashTable *by_user)
{
  g_autoptr (GList) names = g_list_sort (g_hash_table_get_keys (by_user), (GCompareFunc)g_strcmp0);

  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      JsonObject *per_user = json_object_new ();

      for (GList *l = names; l != NULL; l = l->next)
        json_object_set_int_member (per_user, l->data,
                                    GPOINTER_TO_UINT (g_hash_table_lookup (by_user, l->data)));
      json_object_set_int_member (object, "total", total);
      json_object_set_object_member (object, "by_user", per_user);
      cli_print_json (object);
      return;
    }
  printf ("%u unread\n", total);
  for (GList *l = names; l != NULL; l = l->next)
    printf ("  %-16s %u\n", (const char *)l->data,
            GPOINTER_TO_UINT (g_hash_table_lookup (by_user, l->data)));
}

static CliExit
cmd_count (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GHashTable) by_user = NULL;
  guint total = 0;
  CliExit status = CLI_EXIT_OK;

  if (!prepare (cli, command, NULL, &argc, &argv, 0, 0, &status))
    return status;
  chat_client_unread_count_async (cli->client, NULL, cli_capture, cli);
  result = cli_await (cli);
  if (!chat_client_unread_count_finish (cli->client, result, &total, &by_user, &error))
    return cli_fail (cli, error);
  print_count (cli, total, by_user);
  return CLI_EXIT_OK;
}

static void
print_more_before (Cli *cli, GPtrArray *messages)
{
  gint64 first = chat_message_get_seq (messages->pdata[0]);

  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_boolean_member (object, "more", TRUE);
      json_object_set_int_member (object, "before", first);
      cli_print_json (object);
    }
  else
    g_printerr ("(more: --before %" G_GINT64_FORMAT ")\n", first);
}

static CliExit
cmd_history (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  gint64 before = 0;
  int limit = 0;
  gboolean more = FALSE;
  CliExit status = CLI_EXIT_OK;
  GOptionEntry entries[] = {
    { "before", 'b', 0, G_OPTION_ARG_INT64, &before, "Only messages older than SEQ", "SEQ" },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N messages (1-500)", "N" },
    { NULL },
  };

  if (!prepare (cli, command, entries, &argc, &argv, 1, 1, &status))
    return status;
  if (limit < 0 || before < 0)
    return cli_usage ("--limit and --before must be positive");
  chat_client_history_async (cli->client, argv[1], before, (guint)limit, NULL, cli_capture, cli);
  result = cli_await (cli);
  messages = chat_client_history_finish (cli->client, result, &more, &error);
  if (messages == NULL)
    return cli_fail (cli, error);
  cli_print_messages (cli, messages);
  if (more && messages->len > 0)
    print_more_before (cli, messages);
  return CLI_EXIT_OK;
}

/* conversations, mark-read, delete, delete-account */

static void
print_conversation (Cli *cli, ChatConversation *conversation)
{
  ChatMessage *last = chat_conversation_get_last_message (conversation);
  g_autofree char *when = NULL;

  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_string_member (object, "user", chat_conversation_get_user (conversation));
      json_object_set_int_member (object, "unread", chat_conversation_get_unread (conversation));
      if (last != NULL)
        json_object_set_object_member (object, "last_message", chat_message_to_json (last));
      cli_print_json (object);
      return;
    }
  when = last != NULL ? cli_format_time (chat_message_get_sent_at (last)) : g_strdup ("-");
  printf ("%-16s %4u unread  %s  %s\n", chat_conversation_get_user (conversation),
          chat_conversation_get_unread (conversation), when,
          last != NULL ? chat_message_get_body (last) : "");
}

static CliExit
cmd_conversations (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) list = NULL;
  CliExit status = CLI_EXIT_OK;

  if (!prepare (cli, command, NULL, &argc, &argv, 0, 0, &status))
    return status;
  chat_client_conversations_async (cli->client, NULL, cli_capture, cli);
  result = cli_await (cli);
  list = chat_client_conversations_finish (cli->client, result, &error);
  if (list == NULL)
    return cli_fail (cli, error);
  for (guint i = 0; i < list->len; i++)
    print_conversation (cli, list->pdata[i]);
  return CLI_EXIT_OK;
}

static CliExit
cmd_mark_read (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  gint64 up_to = 0;
  guint marked = 0;
  CliExit status = CLI_EXIT_OK;

  if (!cli_parse_command (cli, command, NULL, &argc, &argv, &status))
    return status;
  if ((status = expect_args (command, argc, 2, 2)) != CLI_EXIT_OK)
    return status;
  if (!parse_int64 (argv[2], &up_to))
    return cli_usage ("UP_TO must be a sequence number, not “%s”", argv[2]);
  if ((status = cli_ensure_session (cli)) != CLI_EXIT_OK)
    return status;
  chat_client_mark_read_async (cli->client, argv[1], up_to, NULL, cli_capture, cli);
  result = cli_await (cli);
  if (!chat_client_mark_read_finish (cli->client, result, &marked, &error))
    return cli_fail (cli, error);
  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_int_member (object, "marked", marked);
      cli_print_json (object);
      return CLI_EXIT_OK;
    }
  printf ("Marked %u read\n", marked);
  return CLI_EXIT_OK;
}

static JsonArray *
ids_to_json (GArray *ids)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < ids->len; i++)
    json_array_add_int_element (array, g_array_index (ids, gint64, i));
  return array;
}

static void
print_ids (Cli *cli, const char *field, const char *label, GArray *ids)
{
  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();

      json_object_set_array_member (object, field, ids_to_json (ids));
      cli_print_json (object);
      return;
    }
  printf ("%s", label);
  for (guint i = 0; i < ids->len; i++)
    printf (" #%" G_GINT64_FORMAT, g_array_index (ids, gint64, i));
  printf ("\n");
}

static void
print_deletion (Cli *cli, GArray *deleted, GArray *hidden)
{
  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_array_member (object, "deleted", ids_to_json (deleted));
      json_object_set_array_member (object, "hidden", ids_to_json (hidden));
      cli_print_json (object);
      return;
    }
  print_ids (cli, "deleted", "Deleted for everyone:", deleted);
  print_ids (cli, "hidden", "Deleted for you:", hidden);
}

static CliExit
cmd_delete (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) deleted = NULL, hidden = NULL;
  gboolean for_me = FALSE, for_everyone = FALSE;
  CliExit status = CLI_EXIT_OK;
  GOptionEntry entries[] = {
    { "for-me", 0, 0, G_OPTION_ARG_NONE, &for_me, "Hide the messages from your own view only",
      NULL },
    { "for-everyone", 0, 0, G_OPTION_ARG_NONE, &for_everyone,
      "Delete messages you sent for both participants", NULL },
    { NULL },
  };

  if (!cli_parse_command (cli, command, entries, &argc, &argv, &status))
    return status;
  if ((status = expect_args (command, argc, 1, -1)) != CLI_EXIT_OK)
    return status;
  if (for_me && for_everyone)
    return cli_usage ("--for-me and --for-everyone exclude each other");
  for (int i = 1; i < argc; i++)
    {
      gint64 id = 0;
      if (!parse_int64 (argv[i][0] == '#' ? argv[i] + 1 : argv[i], &id))
        return cli_usage ("not a message id: “%s”", argv[i]);
      g_array_append_val (ids, id);
    }
  if ((status = cli_ensure_session (cli)) != CLI_EXIT_OK)
    return status;
  chat_client_delete_messages_async (cli->client, (const gint64 *)(gpointer)ids->data, ids->len,
                                     for_me         ? CHAT_DELETE_SCOPE_ME
                                     : for_everyone ? CHAT_DELETE_SCOPE_EVERYONE
                                                    : CHAT_DELETE_SCOPE_DEFAULT,
                                     NULL, cli_capture, cli);
  result = cli_await (cli);
  if (!chat_client_delete_messages_finish (cli->client, result, &deleted, &hidden, &error))
    return cli_fail (cli, error);
  print_deletion (cli, deleted, hidden);
  return CLI_EXIT_OK;
}

static CliExit
cmd_delete_account (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *password = NULL;
  CliExit status = CLI_EXIT_OK;

  if (!prepare (cli, command, NULL, &argc, &argv, 0, 0, &status))
    return status;
  password = cli_get_password (cli, "Password to confirm deleting the account: ", &error);
  if (password == NULL)
    return cli_usage ("%s", error->message);
  chat_client_delete_account_async (cli->client, password, NULL, cli_capture, cli);
  result = cli_await (cli);
  if (!chat_client_delete_account_finish (cli->client, result, &error))
    return cli_fail (cli, error);
  cli_forget_session (cli);
  print_ok (cli, "Account deleted");
  return CLI_EXIT_OK;
}

/* sync, status */

static void
print_sync_page (Cli *cli, ChatSyncResult *page)
{
  cli_print_messages (cli, page->messages);
  if (page->deleted->len > 0)
    print_ids (cli, "deleted", "Deleted", page->deleted);
  if (page->read->len > 0)
    print_ids (cli, "read", "Read", page->read);
}

static CliExit
cmd_sync (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  gint64 after = 0;
  CliExit status = CLI_EXIT_OK;
  gboolean more = TRUE;
  GOptionEntry entries[] = {
    { "after", 'a', 0, G_OPTION_ARG_INT64, &after, "Changes after SEQ (default 0)", "SEQ" },
    { NULL },
  };

  if (!prepare (cli, command, entries, &argc, &argv, 0, 0, &status))
    return status;
  while (more)
    {
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (ChatSyncResult) page = NULL;

      chat_client_sync_async (cli->client, after, 0, NULL, cli_capture, cli);
      result = cli_await (cli);
      page = chat_client_sync_finish (cli->client, result, &error);
      if (page == NULL)
        return cli_fail (cli, error);
      print_sync_page (cli, page);
      more = page->more && page->seq > after;
      after = MAX (after, page->seq);
    }
  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_int_member (object, "seq", after);
      cli_print_json (object);
    }
  else
    printf ("Up to date at seq %" G_GINT64_FORMAT "\n", after);
  return CLI_EXIT_OK;
}

static JsonObject *
hello_to_json (ChatHelloInfo *info)
{
  JsonObject *object = json_object_new ();
  JsonArray *servers = json_array_new ();

  json_object_set_string_member (object, "server", info->server);
  json_object_set_int_member (object, "proto", info->proto);
  json_object_set_string_member (object, "node", info->node);
  json_object_set_string_member (object, "role", info->role);
  json_object_set_string_member (object, "leader", info->leader);
  json_object_set_int_member (object, "term", (gint64)info->term);
  for (guint i = 0; i < info->servers->len; i++)
    {
      ChatServerStatus *status = info->servers->pdata[i];
      JsonObject *entry = json_object_new ();
      json_object_set_string_member (entry, "address", status->address);
      json_object_set_string_member (entry, "state", status->state);
      json_object_set_boolean_member (entry, "in_sync", status->in_sync);
      json_array_add_object_element (servers, entry);
    }
  json_object_set_array_member (object, "servers", servers);
  return object;
}

static void
print_status (Cli *cli, ChatHelloInfo *info)
{
  guint total = 0, up = chat_hello_info_count_up (info, &total);

  if (cli->json)
    {
      g_autoptr (JsonObject) object = hello_to_json (info);
      cli_print_json (object);
      return;
    }
  printf ("%-8s %s (%s)\n", "node", info->node ? info->node : "?",
          info->server ? info->server : "?");
  printf ("%-8s %s\n", "role", info->role ? info->role : "?");
  printf ("%-8s %s\n", "leader", info->leader ? info->leader : "none");
  printf ("%-8s %" G_GUINT64_FORMAT "\n", "term", info->term);
  for (guint i = 0; i < info->servers->len; i++)
    {
      ChatServerStatus *status = info->servers->pdata[i];
      printf ("  %-24s %-11s %s\n", status->address, status->state,
              status->in_sync ? "in sync" : "not in sync");
    }
  if (total > 0)
    printf ("%u of %u servers up\n", up, total);
}

static CliExit
cmd_status (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (ChatHelloInfo) info = NULL;
  CliExit status = CLI_EXIT_OK;

  if (!cli_parse_command (cli, command, NULL, &argc, &argv, &status))
    return status;
  if ((status = expect_args (command, argc, 0, 0)) != CLI_EXIT_OK)
    return status;
  chat_client_hello_async (cli->client, NULL, cli_capture, cli);
  result = cli_await (cli);
  info = chat_client_hello_finish (cli->client, result, &error);
  if (info == NULL)
    return cli_fail (cli, error);
  print_status (cli, info);
  return CLI_EXIT_OK;
}

/* watch */

static void
on_watch_message (ChatClient *client, ChatMessage *message, gpointer user_data)
{
  Cli *cli = user_data;

  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_string_member (object, "event", "message");
      json_object_set_object_member (object, "message", chat_message_to_json (message));
      cli_print_json (object);
      return;
    }
  cli_print_message (cli, message);
}

static void
on_watch_deleted (ChatClient *client, GArray *ids, gpointer user_data)
{
  Cli *cli = user_data;

  if (!cli->json)
    printf ("* ");
  print_ids (cli, "deleted", "deleted", ids);
  fflush (stdout);
}

static void
on_watch_read (ChatClient *client, const char *by, const char *with, gint64 up_to,
               gpointer user_data)
{
  Cli *cli = user_data;

  if (cli->json)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      json_object_set_string_member (object, "event", "read");
      json_object_set_string_member (object, "by", by);
      json_object_set_int_member (object, "up_to", up_to);
      cli_print_json (object);
      return;
    }
  printf ("* %s read up to #%" G_GINT64_FORMAT "\n", by, up_to);
  fflush (stdout);
}

static void
on_watch_state (ChatClient *client, ChatConnectionState state, gpointer user_data)
{
  g_printerr ("chat-cli: %s\n", chat_connection_state_to_string (state));
}

static void
on_watch_session_ended (ChatClient *client, const char *reason, gpointer user_data)
{
  Cli *cli = user_data;

  g_printerr ("chat-cli: unauthenticated: the session ended (%s)\n", reason);
  cli_forget_session (cli);
  cli->watch_status = CLI_EXIT_REFUSED;
  g_main_loop_quit (cli->loop);
}

static gboolean
on_watch_signal (gpointer user_data)
{
  Cli *cli = user_data;

  g_main_loop_quit (cli->loop);
  return G_SOURCE_CONTINUE;
}

static CliExit
cmd_watch (Cli *cli, const CliCommand *command, int argc, char **argv)
{
  CliExit status = CLI_EXIT_OK;
  guint sigint = 0, sigterm = 0;

  if (!prepare (cli, command, NULL, &argc, &argv, 0, 0, &status))
    return status;
  cli->loop = g_main_loop_new (NULL, FALSE);
  cli->watch_status = CLI_EXIT_OK;
  g_signal_connect (cli->client, "message-received", G_CALLBACK (on_watch_message), cli);
  g_signal_connect (cli->client, "messages-deleted", G_CALLBACK (on_watch_deleted), cli);
  g_signal_connect (cli->client, "messages-read", G_CALLBACK (on_watch_read), cli);
  g_signal_connect (cli->client, "connection-state-changed", G_CALLBACK (on_watch_state), cli);
  g_signal_connect (cli->client, "session-ended", G_CALLBACK (on_watch_session_ended), cli);
  sigint = g_unix_signal_add (SIGINT, on_watch_signal, cli);
  sigterm = g_unix_signal_add (SIGTERM, on_watch_signal, cli);
  if (!cli->json)
    g_printerr ("chat-cli: watching as %s (Ctrl+C to stop)\n",
                chat_client_get_username (cli->client));
  g_main_loop_run (cli->loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_signal_handlers_disconnect_by_data (cli->client, cli);
  return (CliExit)cli->watch_status;
}

static const CliCommand commands[] = {
  { "signup", "", "Create the account --user and log in", cmd_signup },
  { "login", "", "Log in as --user and keep the session", cmd_login },
  { "logout", "", "End the session on every server", cmd_logout },
  { "users", "[PATTERN]", "List users matching PATTERN (* and ? wildcards)", cmd_users },
  { "send", "USER TEXT...|-", "Send a message (- reads it from standard input)", cmd_send },
  { "unread", "", "Show unread messages, oldest first, and mark them read", cmd_unread },
  { "count", "", "Count unread messages", cmd_count },
  { "history", "USER", "Show the conversation with USER", cmd_history },
  { "conversations", "", "List conversations, most recent first", cmd_conversations },
  { "mark-read", "USER UP_TO", "Mark messages from USER up to seq UP_TO read", cmd_mark_read },
  { "delete", "ID...",
    "Delete messages: yours for both participants, received ones from your view only", cmd_delete },
  { "delete-account", "", "Delete the account and every message it sent", cmd_delete_account },
  { "sync", "", "Show everything that changed after a seq", cmd_sync },
  { "status", "", "Show the cluster: role, leader, term, servers", cmd_status },
  { "watch", "", "Print incoming messages live until interrupted", cmd_watch },
};

const CliCommand *
cli_commands (guint *n_commands)
{
  *n_commands = G_N_ELEMENTS (commands);
  return commands;
}
