/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A message a send stored and the events of an apply, written as protocol text. */
#define G_LOG_DOMAIN "chatd-store"

#include "chat-store-state.h"
#include "chat-json.h"

#include <string.h>

ChatStoredMessage *
chat_stored_message_new (gint64 id, const char *from, const char *to, const char *body,
                         gint64 sent_at)
{
  ChatStoredMessage *message = g_rc_box_new0 (ChatStoredMessage);

  message->id = id;
  message->from = g_strdup (from);
  message->to = g_strdup (to);
  message->body = g_strdup (body);
  message->sent_at = sent_at;
  return message;
}

ChatStoredMessage *
chat_stored_message_ref (ChatStoredMessage *message)
{
  return g_rc_box_acquire (message);
}

static void
stored_message_clear (ChatStoredMessage *message)
{
  g_free (message->from);
  g_free (message->to);
  g_free (message->body);
  if (message->json != NULL)
    g_string_free (message->json, TRUE);
  g_clear_pointer (&message->event_line, g_bytes_unref);
}

void
chat_stored_message_unref (ChatStoredMessage *message)
{
  g_rc_box_release_full (message, (GDestroyNotify)stored_message_clear);
}

/* The members in chat_store_message_from_row's order, so the text is the same. */
const char *
chat_stored_message_get_json (ChatStoredMessage *message, gsize *len)
{
  GString *out = message->json;

  if (out == NULL)
    {
      out = message->json = g_string_sized_new (strlen (message->body) + 128);
      g_string_append_c (out, '{');
      chat_json_append_member (out, "id");
      chat_json_append_int (out, message->id);
      chat_json_append_member (out, "seq");
      chat_json_append_int (out, message->id);
      chat_json_append_member (out, "from");
      chat_json_append_string (out, message->from);
      chat_json_append_member (out, "to");
      chat_json_append_string (out, message->to);
      chat_json_append_member (out, "body");
      chat_json_append_string (out, message->body);
      chat_json_append_member (out, "sent_at");
      chat_json_append_int (out, message->sent_at);
      chat_json_append_member (out, "read");
      g_string_append (out, "false}");
    }
  if (len != NULL)
    *len = out->len;
  return out->str;
}

GBytes *
chat_stored_message_get_event_line (ChatStoredMessage *message)
{
  static const char head[] = "{\"event\":\"message\",\"message\":";
  gsize json_len = 0;
  const char *json = NULL;
  GString *line = NULL;

  if (message->event_line != NULL)
    return g_bytes_ref (message->event_line);
  json = chat_stored_message_get_json (message, &json_len);
  line = g_string_sized_new (sizeof head + json_len + 2);
  g_string_append_len (line, head, sizeof head - 1);
  g_string_append_len (line, json, (gssize)json_len);
  g_string_append (line, "}\n");
  message->event_line = g_string_free_to_bytes (line);
  return g_bytes_ref (message->event_line);
}

GBytes *
chat_apply_event_to_line (const ChatApplyEvent *event)
{
  gsize len = 0;
  char *text = NULL;

  if (event->message != NULL)
    return chat_stored_message_get_event_line (event->message);
  text = chat_json_to_line (event->event, &len);
  return g_bytes_new_take (text, len);
}
