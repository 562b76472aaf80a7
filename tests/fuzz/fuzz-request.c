/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: arbitrary bytes through line framing, bounded JSON parsing and field access. */
#include "chat-json.h"
#include "chat-line.h"
#include "chat-username.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Reads the string fields NAMES, checking each value as a username too. */
static void
touch_strings (JsonObject *request, const char *const *names, gsize n_names)
{
  const char *text = NULL;

  for (gsize i = 0; i < n_names; i++)
    {
      if (chat_json_get_string (request, names[i], FALSE, 65536, &text, NULL) && text != NULL)
        (void)chat_username_validate (text, NULL);
    }
}

/* Reads every field a request can carry, the way the dispatcher does. */
static void
touch_fields (JsonObject *request)
{
  guint64 number = 0;
  gboolean flag = FALSE;
  JsonArray *array = NULL;
  const char *account_fields[] = { "op", "username", "password", "session", "with" };
  const char *message_fields[] = { "pattern", "after", "to", "body", "client_msg_id" };
  const char *numbers[] = { "limit", "before", "up_to" };

  touch_strings (request, account_fields, G_N_ELEMENTS (account_fields));
  touch_strings (request, message_fields, G_N_ELEMENTS (message_fields));
  for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
    (void)chat_json_get_uint (request, numbers[i], FALSE, G_MAXINT64, &number, NULL);
  (void)chat_json_get_bool (request, "read", FALSE, &flag, NULL);
  (void)chat_json_get_array (request, "ids", FALSE, 500, &array, NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (ChatLineBuffer) buffer = chat_line_buffer_new (4096);
  char *line = NULL;
  gsize len = 0;

  chat_line_buffer_feed (buffer, data, size);
  chat_line_buffer_feed (buffer, "\n", 1);
  while (chat_line_buffer_next (buffer, &line, &len, NULL))
    {
      g_autofree char *owned = line;
      g_autoptr (JsonObject) request = chat_json_parse_object (owned, len, NULL);
      if (request != NULL)
        {
          g_autofree char *echo G_GNUC_UNUSED = chat_json_to_line (request, NULL);
          touch_fields (request);
        }
    }
  return 0;
}
