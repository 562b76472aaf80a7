/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for chat-systemd and the STATUS= text: a fake NOTIFY_SOCKET records what is sent. */
#include "config.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "chat-systemd.h"

typedef struct
{
  char *dir;
  GSocket *socket;
  gboolean healthy;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *pid = g_strdup_printf ("%d", (int)getpid ());
  g_autoptr (GSocketAddress) address = NULL;

  f->healthy = TRUE;
  f->dir = g_dir_make_tmp ("chat-systemd-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (f->dir, "notify", NULL);
  f->socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM, 0, &error);
  g_assert_no_error (error);
  address = g_unix_socket_address_new (path);
  g_socket_bind (f->socket, address, FALSE, &error);
  g_assert_no_error (error);
  g_setenv ("NOTIFY_SOCKET", path, TRUE);
  g_setenv ("WATCHDOG_USEC", "100000", TRUE);
  g_setenv ("WATCHDOG_PID", pid, TRUE);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "notify", NULL);

  g_unsetenv ("NOTIFY_SOCKET");
  g_unsetenv ("WATCHDOG_USEC");
  g_unsetenv ("WATCHDOG_PID");
  g_clear_object (&f->socket);
  g_unlink (path);
  g_rmdir (f->dir);
  g_free (f->dir);
}

/* The next notification, or NULL when none arrives within timeout_ms. */
static char *
next_message (Fixture *f, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;
  char buffer[4096];

  while (g_get_monotonic_time () < deadline)
    {
      gssize n;

      if (!(g_socket_condition_check (f->socket, G_IO_IN) & G_IO_IN))
        {
          g_main_context_iteration (NULL, FALSE);
          g_usleep (1000);
          continue;
        }
      n = g_socket_receive (f->socket, buffer, sizeof buffer - 1, NULL, NULL);
      g_assert_cmpint (n, >=, 0);
      buffer[n] = '\0';
      return g_strdup (buffer);
    }
  return NULL;
}

/* The next notification that is not a watchdog keepalive. */
static char *
next_state (Fixture *f, guint timeout_ms)
{
  for (;;)
    {
      char *message = next_message (f, timeout_ms);

      if (message == NULL || !g_str_equal (message, "WATCHDOG=1"))
        return message;
      g_free (message);
    }
}

static void
leader_status (ChatStatus *status, ChatStatusWant want, gpointer user_data)
{
  status->role = g_strdup ("leader");
  status->term = 12;
  chat_status_add_in_sync (status, "127.0.0.1:5555");
  chat_status_add_in_sync (status, "127.0.0.1:5556");
  chat_status_add_peer (status, "127.0.0.1:5556", "in-sync", 0, 10);
  chat_status_add_peer (status, "127.0.0.1:5557", "down", 40, -1);
}

static gboolean
fixture_health (gpointer user_data, GError **error)
{
  Fixture *f = user_data;

  if (!f->healthy)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "store stuck");
  return f->healthy;
}

static void
test_ready_and_status (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatSystemd) systemd = chat_systemd_new ();
  g_autofree char *ready = NULL;
  g_autofree char *stopping = NULL;

  g_assert_true (chat_systemd_is_supervised ());
  chat_systemd_set_status_func (systemd, leader_status, NULL, NULL);
  chat_systemd_ready (systemd);
  ready = next_state (f, 2000);
  g_assert_cmpstr (ready, ==, "READY=1\nSTATUS=leader, term 12, 2/3 in sync");

  chat_systemd_status_changed (systemd); /* same text: nothing is sent */
  chat_systemd_stopping (systemd);
  stopping = next_state (f, 2000);
  g_assert_cmpstr (stopping, ==, "STOPPING=1\nSTATUS=stopping");
}

static void
test_watchdog_gated_by_health (Fixture *f, gconstpointer data)
{
  g_autoptr (ChatSystemd) systemd = chat_systemd_new ();
  g_autofree char *ping = NULL;
  g_autofree char *silence = NULL;
  g_autofree char *again = NULL;

  g_assert_cmpuint (chat_systemd_get_watchdog_interval (systemd), ==, 50000);
  chat_systemd_set_health_func (systemd, fixture_health, f, NULL);
  ping = next_message (f, 2000);
  g_assert_cmpstr (ping, ==, "WATCHDOG=1");

  f->healthy = FALSE;
  g_test_expect_message ("chatd-systemd", G_LOG_LEVEL_WARNING, "*store stuck*");
  while (next_message (f, 60) != NULL)
    ; /* drain keepalives sent before the check failed */
  silence = next_message (f, 300);
  g_assert_null (silence);
  g_test_assert_expected_messages ();

  f->healthy = TRUE;
  again = next_message (f, 2000);
  g_assert_cmpstr (again, ==, "WATCHDOG=1");
}

static void
test_unsupervised (void)
{
  g_autoptr (ChatSystemd) systemd = NULL;

  g_unsetenv ("NOTIFY_SOCKET");
  g_unsetenv ("WATCHDOG_USEC");
  systemd = chat_systemd_new ();
  g_assert_false (chat_systemd_is_supervised ());
  g_assert_cmpuint (chat_systemd_get_watchdog_interval (systemd), ==, 0);
  chat_systemd_ready (systemd);
  chat_systemd_stopping (systemd);
}

static char *
describe (const char *role, const char *leader, guint n_in_sync)
{
  g_autoptr (ChatStatus) status = chat_status_new ();

  status->role = g_strdup (role);
  status->leader = g_strdup (leader);
  status->term = 12;
  for (guint i = 0; i < n_in_sync; i++)
    chat_status_add_in_sync (status, "x");
  chat_status_add_peer (status, "127.0.0.1:5556", "in-sync", 0, 1);
  chat_status_add_peer (status, "127.0.0.1:5557", "in-sync", 0, 1);
  return chat_status_describe (status);
}

static void
test_describe (void)
{
  struct
  {
    const char *role, *leader;
    guint n_in_sync;
    const char *text;
  } cases[] = {
    { "leader", "127.0.0.1:5555", 3, "leader, term 12, 3/3 in sync" },
    { "follower", "127.0.0.1:5555", 3, "follower of 127.0.0.1:5555, term 12" },
    { "follower", NULL, 0, "follower, term 12: no leader, electing" },
    { "candidate", "", 0, "candidate, term 12: no leader, electing" },
    { "recovering", NULL, 0, "recovering: waiting for peers" },
    { "recovering", "127.0.0.1:5556", 0, "recovering: catching up from 127.0.0.1:5556, term 12" },
    { NULL, NULL, 0, "starting, term 12" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = describe (cases[i].role, cases[i].leader, cases[i].n_in_sync);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

/* A server that can neither lead nor follow says why in STATUS=. */
static void
test_describe_waiting (void)
{
  g_autoptr (ChatStatus) status = chat_status_new ();
  g_autofree char *text = NULL;

  status->role = g_strdup ("follower");
  status->term = 257;
  status->waiting
      = g_strdup ("cannot found a new cluster: waiting for 127.0.0.1:5557, which may hold data");
  text = chat_status_describe (status);
  g_assert_cmpstr (text, ==,
                   "follower, term 257: cannot found a new cluster: waiting for 127.0.0.1:5557, "
                   "which may hold data");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/chat-systemd/ready-and-status", Fixture, NULL, fixture_set_up,
              test_ready_and_status, fixture_tear_down);
  g_test_add ("/chat-systemd/watchdog-gated-by-health", Fixture, NULL, fixture_set_up,
              test_watchdog_gated_by_health, fixture_tear_down);
  g_test_add_func ("/chat-systemd/unsupervised", test_unsupervised);
  g_test_add_func ("/chat-systemd/describe", test_describe);
  g_test_add_func ("/chat-systemd/describe-waiting", test_describe_waiting);
  return g_test_run ();
}
