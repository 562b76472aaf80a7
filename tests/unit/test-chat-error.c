/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests the wire slugs of the CHAT_ERROR codes. */
#include "chat-error.h"

#include <gio/gio.h>

static void
test_roundtrip (void)
{
  for (int code = 0; code < CHAT_ERROR_N_CODES; code++)
    {
      ChatErrorCode back = CHAT_ERROR_INTERNAL;
      const char *slug = chat_error_to_slug (code);
      g_assert_true (chat_error_from_slug (slug, &back));
      g_assert_cmpint (back, ==, code);
    }
}

static void
test_documented_slugs (void)
{
  g_assert_cmpstr (chat_error_to_slug (CHAT_ERROR_NOT_LEADER), ==, "not_leader");
  g_assert_cmpstr (chat_error_to_slug (CHAT_ERROR_TOO_LARGE), ==, "too_large");
  g_assert_cmpstr (chat_error_to_slug (CHAT_ERROR_BAD_CREDENTIALS), ==, "bad_credentials");
  g_assert_cmpstr (chat_error_to_slug (CHAT_ERROR_FORBIDDEN), ==, "forbidden");
  g_assert_cmpstr (chat_error_to_slug (999), ==, "internal");
}

static void
test_unknown_and_foreign (void)
{
  ChatErrorCode code = CHAT_ERROR_BAD_REQUEST;
  g_autoptr (GError) io = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "disk");
  g_autoptr (GError) chat = g_error_new_literal (CHAT_ERROR, CHAT_ERROR_RATE_LIMITED, "slow");

  g_assert_false (chat_error_from_slug ("from_the_future", &code));
  g_assert_cmpint (code, ==, CHAT_ERROR_INTERNAL);
  g_assert_false (chat_error_from_slug (NULL, &code));
  g_assert_cmpstr (chat_error_slug_for (io), ==, "internal");
  g_assert_cmpstr (chat_error_slug_for (chat), ==, "rate_limited");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/error/roundtrip", test_roundtrip);
  g_test_add_func ("/error/documented-slugs", test_documented_slugs);
  g_test_add_func ("/error/unknown-and-foreign", test_unknown_and_foreign);
  return g_test_run ();
}
