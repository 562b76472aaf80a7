/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests ChatTls: loading the [tls] files, a reload that fails keeps what is in use. */
#include "chat-fs.h"
#include "chat-tls.h"

#include <glib/gstdio.h>

static char *
make_certificates (void)
{
  g_autofree char *dir = g_dir_make_tmp ("chat-tls-XXXXXX", NULL);
  g_autofree char *script
      = g_build_filename (g_getenv ("CHATD_SOURCE_ROOT"), "scripts", "make-certificates", NULL);
  const char *argv[] = { script, dir, "127.0.0.1", NULL };
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return g_steal_pointer (&dir);
}

static void
test_load_and_reload (void)
{
  g_autofree char *dir = make_certificates ();
  g_autofree char *cert = g_build_filename (dir, "127.0.0.1.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "127.0.0.1.key", NULL);
  g_autofree char *ca = g_build_filename (dir, "ca.pem", NULL);
  g_autofree char *moved = g_build_filename (dir, "moved.pem", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatTls) tls = chat_tls_new (cert, key, ca, &error);
  g_autoptr (GDateTime) after = NULL;
  GTlsDatabase *database = NULL;

  g_assert_no_error (error);
  g_assert_true (chat_tls_has_certificate (tls));
  database = chat_tls_get_database (tls);
  g_assert_true (G_IS_TLS_FILE_DATABASE (database));
  after = chat_tls_get_not_valid_after (tls);
  g_assert_nonnull (after);
  g_assert_true (chat_tls_reload (tls, &error));
  g_assert_no_error (error);
  /* A certificate that vanished: the reload fails and the loaded one stays. */
  g_assert_cmpint (g_rename (cert, moved), ==, 0);
  g_assert_false (chat_tls_reload (tls, &error));
  g_assert_nonnull (error);
  g_assert_true (chat_tls_has_certificate (tls));
  g_assert_true (G_IS_TLS_DATABASE (chat_tls_get_database (tls)));
  chat_fs_remove_tree (dir);
}

static void
test_client_only_and_errors (void)
{
  g_autofree char *dir = make_certificates ();
  g_autofree char *ca = g_build_filename (dir, "ca.pem", NULL);
  g_autofree char *cert = g_build_filename (dir, "127.0.0.1.pem", NULL);
  /* A file that holds no key (GIO does not check that a key matches its certificate). */
  g_autofree char *not_a_key = g_build_filename (dir, "ca.pem", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatTls) client = chat_tls_new (NULL, NULL, ca, &error);
  g_autoptr (ChatTls) keyless = NULL;
  g_autoptr (ChatTls) missing = NULL;

  g_assert_no_error (error);
  g_assert_false (chat_tls_has_certificate (client));
  g_assert_null (chat_tls_get_not_valid_after (client));
  keyless = chat_tls_new (cert, not_a_key, ca, &error);
  g_assert_null (keyless);
  g_assert_nonnull (error);
  g_clear_error (&error);
  missing = chat_tls_new (NULL, NULL, "/nonexistent/ca.pem", &error);
  g_assert_null (missing);
  g_assert_nonnull (error);
  chat_fs_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tls/load-and-reload", test_load_and_reload);
  g_test_add_func ("/tls/client-only-and-errors", test_client_only_and_errors);
  return g_test_run ();
}
