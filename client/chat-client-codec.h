/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure helpers of libchat: request framing, response errors, backoff, ids, dedup. No I/O. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Responses may be large (a sync page of 500 full messages); bound them anyway. */
#define CHAT_CLIENT_MAX_LINE_BYTES (64 * 1024 * 1024)

typedef enum
{
  CHAT_FRAME_INVALID,  /* neither a response nor an event: ignored */
  CHAT_FRAME_RESPONSE, /* has "ok" */
  CHAT_FRAME_EVENT,    /* has "event" */
} ChatFrameKind;

/* What a line from the server is; *id is the integer request id of a response, or -1. */
ChatFrameKind chat_codec_classify (JsonObject *object, gint64 *id);

/* A request object {"id": id, "op": op} (a new reference) for the caller to fill. */
JsonObject *chat_codec_request_new (gint64 id, const char *op);
/* A copy of args with "id" set to id: the wire form of one attempt. */
JsonObject *chat_codec_request_with_id (JsonObject *args, gint64 id);

/* TRUE for "ok": true. Otherwise sets error in CHAT_ERROR with the server's code (an
 * unknown code maps to CHAT_ERROR_INTERNAL) and message, and *leader (optional) to
 * error.leader of not_leader (NULL when null or absent). */
gboolean chat_codec_response_ok (JsonObject *response, char **leader, GError **error);

/* Delay before reconnect attempt number attempt (0-based): base_ms doubling per
 * attempt up to max_ms, then scaled into [1 - jitter/2, 1 + jitter/2) by random
 * (a value in [0, 1)), and never above max_ms. */
guint chat_backoff_delay_ms (guint attempt, guint base_ms, guint max_ms, double jitter,
                             double random);

/* 12 random hex characters for this client's client_msg_ids. */
char *chat_client_msg_id_prefix_new (void);
/* "<prefix>-<counter>": unique per client for its lifetime, at most 64 bytes. */
char *chat_client_msg_id_format (const char *prefix, guint64 counter);

/* A bounded set of recently seen ids: the oldest is forgotten past capacity. */
typedef struct _ChatIdSet ChatIdSet;
ChatIdSet *chat_id_set_new (guint capacity);
void chat_id_set_free (ChatIdSet *set);
/* TRUE when id was not in the set (it is now). */
gboolean chat_id_set_add (ChatIdSet *set, gint64 id);
gboolean chat_id_set_contains (ChatIdSet *set, gint64 id);
guint chat_id_set_size (ChatIdSet *set);

/* "host:port" equality, ignoring case of the host. */
gboolean chat_codec_address_equal (const char *a, const char *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatIdSet, chat_id_set_free)

G_END_DECLS
