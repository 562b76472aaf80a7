/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CHAT_ERROR domain: every error code of the client protocol, with its wire slug. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CHAT_ERROR (chat_error_quark ())

/* Stable codes; the wire form is the slug returned by chat_error_to_slug(). */
typedef enum
{
  CHAT_ERROR_BAD_REQUEST,
  CHAT_ERROR_TOO_LARGE,
  CHAT_ERROR_UNAUTHENTICATED,
  CHAT_ERROR_BAD_CREDENTIALS,
  CHAT_ERROR_RATE_LIMITED,
  CHAT_ERROR_USERNAME_TAKEN,
  CHAT_ERROR_INVALID_USERNAME,
  CHAT_ERROR_NO_SUCH_USER,
  CHAT_ERROR_NOT_FOUND,
  CHAT_ERROR_NOT_LEADER,
  CHAT_ERROR_UNAVAILABLE,
  CHAT_ERROR_INTERNAL,
  CHAT_ERROR_FORBIDDEN,
} ChatErrorCode;

#define CHAT_ERROR_N_CODES (CHAT_ERROR_FORBIDDEN + 1)

GQuark chat_error_quark (void);
const char *chat_error_to_slug (ChatErrorCode code);
/* Returns FALSE for an unknown slug (a newer server); *code is then CHAT_ERROR_INTERNAL. */
gboolean chat_error_from_slug (const char *slug, ChatErrorCode *code);
/* The slug for any GError: CHAT_ERROR codes map to themselves, anything else is "internal". */
const char *chat_error_slug_for (const GError *error);

G_END_DECLS
