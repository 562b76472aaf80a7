/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster events as structured log records (CHATD_EVENT=...) for journald. */
#include "config.h"

#include "chat-journal.h"

#include <string.h>

/* Each event has its own sentence: who did what, in the words an operator uses. */
typedef void (*DescribeFunc) (GString *out, const ChatJournalEntry *e, const char *node);

typedef struct
{
  const char *event;
  GLogLevelFlags level;
  DescribeFunc describe;
} EventKind;

G_LOCK_DEFINE_STATIC (node);
static char *node_address;

/* A server the caller did not name still reads as one in the sentence. */
static const char *
named (const char *address)
{
  return address != NULL ? address : "an unknown server";
}

/* --- sentences ------------------------------------------------------------------------- */

char *
chat_journal_format_seconds (guint64 ms)
{
  guint64 hundredths = (ms + 5) / 10;

  return g_strdup_printf ("%" G_GUINT64_FORMAT ".%02u s", hundredths / 100,
                          (guint)(hundredths % 100));
}

static void
append_seconds (GString *out, guint64 ms)
{
  g_autofree char *text = chat_journal_format_seconds (ms);

  g_string_append (out, text);
}

static void
describe_election_started (GString *out, const ChatJournalEntry *e, const char *node)
{
  if (e->server != NULL && e->silence_ms >= 0)
    {
      g_string_append_printf (out, "%s heard nothing from leader %s for ", node, e->server);
      append_seconds (out, (guint64)e->silence_ms);
      g_string_append_printf (out, "; it asks for votes in term %" G_GUINT64_FORMAT, e->term);
    }
  else
    g_string_append_printf (out, "%s knows no leader; it asks for votes in term %" G_GUINT64_FORMAT,
                            node, e->term);
}

static void
describe_leader_elected (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out, "%s leads term %" G_GUINT64_FORMAT,
                          e->leader != NULL ? e->leader : node, e->term);
}

static void
describe_failover (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out, "%s %s; %s leads term %" G_GUINT64_FORMAT " after ",
                          e->server != NULL ? e->server : "the old leader",
                          e->alive ? "stopped leading" : "stopped answering",
                          e->leader != NULL ? e->leader : node, e->term);
  append_seconds (out, (guint64)MAX (e->downtime_ms, 0));
  g_string_append (out, " without a leader");
}

static void
describe_stepped_down (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out, "%s stopped leading in term %" G_GUINT64_FORMAT, node, e->term);
  if (e->leader != NULL && g_strcmp0 (e->leader, node) != 0)
    g_string_append_printf (out, "; %s leads now", e->leader);
}

static void
describe_peer_down (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out, "%s stopped answering leader %s (term %" G_GUINT64_FORMAT ")",
                          named (e->server), node, e->term);
}

static void
describe_peer_up (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out, "%s answers leader %s again (term %" G_GUINT64_FORMAT ")",
                          named (e->server), node, e->term);
}

static void
describe_in_sync_changed (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out,
                          "writes now wait for %s (the in-sync set of term %" G_GUINT64_FORMAT ")",
                          e->in_sync != NULL ? e->in_sync : "no server", e->term);
}

static void
describe_waiting_for_in_sync (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out, "%s waits to hear from a server of its last in-sync set", node);
  if (e->in_sync != NULL)
    g_string_append_printf (out, " (%s)", e->in_sync);
  g_string_append (out, " before anyone may lead");
}

static void
describe_rejoin_started (GString *out, const ChatJournalEntry *e, const char *node)
{
  /* server: the leader it had said nothing to */
  if (e->server != NULL)
    {
      g_string_append_printf (
          out,
          "%s had said nothing to its leader %s for about a failure timeout, which may have "
          "gone on without it: with its log up to index %" G_GUINT64_FORMAT
          " it may not lead until it has caught up with a live server",
          node, e->server, e->index);
      return;
    }
  if (e->silence_ms >= 0)
    {
      g_string_append_printf (
          out,
          "%s was starved for longer than the failure timeout and the others "
          "may have gone on without it: with its log up to index %" G_GUINT64_FORMAT
          " it may not lead until it has caught up with a live server",
          node, e->index);
      return;
    }
  g_string_append_printf (out,
                          "%s restarted with its log up to index %" G_GUINT64_FORMAT
                          "; it may not lead until it has caught up with a live server",
                          node, e->index);
}

static void
describe_rejoin_done (GString *out, const ChatJournalEntry *e, const char *node)
{
  if (e->leader != NULL && g_strcmp0 (e->leader, node) != 0)
    g_string_append_printf (out, "%s caught up with leader %s up to index %" G_GUINT64_FORMAT, node,
                            e->leader, e->index);
  else
    g_string_append_printf (
        out, "%s has caught up (log up to index %" G_GUINT64_FORMAT ") and may lead again", node,
        e->index);
}

static void
describe_snapshot_sent (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out, "%s sends %s a snapshot up to index %" G_GUINT64_FORMAT, node,
                          named (e->server), e->index);
}

static void
describe_snapshot_installed (GString *out, const ChatJournalEntry *e, const char *node)
{
  const char *from = e->server != NULL ? e->server : e->leader;

  g_string_append_printf (out, "%s installed a snapshot up to index %" G_GUINT64_FORMAT, node,
                          e->index);
  if (from != NULL)
    g_string_append_printf (out, " from %s", from);
}

static void
describe_force_leader (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out,
                          "%s was forced to lead by an operator (term %" G_GUINT64_FORMAT
                          "): writes only the other servers had may be lost",
                          node, e->term);
}

static void
describe_transfer_started (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out, "%s hands leadership over to %s (term %" G_GUINT64_FORMAT ")", node,
                          named (e->server), e->term);
}

static void
describe_diverged (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out,
                          "%s has a history from index %" G_GUINT64_FORMAT
                          " that %s's side lacks (a partition healed); its operations will be "
                          "replayed through the leader",
                          node, e->index, named (e->server != NULL ? e->server : e->leader));
}

static void
describe_waiting_to_found (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out,
                          "%s has an empty store and founds a new cluster only with every "
                          "configured server up, linked and empty: waiting for %s, which may "
                          "hold data",
                          node, e->in_sync != NULL ? e->in_sync : "the others");
}

static void
describe_cluster_exists (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out,
                          "%s has an empty store and will not found or lead a new cluster: %s "
                          "already belongs to one; it waits to join it as an empty follower",
                          node, named (e->server));
}

static void
describe_foreign_cluster (GString *out, const ChatJournalEntry *e, const char *node)
{
  g_string_append_printf (out,
                          "%s refuses %s: that server belongs to another cluster (its store was "
                          "made by another bootstrap); nothing it sends is used",
                          node, named (e->server));
}

static const EventKind kinds[] = {
  { CHAT_EVENT_ELECTION_STARTED, G_LOG_LEVEL_MESSAGE, describe_election_started },
  { CHAT_EVENT_LEADER_ELECTED, G_LOG_LEVEL_MESSAGE, describe_leader_elected },
  { CHAT_EVENT_FAILOVER, G_LOG_LEVEL_WARNING, describe_failover },
  { CHAT_EVENT_STEPPED_DOWN, G_LOG_LEVEL_MESSAGE, describe_stepped_down },
  { CHAT_EVENT_PEER_DOWN, G_LOG_LEVEL_WARNING, describe_peer_down },
  { CHAT_EVENT_PEER_UP, G_LOG_LEVEL_MESSAGE, describe_peer_up },
  { CHAT_EVENT_IN_SYNC_CHANGED, G_LOG_LEVEL_MESSAGE, describe_in_sync_changed },
  { CHAT_EVENT_WAITING_FOR_IN_SYNC, G_LOG_LEVEL_MESSAGE, describe_waiting_for_in_sync },
  { CHAT_EVENT_REJOIN_STARTED, G_LOG_LEVEL_MESSAGE, describe_rejoin_started },
  { CHAT_EVENT_REJOIN_DONE, G_LOG_LEVEL_MESSAGE, describe_rejoin_done },
  { CHAT_EVENT_SNAPSHOT_SENT, G_LOG_LEVEL_MESSAGE, describe_snapshot_sent },
  { CHAT_EVENT_SNAPSHOT_INSTALLED, G_LOG_LEVEL_MESSAGE, describe_snapshot_installed },
  { CHAT_EVENT_FORCE_LEADER, G_LOG_LEVEL_WARNING, describe_force_leader },
  { CHAT_EVENT_TRANSFER_STARTED, G_LOG_LEVEL_MESSAGE, describe_transfer_started },
  { CHAT_EVENT_DIVERGED, G_LOG_LEVEL_WARNING, describe_diverged },
  { CHAT_EVENT_WAITING_TO_FOUND, G_LOG_LEVEL_MESSAGE, describe_waiting_to_found },
  { CHAT_EVENT_CLUSTER_EXISTS, G_LOG_LEVEL_WARNING, describe_cluster_exists },
  { CHAT_EVENT_FOREIGN_CLUSTER, G_LOG_LEVEL_WARNING, describe_foreign_cluster },
};

static const EventKind *
find_kind (const char *event)
{
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (g_str_equal (kinds[i].event, event))
      return &kinds[i];
  return NULL;
}

/* An event only another module knows (replay-queued, ...) says what happened in its detail. */
static void
describe_other (GString *out, const ChatJournalEntry *e, const char *node)
{
  if (e->detail != NULL)
    g_string_append_printf (out, "%s: %s", node, e->detail);
  else
    g_string_append_printf (out, "%s: %s in term %" G_GUINT64_FORMAT, node, e->event, e->term);
}

static char *
get_node (void)
{
  char *copy;

  G_LOCK (node);
  copy = g_strdup (node_address);
  G_UNLOCK (node);
  return copy;
}

char *
chat_journal_describe_entry (const ChatJournalEntry *entry, const char *node)
{
  const EventKind *kind;
  g_autofree char *own = NULL;
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (entry != NULL && entry->event != NULL, NULL);

  if (node == NULL)
    node = own = get_node ();
  if (node == NULL)
    node = "this server";
  kind = find_kind (entry->event);
  if (kind == NULL)
    {
      describe_other (out, entry, node);
      return g_string_free (out, FALSE);
    }
  kind->describe (out, entry, node);
  if (entry->detail != NULL)
    g_string_append_printf (out, ": %s", entry->detail);
  return g_string_free (out, FALSE);
}

/* --- records ----------------------------------------------------------------------------- */

void
chat_journal_set_node (const char *node)
{
  G_LOCK (node);
  g_free (node_address);
  node_address = g_strdup (node);
  G_UNLOCK (node);
}

char *
chat_journal_identifier (void)
{
  g_autofree char *node = get_node ();
  const char *colon = node != NULL ? strrchr (node, ':') : NULL;

  if (colon == NULL || colon[1] == '\0')
    return g_strdup ("chatd");
  return g_strdup_printf ("chatd@%s", colon + 1);
}

static void
add_field (GArray *fields, const char *key, const char *value)
{
  GLogField field = { key, value, -1 };

  if (value != NULL)
    g_array_append_val (fields, field);
}

static char *
number_or_null (guint64 value)
{
  return value > 0 ? g_strdup_printf ("%" G_GUINT64_FORMAT, value) : NULL;
}

void
chat_journal_log (const ChatJournalEntry *entry)
{
  const EventKind *kind = find_kind (entry->event);
  GLogLevelFlags level = kind != NULL ? kind->level : G_LOG_LEVEL_MESSAGE;
  g_autofree char *node = get_node ();
  g_autofree char *message = chat_journal_describe_entry (entry, node);
  g_autofree char *term = number_or_null (entry->term);
  g_autofree char *index = number_or_null (entry->index);
  g_autofree char *downtime = NULL;
  g_autoptr (GArray) fields = g_array_new (FALSE, FALSE, sizeof (GLogField));

  if (entry->downtime_ms >= 0)
    downtime = g_strdup_printf ("%" G_GINT64_FORMAT, entry->downtime_ms);
  add_field (fields, "MESSAGE", message);
  add_field (fields, "PRIORITY", level == G_LOG_LEVEL_WARNING ? "4" : "5");
  add_field (fields, "GLIB_DOMAIN", CHAT_JOURNAL_DOMAIN);
  add_field (fields, "CHATD_EVENT", entry->event);
  add_field (fields, "CHATD_NODE", node);
  add_field (fields, "CHATD_TERM", term);
  add_field (fields, "CHATD_LEADER", entry->leader);
  add_field (fields, "CHATD_SERVER", entry->server);
  add_field (fields, "CHATD_INDEX", index);
  add_field (fields, "CHATD_DOWNTIME_MS", downtime);
  g_log_structured_array (level, (const GLogField *)fields->data, fields->len);
}

void
chat_journal_event (const char *event, guint64 term, const char *leader, const char *server,
                    const char *detail_format, ...)
{
  ChatJournalEntry entry = CHAT_JOURNAL_ENTRY_INIT (event);
  g_autofree char *detail = NULL;
  va_list args;

  g_return_if_fail (event != NULL);

  if (detail_format != NULL)
    {
      va_start (args, detail_format);
      detail = g_strdup_vprintf (detail_format, args);
      va_end (args);
    }
  entry.term = term;
  entry.leader = leader;
  entry.server = server;
  entry.detail = detail;
  chat_journal_log (&entry);
}

/* --- the writer ------------------------------------------------------------------------- */

/* journalctl tells servers apart by SYSLOG_IDENTIFIER (chatd@5555[41]: ...), not by PID. */
static GLogWriterOutput
write_with_identifier (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                       gpointer user_data)
{
  g_autofree char *identifier = chat_journal_identifier ();
  g_autoptr (GArray) all = g_array_sized_new (FALSE, FALSE, sizeof (GLogField), n_fields + 1);
  GLogField own = { "SYSLOG_IDENTIFIER", identifier, -1 };

  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "SYSLOG_IDENTIFIER") != 0)
      g_array_append_val (all, fields[i]);
  g_array_append_val (all, own);
  return g_log_writer_default (level, (const GLogField *)all->data, all->len, user_data);
}

void
chat_journal_install_writer (void)
{
  g_log_set_writer_func (write_with_identifier, NULL, NULL);
}
