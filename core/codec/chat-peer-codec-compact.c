/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Decodes the peer codec's own compact text without building a json-glib tree. */
#include "chat-peer-codec-private.h"

#include <stddef.h>
#include <string.h>

/* A catching-up follower decodes appends of a thousand entries at a time; json-glib's
 * scanner and tree cost more than the rest of its receive path (docs/benchmarks.md).
 * This reader accepts only the subset the encoder writes and gives up (NULL) on anything
 * else, so it never has to agree with json-glib on an error: whatever it refuses goes
 * through the json-glib decoder, which decides. What it accepts, it must decode exactly
 * as that decoder would (test-chat-peer-codec compares them). */

typedef enum
{
  KIND_UINT,
  KIND_BOOL,
  KIND_NAME,
  KIND_BYTES,
  KIND_NODE_SET,
  KIND_ENTRIES,
} Kind;

typedef enum
{
  F_TYPE,
  F_FROM,
  F_TO,
  F_TERM,
  F_INCARNATION,
  F_CLUSTER,
  F_ISR,
  F_REJOIN,
  F_LAST_INDEX,
  F_LAST_TERM,
  F_TRANSFER,
  F_GRANTED,
  F_VOUCH,
  F_PREV_INDEX,
  F_PREV_TERM,
  F_COMMIT,
  F_MAJORITY_INDEX,
  F_EVERYWHERE_INDEX,
  F_REJOIN_HEARD,
  F_ENTRIES,
  F_SUCCESS,
  F_MATCH_INDEX,
  F_HINT_INDEX,
  F_SNAPSHOT_INDEX,
  F_SNAPSHOT_TERM,
  F_OFFSET,
  F_DONE,
  F_SNAPSHOT_ISR,
  F_TOTAL,
  F_DATA,
  N_FIELDS
} Field;

#define BIT(f) (G_GUINT64_CONSTANT (1) << (f))
#define NO_OFFSET G_MAXSIZE

typedef struct
{
  const char *name;
  Kind kind;
  gsize offset; /* in ChatReplMessage, for the kinds stored as they are */
} FieldInfo;

#define AT(member) offsetof (ChatReplMessage, member)

static const FieldInfo fields[N_FIELDS] = {
  [F_TYPE] = { "type", KIND_NAME, NO_OFFSET },
  [F_FROM] = { "from", KIND_UINT, NO_OFFSET },
  [F_TO] = { "to", KIND_UINT, NO_OFFSET },
  [F_TERM] = { "term", KIND_UINT, AT (term) },
  [F_INCARNATION] = { "incarnation", KIND_UINT, AT (incarnation) },
  [F_CLUSTER] = { "cluster", KIND_UINT, AT (cluster) },
  [F_ISR] = { "isr", KIND_NODE_SET, AT (isr) },
  [F_REJOIN] = { "rejoin", KIND_UINT, AT (rejoin) },
  [F_LAST_INDEX] = { "last_index", KIND_UINT, AT (last_index) },
  [F_LAST_TERM] = { "last_term", KIND_UINT, AT (last_term) },
  [F_TRANSFER] = { "transfer", KIND_BOOL, AT (transfer) },
  [F_GRANTED] = { "granted", KIND_BOOL, AT (granted) },
  [F_VOUCH] = { "vouch", KIND_NODE_SET, AT (vouch) },
  [F_PREV_INDEX] = { "prev_index", KIND_UINT, AT (prev_index) },
  [F_PREV_TERM] = { "prev_term", KIND_UINT, AT (prev_term) },
  [F_COMMIT] = { "commit", KIND_UINT, AT (commit) },
  [F_MAJORITY_INDEX] = { "majority_index", KIND_UINT, AT (majority_index) },
  [F_EVERYWHERE_INDEX] = { "everywhere_index", KIND_UINT, AT (everywhere_index) },
  [F_REJOIN_HEARD] = { "rejoin_heard", KIND_UINT, AT (rejoin_heard) },
  [F_ENTRIES] = { "entries", KIND_ENTRIES, NO_OFFSET },
  [F_SUCCESS] = { "success", KIND_BOOL, AT (success) },
  [F_MATCH_INDEX] = { "match_index", KIND_UINT, AT (match_index) },
  [F_HINT_INDEX] = { "hint_index", KIND_UINT, AT (hint_index) },
  [F_SNAPSHOT_INDEX] = { "snapshot_index", KIND_UINT, AT (snapshot_index) },
  [F_SNAPSHOT_TERM] = { "snapshot_term", KIND_UINT, AT (snapshot_term) },
  [F_OFFSET] = { "offset", KIND_UINT, AT (offset) },
  [F_DONE] = { "done", KIND_BOOL, AT (done) },
  [F_SNAPSHOT_ISR] = { "snapshot_isr", KIND_NODE_SET, AT (snapshot_isr) },
  [F_TOTAL] = { "total", KIND_UINT, AT (total) },
  [F_DATA] = { "data", KIND_BYTES, NO_OFFSET },
};

/* Members every message has; the ones it may have; then per type (as the json-glib decoder
 * reads them) the ones it needs and the further ones it reads if present. */
#define COMMON_NEEDED (BIT (F_TYPE) | BIT (F_FROM) | BIT (F_TO) | BIT (F_TERM))
#define COMMON_OPTIONAL (BIT (F_INCARNATION) | BIT (F_CLUSTER) | BIT (F_ISR) | BIT (F_REJOIN))
#define SNAPSHOT_COMMON                                                                            \
  (BIT (F_SNAPSHOT_INDEX) | BIT (F_SNAPSHOT_TERM) | BIT (F_OFFSET) | BIT (F_DONE))

typedef struct
{
  guint64 needed;
  guint64 optional;
} TypeFields;

static TypeFields
type_fields (ChatReplMessageType type)
{
  switch (type)
    {
      case CHAT_REPL_MSG_VOTE_REQUEST:
        return (TypeFields){ BIT (F_LAST_INDEX) | BIT (F_LAST_TERM) | BIT (F_TRANSFER), 0 };
      case CHAT_REPL_MSG_PRE_VOTE_REQUEST:
        return (TypeFields){ BIT (F_LAST_INDEX) | BIT (F_LAST_TERM), 0 };
      case CHAT_REPL_MSG_VOTE_RESPONSE:
      case CHAT_REPL_MSG_PRE_VOTE_RESPONSE:
        return (TypeFields){ BIT (F_GRANTED), BIT (F_LAST_INDEX) | BIT (F_VOUCH) };
      case CHAT_REPL_MSG_APPEND:
        return (
            TypeFields){ BIT (F_PREV_INDEX) | BIT (F_PREV_TERM) | BIT (F_COMMIT) | BIT (F_ENTRIES),
                         BIT (F_MAJORITY_INDEX) | BIT (F_EVERYWHERE_INDEX) | BIT (F_REJOIN_HEARD) };
      case CHAT_REPL_MSG_APPEND_RESPONSE:
        return (TypeFields){ BIT (F_SUCCESS) | BIT (F_MATCH_INDEX) | BIT (F_HINT_INDEX),
                             BIT (F_SNAPSHOT_INDEX) | BIT (F_SNAPSHOT_TERM) };
      case CHAT_REPL_MSG_SNAPSHOT:
        return (TypeFields){ SNAPSHOT_COMMON | BIT (F_SNAPSHOT_ISR) | BIT (F_TOTAL) | BIT (F_DATA),
                             0 };
      case CHAT_REPL_MSG_SNAPSHOT_RESPONSE:
        return (TypeFields){ SNAPSHOT_COMMON | BIT (F_SUCCESS), 0 };
      case CHAT_REPL_MSG_TIMEOUT_NOW:
      default:
        return (TypeFields){ 0, 0 };
    }
}

/* What the scan found, before the type says which members count. */
typedef struct
{
  const char *p;
  const char *end;
  guint64 seen;
  guint64 values[N_FIELDS]; /* KIND_UINT, KIND_BOOL (0/1), KIND_NODE_SET */
  const char *type;         /* F_TYPE: the name, type_len bytes */
  gsize type_len;
  GBytes *data;
  GPtrArray *entries;
} Scan;

static void
scan_clear (Scan *s)
{
  g_clear_pointer (&s->data, g_bytes_unref);
  g_clear_pointer (&s->entries, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Scan, scan_clear)

static gboolean
take (Scan *s, char c)
{
  if (s->p >= s->end || *s->p != c)
    return FALSE;
  s->p++;
  return TRUE;
}

static gboolean
at (Scan *s, char c)
{
  return s->p < s->end && *s->p == c;
}

/* A string without escapes and of printable ASCII only (base64, names). */
static gboolean
scan_string (Scan *s, const char **text, gsize *len)
{
  const char *start;

  if (!take (s, '"'))
    return FALSE;
  start = s->p;
  while (s->p < s->end && *s->p != '"')
    {
      guchar c = (guchar)*s->p;

      if (c < 0x20 || c > 0x7e || c == '\\')
        return FALSE;
      s->p++;
    }
  *text = start;
  *len = (gsize)(s->p - start);
  return take (s, '"');
}

/* A JSON integer from 0 to G_MAXINT64, as json-glib reads it (no sign, no leading zero). */
static gboolean
scan_uint (Scan *s, guint64 *out)
{
  guint64 v = 0;
  guint digits = 0;

  while (s->p < s->end && g_ascii_isdigit (*s->p))
    {
      if (++digits > 19 || (digits == 2 && v == 0))
        return FALSE;
      v = v * 10 + (guint64)(*s->p - '0');
      s->p++;
    }
  /* A fraction or exponent makes a double: not ours. */
  if (digits == 0 || v > (guint64)G_MAXINT64 || at (s, '.') || at (s, 'e') || at (s, 'E'))
    return FALSE;
  *out = v;
  return TRUE;
}

static gboolean
scan_word (Scan *s, const char *word)
{
  gsize n = strlen (word);

  if ((gsize)(s->end - s->p) < n || memcmp (s->p, word, n) != 0)
    return FALSE;
  s->p += n;
  return TRUE;
}

static gboolean
scan_bool (Scan *s, guint64 *out)
{
  if (scan_word (s, "true"))
    *out = 1;
  else if (scan_word (s, "false"))
    *out = 0;
  else
    return FALSE;
  return TRUE;
}

static GBytes *
scan_bytes (Scan *s)
{
  const char *text;
  gsize len = 0, written;
  gint state = 0;
  guint save = 0;
  guchar *data;

  if (!scan_string (s, &text, &len) || !chat_peer_codec_base64_ok (text, len))
    return NULL;
  data = g_malloc (len / 4 * 3 + 3);
  written = g_base64_decode_step (text, len, data, &state, &save);
  return g_bytes_new_take (data, written);
}

/* [id,...]: ids 1..CHAT_REPL_MAX_NODES, at most that many. */
static gboolean
scan_node_set (Scan *s, guint64 *out)
{
  guint count = 0;

  *out = 0;
  if (!take (s, '['))
    return FALSE;
  if (take (s, ']'))
    return TRUE;
  do
    {
      guint64 id;

      if (++count > CHAT_REPL_MAX_NODES || !scan_uint (s, &id) || id < 1
          || id > CHAT_REPL_MAX_NODES)
        return FALSE;
      *out |= CHAT_REPL_NODE_BIT (id);
    }
  while (take (s, ','));
  return take (s, ']');
}

static gboolean
scan_entry_type (Scan *s, ChatReplEntryType *type)
{
  const char *text;
  gsize len = 0;

  if (!scan_string (s, &text, &len))
    return FALSE;
  for (guint t = 0; t < G_N_ELEMENTS (chat_peer_codec_entry_types); t++)
    {
      if (strlen (chat_peer_codec_entry_types[t]) == len
          && memcmp (text, chat_peer_codec_entry_types[t], len) == 0)
        {
          *type = (ChatReplEntryType)t;
          return TRUE;
        }
    }
  return FALSE;
}

/* {"term":T,"index":I,"type":"op","data":"..."}: the encoder's order, nothing else. */
static ChatReplEntry *
scan_entry (Scan *s)
{
  guint64 term = 0, index = 0;
  ChatReplEntryType type = CHAT_REPL_ENTRY_NOOP;
  g_autoptr (GBytes) data = NULL;

  if (!scan_word (s, "{\"term\":") || !scan_uint (s, &term) || !scan_word (s, ",\"index\":")
      || !scan_uint (s, &index) || !scan_word (s, ",\"type\":") || !scan_entry_type (s, &type)
      || !scan_word (s, ",\"data\":") || (data = scan_bytes (s)) == NULL || !take (s, '}'))
    return NULL;
  return chat_repl_entry_new (term, index, type, data);
}

static gboolean
scan_entries (Scan *s)
{
  s->entries = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  if (!take (s, '['))
    return FALSE;
  if (take (s, ']'))
    return TRUE;
  do
    {
      ChatReplEntry *e = NULL;

      if (s->entries->len == CHAT_PEER_CODEC_MAX_ENTRIES || (e = scan_entry (s)) == NULL)
        return FALSE;
      g_ptr_array_add (s->entries, e);
    }
  while (take (s, ','));
  return take (s, ']');
}

static gboolean
scan_value (Scan *s, Field f)
{
  switch (fields[f].kind)
    {
      case KIND_UINT:
        return scan_uint (s, &s->values[f]);
      case KIND_BOOL:
        return scan_bool (s, &s->values[f]);
      case KIND_NAME:
        return scan_string (s, &s->type, &s->type_len);
      case KIND_BYTES:
        return (s->data = scan_bytes (s)) != NULL;
      case KIND_NODE_SET:
        return scan_node_set (s, &s->values[f]);
      case KIND_ENTRIES:
        return scan_entries (s);
      default:
        return FALSE;
    }
}

/* "name": one of the known members, not seen before. */
static gboolean
scan_member_name (Scan *s, Field *out)
{
  const char *name;
  gsize len = 0;

  if (!scan_string (s, &name, &len) || !take (s, ':'))
    return FALSE;
  for (guint f = 0; f < N_FIELDS; f++)
    {
      if (strlen (fields[f].name) == len && memcmp (name, fields[f].name, len) == 0)
        {
          if (s->seen & BIT (f))
            return FALSE;
          s->seen |= BIT (f);
          *out = (Field)f;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
scan_object (Scan *s)
{
  if (!take (s, '{'))
    return FALSE;
  do
    {
      Field f = N_FIELDS;

      if (!scan_member_name (s, &f) || !scan_value (s, f))
        return FALSE;
    }
  while (take (s, ','));
  return take (s, '}') && s->p == s->end;
}

static gboolean
find_type (const Scan *s, ChatReplMessageType *type)
{
  for (guint t = CHAT_REPL_MSG_VOTE_REQUEST; t <= CHAT_REPL_MSG_TYPE_LAST; t++)
    {
      const char *name = chat_repl_message_type_to_string (t);

      if (strlen (name) == s->type_len && memcmp (s->type, name, s->type_len) == 0)
        {
          *type = (ChatReplMessageType)t;
          return TRUE;
        }
    }
  return FALSE;
}

/* Stores the members the type reads; the others are ignored, as json-glib's decoder does. */
static void
store_fields (Scan *s, ChatReplMessage *m, guint64 wanted)
{
  for (guint f = 0; f < N_FIELDS; f++)
    {
      guint8 *slot = NULL;

      /* NO_OFFSET is not an offset: the slot is computed only for a real one. */
      if (!(wanted & s->seen & BIT (f)) || fields[f].offset == NO_OFFSET)
        continue;
      slot = (guint8 *)m + fields[f].offset;
      if (fields[f].kind == KIND_BOOL)
        *(gboolean *)slot = s->values[f] != 0;
      else
        *(guint64 *)slot = s->values[f];
    }
  if (wanted & s->seen & BIT (F_DATA))
    m->data = g_steal_pointer (&s->data);
  if (wanted & s->seen & BIT (F_ENTRIES))
    {
      g_ptr_array_extend_and_steal (m->entries, g_steal_pointer (&s->entries));
    }
}

ChatReplMessage *
chat_peer_codec_decode_compact (const char *line, gsize len)
{
  g_auto (Scan) s = { .p = line, .end = line + len };
  ChatReplMessageType type = CHAT_REPL_MSG_VOTE_REQUEST;
  TypeFields wanted;
  ChatReplMessage *m;

  if (!scan_object (&s) || (s.seen & COMMON_NEEDED) != COMMON_NEEDED || !find_type (&s, &type)
      || s.values[F_FROM] > 255 || s.values[F_TO] > 255)
    return NULL;
  wanted = type_fields (type);
  if ((s.seen & wanted.needed) != wanted.needed)
    return NULL;
  m = chat_repl_message_new (type, (guint)s.values[F_FROM], (guint)s.values[F_TO], 0);
  store_fields (&s, m, COMMON_NEEDED | COMMON_OPTIONAL | wanted.needed | wanted.optional);
  return m;
}
