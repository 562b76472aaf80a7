/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster events as structured log records (CHATD_EVENT=...) for journald. */
#include "config.h"

#include "chat-journal.h"

typedef struct
{
  const char *event;
  GLogLevelFlags level;
  const char *text; /* %L leader, %P peer, %T term */
} ChatJournalTemplate;

static const ChatJournalTemplate templates[] = {
  { CHAT_EVENT_LEADER_ELECTED, G_LOG_LEVEL_MESSAGE, "leader elected: %L leads term %T" },
  { CHAT_EVENT_STEPPED_DOWN, G_LOG_LEVEL_MESSAGE, "stepped down as leader in term %T" },
  { CHAT_EVENT_PEER_DOWN, G_LOG_LEVEL_WARNING, "peer %P is down (term %T)" },
  { CHAT_EVENT_PEER_UP, G_LOG_LEVEL_MESSAGE, "peer %P is up (term %T)" },
  { CHAT_EVENT_IN_SYNC_CHANGED, G_LOG_LEVEL_MESSAGE, "in-sync set changed (term %T)" },
  { CHAT_EVENT_REJOIN_STARTED, G_LOG_LEVEL_MESSAGE, "rejoin started: catching up from %L" },
  { CHAT_EVENT_REJOIN_DONE, G_LOG_LEVEL_MESSAGE, "rejoin done: in sync with %L (term %T)" },
  { CHAT_EVENT_SNAPSHOT_SENT, G_LOG_LEVEL_MESSAGE, "snapshot sent to %P" },
  { CHAT_EVENT_SNAPSHOT_INSTALLED, G_LOG_LEVEL_MESSAGE, "snapshot installed from %L" },
  { CHAT_EVENT_FORCE_LEADER, G_LOG_LEVEL_WARNING,
    "forced to lead by an operator (term %T): writes only the stale servers had may be lost" },
};

G_LOCK_DEFINE_STATIC (node);
static char *node_address;

void
chat_journal_set_node (const char *node)
{
  G_LOCK (node);
  g_free (node_address);
  node_address = g_strdup (node);
  G_UNLOCK (node);
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

static const ChatJournalTemplate *
find_template (const char *event)
{
  for (gsize i = 0; i < G_N_ELEMENTS (templates); i++)
    if (g_str_equal (templates[i].event, event))
      return &templates[i];
  return NULL;
}

static void
expand (GString *out, const char *text, guint64 term, const char *leader, const char *peer)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      if (p[0] != '%' || p[1] == '\0')
        {
          g_string_append_c (out, *p);
          continue;
        }
      p++;
      if (*p == 'L')
        g_string_append (out, leader != NULL ? leader : "(none)");
      else if (*p == 'P')
        g_string_append (out, peer != NULL ? peer : "(none)");
      else if (*p == 'T')
        g_string_append_printf (out, "%" G_GUINT64_FORMAT, term);
      else
        g_string_append_c (out, *p);
    }
}

char *
chat_journal_describe (const char *event, guint64 term, const char *leader, const char *peer)
{
  const ChatJournalTemplate *template;
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (event != NULL, NULL);

  template = find_template (event);
  if (template != NULL)
    expand (out, template->text, term, leader, peer);
  else
    g_string_append_printf (out, "cluster event %s (term %" G_GUINT64_FORMAT ")", event, term);
  return g_string_free (out, FALSE);
}

static void
add_field (GArray *fields, const char *key, const char *value)
{
  GLogField field = { key, value, -1 };

  if (value != NULL)
    g_array_append_val (fields, field);
}

static const char *
priority_for (GLogLevelFlags level)
{
  return level == G_LOG_LEVEL_WARNING ? "4" : "5";
}

static void
log_event (const char *event, guint64 term, const char *leader, const char *peer,
           const char *detail)
{
  const ChatJournalTemplate *template = find_template (event);
  GLogLevelFlags level = template != NULL ? template->level : G_LOG_LEVEL_MESSAGE;
  g_autofree char *node = get_node ();
  g_autofree char *text = chat_journal_describe (event, term, leader, peer);
  g_autofree char *message = NULL;
  g_autofree char *term_text = NULL;
  g_autoptr (GArray) fields = g_array_new (FALSE, FALSE, sizeof (GLogField));

  message = detail != NULL ? g_strdup_printf ("%s: %s", text, detail) : g_strdup (text);
  if (term > 0)
    term_text = g_strdup_printf ("%" G_GUINT64_FORMAT, term);
  add_field (fields, "MESSAGE", message);
  add_field (fields, "PRIORITY", priority_for (level));
  add_field (fields, "GLIB_DOMAIN", CHAT_JOURNAL_DOMAIN);
  add_field (fields, "SYSLOG_IDENTIFIER", "chatd");
  add_field (fields, "CHATD_EVENT", event);
  add_field (fields, "CHATD_NODE", node);
  add_field (fields, "CHATD_TERM", term_text);
  add_field (fields, "CHATD_LEADER", leader);
  add_field (fields, "CHATD_PEER", peer);
  g_log_structured_array (level, (const GLogField *)fields->data, fields->len);
}

void
chat_journal_event (const char *event, guint64 term, const char *leader, const char *peer,
                    const char *detail_format, ...)
{
  g_autofree char *detail = NULL;
  va_list args;

  g_return_if_fail (event != NULL);

  if (detail_format != NULL)
    {
      va_start (args, detail_format);
      detail = g_strdup_vprintf (detail_format, args);
      va_end (args);
    }
  log_event (event, term, leader, peer, detail);
}
