/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests the username, password and body rules shared by server and clients. */
#include "chat-error.h"
#include "chat-username.h"

static void
test_usernames (void)
{
  const char *good[] = { "bob", "Alice", "a.b-c_d", "x12", "0zero",
                         "abcdefghijklmnopqrstuvwxyz012345" };
  const char *bad[] = { "", "ab", "_bob", ".bob", "-bob", "bo b", "bob!", "böb", "a*b",
                        "abcdefghijklmnopqrstuvwxyz0123456", "bob\n" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (chat_username_validate (good[i], NULL));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (chat_username_validate (bad[i], &error));
      g_assert_error (error, CHAT_ERROR, CHAT_ERROR_INVALID_USERNAME);
    }
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
