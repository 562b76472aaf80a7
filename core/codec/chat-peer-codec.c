/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Encodes and validates the replication core's peer messages as JSON with json-glib. */
#include "chat-peer-codec.h"

#include <json-glib/json-glib.h>
#include <string.h>

G_DEFINE_QUARK (chat - peer - codec - error - quark, chat_peer_codec_error)

static const char *const entry_types[] = { "noop", "op", "in_sync_set", "config" };

static void
add_uint (JsonBuilder *b, const char *name, guint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, (gint64)value);
}

static void
add_bool (JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

static void
add_bytes (JsonBuilder *b, const char *name, GBytes *bytes)
{
  gsize size = 0;
  const guchar *data = bytes != NULL ? g_bytes_get_data (bytes, &size) : NULL;
  g_autofree char *text = g_base64_encode (data, size);

  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, text);
}

static void
add_node_set (JsonBuilder *b, const char *name, ChatReplNodeSet set)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint id = 1; id <= CHAT_REPL_MAX_NODES; id++)
    {
      if (CHAT_REPL_NODE_SET_HAS (set, id))
        json_builder_add_int_value (b, id);
    }
  json_builder_end_array (b);
}

static void
add_entries (JsonBuilder *b, GPtrArray *entries)
{
  json_builder_set_member_name (b, "entries");
  json_builder_begin_array (b);
  for (guint i = 0; i < entries->len; i++)
    {
      ChatReplEntry *e = g_ptr_array_index (entries, i);

      json_builder_begin_object (b);
      add_uint (b, "term", e->term);
      add_uint (b, "index", e->index);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, entry_types[MIN (e->type, CHAT_REPL_ENTRY_TYPE_LAST)]);
      add_bytes (b, "data", e->data);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
add_fields (JsonBuilder *b, const ChatReplMessage *m)
{
  switch (m->type)
    {
      case CHAT_REPL_MSG_VOTE_REQUEST:
      case CHAT_REPL_MSG_PRE_VOTE_REQUEST:
        add_uint (b, "last_index", m->last_index);
        add_uint (b, "last_term", m->last_term);
        if (m->type == CHAT_REPL_MSG_VOTE_REQUEST)
          add_bool (b, "transfer", m->transfer);
        break;
      case CHAT_REPL_MSG_VOTE_RESPONSE:
      case CHAT_REPL_MSG_PRE_VOTE_RESPONSE:
        add_bool (b, "granted", m->granted);
        add_uint (b, "last_index", m->last_index);
        break;
      case CHAT_REPL_MSG_APPEND:
        add_uint (b, "prev_index", m->prev_index);
        add_uint (b, "prev_term", m->prev_term);
        add_uint (b, "commit", m->commit);
        if (m->majority_index != 0)
          add_uint (b, "majority_index", m->majority_index);
        if (m->everywhere_index != 0)
          add_uint (b, "everywhere_index", m->everywhere_index);
        add_entries (b, m->entries);
        break;
      case CHAT_REPL_MSG_APPEND_RESPONSE:
        add_bool (b, "success", m->success);
        add_uint (b, "match_index", m->match_index);
        add_uint (b, "hint_index", m->hint_index);
        break;
      case CHAT_REPL_MSG_SNAPSHOT:
      case CHAT_REPL_MSG_SNAPSHOT_RESPONSE:
        add_uint (b, "snapshot_index", m->snapshot_index);
        add_uint (b, "snapshot_term", m->snapshot_term);
        add_uint (b, "offset", m->offset);
        add_bool (b, "done", m->done);
        if (m->type == CHAT_REPL_MSG_SNAPSHOT_RESPONSE)
          {
            add_bool (b, "success", m->success);
            break;
          }
        add_node_set (b, "snapshot_isr", m->snapshot_isr);
        add_uint (b, "total", m->total);
        add_bytes (b, "data", m->data);
        break;
      case CHAT_REPL_MSG_TIMEOUT_NOW:
      default:
        break;
    }
}

char *
chat_peer_codec_encode (const ChatReplMessage *message, gsize *length)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  const char *type = chat_repl_message_type_to_string (message->type);

  g_return_val_if_fail (type != NULL, NULL);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, type);
  add_uint (b, "from", message->from);
  add_uint (b, "to", message->to);
  add_uint (b, "term", message->term);
  if (message->incarnation != 0)
    add_uint (b, "incarnation", MIN (message->incarnation, (guint64)G_MAXINT64));
  if (message->cluster != 0)
    add_uint (b, "cluster", MIN (message->cluster, (guint64)G_MAXINT64));
  if (message->isr != 0)
    add_node_set (b, "isr", message->isr);
  add_fields (b, message);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, length);
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

static gboolean
base64_ok (const char *s, gsize len)
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
  if (!base64_ok (text, strlen (text)))
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
  for (guint t = 0; type != NULL && t < G_N_ELEMENTS (entry_types); t++)
    {
      if (g_strcmp0 (type, entry_types[t]) == 0)
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
               && get_optional_uint (o, "last_index", &m->last_index, error);
      case CHAT_REPL_MSG_APPEND:
        return get_uint (o, "prev_index", G_MAXINT64, &m->prev_index, error)
               && get_uint (o, "prev_term", G_MAXINT64, &m->prev_term, error)
               && get_uint (o, "commit", G_MAXINT64, &m->commit, error)
               && (!json_object_has_member (o, "majority_index")
                   || get_uint (o, "majority_index", G_MAXINT64, &m->majority_index, error))
               && (!json_object_has_member (o, "everywhere_index")
                   || get_uint (o, "everywhere_index", G_MAXINT64, &m->everywhere_index, error))
               && decode_entries (o, m, error);
      case CHAT_REPL_MSG_APPEND_RESPONSE:
        return get_bool (o, "success", &m->success, error)
               && get_uint (o, "match_index", G_MAXINT64, &m->match_index, error)
               && get_uint (o, "hint_index", G_MAXINT64, &m->hint_index, error);
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
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (ChatReplMessage) m = NULL;
  gsize len = length < 0 ? strlen (line) : (gsize)length;
  JsonNode *root;
  JsonObject *o;
  ChatReplMessageType type;
  guint64 from, to, term;

  if (len > CHAT_PEER_CODEC_MAX_LINE)
    {
      g_set_error (error, CHAT_PEER_CODEC_ERROR, CHAT_PEER_CODEC_ERROR_TOO_LARGE,
                   "peer message of %" G_GSIZE_FORMAT " bytes is too large", len);
      return NULL;
    }
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
      || !get_optional_uint (o, "cluster", &m->cluster, error) || !decode_fields (o, m, error))
    return NULL;
  return g_steal_pointer (&m);
}
