/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON form of the replication core's peer messages: one object per line, bytes in base64. */
#pragma once

#include <glib.h>

#include "chat-repl-types.h"

G_BEGIN_DECLS

#define CHAT_PEER_CODEC_ERROR (chat_peer_codec_error_quark ())

typedef enum
{
  CHAT_PEER_CODEC_ERROR_TOO_LARGE,
  CHAT_PEER_CODEC_ERROR_INVALID,
} ChatPeerCodecError;

/* Bounds on untrusted input; a leader's defaults (256 entries, 256 KiB chunks) fit. */
#define CHAT_PEER_CODEC_MAX_LINE (8 * 1024 * 1024)
#define CHAT_PEER_CODEC_MAX_ENTRIES 4096
#define CHAT_PEER_CODEC_MAX_DEPTH 4

GQuark chat_peer_codec_error_quark (void);

/* The message as one line of JSON, without the trailing newline. */
char *chat_peer_codec_encode (const ChatReplMessage *message, gsize *length);

/* Parses one line (length -1: NUL-terminated). Every field is checked; bad input is an
 * error, never a crash. */
ChatReplMessage *chat_peer_codec_decode (const char *line, gssize length, GError **error);

G_END_DECLS
