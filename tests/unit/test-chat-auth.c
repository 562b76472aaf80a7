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

/* Case 2: five wrong logins from anywhere locked the owner out for a minute. */
static void
test_guesser_slows_only_itself (void)
{
  g_autoptr (ChatThrottle) throttle = chat_throttle_new ();
  gint64 now = 1000 * G_USEC_PER_SEC;
  guint64 retry = 0;
  guint admitted = 0;

  /* A guesser at 10.0.0.9 tries alice's password as fast as it can for a minute. */
  for (guint i = 0; i < 600; i++)
    {
      if (chat_throttle_admit (throttle, "alice", "10.0.0.9", now + i * 100000, &retry)
          == CHAT_THROTTLE_ADMITTED)
        admitted++;
    }
  /* 3 free, then waits of 1, 2, 4, 8, 16, 32 s: 9 attempts within a minute. */
  g_assert_cmpuint (admitted, ==, 9);
  g_assert_cmpint (
      chat_throttle_admit (throttle, "alice", "10.0.0.9", now + 60 * G_USEC_PER_SEC, &retry), ==,
      CHAT_THROTTLE_PAIR);
  g_assert_cmpuint (retry, >, 0);
  /* The owner, from her own address, logs in at once, in any case of the name. */
  g_assert_cmpint (
      chat_throttle_admit (throttle, "alice", "192.0.2.7", now + 60 * G_USEC_PER_SEC, &retry), ==,
      CHAT_THROTTLE_ADMITTED);
  chat_throttle_succeeded (throttle, "alice", "192.0.2.7", now + 60 * G_USEC_PER_SEC);
}

static void
test_backoff_doubles_and_success_clears (void)
{
  g_autoptr (ChatThrottle) throttle = chat_throttle_new ();
  gint64 t = 0;
  guint64 retry = 0;

  for (guint n = 1; n <= 8; n++)
    {
      guint64 delay_ms
          = n <= CHAT_THROTTLE_PAIR_FREE ? 0 : 1000u << (n - CHAT_THROTTLE_PAIR_FREE - 1);
      g_assert_cmpint (chat_throttle_admit (throttle, "bob", "10.0.0.1", t, &retry), ==,
                       CHAT_THROTTLE_ADMITTED);
      if (delay_ms > 0)
        {
          g_assert_cmpint (chat_throttle_admit (throttle, "bob", "10.0.0.1", t, &retry), ==,
                           CHAT_THROTTLE_PAIR);
          g_assert_cmpuint (retry, ==, delay_ms);
        }
      t += (gint64)delay_ms * 1000 + CHAT_THROTTLE_ADDRESS_INTERVAL_US;
    }
  chat_throttle_succeeded (throttle, "bob", "10.0.0.1", t);
  for (guint i = 0; i < CHAT_THROTTLE_PAIR_FREE; i++)
    g_assert_cmpint (chat_throttle_admit (throttle, "bob", "10.0.0.1", t, &retry), ==,
                     CHAT_THROTTLE_ADMITTED);
}

/* One address guessing many accounts runs out of its budget; others do not. */
static void
test_address_budget (void)
{
  g_autoptr (ChatThrottle) throttle = chat_throttle_new ();
  guint64 retry = 0;

  for (guint i = 0; i < CHAT_THROTTLE_ADDRESS_BURST; i++)
    {
      g_autofree char *user = g_strdup_printf ("user%u", i);
      g_assert_cmpint (chat_throttle_admit (throttle, user, "10.0.0.2", 0, &retry), ==,
                       CHAT_THROTTLE_ADMITTED);
    }
  g_assert_cmpint (chat_throttle_admit (throttle, "another", "10.0.0.2", 0, &retry), ==,
                   CHAT_THROTTLE_ADDRESS);
  g_assert_cmpuint (retry, ==, CHAT_THROTTLE_ADDRESS_INTERVAL_US / 1000);
  g_assert_cmpint (chat_throttle_admit (throttle, "another", "10.0.0.3", 0, &retry), ==,
                   CHAT_THROTTLE_ADMITTED);
  g_assert_cmpint (chat_throttle_admit (throttle, "another", "10.0.0.2",
                                        CHAT_THROTTLE_ADDRESS_INTERVAL_US, &retry),
                   ==, CHAT_THROTTLE_ADMITTED);
}

/* Many addresses guessing one account get the documented rate at most; an address the
 * owner logged in from before is not held back by them. */
static void
test_account_budget (void)
{
  g_autoptr (ChatThrottle) throttle = chat_throttle_new ();
  guint64 retry = 0;
  guint admitted = 0;

  g_assert_cmpint (chat_throttle_admit (throttle, "carol", "192.0.2.1", 0, &retry), ==,
                   CHAT_THROTTLE_ADMITTED);
  chat_throttle_succeeded (throttle, "carol", "192.0.2.1", 0);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *address = g_strdup_printf ("10.1.%u.%u", i / 250, i % 250);
      if (chat_throttle_admit (throttle, "carol", address, i * G_USEC_PER_SEC, &retry)
          == CHAT_THROTTLE_ADMITTED)
        admitted++;
    }
  /* 1000 s: the burst plus one per interval. */
  g_assert_cmpuint (admitted, <=,
                    CHAT_THROTTLE_ACCOUNT_BURST
                        + 1000 * G_USEC_PER_SEC / CHAT_THROTTLE_ACCOUNT_INTERVAL_US + 1);
  g_assert_cmpuint (admitted, >=, CHAT_THROTTLE_ACCOUNT_BURST);
  g_assert_cmpint (
      chat_throttle_admit (throttle, "carol", "10.9.9.9", 1000 * G_USEC_PER_SEC, &retry), ==,
      CHAT_THROTTLE_ACCOUNT);
  g_assert_cmpint (
      chat_throttle_admit (throttle, "carol", "192.0.2.1", 1000 * G_USEC_PER_SEC, &retry), ==,
      CHAT_THROTTLE_ADMITTED);
}

static void
test_address_keys (void)
{
  struct
  {
    const char *peer, *key;
  } cases[] = {
    { "127.0.0.1:5555", "127.0.0.1" },
    { "[::ffff:10.0.0.5]:40000", "10.0.0.5" },
    { "[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64" },
    { "[::1]:5555", "::/64" },
    { NULL, "unknown" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *key = chat_throttle_address_key (cases[i].peer);
      g_assert_cmpstr (key, ==, cases[i].key);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/auth/hash-and-verify", test_hash_and_verify);
  g_test_add_func ("/auth/cost", test_cost);
  g_test_add_func ("/auth/sessions", test_sessions);
  g_test_add_func ("/auth/guesser-slows-only-itself", test_guesser_slows_only_itself);
  g_test_add_func ("/auth/backoff-doubles", test_backoff_doubles_and_success_clears);
  g_test_add_func ("/auth/address-budget", test_address_budget);
  g_test_add_func ("/auth/account-budget", test_account_budget);
  g_test_add_func ("/auth/address-keys", test_address_keys);
  return g_test_run ();
}
