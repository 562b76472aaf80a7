/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bounded parsing of untrusted JSON lines and typed field access with clear errors. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CHAT_JSON_MAX_DEPTH 16

/* Parses one protocol line into an object. Rejects (CHAT_ERROR_BAD_REQUEST, with a
 * message a person can act on) embedded NUL bytes, invalid UTF-8, nesting deeper
 * than CHAT_JSON_MAX_DEPTH, invalid JSON and a top level that is not an object; and,
 * naming the field, a string holding an escaped NUL (\u0000) or a lone UTF-16
 * surrogate, and an integer outside 64 bits. This is the one check every string and
 * number of every client request and peer message passes. */
JsonObject *chat_json_parse_object (const char *line, gsize len, GError **error);

/* A quicker reader for the objects this program writes itself (log entries): a flat object
 * of strings without escapes, integers and booleans, without spaces; NULL for anything else,
 * valid or not. What it reads, chat_json_parse_object reads the same. */
JsonObject *chat_json_parse_flat_object (const char *text, gsize len);

/* Serializes compactly, as json-glib's generator prints it, and appends '\n'
 * (chat-json-text.c writes the text itself). */
char *chat_json_to_line (JsonObject *object, gsize *len);

/* Text written without a tree, as json-glib's generator prints it (compact, its escapes):
 * a string quoted and escaped, a whole number, and a member's name with the ',' before it
 * unless it is an object's first. */
void chat_json_append_string (GString *out, const char *value);
void chat_json_append_int (GString *out, gint64 value);
void chat_json_append_member (GString *out, const char *name);

/* Typed access to a field of an untrusted object. With required = FALSE a missing
 * or null field leaves *out untouched and succeeds. Wrong types, out-of-range
 * numbers and oversize strings fail with CHAT_ERROR_BAD_REQUEST naming the field. */
gboolean chat_json_get_string (JsonObject *object, const char *field, gboolean required,
                               gsize max_bytes, const char **out, GError **error);
gboolean chat_json_get_uint (JsonObject *object, const char *field, gboolean required, guint64 max,
                             guint64 *out, GError **error);
/* A whole number from min to max; the error names the field and that range. */
gboolean chat_json_get_uint_range (JsonObject *object, const char *field, gboolean required,
                                   guint64 min, guint64 max, guint64 *out, GError **error);
gboolean chat_json_get_bool (JsonObject *object, const char *field, gboolean required,
                             gboolean *out, GError **error);
/* An array of at most max_items elements; the caller checks element types. */
gboolean chat_json_get_array (JsonObject *object, const char *field, gboolean required,
                              guint max_items, JsonArray **out, GError **error);

G_END_DECLS
