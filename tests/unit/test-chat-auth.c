/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatAuth: Argon2id off the loop, the dummy check, session tokens and the failed-login limit. */
#include "chat-auth.h"

#include <sodium.h>
#include <string.h>

typedef struct
{
  GMainLoop *loop;
  char *hash;
  gboolean matched;
  GError *error;
} Wait;

static void
on_hashed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *wait = user_data;

  wait->hash = chat_auth_hash_password_finish (CHAT_AUTH (source), result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static void
on_verified (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *wait = user_data;

  wait->matched = chat_auth_verify_password_finish (CHAT_AUTH (source), result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static gboolean
verify (ChatAuth *auth, const char *hash, const char *password)
{
  Wait wait = { g_main_loop_new (NULL, FALSE) };

  chat_auth_verify_password_async (auth, hash, password, NULL, on_verified, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);
  g_main_loop_unref (wait.loop);
  return wait.matched;
}

static void
test_hash_and_verify (void)
{
  g_autoptr (ChatAuth) auth = chat_auth_new ();
  Wait wait = { g_main_loop_new (NULL, FALSE) };

  chat_auth_hash_password_async (auth, "correct horse", NULL, on_hashed, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);
  g_assert_true (g_str_has_prefix (wait.hash, "$argon2id$"));
  g_assert_true (verify (auth, wait.hash, "correct horse"));
  g_assert_false (verify (auth, wait.hash, "wrong horse"));
  /* No such user: a check against the fixed hash, never a match. */
  g_assert_false (verify (auth, NULL, "correct horse"));
  g_assert_false (verify (auth, NULL, "chatd-dummy-password"));
  g_free (wait.hash);
  g_main_loop_unref (wait.loop);
}

/* A lower cost shows in the hash; hashes of either cost still verify, and the dummy
 * check for a missing user still never matches. */
static void
test_cost (void)
{
  g_autoptr (ChatAuth) auth = chat_auth_new ();
  g_autoptr (ChatAuth) standard = chat_auth_new ();
  Wait wait = { g_main_loop_new (NULL, FALSE) };

  chat_auth_set_cost (auth, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
  chat_auth_hash_password_async (auth, "correct horse", NULL, on_hashed, &wait);
  g_main_loop_run (wait.loop);
  g_assert_no_error (wait.error);
  g_assert_true (g_str_has_prefix (wait.hash, "$argon2id$v=19$m=8,t=1,"));
  g_assert_true (verify (auth, wait.hash, "correct horse"));
  g_assert_true (verify (standard, wait.hash, "correct horse"));
  g_assert_false (verify (auth, wait.hash, "wrong horse"));
  g_assert_false (verify (auth, NULL, "correct horse"));
  g_assert_false (verify (auth, NULL, "chatd-dummy-password"));
  g_free (wait.hash);
  g_main_loop_unref (wait.loop);
}

static void
test_sessions (void)
{
  g_autofree char *token = NULL, *hash = NULL, *again = NULL, *upper_hash = NULL;
  g_autofree char *upper = NULL;

  chat_auth_new_session (&token, &hash);
  g_assert_cmpuint (strlen (token), ==, 64);
  g_assert_cmpuint (strlen (hash), ==, 64);
  g_assert_cmpstr (token, !=, hash);
  again = chat_auth_session_hash (token);
  g_assert_cmpstr (again, ==, hash);
  upper = g_ascii_strup (token, -1);
  upper_hash = chat_auth_session_hash (upper);
  g_assert_cmpstr (upper_hash, ==, hash);
  g_assert_null (chat_auth_session_hash ("abc"));
  g_assert_null (
      chat_auth_session_hash ("zz00000000000000000000000000000000000000000000000000000000000000"));
}

static void
test_rate_limit (void)
{
  g_autoptr (ChatAuth) auth = chat_auth_new ();
  gint64 now = 1000 * G_USEC_PER_SEC;
  guint64 retry = 0;

  for (guint i = 0; i < CHAT_AUTH_MAX_FAILURES; i++)
    {
      g_assert_true (chat_auth_check_rate (auth, "alice", now + i, &retry));
      chat_auth_record_failure (auth, "alice", now + i);
    }
  g_assert_false (chat_auth_check_rate (auth, "alice", now + 10, &retry));
  g_assert_cmpuint (retry, >, 59000);
  g_assert_cmpuint (retry, <=, 60000);
  g_assert_true (chat_auth_check_rate (auth, "bob", now, &retry));
  /* Half a minute later: still limited, and it says how long is left. */
  g_assert_false (chat_auth_check_rate (auth, "alice", now + 30 * G_USEC_PER_SEC, &retry));
  g_assert_cmpuint (retry, <=, 30000);
  g_assert_true (chat_auth_check_rate (auth, "alice", now + CHAT_AUTH_FAILURE_WINDOW_US, &retry));
  chat_auth_record_failure (auth, "carol", now);
  chat_auth_clear_failures (auth, "carol");
  g_assert_true (chat_auth_check_rate (auth, "carol", now, &retry));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/auth/hash-and-verify", test_hash_and_verify);
  g_test_add_func ("/auth/cost", test_cost);
  g_test_add_func ("/auth/sessions", test_sessions);
  g_test_add_func ("/auth/rate-limit", test_rate_limit);
  return g_test_run ();
}
