/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for chat-dbus: properties, PropertiesChanged and admin methods on a private bus. */
#include "config.h"

#include "chat-dbus.h"
#include "chat-error.h"
#include "chat-journal.h"
#include "chat-test-loop.h"

/* What the fake daemon reports. */
typedef struct
{
  const char *role;
  guint64 term;
  const char *leader;
  const char *waiting;
  guint64 applied;
  guint clients;
  guint status_calls;
  guint hash_calls;
  guint force_calls;
} FakeNode;

typedef struct
{
  GTestDBus *bus;
  GDBusConnection *client;
  ChatDbus *dbus;
  GDBusProxy *proxy;
  FakeNode node;
  char *last_event;
} Fixture;

static void
fake_status (ChatStatus *status, ChatStatusWant want, gpointer user_data)
{
  FakeNode *node = user_data;

  node->status_calls++;
  status->node = g_strdup ("127.0.0.1:5555");
  status->role = g_strdup (node->role);
  status->term = node->term;
  status->leader = g_strdup (node->leader);
  status->commit_index = node->applied + 1;
  status->applied_index = node->applied;
  status->mode = g_strdup ("available");
  status->connected_clients = node->clients;
  status->accounts = 3;
  status->messages = 40;
  status->waiting = g_strdup (node->waiting);
  chat_status_add_in_sync (status, "127.0.0.1:5555");
  chat_status_add_in_sync (status, "127.0.0.1:5556");
  chat_status_add_peer (status, "127.0.0.1:5556", "in-sync", 0, 20);
  chat_status_add_peer (status, "127.0.0.1:5557", "down", 12, -1);
  if (want & CHAT_STATUS_WANT_STATE_HASH)
    {
      node->hash_calls++;
      status->state_hash = g_strdup_printf ("hash-%" G_GUINT64_FORMAT, node->applied);
    }
}

/* The admin requests of a fake replica: a ChatClusterAdmin over a FakeNode. */
#define FAKE_TYPE_ADMIN (fake_admin_get_type ())
G_DECLARE_FINAL_TYPE (FakeAdmin, fake_admin, FAKE, ADMIN, GObject)

struct _FakeAdmin
{
  GObject parent_instance;
  FakeNode *node;
};

static gboolean
fake_step_down (ChatClusterAdmin *admin, GError **error)
{
  /* The replica's own error: chat-dbus.c maps it to io.github.chatd.Error.NotLeader. */
  g_set_error (error, CHAT_ERROR, CHAT_ERROR_NOT_LEADER, "not the leader");
  return FALSE;
}

static gboolean
fake_snapshot (ChatClusterAdmin *admin, guint64 *index, GError **error)
{
  *index = FAKE_ADMIN (admin)->node->applied;
  return TRUE;
}

static gboolean
fake_force_leader (ChatClusterAdmin *admin, GError **error)
{
  FakeNode *node = FAKE_ADMIN (admin)->node;

  node->force_calls++;
  node->role = "leader";
  node->term++;
  return TRUE;
}

static void
fake_admin_iface_init (ChatClusterAdminInterface *iface)
{
  iface->step_down = fake_step_down;
  iface->snapshot = fake_snapshot;
  iface->force_leader = fake_force_leader;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (FakeAdmin, fake_admin, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CHAT_TYPE_CLUSTER_ADMIN,
                                                      fake_admin_iface_init))

static void
fake_admin_class_init (FakeAdminClass *klass)
{
}

static void
fake_admin_init (FakeAdmin *self)
{
}

static Fixture *current_fixture;

/* Cluster events go to the fixture (they are warnings at times); the rest as usual. */
static GLogWriterOutput
test_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  const char *event = NULL;

  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "CHATD_EVENT"))
      event = fields[i].value;
  if (event == NULL && (level & G_LOG_LEVEL_DEBUG))
    return G_LOG_WRITER_HANDLED;
  if (event == NULL)
    return g_log_writer_default (level, fields, n_fields, data);
  if (current_fixture != NULL)
    {
      g_free (current_fixture->last_event);
      current_fixture->last_event = g_strdup (event);
    }
  return G_LOG_WRITER_HANDLED;
}

static void
wait_until (gboolean *flag)
{
  g_assert_true (chat_test_loop_until_true (flag, 10000));
}

/* The service runs on this thread's main context, so every call is async. */
static void
on_async_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **)user_data = g_object_ref (result);
}

static void
wait_until_set (GAsyncResult **result)
{
  g_assert_true (chat_test_loop_until_set ((gpointer *)result, 10000));
}

static void
on_name_owned (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  *(gboolean *)user_data = chat_dbus_get_name_owned (CHAT_DBUS (object));
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  GAsyncResult *result = NULL;
  gboolean owned = FALSE;
  g_autoptr (FakeAdmin) admin = NULL;

  f->node = (FakeNode){ .role = "leader", .term = 12, .leader = "127.0.0.1:5555", .applied = 7 };
  f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->bus);
  current_fixture = f;

  f->dbus = chat_dbus_new (5555, fake_status, &f->node, NULL);
  admin = g_object_new (FAKE_TYPE_ADMIN, NULL);
  admin->node = &f->node;
  chat_dbus_set_admin (f->dbus, CHAT_CLUSTER_ADMIN (admin));
  g_signal_connect (f->dbus, "notify::name-owned", G_CALLBACK (on_name_owned), &owned);
  g_setenv ("CHATD_DBUS", "session", TRUE);
  chat_dbus_start (f->dbus, chat_dbus_choose_bus ());
  wait_until (&owned);

  f->client = g_dbus_connection_new_for_address_sync (
      g_test_dbus_get_bus_address (f->bus),
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
          | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_proxy_new (f->client, G_DBUS_PROXY_FLAGS_NONE, NULL, "io.github.chatd.Server5555",
                    CHAT_DBUS_OBJECT_PATH, CHAT_DBUS_INTERFACE, NULL, on_async_done, &result);
  wait_until_set (&result);
  f->proxy = g_dbus_proxy_new_finish (result, &error);
  g_assert_no_error (error);
  g_object_unref (result);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->proxy);
  g_clear_object (&f->dbus);
  g_dbus_connection_close_sync (f->client, NULL, NULL);
  g_clear_object (&f->client);
  g_test_dbus_down (f->bus);
  g_clear_object (&f->bus);
  g_free (f->last_event);
  current_fixture = NULL;
  g_unsetenv ("CHATD_DBUS");
}

static GVariant *
cached (Fixture *f, const char *name)
{
  GVariant *value = g_dbus_proxy_get_cached_property (f->proxy, name);

  g_assert_nonnull (value);
  return value;
}

static void
test_properties (Fixture *f, gconstpointer data)
{
  g_autoptr (GVariant) role = cached (f, "Role");
  g_autoptr (GVariant) term = cached (f, "Term");
  g_autoptr (GVariant) node = cached (f, "Node");
  g_autoptr (GVariant) in_sync = cached (f, "InSync");
  g_autoptr (GVariant) peers = cached (f, "Peers");
  g_autoptr (GVariant) clients = cached (f, "ConnectedClients");
  g_autoptr (GVariant) waiting = cached (f, "Waiting");
  g_autoptr (GVariant) peer = NULL;
  const char *address, *state;
  guint64 lag;
  gint64 contact;

  g_assert_cmpstr (g_variant_get_string (role, NULL), ==, "leader");
  g_assert_cmpuint (g_variant_get_uint64 (term), ==, 12);
  g_assert_cmpstr (g_variant_get_string (node, NULL), ==, "127.0.0.1:5555");
  g_assert_cmpuint (g_variant_n_children (in_sync), ==, 2);
  g_assert_cmpuint (g_variant_get_uint32 (clients), ==, 0);
  g_assert_cmpstr (g_variant_get_string (waiting, NULL), ==, "");
  g_assert_cmpuint (g_variant_n_children (peers), ==, 2);
  peer = g_variant_get_child_value (peers, 1);
  g_variant_get (peer, "(&s&stx)", &address, &state, &lag, &contact);
  g_assert_cmpstr (address, ==, "127.0.0.1:5557");
  g_assert_cmpstr (state, ==, "down");
  g_assert_cmpuint (lag, ==, 12);
  g_assert_cmpint (contact, ==, -1);
}

static GVariant *
call_get (Fixture *f, const char *property)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  GVariant *value;

  g_dbus_connection_call (f->client, "io.github.chatd.Server5555", CHAT_DBUS_OBJECT_PATH,
                          "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", CHAT_DBUS_INTERFACE, property),
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_async_done,
                          &result);
  wait_until_set (&result);
  reply = g_dbus_connection_call_finish (f->client, result, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return value;
}

static void
test_state_hash_on_demand (Fixture *f, gconstpointer data)
{
  guint before = f->node.hash_calls;
  g_autoptr (GVariant) hash = call_get (f, "StateHash");

  g_assert_cmpstr (g_variant_get_string (hash, NULL), ==, "hash-7");
  g_assert_cmpuint (f->node.hash_calls, ==, before + 1);
}

typedef struct
{
  gboolean seen;
  GVariant *changed;
  GStrv invalidated;
} ChangeRecord;

static void
on_properties_changed (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer user_data)
{
  ChangeRecord *record = user_data;

  if (record->seen)
    return;
  record->seen = TRUE;
  record->changed = g_variant_ref (changed);
  record->invalidated = g_strdupv (invalidated);
}

static void
test_properties_changed (Fixture *f, gconstpointer data)
{
  ChangeRecord record = { 0 };
  g_autoptr (GVariant) term = NULL;
  g_autoptr (GVariant) role = NULL;

  g_signal_connect (f->proxy, "g-properties-changed", G_CALLBACK (on_properties_changed), &record);
  chat_dbus_status_changed (f->dbus); /* nothing changed yet: no signal */
  chat_dbus_flush (f->dbus);
  f->node.role = "follower";
  f->node.term = 13;
  f->node.leader = "127.0.0.1:5556";
  chat_dbus_status_changed (f->dbus);
  wait_until (&record.seen);

  g_assert_cmpuint (g_variant_n_children (record.changed), ==, 3);
  g_assert_false (g_variant_lookup (record.changed, "Node", "&s", NULL));
  g_assert_true (g_variant_lookup (record.changed, "Leader", "&s", NULL));
  g_assert_cmpuint (g_strv_length (record.invalidated), ==, 0);
  term = cached (f, "Term");
  role = cached (f, "Role");
  g_assert_cmpuint (g_variant_get_uint64 (term), ==, 13);
  g_assert_cmpstr (g_variant_get_string (role, NULL), ==, "follower");
  g_variant_unref (record.changed);
  g_strfreev (record.invalidated);
}

static void
test_applied_invalidates_hash (Fixture *f, gconstpointer data)
{
  ChangeRecord record = { 0 };

  g_signal_connect (f->proxy, "g-properties-changed", G_CALLBACK (on_properties_changed), &record);
  f->node.applied = 8;
  chat_dbus_status_changed (f->dbus);
  wait_until (&record.seen);

  g_assert_true (g_variant_lookup (record.changed, "AppliedIndex", "t", NULL));
  g_assert_true (g_variant_lookup (record.changed, "CommitIndex", "t", NULL));
  g_assert_true (g_strv_contains ((const char *const *)record.invalidated, "StateHash"));
  g_variant_unref (record.changed);
  g_strfreev (record.invalidated);
}

static GVariant *
call_method (Fixture *f, const char *method, GVariant *args, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  g_dbus_proxy_call (f->proxy, method, args, G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_async_done,
                     &result);
  wait_until_set (&result);
  return g_dbus_proxy_call_finish (f->proxy, result, error);
}

static void
assert_remote_error (GError *error, const char *name)
{
  g_autofree char *remote = NULL;

  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, name);
}

static void
test_force_leader_needs_confirm (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = call_method (f, "ForceLeader", g_variant_new ("(b)", FALSE), &error);

  g_assert_null (reply);
  assert_remote_error (error, "io.github.chatd.Error.NotConfirmed");
  g_assert_true (g_error_matches (error, CHAT_DBUS_ERROR, CHAT_DBUS_ERROR_NOT_CONFIRMED));
  g_assert_cmpuint (f->node.force_calls, ==, 0);
  g_assert_null (f->last_event);
}

static void
test_force_leader_confirmed (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;

  f->node.role = "recovering";
  reply = call_method (f, "ForceLeader", g_variant_new ("(b)", TRUE), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->node.force_calls, ==, 1);
  g_assert_cmpstr (f->last_event, ==, CHAT_EVENT_FORCE_LEADER);
}

static void
test_snapshot_and_step_down (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = call_method (f, "Snapshot", NULL, &error);
  g_autoptr (GVariant) refused = NULL;
  guint64 index = 0;

  g_assert_no_error (error);
  g_variant_get (reply, "(t)", &index);
  g_assert_cmpuint (index, ==, 7);
  refused = call_method (f, "StepDown", NULL, &error);
  g_assert_null (refused);
  assert_remote_error (error, "io.github.chatd.Error.NotLeader");
}

static void
test_unsupported (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;

  /* A request the admin object does not implement, then no admin object at all. */
  reply = call_method (f, "ReloadCertificates", NULL, &error);
  g_assert_null (reply);
  g_assert_true (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NOT_SUPPORTED));
  g_clear_error (&error);
  chat_dbus_set_admin (f->dbus, NULL);
  reply = call_method (f, "Snapshot", NULL, &error);
  g_assert_null (reply);
  g_assert_true (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NOT_SUPPORTED));
}

static void
test_choose_bus (void)
{
  g_setenv ("CHATD_DBUS", "none", TRUE);
  g_assert_cmpint (chat_dbus_choose_bus (), ==, CHAT_DBUS_BUS_NONE);
  g_setenv ("CHATD_DBUS", "system", TRUE);
  g_assert_cmpint (chat_dbus_choose_bus (), ==, CHAT_DBUS_BUS_SYSTEM);
  g_unsetenv ("CHATD_DBUS");
  g_setenv ("INVOCATION_ID", "0123456789abcdef", TRUE);
  g_assert_cmpint (chat_dbus_choose_bus (), ==, CHAT_DBUS_BUS_SYSTEM);
  g_unsetenv ("INVOCATION_ID");
  g_unsetenv ("NOTIFY_SOCKET");
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent", TRUE);
  g_assert_cmpint (chat_dbus_choose_bus (), ==, CHAT_DBUS_BUS_SESSION);
  g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
  g_assert_cmpint (chat_dbus_choose_bus (), ==, CHAT_DBUS_BUS_NONE);
}

static void
test_name_for_port (void)
{
  g_autofree char *name = chat_dbus_name_for_port (5557);

  g_assert_cmpstr (name, ==, "io.github.chatd.Server5557");
  g_assert_true (g_dbus_is_name (name));
}

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (test_writer, NULL, NULL);

  ADD ("/chat-dbus/properties", test_properties);
  ADD ("/chat-dbus/state-hash-on-demand", test_state_hash_on_demand);
  ADD ("/chat-dbus/properties-changed", test_properties_changed);
  ADD ("/chat-dbus/applied-invalidates-hash", test_applied_invalidates_hash);
  ADD ("/chat-dbus/force-leader-needs-confirm", test_force_leader_needs_confirm);
  ADD ("/chat-dbus/force-leader-confirmed", test_force_leader_confirmed);
  ADD ("/chat-dbus/snapshot-and-step-down", test_snapshot_and_step_down);
  ADD ("/chat-dbus/unsupported", test_unsupported);
  g_test_add_func ("/chat-dbus/choose-bus", test_choose_bus);
  g_test_add_func ("/chat-dbus/name-for-port", test_name_for_port);
  return g_test_run ();
}
