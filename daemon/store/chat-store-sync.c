/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStore: sync — everything that changed for one user after a log index, in pages. */
#define G_LOG_DOMAIN "chatd-store"

#include "config.h"

#include "chat-store-state-private.h"
#include "chat-username.h"

/* A page covers the log indexes (after, upto]: every change with a seq in that
 * range is in it, none beyond. Three kinds of change each carry a seq: a new
 * message (its id), a deletion (the tombstone's seq) and a read mark (read_seq).
 * One operation can produce many changes with one seq (a delete_account, a
 * mark_read), so a page ends between seqs, never inside one. */

typedef struct
{
  gint64 seq;
  gint64 id;
} Change;

typedef struct
{
  ChatStore *store;
  const char *key;
  gint64 after;
  gint64 upto; /* the page ends here; only ever lowered */
  guint limit;
} Page;

/* Messages hidden from the caller ("for me") are left out: their tombstone is in deleted. */
static const char messages_sql[]
    = "SELECT id, id FROM ("
      " SELECT m.id FROM messages m WHERE m.from_key = ?1 AND m.id > ?2 AND m.id <= ?3"
      " AND" CHAT_STORE_NOT_HIDDEN (
          "?1") "ORDER BY m.id LIMIT ?4)"
                " UNION SELECT id, id FROM ("
                " SELECT m.id FROM messages m WHERE m.to_key = ?1 AND m.id > ?2 AND m.id <= ?3"
                " AND" CHAT_STORE_NOT_HIDDEN ("?1") "ORDER BY m.id LIMIT ?4)"
                                                    " ORDER BY 1 LIMIT ?4";
static const char deleted_sql[]
    = "SELECT seq, id FROM tombstones WHERE user_key = ?1 AND seq > ?2 AND seq <= ?3"
      " ORDER BY seq, id LIMIT ?4";
static const char read_sql[]
    = "SELECT read_seq, id FROM messages WHERE from_key = ?1 AND read_seq > ?2 AND read_seq <= ?3"
      " ORDER BY read_seq, id LIMIT ?4";

static gboolean
add_change (ChatStmt *stmt, gpointer changes, GError **error)
{
  Change change = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1) };

  g_array_append_val ((GArray *)changes, change);
  return TRUE;
}

/* Changes with after < seq <= upto, ascending, at most limit (-1: all). */
static GArray *
fetch (Page *page, const char *sql, gint64 after, gint64 upto, gint64 limit, GError **error)
{
  g_autoptr (GArray) changes = g_array_new (FALSE, FALSE, sizeof (Change));
  g_autoptr (ChatStmt) stmt
      = chat_store_query (page->store, sql, error, CHAT_SQL_TEXT (page->key), CHAT_SQL_INT (after),
                          CHAT_SQL_INT (upto), CHAT_SQL_INT (limit));

  if (stmt == NULL
      || !chat_store_each_row (page->store, stmt, add_change, changes, "Reading changes for sync",
                               error))
    return NULL;
  return g_steal_pointer (&changes);
}

/* Fetches one kind of change up to the current end of the page and lowers the
 * end so the page holds at most limit of them, cutting between seqs. When the
 * first seq alone has more than limit changes, the page holds all of that seq. */
static GArray *
fetch_bounded (Page *page, const char *sql, GError **error)
{
  g_autoptr (GArray) changes = NULL;
  gint64 first, next;

  changes = fetch (page, sql, page->after, page->upto, (gint64)page->limit + 1, error);
  if (changes == NULL || changes->len <= page->limit)
    return g_steal_pointer (&changes);
  first = g_array_index (changes, Change, 0).seq;
  next = g_array_index (changes, Change, page->limit).seq;
  if (next > first)
    {
      page->upto = next - 1;
      return g_steal_pointer (&changes);
    }
  page->upto = first;
  g_clear_pointer (&changes, g_array_unref);
  return fetch (page, sql, page->after, first, -1, error);
}

static JsonArray *
ids_upto (GArray *changes, gint64 upto)
{
  JsonArray *ids = json_array_new ();

  for (guint i = 0; i < changes->len; i++)
    {
      const Change *change = &g_array_index (changes, Change, i);
      if (change->seq <= upto)
        json_array_add_int_element (ids, change->id);
    }
  return ids;
}

/* The caller's own messages carry their client_msg_id: after a partition in available mode
 * the losing side's messages are stored again under new ids (docs/partitions.md), and this is
 * how their sender finds the new id of each. */
static gboolean
add_own_client_msg_id (Page *page, JsonObject *message, gint64 id, GError **error)
{
  g_autoptr (ChatStmt) stmt = chat_store_prepare (
      page->store, "SELECT client_msg_id FROM messages WHERE id = ?1 AND from_key = ?2", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  chat_store_bind_text (stmt, 2, page->key);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    json_object_set_string_member (message, "client_msg_id",
                                   (const char *)sqlite3_column_text (stmt, 0));
  else if (rc != SQLITE_DONE)
    return chat_store_fail (page->store, error, "Reading a message's client_msg_id");
  return TRUE;
}

static JsonArray *
messages_upto (Page *page, GArray *changes, GError **error)
{
  g_autoptr (JsonArray) messages = json_array_new ();

  for (guint i = 0; i < changes->len; i++)
    {
      const Change *change = &g_array_index (changes, Change, i);
      JsonObject *message = NULL;
      if (change->seq > page->upto)
        break;
      message = chat_store_message_by_id (page->store, change->id, error);
      if (message == NULL && error != NULL && *error != NULL)
        return NULL;
      if (message == NULL)
        continue;
      json_array_add_object_element (messages, message);
      if (!add_own_client_msg_id (page, message, change->id, error))
        return NULL;
    }
  return g_steal_pointer (&messages);
}

JsonObject *
chat_store_sync (ChatStore *self, const char *user, guint64 after, guint limit, GError **error)
{
  g_autofree char *key = NULL;
  g_autoptr (GArray) sent = NULL, deleted = NULL, read = NULL;
  g_autoptr (JsonArray) messages = NULL;
  JsonObject *answer = NULL;
  Page page = { self, NULL, 0, 0, MAX (limit, 1) };

  g_return_val_if_fail (CHAT_IS_STORE (self), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  key = chat_username_key (user);
  page.key = key;
  page.after = (gint64)MIN (after, (guint64)G_MAXINT64);
  page.upto = (gint64)self->applied_index;
  /* Each kind can only lower page.upto; the lists are cut to the final value. */
  if ((sent = fetch_bounded (&page, messages_sql, error)) == NULL
      || (deleted = fetch_bounded (&page, deleted_sql, error)) == NULL
      || (read = fetch_bounded (&page, read_sql, error)) == NULL
      || (messages = messages_upto (&page, sent, error)) == NULL)
    return NULL;
  answer = json_object_new ();
  json_object_set_array_member (answer, "messages", g_steal_pointer (&messages));
  json_object_set_array_member (answer, "deleted", ids_upto (deleted, page.upto));
  json_object_set_array_member (answer, "read", ids_upto (read, page.upto));
  json_object_set_boolean_member (answer, "more", page.upto < (gint64)self->applied_index);
  json_object_set_int_member (answer, "seq", MAX (page.upto, 0));
  return answer;
}
