/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests the username, password and body rules shared by server and clients. */
#include "chat-error.h"
#include "chat-username.h"

#include <string.h>

/* CHAT_USERNAME_MAX_CHARS characters. */
#define LONGEST_USERNAME "abcdefghijklmnopqrstuvwxyz012345"

static void
assert_invalid (const char *const *names, gsize n_names)
{
  for (gsize i = 0; i < n_names; i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (chat_username_validate (names[i], &error));
      g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INVALID_USERNAME);
    }
}

static void
test_usernames (void)
{
  const char *good[] = { "bob", "Alice", "a.b-c_d", "x12", "0zero", LONGEST_USERNAME };
  const char *bad_length[] = { "", "ab", LONGEST_USERNAME "6" };
  const char *bad_first_char[] = { "_bob", ".bob", "-bob" };
  const char *bad_chars[] = { "bo b", "bob!", "böb", "a*b", "bob\n" };

  g_assert_cmpuint (strlen (LONGEST_USERNAME), ==, CHAT_USERNAME_MAX_CHARS);
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (chat_username_validate (good[i], NULL));
  assert_invalid (bad_length, G_N_ELEMENTS (bad_length));
  assert_invalid (bad_first_char, G_N_ELEMENTS (bad_first_char));
  assert_invalid (bad_chars, G_N_ELEMENTS (bad_chars));
  g_assert_false (chat_username_validate (NULL, NULL));
}

static void
test_key (void)
{
  g_autofree char *key = chat_username_key ("AlIcE.B");
  g_assert_cmpstr (key, ==, "alice.b");
}

static void
test_passwords (void)
{
  g_autofree char *huge = g_strnfill (CHAT_PASSWORD_MAX_BYTES + 1, 'x');
  g_autoptr (GError) error = NULL;

  g_assert_true (chat_password_validate ("correct horse", NULL));
  g_assert_false (chat_password_validate ("short", &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
  g_assert_false (chat_password_validate (huge, NULL));
  g_assert_false (chat_password_validate ("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", NULL));
}

static void
test_bodies (void)
{
  g_autoptr (GError) empty = NULL;
  g_autoptr (GError) large = NULL;

  g_assert_true (chat_body_validate ("héllo ✓", 16, NULL));
  g_assert_false (chat_body_validate ("", 16, &empty));
  g_assert_error (empty, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
  g_assert_false (chat_body_validate ("0123456789abcdefg", 16, &large));
  g_assert_error (large, CHAT_ERROR, CHAT_ERROR_TOO_LARGE);
  g_assert_false (chat_body_validate ("\xc3\x28", 16, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/username/rules", test_usernames);
  g_test_add_func ("/username/key", test_key);
  g_test_add_func ("/username/passwords", test_passwords);
  g_test_add_func ("/username/bodies", test_bodies);
  return g_test_run ();
}
