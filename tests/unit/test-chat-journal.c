/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for chat-journal: cluster events carry CHATD_* fields and a readable MESSAGE. */
#include "config.h"

#include "chat-journal.h"

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
  g_assert_null (field (0, "CHATD_PEER"));
  g_assert_cmpstr (field (0, "MESSAGE"), ==, "leader elected: 127.0.0.1:5555 leads term 12");
  g_assert_cmpstr (field (0, "PRIORITY"), ==, "5");
  g_assert_cmpstr (field (0, "GLIB_DOMAIN"), ==, CHAT_JOURNAL_DOMAIN);
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
  g_assert_cmpstr (field (0, "CHATD_PEER"), ==, "127.0.0.1:5557");
  g_assert_null (field (0, "CHATD_LEADER"));
  g_assert_cmpstr (field (0, "PRIORITY"), ==, "4");
  g_assert_cmpstr (field (0, "MESSAGE"), ==,
                   "peer 127.0.0.1:5557 is down (term 3): no answer for 1000 ms");
}

static void
test_no_term (void)
{
  setup ();
  chat_journal_event (CHAT_EVENT_SNAPSHOT_SENT, 0, NULL, "127.0.0.1:5556", "up to index %d", 40);

  g_assert_null (field (0, "CHATD_TERM"));
  g_assert_cmpstr (field (0, "MESSAGE"), ==, "snapshot sent to 127.0.0.1:5556: up to index 40");
}

static void
test_every_event_readable (void)
{
  const char *events[]
      = { CHAT_EVENT_LEADER_ELECTED, CHAT_EVENT_STEPPED_DOWN,    CHAT_EVENT_PEER_DOWN,
          CHAT_EVENT_PEER_UP,        CHAT_EVENT_IN_SYNC_CHANGED, CHAT_EVENT_REJOIN_STARTED,
          CHAT_EVENT_REJOIN_DONE,    CHAT_EVENT_SNAPSHOT_SENT,   CHAT_EVENT_SNAPSHOT_INSTALLED,
          CHAT_EVENT_FORCE_LEADER };

  for (gsize i = 0; i < G_N_ELEMENTS (events); i++)
    {
      g_autofree char *text
          = chat_journal_describe (events[i], 7, "10.0.0.1:5555", "10.0.0.2:5556");

      g_assert_nonnull (strstr (text, " "));
      g_assert_null (strstr (text, "%"));
      g_assert_null (strstr (text, "cluster event"));
    }
}

static void
test_unknown_event (void)
{
  g_autofree char *text = chat_journal_describe ("custom-thing", 2, NULL, NULL);

  g_assert_cmpstr (text, ==, "cluster event custom-thing (term 2)");
}

static void
test_node_changes (void)
{
  setup ();
  chat_journal_set_node ("[::1]:6000");
  chat_journal_event (CHAT_EVENT_REJOIN_DONE, 9, "[::1]:6001", NULL, NULL);

  g_assert_cmpstr (field (0, "CHATD_NODE"), ==, "[::1]:6000");
  g_assert_cmpstr (field (0, "MESSAGE"), ==, "rejoin done: in sync with [::1]:6001 (term 9)");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  records = g_ptr_array_new_with_free_func ((GDestroyNotify)record_free);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  g_test_add_func ("/chat-journal/leader-elected", test_leader_elected);
  g_test_add_func ("/chat-journal/peer-down-detail", test_peer_down_detail);
  g_test_add_func ("/chat-journal/no-term", test_no_term);
  g_test_add_func ("/chat-journal/every-event-readable", test_every_event_readable);
  g_test_add_func ("/chat-journal/unknown-event", test_unknown_event);
  g_test_add_func ("/chat-journal/node-changes", test_node_changes);
  return g_test_run ();
}
