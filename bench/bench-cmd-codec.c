/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatd-bench codec: processor time to encode and decode one append of the peer protocol. */
#include "bench-common.h"
#include "chat-peer-codec.h"

#include <string.h>

/* Each round times this many encodes and as many decodes; the best round is reported. */
#define CODEC_ITERATIONS 500
#define CODEC_MAX_ENTRIES 4096

typedef struct
{
  int entries;
  int size;
  int rounds;
  gboolean json;
} CodecOptions;

static gboolean
parse (CodecOptions *options, int argc, char **argv, GError **error)
{
  GOptionEntry entries[] = {
    { "entries", 'e', 0, G_OPTION_ARG_INT, &options->entries,
      "Entries in the append (default 32, as a loaded leader sends)", "N" },
    { "size", 's', 0, G_OPTION_ARG_INT, &options->size,
      "Bytes of each entry's operation (default 1200: a send with a 1 KiB body)", "BYTES" },
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &options->rounds, "Timed rounds (default 7)", "R" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options->json, "Print one JSON object", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- peer codec speed");

  options->entries = 32;
  options->size = 1200;
  options->rounds = 7;
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
  if (options->entries < 1 || options->entries > CODEC_MAX_ENTRIES || options->size < 0
      || options->size > CHAT_PEER_CODEC_MAX_LINE / CODEC_MAX_ENTRIES || options->rounds < 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--entries 1-%d, --size 0-%d, --rounds at least 1", CODEC_MAX_ENTRIES,
                   CHAT_PEER_CODEC_MAX_LINE / CODEC_MAX_ENTRIES);
      return FALSE;
    }
  return TRUE;
}

/* An append as a leader sends it: entries holding a send operation's JSON text. */
static ChatReplMessage *
sample_append (const CodecOptions *options)
{
  static const char pattern[] = "{\"op\":\"send\",\"to\":\"sink\",\"body\":\"lorem ipsum\"}";
  ChatReplMessage *m = chat_repl_message_new (CHAT_REPL_MSG_APPEND, 1, 2, 7);
  g_autofree char *op = g_malloc ((gsize)options->size);

  for (int i = 0; i < options->size; i++)
    op[i] = pattern[(gsize)i % (sizeof pattern - 1)];
  m->prev_index = 1000;
  m->prev_term = 7;
  m->commit = 999;
  for (int i = 0; i < options->entries; i++)
    g_ptr_array_add (m->entries, chat_repl_entry_new (7, 1001 + (guint64)i, CHAT_REPL_ENTRY_OP,
                                                      g_bytes_new (op, (gsize)options->size)));
  return m;
}

/* Microseconds per entry of the best round. */
static double
time_encode (const ChatReplMessage *m, int rounds)
{
  gint64 best = G_MAXINT64;

  for (int r = 0; r < rounds; r++)
    {
      gint64 start = g_get_monotonic_time ();

      for (int i = 0; i < CODEC_ITERATIONS; i++)
        g_free (chat_peer_codec_encode (m, NULL));
      best = MIN (best, g_get_monotonic_time () - start);
    }
  return (double)best / CODEC_ITERATIONS / m->entries->len;
}

static double
time_decode (const char *text, gsize len, guint n_entries, int rounds)
{
  gint64 best = G_MAXINT64;

  for (int r = 0; r < rounds; r++)
    {
      gint64 start = g_get_monotonic_time ();

      for (int i = 0; i < CODEC_ITERATIONS; i++)
        {
          ChatReplMessage *back = chat_peer_codec_decode (text, (gssize)len, NULL);

          g_assert (back != NULL);
          chat_repl_message_unref (back);
        }
      best = MIN (best, g_get_monotonic_time () - start);
    }
  return (double)best / CODEC_ITERATIONS / n_entries;
}

int
bench_codec_main (int argc, char **argv)
{
  CodecOptions options = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatReplMessage) m = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  double encode_us = 0, decode_us = 0;

  if (!parse (&options, argc, argv, &error))
    {
      g_printerr ("chatd-bench codec: %s\n", error->message);
      return 2;
    }
  m = sample_append (&options);
  text = chat_peer_codec_encode (m, &len);
  encode_us = time_encode (m, options.rounds);
  decode_us = time_decode (text, len, m->entries->len, options.rounds);
  if (options.json)
    {
      g_autoptr (JsonObject) out = json_object_new ();

      json_object_set_string_member (out, "command", "codec");
      json_object_set_object_member (out, "host", bench_host_info ());
      json_object_set_int_member (out, "entries", options.entries);
      json_object_set_int_member (out, "size", options.size);
      json_object_set_int_member (out, "line_bytes", (gint64)len);
      json_object_set_double_member (out, "encode_us_per_entry", encode_us);
      json_object_set_double_member (out, "decode_us_per_entry", decode_us);
      bench_print_json (out);
      return 0;
    }
  bench_print_host_info ();
  g_print ("append of %d entries of %d bytes (%" G_GSIZE_FORMAT " bytes on the wire): "
           "encode %.2f us/entry  decode %.2f us/entry  (best of %d rounds)\n",
           options.entries, options.size, len, encode_us, decode_us, options.rounds);
  return 0;
}
