/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the ChatStore unit tests: a store in a temporary folder and op builders. */
#pragma once

#include "chat-json-test-util.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-store.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  char *dir;
  ChatStore *store;
  guint64 index; /* last log index handed to apply */
} StoreFixture;

static G_GNUC_UNUSED void
store_fixture_open (StoreFixture *f)
{
  g_autoptr (GError) error = NULL;

  f->store = chat_store_open (f->dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->store);
  f->index = chat_store_applied_index (f->store);
}

static G_GNUC_UNUSED void
store_fixture_set_up (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("chat-store-XXXXXX", &error);
  g_assert_no_error (error);
  store_fixture_open (f);
}

static G_GNUC_UNUSED void
store_fixture_reopen (StoreFixture *f)
{
  g_clear_object (&f->store);
  store_fixture_open (f);
}

/* Adds a test run on a fresh store (under "/store/" path). */
#define store_test_add(path, func)                                                                 \
  g_test_add ("/store/" path, StoreFixture, NULL, store_fixture_set_up, func,                      \
              store_fixture_tear_down)

static G_GNUC_UNUSED void
store_fixture_tear_down (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  g_clear_object (&f->store);
  dir = g_dir_open (f->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

static G_GNUC_UNUSED JsonObject *
parse_object (const char *json)
{
  g_autoptr (GError) error = NULL;
  JsonObject *object = chat_json_parse_object (json, strlen (json), &error);

  g_assert_no_error (error);
  return object;
}

static G_GNUC_UNUSED char *
object_to_string (JsonObject *object)
{
  g_autofree char *line = chat_json_to_line (object, NULL);

  return g_strchomp (g_steal_pointer (&line));
}

/* A send keeps the message it stored as its fields (result->message), written as text for
 * the reply: read back, it joins result->reply as "message", as the reply sent has it. */
static G_GNUC_UNUSED void
merge_reply_message (ChatApplyResult *result)
{
  gsize len = 0;
  const char *json = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *message = NULL;
  g_autofree char *again = NULL;

  if (result->message == NULL || json_object_has_member (result->reply, "message"))
    return;
  json = chat_stored_message_get_json (result->message, &len);
  message = chat_json_parse_object (json, len, &error);
  g_assert_no_error (error);
  /* The text is what the generator prints for the object it reads as. */
  again = generator_text (message);
  g_assert_cmpuint (strlen (again), ==, len + 1);
  g_assert_cmpmem (again, len, json, len);
  json_object_set_object_member (result->reply, "message", message);
}

static G_GNUC_UNUSED JsonObject *
reply_message (ChatApplyResult *result)
{
  merge_reply_message (result);
  g_assert_true (json_object_has_member (result->reply, "message"));
  return json_object_get_object_member (result->reply, "message");
}

/* The event as an object, read back from the line it is pushed as when it has only its
 * message's fields; kept in the event. */
static G_GNUC_UNUSED JsonObject *
event_object (ChatApplyEvent *event)
{
  g_autoptr (GBytes) line = NULL;
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  const char *text = NULL;

  if (event->event != NULL)
    return event->event;
  line = chat_apply_event_to_line (event);
  text = g_bytes_get_data (line, &len);
  g_assert_cmpint (text[len - 1], ==, '\n');
  event->event = chat_json_parse_object (text, len - 1, &error);
  g_assert_no_error (error);
  return event->event;
}

/* Applies one op (JSON text) at the next index of store, in a batch of one. */
static G_GNUC_UNUSED ChatApplyResult *
apply_to (ChatStore *store, guint64 index, const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) op = json != NULL ? parse_object (json) : NULL;
  ChatApplyResult *result = chat_store_apply (store, index, op, &error);

  g_assert_no_error (error);
  g_assert_nonnull (result);
  g_assert_nonnull (result->reply);
  return result;
}

static G_GNUC_UNUSED ChatApplyResult *
apply_op (StoreFixture *f, const char *json)
{
  return apply_to (f->store, ++f->index, json);
}

static G_GNUC_UNUSED ChatApplyResult *G_GNUC_PRINTF (2, 3)
    apply_printf (StoreFixture *f, const char *format, ...)
{
  g_autofree char *json = NULL;
  va_list args;

  va_start (args, format);
  json = g_strdup_vprintf (format, args);
  va_end (args);
  return apply_op (f, json);
}

static G_GNUC_UNUSED void
assert_refused (ChatApplyResult *result, ChatErrorCode code)
{
  g_assert_cmpint (result->error_code, ==, code);
  g_assert_nonnull (result->error_message);
  g_assert_cmpuint (result->events->len, ==, 0);
}

static G_GNUC_UNUSED void
assert_applied (ChatApplyResult *result)
{
  if (result->error_code >= 0)
    g_error ("refused: %s", result->error_message);
}

/* A session hash for a short name, as the leader would fill it. */
static G_GNUC_UNUSED char *
session_hash (const char *seed)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, seed, -1);
}

static G_GNUC_UNUSED void
signup (StoreFixture *f, const char *username)
{
  g_autofree char *session = session_hash (username);
  g_autoptr (ChatApplyResult) result = NULL;

  result = apply_printf (f,
                         "{\"op\":\"signup\",\"username\":\"%s\",\"password_hash\":"
                         "\"$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA\","
                         "\"session\":\"%s\",\"at\":1000}",
                         username, session);
  assert_applied (result);
}

/* Sends a message and returns its id (== seq == the log index). */
static G_GNUC_UNUSED gint64
send_message (StoreFixture *f, const char *from, const char *to, const char *body)
{
  g_autoptr (ChatApplyResult) result = NULL;
  guint64 index = f->index + 1;

  result
      = apply_printf (f,
                      "{\"op\":\"send\",\"from\":\"%s\",\"to\":\"%s\",\"body\":\"%s\","
                      "\"client_msg_id\":\"m%" G_GUINT64_FORMAT "\",\"at\":%" G_GUINT64_FORMAT "}",
                      from, to, body, index, 5000 + index);
  assert_applied (result);
  g_assert_cmpint (json_object_get_int_member (reply_message (result), "id"), ==, (gint64)index);
  return (gint64)index;
}

static G_GNUC_UNUSED char *
store_hash (ChatStore *store)
{
  g_autoptr (GError) error = NULL;
  char *hash = chat_store_state_hash (store, &error);

  g_assert_no_error (error);
  g_assert_nonnull (hash);
  return hash;
}

/* The "id" of each object in an array of messages, as a comma-separated string. */
static G_GNUC_UNUSED char *
message_ids (JsonArray *messages)
{
  GString *ids = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (messages); i++)
    g_string_append_printf (
        ids, "%s%" G_GINT64_FORMAT, i > 0 ? "," : "",
        json_object_get_int_member (json_array_get_object_element (messages, i), "id"));
  return g_string_free (ids, FALSE);
}

/* The integers of an array, comma-separated. */
static G_GNUC_UNUSED char *
int_list (JsonArray *array)
{
  GString *ids = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (array); i++)
    g_string_append_printf (ids, "%s%" G_GINT64_FORMAT, i > 0 ? "," : "",
                            json_array_get_int_element (array, i));
  return g_string_free (ids, FALSE);
}

/* --- the log ---------------------------------------------------------------- */

/* Entries first..last of term, with data "tag-index" and types cycling through 0-2. */
static G_GNUC_UNUSED GPtrArray *
log_entries_new (guint64 term, guint64 first, guint64 last, const char *tag)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);

  for (guint64 i = first; i <= last; i++)
    {
      g_autofree char *text = g_strdup_printf ("%s-%" G_GUINT64_FORMAT, tag, i);
      g_autoptr (GBytes) data = g_bytes_new (text, strlen (text));
      g_ptr_array_add (entries, chat_repl_entry_new (term, i, (ChatReplEntryType)(i % 3), data));
    }
  return entries;
}

static G_GNUC_UNUSED void
log_append (StoreFixture *f, guint64 truncate_from, GPtrArray *entries)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (chat_store_append_log (f->store, truncate_from, entries, &error));
  g_assert_no_error (error);
}

/* "term:index:type:data" for each entry from index from. */
static G_GNUC_UNUSED char *
log_dump (StoreFixture *f, guint64 from)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = chat_store_load_log (f->store, from, &error);
  GString *dump = g_string_new (NULL);

  g_assert_no_error (error);
  for (guint i = 0; i < entries->len; i++)
    {
      ChatReplEntry *entry = g_ptr_array_index (entries, i);
      gsize len = 0;
      const char *data = g_bytes_get_data (entry->data, &len);
      g_string_append_printf (dump, "%s%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT ":%u:%.*s",
                              i > 0 ? " " : "", entry->term, entry->index, (guint)entry->type,
                              (int)len, data != NULL ? data : "");
    }
  return g_string_free (dump, FALSE);
}
