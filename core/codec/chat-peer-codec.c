/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Encodes and validates the replication core's peer messages as JSON with json-glib. */
#include "chat-peer-codec-private.h"

#include "chat-json.h"

#include <json-glib/json-glib.h>
#include <string.h>

G_DEFINE_QUARK (chat - peer - codec - error - quark, chat_peer_codec_error)

const char *const chat_peer_codec_entry_types[4] = { "noop", "op", "in_sync_set", "config" };

/* ---- encoding ----
 *
 * The encoder writes the text itself rather than through a JsonBuilder tree and a
 * JsonGenerator: every value is a number, a boolean, a fixed name or base64, none of which
 * needs escaping, and the tree cost more than the rest of the encoding (docs/benchmarks.md).
 * The text is what json-glib's generator prints for the same members in the same order
 * (test-chat-peer-codec checks it), so peers of either kind read each other. */

static void
put_name (GString *out, const char *name)
{
  g_string_append (out, ",\"");
  g_string_append (out, name);
  g_string_append (out, "\":");
}

static void
add_uint (GString *out, const char *name, guint64 value)
{
  put_name (out, name);
  chat_json_append_int (out, (gint64)value);
}

static void
add_bool (GString *out, const char *name, gboolean value)
{
  put_name (out, name);
  g_string_append (out, value ? "true" : "false");
}

/* A string member: base64 never needs escaping. */
static void
add_bytes (GString *out, const char *name, GBytes *bytes)
{
  gsize size = 0;
  const guchar *data = bytes != NULL ? g_bytes_get_data (bytes, &size) : NULL;
  gsize start = 0, written = 0;
  int state = 0, save = 0;

  put_name (out, name);
  g_string_append_c (out, '"');
  start = out->len;
  /* g_base64_encode_step's bound for its output and the closing bytes. */
  g_string_set_size (out, start + (size / 3 + 1) * 4 + 4);
  written = g_base64_encode_step (data, size, FALSE, out->str + start, &state, &save);
  written += g_base64_encode_close (FALSE, out->str + start + written, &state, &save);
  g_string_truncate (out, start + written);
  g_string_append_c (out, '"');
}

static void
add_string (GString *out, const char *name, const char *value)
{
  put_name (out, name);
  g_string_append_c (out, '"');
  g_string_append (out, value);
  g_string_append_c (out, '"');
}

static void
add_node_set (GString *out, const char *name, ChatReplNodeSet set)
{
  gboolean first = TRUE;

  put_name (out, name);
  g_string_append_c (out, '[');
  for (guint id = 1; id <= CHAT_REPL_MAX_NODES; id++)
    {
      if (!CHAT_REPL_NODE_SET_HAS (set, id))
        continue;
      if (!first)
        g_string_append_c (out, ',');
      chat_json_append_int (out, id);
      first = FALSE;
    }
  g_string_append_c (out, ']');
}

static void
add_entries (GString *out, GPtrArray *entries)
{
  put_name (out, "entries");
  g_string_append_c (out, '[');
  for (guint i = 0; i < entries->len; i++)
    {
      ChatReplEntry *e = g_ptr_array_index (entries, i);

      /* The first member has no comma before it: "term" is written by hand. */
      g_string_append (out, i == 0 ? "{\"term\":" : ",{\"term\":");
      chat_json_append_int (out, (gint64)e->term);
      add_uint (out, "index", e->index);
      add_string (out, "type",
                  chat_peer_codec_entry_types[MIN (e->type, CHAT_REPL_ENTRY_TYPE_LAST)]);
      add_bytes (out, "data", e->data);
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, ']');
}

static void
add_fields (GString *out, const ChatReplMessage *m)
{
  switch (m->type)
    {
      case CHAT_REPL_MSG_VOTE_REQUEST:
      case CHAT_REPL_MSG_PRE_VOTE_REQUEST:
        add_uint (out, "last_index", m->last_index);
        add_uint (out, "last_term", m->last_term);
        if (m->type == CHAT_REPL_MSG_VOTE_REQUEST)
          add_bool (out, "transfer", m->transfer);
        break;
      case CHAT_REPL_MSG_VOTE_RESPONSE:
      case CHAT_REPL_MSG_PRE_VOTE_RESPONSE:
        add_bool (out, "granted", m->granted);
        add_uint (out, "last_index", m->last_index);
        if (m->vouch != 0)
          add_node_set (out, "vouch", m->vouch);
        break;
      case CHAT_REPL_MSG_APPEND:
        add_uint (out, "prev_index", m->prev_index);
        add_uint (out, "prev_term", m->prev_term);
        add_uint (out, "commit", m->commit);
        if (m->majority_index != 0)
          add_uint (out, "majority_index", m->majority_index);
        if (m->everywhere_index != 0)
          add_uint (out, "everywhere_index", m->everywhere_index);
        if (m->rejoin_heard != 0)
          add_uint (out, "rejoin_heard", MIN (m->rejoin_heard, (guint64)G_MAXINT64));
        add_entries (out, m->entries);
        break;
      case CHAT_REPL_MSG_APPEND_RESPONSE:
        add_bool (out, "success", m->success);
        add_uint (out, "match_index", m->match_index);
        add_uint (out, "hint_index", m->hint_index);
        if (m->snapshot_index != 0) /* available mode: the follower's own snapshot */
          {
            add_uint (out, "snapshot_index", m->snapshot_index);
            add_uint (out, "snapshot_term", m->snapshot_term);
          }
        break;
      case CHAT_REPL_MSG_SNAPSHOT:
      case CHAT_REPL_MSG_SNAPSHOT_RESPONSE:
        add_uint (out, "snapshot_index", m->snapshot_index);
        add_uint (out, "snapshot_term", m->snapshot_term);
        add_uint (out, "offset", m->offset);
        add_bool (out, "done", m->done);
        if (m->type == CHAT_REPL_MSG_SNAPSHOT_RESPONSE)
          {
            add_bool (out, "success", m->success);
            break;
          }
        add_node_set (out, "snapshot_isr", m->snapshot_isr);
        add_uint (out, "total", m->total);
        add_bytes (out, "data", m->data);
        break;
      case CHAT_REPL_MSG_TIMEOUT_NOW:
      default:
        break;
    }
}

char *
chat_peer_codec_encode (const ChatReplMessage *message, gsize *length)
{
  const char *type = chat_repl_message_type_to_string (message->type);
  GString *out = NULL;

  g_return_val_if_fail (type != NULL, NULL);
  out = g_string_sized_new (256);
  g_string_append (out, "{\"type\":\"");
  g_string_append (out, type);
  g_string_append_c (out, '"');
  add_uint (out, "from", message->from);
  add_uint (out, "to", message->to);
  add_uint (out, "term", message->term);
  if (message->incarnation != 0)
    add_uint (out, "incarnation", MIN (message->incarnation, (guint64)G_MAXINT64));
  if (message->cluster != 0)
    add_uint (out, "cluster", MIN (message->cluster, (guint64)G_MAXINT64));
  if (message->isr != 0)
    add_node_set (out, "isr", message->isr);
  if (message->rejoin != 0)
    add_uint (out, "rejoin", MIN (message->rejoin, (guint64)G_MAXINT64));
  add_fields (out, message);
  g_string_append_c (out, '}');
  if (length != NULL)
    *length = out->len;
  return g_string_free (out, FALSE);
}

/* ---- decoding ---- */

/* json-glib's parser recurses per nesting level: bound the depth before parsing. */
static gboolean
depth_ok (const char *text, gsize len)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > CHAT_PEER_CODEC_MAX_DEPTH)
            return FALSE;
        }
      else if ((c == '}' || c == ']') && depth > 0)
        depth--;
    }
  return TRUE;
}

static gboolean
fail (GError **error, const char *what)
{
  g_set_error (error, CHAT_PEER_CODEC_ERROR, CHAT_PEER_CODEC_ERROR_INVALID,
               "invalid peer message: %s", what);
  return FALSE;
}

static gboolean
get_uint (JsonObject *o, const char *name, guint64 max, guint64 *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  gint64 v;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return fail (error, name);
  v = json_node_get_int (n);
  if (v < 0 || (guint64)v > max)
    return fail (error, name);
  *out = (guint64)v;
  return TRUE;
}

static gboolean
get_bool (JsonObject *o, const char *name, gboolean *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return fail (error, name);
  *out = json_node_get_boolean (n);
  return TRUE;
}

gboolean
chat_peer_codec_base64_ok (const char *s, gsize len)
{
  gsize pad = 0;

  if (len % 4 != 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = s[i];

      if (c == '=')
        {
          if (i < len - 2)
            return FALSE;
          pad++;
        }
      else if (pad > 0 || !(g_ascii_isalnum (c) || c == '+' || c == '/'))
        return FALSE;
    }
  return TRUE;
}

static GBytes *
get_bytes (JsonObject *o, const char *name, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  const char *text;
  gsize out_len = 0;
  guchar *data;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      fail (error, name);
      return NULL;
    }
  text = json_node_get_string (n);
  if (!chat_peer_codec_base64_ok (text, strlen (text)))
    {
      fail (error, name);
      return NULL;
    }
  data = g_base64_decode (text, &out_len);
  return g_bytes_new_take (data, out_len);
}

static ChatReplEntry *
decode_entry (JsonNode *n, GError **error)
{
  JsonObject *o;
  guint64 term, index;
  const char *type;
  g_autoptr (GBytes) data = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (n))
    {
      fail (error, "entry");
      return NULL;
    }
  o = json_node_get_object (n);
  if (!get_uint (o, "term", G_MAXINT64, &term, error)
      || !get_uint (o, "index", G_MAXINT64, &index, error))
    return NULL;
  type = json_object_get_string_member_with_default (o, "type", NULL);
  data = get_bytes (o, "data", error);
  if (data == NULL)
    return NULL;
  for (guint t = 0; type != NULL && t < G_N_ELEMENTS (chat_peer_codec_entry_types); t++)
    {
      if (g_strcmp0 (type, chat_peer_codec_entry_types[t]) == 0)
        return chat_repl_entry_new (term, index, (ChatReplEntryType)t, data);
    }
  fail (error, "entry type");
  return NULL;
}

static gboolean
decode_entries (JsonObject *o, ChatReplMessage *m, GError **error)
{
  JsonNode *n = json_object_get_member (o, "entries");
  JsonArray *a;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return fail (error, "entries");
  a = json_node_get_array (n);
  if (json_array_get_length (a) > CHAT_PEER_CODEC_MAX_ENTRIES)
    return fail (error, "too many entries");
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      ChatReplEntry *e = decode_entry (json_array_get_element (a, i), error);

      if (e == NULL)
        return FALSE;
      g_ptr_array_add (m->entries, e);
    }
  return TRUE;
}

/* A member that older peers do not send: absent means 0. */
static gboolean
get_optional_uint (JsonObject *o, const char *name, guint64 *out, GError **error)
{
  *out = 0;
  return !json_object_has_member (o, name) || get_uint (o, name, G_MAXINT64, out, error);
}

static gboolean
decode_node_set (JsonObject *o, const char *name, ChatReplNodeSet *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  JsonArray *a;

  *out = 0;
  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return fail (error, name);
  a = json_node_get_array (n);
  if (json_array_get_length (a) > CHAT_REPL_MAX_NODES)
    return fail (error, name);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      gint64 id;

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64)
        return fail (error, name);
      id = json_node_get_int (e);
      if (id < 1 || id > CHAT_REPL_MAX_NODES)
        return fail (error, name);
      *out |= CHAT_REPL_NODE_BIT (id);
    }
  return TRUE;
}

static gboolean
decode_snapshot (JsonObject *o, ChatReplMessage *m, GError **error)
{
  if (!get_uint (o, "snapshot_index", G_MAXINT64, &m->snapshot_index, error)
      || !get_uint (o, "snapshot_term", G_MAXINT64, &m->snapshot_term, error)
      || !get_uint (o, "offset", G_MAXINT64, &m->offset, error)
      || !get_bool (o, "done", &m->done, error))
    return FALSE;
  if (m->type == CHAT_REPL_MSG_SNAPSHOT_RESPONSE)
    return get_bool (o, "success", &m->success, error);
  if (!decode_node_set (o, "snapshot_isr", &m->snapshot_isr, error)
      || !get_uint (o, "total", G_MAXINT64, &m->total, error))
    return FALSE;
  m->data = get_bytes (o, "data", error);
  return m->data != NULL;
}

static gboolean
decode_fields (JsonObject *o, ChatReplMessage *m, GError **error)
{
  switch (m->type)
    {
      case CHAT_REPL_MSG_VOTE_REQUEST:
        return get_uint (o, "last_index", G_MAXINT64, &m->last_index, error)
               && get_uint (o, "last_term", G_MAXINT64, &m->last_term, error)
               && get_bool (o, "transfer", &m->transfer, error);
      case CHAT_REPL_MSG_PRE_VOTE_REQUEST:
        return get_uint (o, "last_index", G_MAXINT64, &m->last_index, error)
               && get_uint (o, "last_term", G_MAXINT64, &m->last_term, error);
      case CHAT_REPL_MSG_VOTE_RESPONSE:
      case CHAT_REPL_MSG_PRE_VOTE_RESPONSE:
        return get_bool (o, "granted", &m->granted, error)
               && get_optional_uint (o, "last_index", &m->last_index, error)
               && (!json_object_has_member (o, "vouch")
                   || decode_node_set (o, "vouch", &m->vouch, error));
      case CHAT_REPL_MSG_APPEND:
        return get_uint (o, "prev_index", G_MAXINT64, &m->prev_index, error)
               && get_uint (o, "prev_term", G_MAXINT64, &m->prev_term, error)
               && get_uint (o, "commit", G_MAXINT64, &m->commit, error)
               && get_optional_uint (o, "majority_index", &m->majority_index, error)
               && get_optional_uint (o, "everywhere_index", &m->everywhere_index, error)
               && get_optional_uint (o, "rejoin_heard", &m->rejoin_heard, error)
               && decode_entries (o, m, error);
      case CHAT_REPL_MSG_APPEND_RESPONSE:
        return get_bool (o, "success", &m->success, error)
               && get_uint (o, "match_index", G_MAXINT64, &m->match_index, error)
               && get_uint (o, "hint_index", G_MAXINT64, &m->hint_index, error)
               && get_optional_uint (o, "snapshot_index", &m->snapshot_index, error)
               && get_optional_uint (o, "snapshot_term", &m->snapshot_term, error);
      case CHAT_REPL_MSG_SNAPSHOT:
      case CHAT_REPL_MSG_SNAPSHOT_RESPONSE:
        return decode_snapshot (o, m, error);
      case CHAT_REPL_MSG_TIMEOUT_NOW:
      default:
        return TRUE;
    }
}

static gboolean
decode_type (JsonObject *o, ChatReplMessageType *type, GError **error)
{
  const char *name = json_object_get_string_member_with_default (o, "type", NULL);

  for (guint t = CHAT_REPL_MSG_VOTE_REQUEST; name != NULL && t <= CHAT_REPL_MSG_TYPE_LAST; t++)
    {
      if (g_strcmp0 (name, chat_repl_message_type_to_string (t)) == 0)
        {
          *type = (ChatReplMessageType)t;
          return TRUE;
        }
    }
  return fail (error, "type");
}

ChatReplMessage *
chat_peer_codec_decode (const char *line, gssize length, GError **error)
{
  gsize len = length < 0 ? strlen (line) : (gsize)length;
  ChatReplMessage *m = NULL;

  if (len > CHAT_PEER_CODEC_MAX_LINE)
    {
      g_set_error (error, CHAT_PEER_CODEC_ERROR, CHAT_PEER_CODEC_ERROR_TOO_LARGE,
                   "peer message of %" G_GSIZE_FORMAT " bytes is too large", len);
      return NULL;
    }
  /* The encoder's own text, read directly; anything else through json-glib. */
  m = chat_peer_codec_decode_compact (line, len);
  return m != NULL ? m : chat_peer_codec_decode_generic (line, len, error);
}

ChatReplMessage *
chat_peer_codec_decode_generic (const char *line, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (ChatReplMessage) m = NULL;
  JsonNode *root;
  JsonObject *o;
  ChatReplMessageType type;
  guint64 from, to, term;

  if (!depth_ok (line, len))
    {
      fail (error, "nested too deeply");
      return NULL;
    }
  if (!json_parser_load_from_data (parser, line, (gssize)len, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      fail (error, "not an object");
      return NULL;
    }
  o = json_node_get_object (root);
  if (!decode_type (o, &type, error) || !get_uint (o, "from", 255, &from, error)
      || !get_uint (o, "to", 255, &to, error) || !get_uint (o, "term", G_MAXINT64, &term, error))
    return NULL;
  m = chat_repl_message_new (type, (guint)from, (guint)to, term);
  /* Optional: a peer that predates it sends none. */
  if (json_object_has_member (o, "isr") && !decode_node_set (o, "isr", &m->isr, error))
    return NULL;
  if (!get_optional_uint (o, "incarnation", &m->incarnation, error)
      || !get_optional_uint (o, "cluster", &m->cluster, error)
      || !get_optional_uint (o, "rejoin", &m->rejoin, error) || !decode_fields (o, m, error))
    return NULL;
  return g_steal_pointer (&m);
}
