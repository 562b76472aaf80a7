/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the peer message codec: round trips, and hostile input that must be refused. */
#include "chat-peer-codec-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* The encoder writes its text by hand: it must be the text json-glib's generator prints for
 * the same members, so that peers of an older chatd read it and it reads theirs. */
static void
assert_generator_text (const char *text, gsize len)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *again = NULL;

  g_assert_true (json_parser_load_from_data (parser, text, (gssize)len, &error));
  g_assert_no_error (error);
  json_generator_set_root (generator, json_parser_get_root (parser));
  again = json_generator_to_data (generator, NULL);
  g_assert_cmpstr (text, ==, again);
  g_assert_cmpuint (strlen (text), ==, len);
}

static gboolean
same_bytes (GBytes *a, GBytes *b)
{
  return (a == NULL && b == NULL) || (a != NULL && b != NULL && g_bytes_equal (a, b));
}

static void
assert_same_message (const ChatReplMessage *a, const ChatReplMessage *b)
{
  g_assert_true (a->type == b->type && a->from == b->from && a->to == b->to);
  g_assert_true (a->term == b->term && a->last_index == b->last_index
                 && a->last_term == b->last_term);
  g_assert_true (a->transfer == b->transfer && a->granted == b->granted && a->success == b->success
                 && a->done == b->done);
  g_assert_true (a->prev_index == b->prev_index && a->prev_term == b->prev_term
                 && a->commit == b->commit);
  g_assert_true (a->match_index == b->match_index && a->hint_index == b->hint_index);
  g_assert_true (a->snapshot_index == b->snapshot_index && a->snapshot_term == b->snapshot_term
                 && a->snapshot_isr == b->snapshot_isr);
  g_assert_true (a->offset == b->offset && a->total == b->total && same_bytes (a->data, b->data));
  g_assert_true (a->incarnation == b->incarnation && a->cluster == b->cluster && a->isr == b->isr);
  g_assert_true (a->majority_index == b->majority_index
                 && a->everywhere_index == b->everywhere_index);
  g_assert_true (a->rejoin == b->rejoin && a->rejoin_heard == b->rejoin_heard);
  g_assert_true (a->vouch == b->vouch);
  g_assert_cmpuint (a->entries->len, ==, b->entries->len);
  for (guint i = 0; i < a->entries->len; i++)
    {
      ChatReplEntry *x = g_ptr_array_index (a->entries, i);
      ChatReplEntry *y = g_ptr_array_index (b->entries, i);

      g_assert_true (x->term == y->term && x->index == y->index && x->type == y->type);
      g_assert_true (g_bytes_equal (x->data, y->data));
    }
}

/* The compact decoder either gives up or agrees with json-glib's; decoding (which tries it
 * first) refuses exactly what json-glib's refuses. Returns whether the compact one read it. */
static gboolean
assert_decoders_agree (const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) generic_error = NULL;
  g_autoptr (ChatReplMessage) compact = chat_peer_codec_decode_compact (text, len);
  g_autoptr (ChatReplMessage) generic = chat_peer_codec_decode_generic (text, len, &generic_error);
  g_autoptr (ChatReplMessage) decoded = chat_peer_codec_decode (text, (gssize)len, &error);

  g_assert_true ((generic == NULL) != (generic_error == NULL));
  if (compact != NULL)
    {
      if (generic == NULL)
        g_error ("compact decoder accepted what json-glib refuses: %.*s", (int)len, text);
      assert_same_message (compact, generic);
    }
  g_assert_true ((decoded == NULL) == (generic == NULL));
  if (decoded != NULL)
    assert_same_message (decoded, generic);
  return compact != NULL;
}

static ChatReplMessage *
roundtrip (const ChatReplMessage *m)
{
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  g_autofree char *text = chat_peer_codec_encode (m, &len);
  ChatReplMessage *back;

  g_assert_nonnull (text);
  g_assert_null (strchr (text, '\n'));
  assert_generator_text (text, len);
  /* The encoder's text is what the compact decoder is for. */
  g_assert_true (assert_decoders_agree (text, len));
  back = chat_peer_codec_decode (text, (gssize)len, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->type, ==, m->type);
  g_assert_cmpuint (back->from, ==, m->from);
  g_assert_cmpuint (back->to, ==, m->to);
  g_assert_cmpuint (back->term, ==, m->term);
  return back;
}

static void
test_append (void)
{
  g_autoptr (ChatReplMessage) m = chat_repl_message_new (CHAT_REPL_MSG_APPEND, 1, 2, 0x305);
  g_autoptr (ChatReplMessage) back = NULL;
  g_autoptr (GBytes) data = g_bytes_new ("{\"op\":\"send\"}\n\0x", 16);
  ChatReplEntry *e;

  m->prev_index = 9;
  m->prev_term = 0x201;
  m->commit = 8;
  m->isr = 6;
  m->majority_index = 7;
  m->everywhere_index = 5;
  m->rejoin_heard = G_GUINT64_CONSTANT (0x7edcba9876543210);
  g_ptr_array_add (m->entries, chat_repl_entry_new (0x305, 10, CHAT_REPL_ENTRY_OP, data));
  g_ptr_array_add (m->entries, chat_repl_entry_new (0x305, 11, CHAT_REPL_ENTRY_IN_SYNC_SET,
                                                    chat_repl_node_set_to_bytes (5)));
  back = roundtrip (m);
  g_assert_cmpuint (back->prev_index, ==, 9);
  g_assert_cmpuint (back->prev_term, ==, 0x201);
  g_assert_cmpuint (back->commit, ==, 8);
  g_assert_cmpuint (back->isr, ==, 6);
  g_assert_cmpuint (back->majority_index, ==, 7);
  g_assert_cmpuint (back->everywhere_index, ==, 5);
  g_assert_cmpuint (back->rejoin_heard, ==, m->rejoin_heard);
  g_assert_cmpuint (back->entries->len, ==, 2);
  e = g_ptr_array_index (back->entries, 0);
  g_assert_cmpint (e->type, ==, CHAT_REPL_ENTRY_OP);
  g_assert_true (g_bytes_equal (e->data, data));
  e = g_ptr_array_index (back->entries, 1);
  g_assert_cmpuint (chat_repl_entry_get_node_set (e), ==, 5);
}

/* Every length modulo 3 (base64's padding), an empty entry, a 1 KiB one, no entries at all,
 * and numbers at their bounds. */
static void
test_entry_data_lengths (void)
{
  g_autoptr (ChatReplMessage) m
      = chat_repl_message_new (CHAT_REPL_MSG_APPEND, 1, 2, (guint64)G_MAXINT64);
  g_autoptr (ChatReplMessage) back = NULL;
  g_autoptr (ChatReplMessage) empty = chat_repl_message_new (CHAT_REPL_MSG_APPEND, 2, 1, 1);
  g_autoptr (ChatReplMessage) empty_back = NULL;
  guchar large[1024];

  for (guint i = 0; i < sizeof large; i++)
    large[i] = (guchar)(i * 7);
  for (guint n = 0; n <= 5; n++)
    g_ptr_array_add (m->entries, chat_repl_entry_new (G_MAXINT64, n + 1, CHAT_REPL_ENTRY_OP,
                                                      g_bytes_new (large, n)));
  g_ptr_array_add (m->entries, chat_repl_entry_new (1, 7, CHAT_REPL_ENTRY_NOOP,
                                                    g_bytes_new (large, sizeof large)));
  m->commit = 0;
  back = roundtrip (m);
  g_assert_cmpuint (back->entries->len, ==, m->entries->len);
  for (guint i = 0; i < m->entries->len; i++)
    {
      ChatReplEntry *sent = g_ptr_array_index (m->entries, i);
      ChatReplEntry *got = g_ptr_array_index (back->entries, i);

      g_assert_true (g_bytes_equal (sent->data, got->data));
      g_assert_cmpuint (got->term, ==, sent->term);
      g_assert_cmpuint (got->index, ==, sent->index);
      g_assert_cmpint (got->type, ==, sent->type);
    }
  empty_back = roundtrip (empty);
  g_assert_cmpuint (empty_back->entries->len, ==, 0);
}

static void
test_other_types (void)
{
  for (guint t = CHAT_REPL_MSG_VOTE_REQUEST; t <= CHAT_REPL_MSG_TYPE_LAST; t++)
    {
      g_autoptr (ChatReplMessage) m = chat_repl_message_new (t, 3, 1, 77);
      g_autoptr (ChatReplMessage) back = NULL;

      m->last_index = 4;
      m->last_term = 5;
      m->transfer = TRUE;
      m->granted = TRUE;
      m->success = TRUE;
      m->match_index = 6;
      m->hint_index = 7;
      m->snapshot_index = 8;
      m->snapshot_term = 9;
      m->snapshot_isr = CHAT_REPL_NODE_BIT (1) | CHAT_REPL_NODE_BIT (64);
      m->offset = 10;
      m->total = 13;
      m->data = g_bytes_new ("abc", 3);
      m->done = TRUE;
      m->incarnation = G_GUINT64_CONSTANT (0x1234567890abcdef);
      m->cluster = G_GUINT64_CONSTANT (0x0fedcba987654321);
      m->rejoin = G_GUINT64_CONSTANT (0x2468ace013579bdf);
      m->vouch = CHAT_REPL_NODE_BIT (2) | CHAT_REPL_NODE_BIT (3);
      back = roundtrip (m);
      g_assert_cmpuint (back->incarnation, ==, m->incarnation);
      g_assert_cmpuint (back->cluster, ==, m->cluster);
      g_assert_cmpuint (back->rejoin, ==, m->rejoin);
      if (t == CHAT_REPL_MSG_VOTE_RESPONSE)
        g_assert_true (back->granted && back->last_index == 4);
      if (t == CHAT_REPL_MSG_VOTE_REQUEST)
        g_assert_true (back->last_index == 4 && back->last_term == 5 && back->transfer);
      if (t == CHAT_REPL_MSG_PRE_VOTE_REQUEST)
        g_assert_true (back->last_index == 4 && back->last_term == 5 && !back->transfer);
      if (t == CHAT_REPL_MSG_VOTE_RESPONSE || t == CHAT_REPL_MSG_PRE_VOTE_RESPONSE)
        g_assert_true (back->granted && back->vouch == m->vouch);
      else
        g_assert_cmpuint (back->vouch, ==, 0);
      if (t == CHAT_REPL_MSG_APPEND_RESPONSE)
        g_assert_true (back->success && back->match_index == 6 && back->hint_index == 7
                       && back->snapshot_index == 8 && back->snapshot_term == 9);
      if (t == CHAT_REPL_MSG_SNAPSHOT)
        {
          g_assert_cmpuint (back->snapshot_isr, ==, m->snapshot_isr);
          g_assert_true (g_bytes_equal (back->data, m->data));
          g_assert_true (back->done && back->total == 13 && back->offset == 10);
        }
    }
}

static void
test_bad_input (void)
{
  static const char *const bad[] = {
    "",
    "not json",
    "[]",
    "42",
    "{}",
    "{\"type\":\"nope\",\"from\":1,\"to\":2,\"term\":3}",
    "{\"type\":\"timeout_now\",\"from\":-1,\"to\":2,\"term\":3}",
    "{\"type\":\"timeout_now\",\"from\":1,\"to\":2,\"term\":\"3\"}",
    "{\"type\":\"timeout_now\",\"from\":1,\"to\":999,\"term\":3}",
    "{\"type\":\"timeout_now\",\"from\":1,\"to\":2,\"term\":3,\"incarnation\":-5}",
    "{\"type\":\"timeout_now\",\"from\":1,\"to\":2,\"term\":3,\"cluster\":\"a\"}",
    "{\"type\":\"timeout_now\",\"from\":1,\"to\":2,\"term\":3,\"rejoin\":-1}",
    "{\"type\":\"timeout_now\",\"from\":1,\"to\":2,\"term\":1e30}",
    "{\"type\":\"timeout_now\",\"from\":1,\"to\":2,\"term\":99999999999999999999999}",
    "{\"type\":\"vote_response\",\"from\":1,\"to\":2,\"term\":3}",
    "{\"type\":\"vote_response\",\"from\":1,\"to\":2,\"term\":3,\"granted\":1}",
    "{\"type\":\"append\",\"from\":1,\"to\":2,\"term\":3,\"prev_index\":0,\"prev_term\":0,"
    "\"commit\":0,\"entries\":{}}",
    "{\"type\":\"append\",\"from\":1,\"to\":2,\"term\":3,\"prev_index\":0,\"prev_term\":0,"
    "\"commit\":0,\"entries\":[{\"term\":1,\"index\":1,\"type\":\"op\",\"data\":\"a$==\"}]}",
    "{\"type\":\"append\",\"from\":1,\"to\":2,\"term\":3,\"prev_index\":0,\"prev_term\":0,"
    "\"commit\":0,\"entries\":[{\"term\":1,\"index\":1,\"type\":\"zz\",\"data\":\"\"}]}",
    "{\"type\":\"append\",\"from\":1,\"to\":2,\"term\":3,\"prev_index\":0,\"prev_term\":0,"
    "\"commit\":0,\"entries\":[{\"term\":1,\"index\":1,\"type\":\"op\",\"data\":\"abc\"}]}",
    "{\"type\":\"snapshot\",\"from\":1,\"to\":2,\"term\":3,\"snapshot_index\":1,"
    "\"snapshot_term\":1,\"offset\":0,\"done\":true,\"snapshot_isr\":[0],\"total\":0,"
    "\"data\":\"\"}",
    "{\"type\":\"snapshot\",\"from\":1,\"to\":2,\"term\":3,\"snapshot_index\":1,"
    "\"snapshot_term\":1,\"offset\":0,\"done\":true,\"snapshot_isr\":[65],\"total\":0,"
    "\"data\":\"\"}",
    "{\"type\":\"timeout_now\",\"from\":1,\"to\":2,\"term\":3,\"x\":[[[[[[[[1]]]]]]]]}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_null (chat_peer_codec_decode_compact (bad[i], strlen (bad[i])));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ChatReplMessage) m = chat_peer_codec_decode (bad[i], -1, &error);

      if (m != NULL)
        g_error ("accepted bad input %u: %s", i, bad[i]);
      g_assert_nonnull (error);
    }
}

/* Valid JSON the encoder does not write (spaces, another order, escapes, unknown or repeated
 * members): the compact decoder leaves it to json-glib, and the message is the same. */
static void
test_other_spellings (void)
{
  static const char *const valid[] = {
    "{ \"type\":\"timeout_now\",\"from\":1,\"to\":2,\"term\":3}",
    "{\"type\":\"timeout_now\",\"from\":1,\"to\":2,\"term\":3,\"extra\":\"x\"}",
    "{\"type\":\"timeout_now\",\"from\":1,\"to\":2,\"term\":3,\"term\":4}",
    "{\"type\":\"time\\u006fut_now\",\"from\":1,\"to\":2,\"term\":3}",
    "{\"type\":\"append\",\"from\":1,\"to\":2,\"term\":3,\"prev_index\":0,\"prev_term\":0,"
    "\"commit\":0,\"entries\":[{\"index\":1,\"term\":1,\"type\":\"op\",\"data\":\"YWJj\"}]}",
    "{\"type\":\"append\",\"from\":1,\"to\":2,\"term\":3,\"prev_index\":0,\"prev_term\":0,"
    "\"commit\":0,\"entries\":[{\"term\":1,\"index\":1,\"type\":\"op\",\"data\":\"a\\/==\"}]}",
  };
  const char *reordered = "{\"term\":3,\"to\":2,\"from\":1,\"type\":\"timeout_now\"}";

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ChatReplMessage) m = chat_peer_codec_decode (valid[i], -1, &error);

      g_assert_no_error (error);
      g_assert_nonnull (m);
      g_assert_false (assert_decoders_agree (valid[i], strlen (valid[i])));
    }
  /* The members of a message, unlike those of an entry, may come in any order. */
  g_assert_true (assert_decoders_agree (reordered, strlen (reordered)));
}

/* Members a type does not read are ignored by both decoders alike. */
static void
test_unread_members (void)
{
  const char *text = "{\"type\":\"vote_response\",\"from\":1,\"to\":2,\"term\":3,"
                     "\"granted\":true,\"prev_index\":9,\"commit\":4,\"data\":\"YWJj\"}";
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatReplMessage) m = chat_peer_codec_decode (text, -1, &error);

  g_assert_no_error (error);
  g_assert_true (assert_decoders_agree (text, strlen (text)));
  g_assert_true (m->granted);
  g_assert_cmpuint (m->prev_index, ==, 0);
  g_assert_cmpuint (m->commit, ==, 0);
  g_assert_null (m->data);
}

static void
test_deep_nesting (void)
{
  GString *s = g_string_new ("{\"a\":");
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatReplMessage) m = NULL;

  for (guint i = 0; i < 200000; i++)
    g_string_append_c (s, '[');
  m = chat_peer_codec_decode (s->str, (gssize)s->len, &error);
  g_assert_null (m);
  g_assert_error (error, CHAT_PEER_CODEC_ERROR, CHAT_PEER_CODEC_ERROR_INVALID);
  g_string_free (s, TRUE);
}

/* Flipped bytes of a valid line are either refused or decoded; never a crash. */
static void
test_mutations (void)
{
  g_autoptr (ChatReplMessage) m = chat_repl_message_new (CHAT_REPL_MSG_APPEND, 1, 2, 0x305);
  g_autofree char *text = NULL;
  gsize len = 0;
  GRand *rand = g_rand_new_with_seed (7);

  g_ptr_array_add (m->entries, chat_repl_entry_new (0x305, 1, CHAT_REPL_ENTRY_OP,
                                                    g_bytes_new_static ("hello", 5)));
  text = chat_peer_codec_encode (m, &len);
  for (guint round = 0; round < 20000; round++)
    {
      g_autofree char *copy = g_strndup (text, len);
      g_autoptr (GError) error = NULL;
      g_autoptr (ChatReplMessage) back = NULL;

      for (guint k = 0; k < 3; k++)
        copy[g_rand_int_range (rand, 0, (gint32)len)] = (char)g_rand_int_range (rand, 1, 128);
      back = chat_peer_codec_decode (copy, -1, &error);
      g_assert_true ((back == NULL) != (error == NULL));
      assert_decoders_agree (copy, strlen (copy));
    }
  g_rand_free (rand);
}

static void
test_too_large (void)
{
  gsize len = CHAT_PEER_CODEC_MAX_LINE + 1;
  g_autofree char *big = g_malloc (len + 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatReplMessage) m = NULL;

  memset (big, ' ', len);
  big[len] = '\0';
  m = chat_peer_codec_decode (big, (gssize)len, &error);
  g_assert_null (m);
  g_assert_error (error, CHAT_PEER_CODEC_ERROR, CHAT_PEER_CODEC_ERROR_TOO_LARGE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/peer-codec/append", test_append);
  g_test_add_func ("/peer-codec/entry-data-lengths", test_entry_data_lengths);
  g_test_add_func ("/peer-codec/other-types", test_other_types);
  g_test_add_func ("/peer-codec/bad-input", test_bad_input);
  g_test_add_func ("/peer-codec/other-spellings", test_other_spellings);
  g_test_add_func ("/peer-codec/unread-members", test_unread_members);
  g_test_add_func ("/peer-codec/deep-nesting", test_deep_nesting);
  g_test_add_func ("/peer-codec/mutations", test_mutations);
  g_test_add_func ("/peer-codec/too-large", test_too_large);
  return g_test_run ();
}
