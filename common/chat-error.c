/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CHAT_ERROR domain and the mapping between codes and wire slugs. */
#include "chat-error.h"

G_DEFINE_QUARK (chat - error - quark, chat_error)

static const char *const slugs[CHAT_ERROR_N_CODES] = {
  [CHAT_ERROR_BAD_REQUEST] = "bad_request",
  [CHAT_ERROR_TOO_LARGE] = "too_large",
  [CHAT_ERROR_UNAUTHENTICATED] = "unauthenticated",
  [CHAT_ERROR_BAD_CREDENTIALS] = "bad_credentials",
  [CHAT_ERROR_RATE_LIMITED] = "rate_limited",
  [CHAT_ERROR_USERNAME_TAKEN] = "username_taken",
  [CHAT_ERROR_INVALID_USERNAME] = "invalid_username",
  [CHAT_ERROR_NO_SUCH_USER] = "no_such_user",
  [CHAT_ERROR_NOT_FOUND] = "not_found",
  [CHAT_ERROR_NOT_LEADER] = "not_leader",
  [CHAT_ERROR_UNAVAILABLE] = "unavailable",
  [CHAT_ERROR_INTERNAL] = "internal",
  [CHAT_ERROR_FORBIDDEN] = "forbidden",
};

const char *
chat_error_to_slug (ChatErrorCode code)
{
  if ((guint)code >= CHAT_ERROR_N_CODES)
    return slugs[CHAT_ERROR_INTERNAL];
  return slugs[code];
}

gboolean
chat_error_from_slug (const char *slug, ChatErrorCode *code)
{
  for (guint i = 0; i < CHAT_ERROR_N_CODES; i++)
    {
      if (g_strcmp0 (slug, slugs[i]) == 0)
        {
          *code = (ChatErrorCode)i;
          return TRUE;
        }
    }
  *code = CHAT_ERROR_INTERNAL;
  return FALSE;
}

const char *
chat_error_slug_for (const GError *error)
{
  if (error != NULL && error->domain == CHAT_ERROR)
    return chat_error_to_slug ((ChatErrorCode)error->code);
  return slugs[CHAT_ERROR_INTERNAL];
}
