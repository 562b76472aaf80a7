/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for chat-journal: cluster events carry CHATD_* fields and a readable MESSAGE. */
#include "config.h"

#include "chat-journal.h"

#include <string.h>

/* One captured record: field name -> value. */
typedef struct
{
  GLogLevelFlags level;
  GHashTable *fields;
} Record;

static GPtrArray *records;

static void
record_free (Record *record)
{
  g_hash_table_unref (record->fields);
  g_free (record);
}

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  Record *record = g_new0 (Record, 1);

  record->level = level;
  record->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (gsize i = 0; i < n_fields; i++)
    {
      gsize len = fields[i].length < 0 ? strlen (fields[i].value) : (gsize)fields[i].length;

      g_hash_table_insert (record->fields, g_strdup (fields[i].key),
                           g_strndup (fields[i].value, len));
    }
  g_ptr_array_add (records, record);
  return G_LOG_WRITER_HANDLED;
}

static const char *
field (guint index, const char *key)
{
  Record *record;

  g_assert_cmpuint (index, <, records->len);
  record = g_ptr_array_index (records, index);
  return g_hash_table_lookup (record->fields, key);
}

static void
setup (void)
{
  g_ptr_array_set_size (records, 0);
  chat_journal_set_node ("127.0.0.1:5555");
}

static void
test_leader_elected (void)
{
  setup ();
  chat_journal_event (CHAT_EVENT_LEADER_ELECTED, 12, "127.0.0.1:5555", NULL, NULL);

  g_assert_cmpuint (records->len, ==, 1);
  g_assert_cmpstr (field (0, "CHATD_EVENT"), ==, "leader-elected");
  g_assert_cmpstr (field (0, "CHATD_TERM"), ==, "12");
  g_assert_cmpstr (field (0, "CHATD_LEADER"), ==, "127.0.0.1:5555");
  g_assert_cmpstr (field (0, "CHATD_NODE"), ==, "127.0.0.1:5555");
  g_assert_null (field (0, "CHATD_SERVER"));
  g_assert_null (field (0, "CHATD_DOWNTIME_MS"));
  g_assert_cmpstr (field (0, "MESSAGE"), ==, "127.0.0.1:5555 leads term 12");
  g_assert_cmpstr (field (0, "PRIORITY"), ==, "5");
  g_assert_cmpstr (field (0, "GLIB_DOMAIN"), ==, CHAT_JOURNAL_DOMAIN);
}

/* The sentence of the issue that asked for it, field by field. */
static void
test_failover (void)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_FAILOVER);
  Record *record;

  setup ();
  chat_journal_set_node ("127.0.0.1:5556");
  entry.term = 514;
  entry.leader = "127.0.0.1:5556";
  entry.server = "127.0.0.1:5555";
  entry.downtime_ms = 774;
  entry.silence_ms = 700;
  chat_journal_log (&entry);

  g_assert_cmpuint (records->len, ==, 1);
  record = g_ptr_array_index (records, 0);
  g_assert_true (record->level & G_LOG_LEVEL_WARNING);
  g_assert_cmpstr (field (0, "MESSAGE"), ==,
                   "127.0.0.1:5555 stopped answering; 127.0.0.1:5556 leads term 514 after 0.77 s "
                   "without a leader");
  g_assert_cmpstr (field (0, "CHATD_EVENT"), ==, "failover");
  g_assert_cmpstr (field (0, "CHATD_SERVER"), ==, "127.0.0.1:5555");
  g_assert_cmpstr (field (0, "CHATD_LEADER"), ==, "127.0.0.1:5556");
  g_assert_cmpstr (field (0, "CHATD_TERM"), ==, "514");
  g_assert_cmpstr (field (0, "CHATD_DOWNTIME_MS"), ==, "774");
  g_assert_cmpstr (field (0, "PRIORITY"), ==, "4");
}

static void
test_failover_alive (void)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_FAILOVER);
  g_autofree char *text = NULL;

  entry.term = 770;
  entry.leader = "10.0.0.2:5555";
  entry.server = "10.0.0.1:5555";
  entry.downtime_ms = 120;
  entry.alive = TRUE;
  text = chat_journal_describe_entry (&entry, "10.0.0.2:5555");
  g_assert_cmpstr (text, ==,
                   "10.0.0.1:5555 stopped leading; 10.0.0.2:5555 leads term 770 after "
                   "0.12 s without a leader");
}

static void
test_election_names_silent_leader (void)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_ELECTION_STARTED);
  g_autofree char *text = NULL;
  g_autofree char *first = NULL;

  entry.term = 771;
  entry.server = "127.0.0.1:5555";
  entry.silence_ms = 1210;
  text = chat_journal_describe_entry (&entry, "127.0.0.1:5557");
  g_assert_cmpstr (text, ==,
                   "127.0.0.1:5557 heard nothing from leader 127.0.0.1:5555 for 1.21 s; it asks "
                   "for votes in term 771");
  entry.server = NULL;
  first = chat_journal_describe_entry (&entry, "127.0.0.1:5557");
  g_assert_cmpstr (first, ==, "127.0.0.1:5557 knows no leader; it asks for votes in term 771");
}

static void
test_peer_down_detail (void)
{
  Record *record;

  setup ();
  chat_journal_event (CHAT_EVENT_PEER_DOWN, 3, NULL, "127.0.0.1:5557", "no answer for %u ms", 1000);

  g_assert_cmpuint (records->len, ==, 1);
  record = g_ptr_array_index (records, 0);
  g_assert_true (record->level & G_LOG_LEVEL_WARNING);
  g_assert_cmpstr (field (0, "CHATD_EVENT"), ==, "peer-down");
  g_assert_cmpstr (field (0, "CHATD_SERVER"), ==, "127.0.0.1:5557");
  g_assert_null (field (0, "CHATD_LEADER"));
  g_assert_cmpstr (field (0, "PRIORITY"), ==, "4");
  g_assert_cmpstr (field (0, "MESSAGE"), ==,
                   "127.0.0.1:5557 stopped answering leader 127.0.0.1:5555 (term 3): no answer "
                   "for 1000 ms");
}

static void
test_rejoin_without_leader (void)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_REJOIN_STARTED);
  g_autofree char *text = NULL;

  entry.index = 40;
  text = chat_journal_describe_entry (&entry, "127.0.0.1:5555");
  g_assert_cmpstr (text, ==,
                   "127.0.0.1:5555 restarted with its log up to index 40; it may not lead until "
                   "it has caught up with a live server");
}

/* A server starved for a failure timeout recovers as after a restart, and says so. */
static void
test_rejoin_after_stall (void)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_REJOIN_STARTED);
  g_autofree char *text = NULL;

  entry.index = 40;
  entry.silence_ms = 0;
  text = chat_journal_describe_entry (&entry, "127.0.0.1:5555");
  g_assert_cmpstr (text, ==,
                   "127.0.0.1:5555 was starved for longer than the failure timeout and the others "
                   "may have gone on without it: with its log up to index 40 it may not lead "
                   "until it has caught up with a live server");
}

/* A follower that said nothing to its leader for about a failure timeout (C13) names it. */
static void
test_rejoin_unheard_by_leader (void)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_REJOIN_STARTED);
  g_autofree char *text = NULL;

  entry.index = 40;
  entry.server = "127.0.0.1:5556";
  text = chat_journal_describe_entry (&entry, "127.0.0.1:5555");
  g_assert_cmpstr (text, ==,
                   "127.0.0.1:5555 had said nothing to its leader 127.0.0.1:5556 for about a "
                   "failure timeout, which may have gone on without it: with its log up to index "
                   "40 it may not lead until it has caught up with a live server");
}

/* The reasons an empty server gives for not founding or leading a cluster. */
static void
test_identity_events (void)
{
  ChatJournalEntry waiting = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_WAITING_TO_FOUND);
  ChatJournalEntry exists = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_CLUSTER_EXISTS);
  ChatJournalEntry foreign = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_FOREIGN_CLUSTER);
  g_autofree char *text1 = NULL, *text2 = NULL, *text3 = NULL;

  waiting.in_sync = "127.0.0.1:5557";
  exists.server = "127.0.0.1:5556";
  foreign.server = "127.0.0.1:5557";
  text1 = chat_journal_describe_entry (&waiting, "127.0.0.1:5555");
  text2 = chat_journal_describe_entry (&exists, "127.0.0.1:5555");
  text3 = chat_journal_describe_entry (&foreign, "127.0.0.1:5555");
  g_assert_nonnull (strstr (text1, "waiting for 127.0.0.1:5557, which may hold data"));
  g_assert_nonnull (strstr (text2, "will not found or lead a new cluster: 127.0.0.1:5556 already"));
  g_assert_nonnull (strstr (text3, "refuses 127.0.0.1:5557: that server belongs to another"));
}

static void
test_in_sync_set (void)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (CHAT_EVENT_IN_SYNC_CHANGED);

  setup ();
  entry.term = 514;
  entry.leader = "127.0.0.1:5555";
  entry.in_sync = "127.0.0.1:5555, 127.0.0.1:5556";
  entry.index = 81;
  chat_journal_log (&entry);
  g_assert_cmpstr (field (0, "MESSAGE"), ==,
                   "writes now wait for 127.0.0.1:5555, 127.0.0.1:5556 (the in-sync set of term "
                   "514)");
  g_assert_cmpstr (field (0, "CHATD_INDEX"), ==, "81");
}

static void
test_no_term (void)
{
  setup ();
  chat_journal_event (CHAT_EVENT_SNAPSHOT_SENT, 0, NULL, "127.0.0.1:5556", NULL);

  g_assert_null (field (0, "CHATD_TERM"));
  g_assert_cmpstr (field (0, "MESSAGE"), ==,
                   "127.0.0.1:5555 sends 127.0.0.1:5556 a snapshot up to index 0");
}

/* No sentence may fall back to placeholders such as "(none)", "(null)" or "cluster event",
 * whichever optional field is missing. */
static void
test_every_event_readable (void)
{
  const char *events[] = {
    CHAT_EVENT_ELECTION_STARTED, CHAT_EVENT_LEADER_ELECTED,      CHAT_EVENT_FAILOVER,
    CHAT_EVENT_STEPPED_DOWN,     CHAT_EVENT_PEER_DOWN,           CHAT_EVENT_PEER_UP,
    CHAT_EVENT_IN_SYNC_CHANGED,  CHAT_EVENT_WAITING_FOR_IN_SYNC, CHAT_EVENT_REJOIN_STARTED,
    CHAT_EVENT_REJOIN_DONE,      CHAT_EVENT_SNAPSHOT_SENT,       CHAT_EVENT_SNAPSHOT_INSTALLED,
    CHAT_EVENT_FORCE_LEADER,     CHAT_EVENT_TRANSFER_STARTED,    CHAT_EVENT_DIVERGED
  };

  for (gsize i = 0; i < G_N_ELEMENTS (events); i++)
    for (guint filled = 0; filled < 2; filled++)
      {
        ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (events[i]);
        g_autofree char *text = NULL;

        entry.term = 7;
        if (filled)
          {
            entry.leader = "10.0.0.1:5555";
            entry.server = "10.0.0.2:5556";
            entry.in_sync = "10.0.0.1:5555";
            entry.index = 3;
          }
        text = chat_journal_describe_entry (&entry, "10.0.0.3:5557");
        g_test_message ("%s: %s", events[i], text);
        g_assert_cmpuint (strlen (text), >, 20);
        g_assert_null (strstr (text, "%"));
        g_assert_null (strstr (text, "(none)"));
        g_assert_null (strstr (text, "(null)"));
        g_assert_null (strstr (text, "cluster event"));
      }
}

static void
test_other_event_uses_detail (void)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT ("replay-done");
  g_autofree char *text = NULL;

  entry.detail = "4 operations replayed";
  text = chat_journal_describe_entry (&entry, "[::1]:6000");
  g_assert_cmpstr (text, ==, "[::1]:6000: 4 operations replayed");
}

static void
test_seconds (void)
{
  const struct
  {
    guint64 ms;
    const char *text;
  } cases[] = { { 0, "0.00 s" },   { 4, "0.00 s" },   { 5, "0.01 s" },
                { 770, "0.77 s" }, { 999, "1.00 s" }, { 12345, "12.35 s" } };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = chat_journal_format_seconds (cases[i].ms);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_identifier (void)
{
  g_autofree char *v4 = NULL;
  g_autofree char *v6 = NULL;

  chat_journal_set_node ("127.0.0.1:5556");
  v4 = chat_journal_identifier ();
  chat_journal_set_node ("[::1]:6000");
  v6 = chat_journal_identifier ();
  g_assert_cmpstr (v4, ==, "chatd@5556");
  g_assert_cmpstr (v6, ==, "chatd@6000");
}

static void
test_node_changes (void)
{
  setup ();
  chat_journal_set_node ("[::1]:6000");
  chat_journal_event (CHAT_EVENT_REJOIN_DONE, 9, "[::1]:6001", NULL, NULL);

  g_assert_cmpstr (field (0, "CHATD_NODE"), ==, "[::1]:6000");
  g_assert_cmpstr (field (0, "MESSAGE"), ==,
                   "[::1]:6000 caught up with leader [::1]:6001 up to "
                   "index 0");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  records = g_ptr_array_new_with_free_func ((GDestroyNotify)record_free);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  g_test_add_func ("/chat-journal/leader-elected", test_leader_elected);
  g_test_add_func ("/chat-journal/failover", test_failover);
  g_test_add_func ("/chat-journal/failover-alive", test_failover_alive);
  g_test_add_func ("/chat-journal/election-names-silent-leader", test_election_names_silent_leader);
  g_test_add_func ("/chat-journal/peer-down-detail", test_peer_down_detail);
  g_test_add_func ("/chat-journal/rejoin-without-leader", test_rejoin_without_leader);
  g_test_add_func ("/chat-journal/rejoin-after-stall", test_rejoin_after_stall);
  g_test_add_func ("/chat-journal/rejoin-unheard-by-leader", test_rejoin_unheard_by_leader);
  g_test_add_func ("/chat-journal/identity-events", test_identity_events);
  g_test_add_func ("/chat-journal/in-sync-set", test_in_sync_set);
  g_test_add_func ("/chat-journal/no-term", test_no_term);
  g_test_add_func ("/chat-journal/every-event-readable", test_every_event_readable);
  g_test_add_func ("/chat-journal/other-event-uses-detail", test_other_event_uses_detail);
  g_test_add_func ("/chat-journal/seconds", test_seconds);
  g_test_add_func ("/chat-journal/identifier", test_identifier);
  g_test_add_func ("/chat-journal/node-changes", test_node_changes);
  return g_test_run ();
}
