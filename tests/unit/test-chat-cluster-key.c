/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cluster key: found through systemd's credentials, $CHATD_CLUSTER_KEY or beside
 * config.ini; short, published and NUL-holding keys are refused. */
#include "chat-cluster-key.h"
#include "chat-error.h"

#include <glib/gstdio.h>
#include <string.h>

#define GOOD_KEY "V2h5IHRoaXMga2V5PyBCZWNhdXNlIGl0IGlzIGxvbmcu"

typedef struct
{
  char *dir;
  ChatConfig *config;
} Fixture;

static void
write_file (const char *dir, const char *name, const char *text, gssize length)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  /* GLib leaves an existing file alone when asked to write zero bytes. */
  g_remove (path);
  g_file_set_contents_full (path, text, length, G_FILE_SET_CONTENTS_NONE, 0640, &error);
  g_assert_no_error (error);
}

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *ini = "[server]\nhost1 = 127.0.0.1\nport1 = 5555\n";

  g_unsetenv ("CREDENTIALS_DIRECTORY");
  g_unsetenv ("CHATD_CLUSTER_KEY");
  f->dir = g_dir_make_tmp ("chatd-key-XXXXXX", &error);
  g_assert_no_error (error);
  write_file (f->dir, "config.ini", ini, -1);
  f->config = chat_config_load_from_data (ini, &error);
  g_assert_no_error (error);
  f->config->path = g_build_filename (f->dir, "config.ini", NULL);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  const char *names[] = { "config.ini", "cluster.key", "other.key", "creds/cluster.key", "creds" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (f->dir, names[i], NULL);
      g_remove (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
  chat_config_free (f->config);
}

static void
test_beside_config (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  write_file (f->dir, "cluster.key", GOOD_KEY "\n", -1);
  g_assert_true (chat_cluster_key_load (f->config, &error));
  g_assert_no_error (error);
  /* The trailing newline is not part of the key. */
  g_assert_cmpstr (f->config->secret, ==, GOOD_KEY);
}

static void
test_missing (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (chat_cluster_key_load (f->config, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, "cluster.key"));
  g_assert_null (f->config->secret);
}

/* systemd's credential wins over the environment and the file beside config.ini. */
static void
test_order (Fixture *f, gconstpointer data)
{
  g_autofree char *creds = g_build_filename (f->dir, "creds", NULL);
  g_autofree char *other = g_build_filename (f->dir, "other.key", NULL);
  g_autoptr (GError) error = NULL;

  write_file (f->dir, "cluster.key", "beside-config-" GOOD_KEY, -1);
  write_file (f->dir, "other.key", "environment-" GOOD_KEY, -1);
  g_assert_cmpint (g_mkdir (creds, 0700), ==, 0);
  write_file (f->dir, "creds/cluster.key", "credential-" GOOD_KEY, -1);

  g_assert_true (chat_cluster_key_load (f->config, &error));
  g_assert_cmpstr (f->config->secret, ==, "beside-config-" GOOD_KEY);
  g_setenv ("CHATD_CLUSTER_KEY", other, TRUE);
  g_assert_true (chat_cluster_key_load (f->config, &error));
  g_assert_cmpstr (f->config->secret, ==, "environment-" GOOD_KEY);
  g_setenv ("CREDENTIALS_DIRECTORY", creds, TRUE);
  g_assert_true (chat_cluster_key_load (f->config, &error));
  g_assert_cmpstr (f->config->secret, ==, "credential-" GOOD_KEY);
  g_assert_no_error (error);
}

static void
assert_refused (Fixture *f, const char *text, gssize length, const char *reason)
{
  g_autoptr (GError) error = NULL;

  write_file (f->dir, "cluster.key", text, length);
  g_assert_false (chat_cluster_key_load (f->config, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, reason));
  g_assert_nonnull (strstr (error->message, "cluster.key"));
  g_assert_null (f->config->secret);
}

static void
test_refused (Fixture *f, gconstpointer data)
{
  /* 31 bytes, one short. */
  assert_refused (f, "0123456789012345678901234567890\n", -1, "31 bytes long");
  assert_refused (f, "", 0, "0 bytes long");
  assert_refused (f, GOOD_KEY "\0" GOOD_KEY, sizeof GOOD_KEY * 2 - 1, "NUL");
}

/* Every key ever printed as an example, padded or not, is refused. */
static void
test_published (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (chat_cluster_key_check ("change-me-chatd-cluster-secret", 30, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
  g_assert_nonnull (strstr (error->message, "example"));
  g_assert_true (chat_cluster_key_check (GOOD_KEY, sizeof GOOD_KEY - 1, NULL));
}

/* A config.ini that still holds [cluster] secret: the line is ignored, never used. */
static void
test_stale_secret_ignored (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatConfig) config = chat_config_load_from_data (
      "[server]\nhost1 = 127.0.0.1\nport1 = 5555\n[cluster]\nsecret = " GOOD_KEY "\n", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (config);
  g_assert_true (config->has_stale_secret);
  g_assert_null (config->secret);
  config->path = g_strdup (f->config->path);
  g_test_expect_message ("chatd", G_LOG_LEVEL_WARNING, "*[cluster] secret is ignored*");
  g_assert_false (chat_cluster_key_load (config, &error));
  g_test_assert_expected_messages ();
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/cluster-key/beside-config", Fixture, NULL, set_up, test_beside_config, tear_down);
  g_test_add ("/cluster-key/missing", Fixture, NULL, set_up, test_missing, tear_down);
  g_test_add ("/cluster-key/order", Fixture, NULL, set_up, test_order, tear_down);
  g_test_add ("/cluster-key/refused", Fixture, NULL, set_up, test_refused, tear_down);
  g_test_add ("/cluster-key/published", Fixture, NULL, set_up, test_published, tear_down);
  g_test_add ("/cluster-key/stale-secret-ignored", Fixture, NULL, set_up, test_stale_secret_ignored,
              tear_down);
  return g_test_run ();
}
