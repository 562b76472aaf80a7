/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The replication state written without waiting for the disk: which messages a completed
 * sync releases, and what the core then hears as PERSISTED. */
#include "chat-replica.h"
#include "chat-replica-private.h"

#include "chat-error.h"
#include "chat-fs.h"

typedef struct
{
  char *dir;
  ChatConfig *config;
  ChatStore *store;
  ChatReplica *replica; /* not started: these tests drive its writes by hand */
} Fixture;

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("chat-replica-sync-XXXXXX", &error);
  g_assert_no_error (error);
  f->config = chat_config_load_from_data ("[server]\nhost1 = 127.0.0.1\nport1 = 7001\n", &error);
  g_assert_no_error (error);
  f->store = chat_store_open (f->dir, &error);
  g_assert_no_error (error);
  f->replica = chat_replica_new (f->store, f->config, 1, TRUE);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->replica);
  g_clear_object (&f->store);
  chat_fs_remove_tree (f->dir);
  g_free (f->dir);
  chat_config_free (f->config);
}

/* Writes entries first..last of term (none when first is 0) after dropping the log from
 * truncate_from, with a hard state of hard_term when it is not 0; returns the ticket. */
static guint64
write_update (Fixture *f, guint64 truncate_from, guint64 first, guint64 last, guint64 term,
              guint64 hard_term)
{
  g_auto (ChatReplUpdate) u;
  g_autoptr (GError) error = NULL;

  chat_repl_update_init (&u);
  u.truncate_from = truncate_from;
  for (guint64 i = first; first != 0 && i <= last; i++)
    {
      g_autoptr (GBytes) data = g_bytes_new_static ("{}", 2);

      g_ptr_array_add (u.entries, chat_repl_entry_new (term, i, CHAT_REPL_ENTRY_OP, data));
    }
  if (hard_term != 0)
    {
      u.hard_state_changed = TRUE;
      u.term = hard_term;
      u.vote = 1;
    }
  g_assert_true (chat_replica_sync_write (f->replica, &u, &error));
  g_assert_no_error (error);
  g_assert_true (chat_replica_sync_waiting (f->replica));
  return chat_store_request_sync (f->store);
}

/* One message for server 2 whose term names it. */
static void
hold_message (Fixture *f, guint64 term)
{
  g_autoptr (GPtrArray) messages
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_message_unref);

  g_ptr_array_add (messages, chat_repl_message_new (CHAT_REPL_MSG_VOTE_RESPONSE, 1, 2, term));
  chat_replica_sync_hold (f->replica, messages);
  g_assert_cmpuint (messages->len, ==, 0);
  g_assert_true (chat_replica_sync_holding (f->replica));
}

static void
assert_released (Fixture *f, guint64 ticket, guint n, guint64 first_term)
{
  g_autoptr (GPtrArray) released = chat_replica_sync_release (f->replica, ticket);

  g_assert_cmpuint (released->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (((ChatReplMessage *)g_ptr_array_index (released, i))->term, ==,
                      first_term + i);
}

/* Held messages leave in order, each once the writes before it are durable; PERSISTED
 * waits while a hard state written later is not durable, then reports the newest entry. */
static void
test_hold_until_durable (Fixture *f, gconstpointer data)
{
  guint64 index = 0, term = 0;
  guint64 entries = write_update (f, 0, 1, 2, 1, 0);
  guint64 hard_state = 0, after = 0;

  hold_message (f, 1);
  hard_state = write_update (f, 0, 0, 0, 0, 2);
  hold_message (f, 2);
  after = write_update (f, 0, 3, 3, 2, 0);
  hold_message (f, 3);

  assert_released (f, entries, 1, 1);
  g_assert_false (chat_replica_sync_take (f->replica, entries, &index, &term));
  assert_released (f, hard_state, 1, 2);
  g_assert_true (chat_replica_sync_take (f->replica, hard_state, &index, &term));
  g_assert_cmpuint (index, ==, 2);
  g_assert_cmpuint (term, ==, 1);
  g_assert_true (chat_replica_sync_holding (f->replica));
  assert_released (f, after, 1, 3);
  g_assert_false (chat_replica_sync_holding (f->replica));
  g_assert_true (chat_replica_sync_take (f->replica, after, &index, &term));
  g_assert_cmpuint (index, ==, 3);
  g_assert_cmpuint (term, ==, 2);
  g_assert_false (chat_replica_sync_waiting (f->replica));
}

/* Entries that a later write truncated are never reported as this server's copy. */
static void
test_truncated_not_reported (Fixture *f, gconstpointer data)
{
  guint64 index = 0, term = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) log = NULL;

  write_update (f, 0, 1, 5, 1, 0);
  g_assert_true (
      chat_replica_sync_take (f->replica, write_update (f, 4, 4, 4, 2, 0), &index, &term));
  g_assert_cmpuint (index, ==, 4);
  g_assert_cmpuint (term, ==, 2);

  write_update (f, 0, 5, 6, 2, 0);
  g_assert_true (
      chat_replica_sync_take (f->replica, write_update (f, 5, 0, 0, 0, 0), &index, &term));
  g_assert_cmpuint (index, ==, 0);

  /* And the store holds what was written, in the same order. */
  log = chat_store_load_log (f->store, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (log->len, ==, 4);
  g_assert_cmpuint (((ChatReplEntry *)g_ptr_array_index (log, 3))->term, ==, 2);
}

/* After a durable write every earlier one is durable: G_MAXUINT64 releases and takes all. */
static void
test_durable_write_covers_all (Fixture *f, gconstpointer data)
{
  guint64 index = 0, term = 0;

  write_update (f, 0, 1, 1, 1, 1);
  hold_message (f, 1);
  write_update (f, 0, 2, 3, 1, 0);
  hold_message (f, 2);
  assert_released (f, G_MAXUINT64, 2, 1);
  g_assert_true (chat_replica_sync_take (f->replica, G_MAXUINT64, &index, &term));
  g_assert_cmpuint (index, ==, 3);
  g_assert_false (chat_replica_sync_waiting (f->replica));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/replica/sync/hold-until-durable", Fixture, NULL, set_up, test_hold_until_durable,
              tear_down);
  g_test_add ("/replica/sync/truncated-not-reported", Fixture, NULL, set_up,
              test_truncated_not_reported, tear_down);
  g_test_add ("/replica/sync/durable-write-covers-all", Fixture, NULL, set_up,
              test_durable_write_covers_all, tear_down);
  return g_test_run ();
}
