/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Validation of usernames, passwords and bodies: one place, so client and server agree. */
#include "chat-username.h"
#include "chat-error.h"

#include <string.h>

static gboolean
username_char_ok (char c, gboolean first)
{
  if (g_ascii_isalnum (c))
    return TRUE;
  return !first && (c == '_' || c == '-' || c == '.');
}

gboolean
chat_username_validate (const char *username, GError **error)
{
  gsize len = username ? strlen (username) : 0;

  if (len < CHAT_USERNAME_MIN_CHARS || len > CHAT_USERNAME_MAX_CHARS)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_INVALID_USERNAME,
                   "A username has %d to %d characters", CHAT_USERNAME_MIN_CHARS,
                   CHAT_USERNAME_MAX_CHARS);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    {
      if (!username_char_ok (username[i], i == 0))
        {
          g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_INVALID_USERNAME,
                               "A username uses ASCII letters, digits, '_', '-' and '.', "
                               "and starts with a letter or digit");
          return FALSE;
        }
    }
  return TRUE;
}

char *
chat_username_key (const char *username)
{
  return g_ascii_strdown (username, -1);
}

gboolean
chat_password_validate (const char *password, GError **error)
{
  gsize len = password ? strlen (password) : 0;

  if (len < CHAT_PASSWORD_MIN_BYTES || len > CHAT_PASSWORD_MAX_BYTES)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "A password has %d to %d bytes",
                   CHAT_PASSWORD_MIN_BYTES, CHAT_PASSWORD_MAX_BYTES);
      return FALSE;
    }
  if (!g_utf8_validate (password, len, NULL))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "A password must be valid UTF-8");
      return FALSE;
    }
  return TRUE;
}

gboolean
chat_body_validate (const char *body, gsize max_bytes, GError **error)
{
  gsize len = body ? strlen (body) : 0;

  if (len == 0)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "A message cannot be empty");
      return FALSE;
    }
  if (len > max_bytes)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_TOO_LARGE,
                   "A message has at most %" G_GSIZE_FORMAT " bytes", max_bytes);
      return FALSE;
    }
  if (!g_utf8_validate (body, len, NULL))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
                           "A message must be valid UTF-8");
      return FALSE;
    }
  return TRUE;
}
