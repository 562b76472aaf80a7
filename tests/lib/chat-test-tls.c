/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test clusters over TLS: certificates made by scripts/make-certificates, and the CA every
 * connection of the test process then trusts. */
#define G_LOG_DOMAIN "chatd-test"

#include "chat-test-cluster-private.h"

#define HOST "127.0.0.1"

/* The CA every connection of this process trusts once a cluster speaks TLS. */
static GTlsDatabase *tls_database;

GTlsDatabase *
chat_test_tls_database (void)
{
  return tls_database;
}

void
chat_test_make_certificates (const char *dir, const char *host, gboolean expired)
{
  g_autofree char *script
      = g_build_filename (g_getenv ("CHATD_SOURCE_ROOT"), "scripts", "make-certificates", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process
      = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, script, expired ? "--expired" : dir,
                          expired ? dir : host, expired ? host : NULL, NULL);

  g_assert_no_error (error);
  g_subprocess_wait_check (process, NULL, &error);
  g_assert_no_error (error);
}

void
chat_test_cluster_use_tls (ChatTestCluster *cluster)
{
  g_autofree char *dir = g_build_filename (cluster->dir, "tls", NULL);
  g_autofree char *ca = g_build_filename (dir, "ca.pem", NULL);
  g_autofree char *certificate = g_build_filename (dir, HOST ".pem", NULL);
  g_autofree char *key = g_build_filename (dir, HOST ".key", NULL);
  g_autoptr (GError) error = NULL;

  chat_test_make_certificates (dir, HOST, FALSE);
  g_clear_object (&tls_database);
  tls_database = g_tls_file_database_new (ca, &error);
  g_assert_no_error (error);
  chat_test_cluster_set_tls_database (cluster, tls_database);
  g_key_file_set_string (cluster->options, "tls", "certificate", certificate);
  g_key_file_set_string (cluster->options, "tls", "key", key);
  chat_test_cluster_set_option (cluster, "tls", "ca", ca);
}
