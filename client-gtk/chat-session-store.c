/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The session token in the user's keyring (Secret Service), so a start logs in again. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>

#include "chat-session-store.h"

static const SecretSchema *
session_schema (void)
{
  static const SecretSchema schema = {
    "io.github.chatd.Chat.Session",
    SECRET_SCHEMA_NONE,
    { { "servers", SECRET_SCHEMA_ATTRIBUTE_STRING }, { NULL, 0 } },
  };

  return &schema;
}

static void
stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  /* No keyring (or a locked one the user would not open): the next start asks to log in. */
  if (!secret_password_store_finish (result, &error))
    g_debug ("Session not kept in the keyring: %s", error->message);
}

void
chat_session_store_save (const char *key, const char *username, const char *session)
{
  /* The secret holds both: the username is needed to show who is logged in before the
   * server answers. A newline cannot occur in either. */
  g_autofree char *secret = g_strdup_printf ("%s\n%s", username, session);
  /* Translators: the keyring entry of a chat session, %s is the username */
  g_autofree char *label = g_strdup_printf (_ ("Chat session of %s"), username);

  secret_password_store (session_schema (), SECRET_COLLECTION_DEFAULT, label, secret, NULL,
                         stored_cb, NULL, "servers", key, NULL);
}

static void
lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  char *secret = secret_password_lookup_finish (result, &error);

  if (error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, secret, (GDestroyNotify)secret_password_free);
}

void
chat_session_store_lookup_async (const char *key, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  secret_password_lookup (session_schema (), cancellable, lookup_cb, task, "servers", key, NULL);
}

gboolean
chat_session_store_lookup_finish (GAsyncResult *result, char **username, char **session,
                                  GError **error)
{
  char *secret = g_task_propagate_pointer (G_TASK (result), error);
  g_auto (GStrv) parts = NULL;

  if (secret == NULL)
    return FALSE;
  parts = g_strsplit (secret, "\n", 2);
  secret_password_free (secret);
  if (g_strv_length (parts) != 2 || *parts[0] == '\0' || *parts[1] == '\0')
    return FALSE;
  *username = g_strdup (parts[0]);
  *session = g_strdup (parts[1]);
  return TRUE;
}

/* In a thread, item by item: libsecret 0.20.5's password clear (the asynchronous one, and the
 * blocking one, which runs it in a main loop of its own) returns its task twice (a critical)
 * when it deletes more than one item, as two windows that stored the session at once leave. */
static void
clear_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  g_autoptr (GError) error = NULL;
  GList *items = secret_password_search_sync (session_schema (), SECRET_SEARCH_ALL, NULL, &error,
                                              "servers", task_data, NULL);

  if (error != NULL)
    g_debug ("Session not removed from the keyring: %s", error->message);
  for (GList *l = items; l != NULL; l = l->next)
    {
      g_autoptr (GError) item_error = NULL;

      if (SECRET_IS_ITEM (l->data) && !secret_item_delete_sync (l->data, NULL, &item_error))
        g_debug ("Session not removed from the keyring: %s", item_error->message);
    }
  g_list_free_full (items, g_object_unref);
  g_task_return_boolean (task, TRUE);
}

void
chat_session_store_clear (const char *key)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, NULL, NULL);

  g_task_set_task_data (task, g_strdup (key), g_free);
  g_task_run_in_thread (task, clear_thread);
}
