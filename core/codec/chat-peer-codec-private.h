/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parts of the peer codec shared by its two decoders, and the reference decoder for tests. */
#pragma once

#include "chat-peer-codec.h"

G_BEGIN_DECLS

/* The names of ChatReplEntryType on the wire, by value. */
extern const char *const chat_peer_codec_entry_types[4];

gboolean chat_peer_codec_base64_ok (const char *s, gsize len);

/* The compact decoder: reads the text chat_peer_codec_encode writes (no spaces, no escapes,
 * known members only, each once) and returns NULL for anything else, valid or not; the
 * caller then decodes with json-glib, which gives the same message or the error. */
ChatReplMessage *chat_peer_codec_decode_compact (const char *line, gsize len);

/* Decodes with json-glib only: the reference the compact decoder is tested against. */
ChatReplMessage *chat_peer_codec_decode_generic (const char *line, gsize len, GError **error);

G_END_DECLS
