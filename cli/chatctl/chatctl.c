/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chatctl: status and administration of the local chatd servers over D-Bus. */
#include "config.h"

#include "chat-dbus-names.h"
#include "chatctl-health.h"
#include "chatctl-server1.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#define CALL_TIMEOUT_MS 30000
/* How long transfer-leadership waits for the old leader to see the new one. */
#define HANDOVER_WAIT_MS 10000
/* The longest health --wait: a day. */
#define MAX_WAIT_S 86400

/* Exit codes (documented in chatctl(1)). */
typedef enum
{
  EXIT_OK = 0,
  EXIT_DAEMON_ERROR = 1,
  EXIT_USAGE = 2,
  EXIT_NO_INSTANCE = 3,
  EXIT_PERMISSION = 4,
} ChatctlExit;

typedef struct
{
  gboolean use_system;
  gboolean use_session;
  gboolean json;
  gboolean yes_i_know;
  int port;
  int wait_s;
  char *to;
} Options;

/* One chatd instance found on the bus. */
typedef struct
{
  char *name;
  guint port;
  ChatctlServer1 *server; /* its properties read, NULL until then */
} Instance;

static Options opts;

static void
instance_free (Instance *instance)
{
  g_free (instance->name);
  g_clear_object (&instance->server);
  g_free (instance);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Instance, instance_free)

static ChatctlExit
exit_for_error (const GError *error)
{
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_AUTH_FAILED)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    return EXIT_PERMISSION;
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN)
      || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    return EXIT_NO_INSTANCE;
  return EXIT_DAEMON_ERROR;
}

static ChatctlExit
report_error (const char *context, GError *error)
{
  ChatctlExit code = exit_for_error (error);

  g_dbus_error_strip_remote_error (error);
  if (code == EXIT_PERMISSION)
    g_printerr ("chatctl: %s: permission denied (%s); admin methods need root\n", context,
                error->message);
  else
    g_printerr ("chatctl: %s: %s\n", context, error->message);
  return code;
}

/* --- finding instances ----------------------------------------------------- */

/* The port of a chatd bus name, or 0 when name is not one. */
static guint
port_of_name (const char *name)
{
  guint64 port = 0;

  if (!g_str_has_prefix (name, CHAT_DBUS_NAME_PREFIX))
    return 0;
  if (!g_ascii_string_to_unsigned (name + strlen (CHAT_DBUS_NAME_PREFIX), 10, 1, G_MAXUINT16, &port,
                                   NULL))
    return 0;
  return (guint)port;
}

static gint
compare_instances (gconstpointer a, gconstpointer b)
{
  const Instance *x = *(const Instance *const *)a;
  const Instance *y = *(const Instance *const *)b;

  return (x->port > y->port) - (x->port < y->port);
}

static Instance *
instance_new (const char *name, guint port)
{
  Instance *instance = g_new0 (Instance, 1);

  instance->name = g_strdup (name);
  instance->port = port;
  return instance;
}

/* Every chatd instance on the bus (or only --port), sorted by port. */
static GPtrArray *
list_instances (GDBusConnection *bus, GError **error)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify)instance_free);
  g_autoptr (GVariant) reply = NULL;
  g_autofree const char **names = NULL;

  reply = g_dbus_connection_call_sync (
      bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames",
      NULL, G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, error);
  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(^a&s)", &names);
  for (gsize i = 0; names[i] != NULL; i++)
    {
      guint port = port_of_name (names[i]);

      if (port != 0 && (opts.port == 0 || (guint)opts.port == port))
        g_ptr_array_add (found, instance_new (names[i], port));
    }
  g_ptr_array_sort (found, compare_instances);
  return g_steal_pointer (&found);
}

/* Opens one bus and lists the chatd instances on it; NULL when the bus is unreachable. */
static GDBusConnection *
connect_bus (GBusType type, GPtrArray **instances, GError **error)
{
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (type, NULL, error);

  if (bus == NULL)
    return NULL;
  *instances = list_instances (bus, error);
  return *instances != NULL ? g_steal_pointer (&bus) : NULL;
}

/* --system or --session as asked; by default the system bus, or the session bus
 * when no chatd runs on the system bus. */
static GDBusConnection *
connect_and_list (GPtrArray **instances, GError **error)
{
  g_autoptr (GDBusConnection) system = NULL;
  g_autoptr (GDBusConnection) session = NULL;
  g_autoptr (GPtrArray) on_session = NULL;
  g_autoptr (GError) system_error = NULL;

  if (opts.use_session)
    return connect_bus (G_BUS_TYPE_SESSION, instances, error);
  if (opts.use_system)
    return connect_bus (G_BUS_TYPE_SYSTEM, instances, error);
  system = connect_bus (G_BUS_TYPE_SYSTEM, instances, &system_error);
  if (system != NULL && (*instances)->len > 0)
    return g_steal_pointer (&system);
  session = connect_bus (G_BUS_TYPE_SESSION, &on_session, NULL);
  if (session != NULL && on_session->len > 0)
    {
      g_clear_pointer (instances, g_ptr_array_unref);
      *instances = g_steal_pointer (&on_session);
      return g_steal_pointer (&session);
    }
  if (system != NULL)
    return g_steal_pointer (&system);
  if (session != NULL)
    {
      *instances = g_steal_pointer (&on_session);
      return g_steal_pointer (&session);
    }
  g_propagate_error (error, g_steal_pointer (&system_error));
  return NULL;
}

/* A server's properties in one GetAll, called here rather than left to GDBusProxy, which
 * would drop its error (a denied or vanished server must be reported). */
static GVariant *
get_all_properties (GDBusConnection *bus, Instance *instance, GError **error)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      bus, instance->name, CHAT_DBUS_OBJECT_PATH, "org.freedesktop.DBus.Properties", "GetAll",
      g_variant_new ("(s)", chatctl_server1_interface_info ()->name), G_VARIANT_TYPE ("(a{sv})"),
      G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, error);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/* instance->server: a proxy whose property cache holds the GetAll answer, which the typed
 * getters read; the previous one stays when the server cannot be read. */
static gboolean
read_properties (GDBusConnection *bus, Instance *instance, GError **error)
{
  g_autoptr (GVariant) all = get_all_properties (bus, instance, error);
  g_autoptr (ChatctlServer1) server = NULL;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  if (all != NULL)
    server = chatctl_server1_proxy_new_sync (
        bus, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
        instance->name, CHAT_DBUS_OBJECT_PATH, NULL, error);
  if (server == NULL)
    {
      g_prefix_error (error, "%s: ", instance->name);
      return FALSE;
    }
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (server), CALL_TIMEOUT_MS);
  g_variant_iter_init (&iter, all);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      g_dbus_proxy_set_cached_property (G_DBUS_PROXY (server), name, value);
      g_variant_unref (value);
    }
  g_clear_object (&instance->server);
  instance->server = g_steal_pointer (&server);
  return TRUE;
}

/* How the tables show a string property: "-" when the server has none or it is empty. */
static const char *
text_or_dash (const char *value)
{
  return value != NULL && *value != '\0' ? value : "-";
}

static const char *
node_of (Instance *instance)
{
  return text_or_dash (chatctl_server1_get_node (instance->server));
}

static gboolean
is_leader (Instance *instance)
{
  return g_strcmp0 (chatctl_server1_get_role (instance->server), "leader") == 0;
}

/* --- output ---------------------------------------------------------------- */

/* A plain text table: columns padded to their widest cell, two spaces apart. */
typedef struct
{
  guint n_columns;
  GPtrArray *cells; /* char *, row by row */
} Table;

static Table *
table_new (const char *const *headers)
{
  Table *table = g_new0 (Table, 1);

  table->n_columns = g_strv_length ((char **)headers);
  table->cells = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < table->n_columns; i++)
    g_ptr_array_add (table->cells, g_strdup (headers[i]));
  return table;
}

static void
table_add (Table *table, char *cell)
{
  g_ptr_array_add (table->cells, cell);
}

static void
table_print_and_free (Table *table)
{
  g_autofree gsize *widths = g_new0 (gsize, table->n_columns);

  for (guint i = 0; i < table->cells->len; i++)
    widths[i % table->n_columns]
        = MAX (widths[i % table->n_columns], (gsize)g_utf8_strlen (table->cells->pdata[i], -1));
  for (guint i = 0; i < table->cells->len; i++)
    {
      guint column = i % table->n_columns;
      gboolean last = column == table->n_columns - 1;
      const char *cell = table->cells->pdata[i];

      if (last)
        g_print ("%s\n", cell);
      else
        g_print ("%s%*s", cell, (int)(widths[column] - g_utf8_strlen (cell, -1) + 2), "");
    }
  g_ptr_array_unref (table->cells);
  g_free (table);
}

static void
print_json (JsonNode *node)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}

/* "CommitIndex" -> "commit_index". */
static char *
snake_case (const char *name)
{
  GString *out = g_string_new (NULL);

  for (const char *p = name; *p != '\0'; p++)
    {
      if (g_ascii_isupper (*p) && p != name)
        g_string_append_c (out, '_');
      g_string_append_c (out, g_ascii_tolower (*p));
    }
  return g_string_free (out, FALSE);
}

static JsonNode *
peers_to_json (GVariant *peers)
{
  JsonArray *array = json_array_new ();
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  GVariantIter iter;
  const char *address, *state;
  guint64 lag;
  gint64 contact;

  g_variant_iter_init (&iter, peers);
  while (g_variant_iter_next (&iter, "(&s&stx)", &address, &state, &lag, &contact))
    {
      JsonObject *peer = json_object_new ();

      json_object_set_string_member (peer, "address", address);
      json_object_set_string_member (peer, "state", state);
      json_object_set_int_member (peer, "lag", (gint64)lag);
      json_object_set_int_member (peer, "last_contact_ms", contact);
      json_array_add_object_element (array, peer);
    }
  json_node_take_array (node, array);
  return node;
}

/* Every property, in the order of the interface (which is GetAll's). */
static JsonObject *
instance_to_json (Instance *instance)
{
  GDBusInterfaceInfo *info = chatctl_server1_interface_info ();
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "bus_name", instance->name);
  json_object_set_int_member (object, "port", instance->port);
  for (guint i = 0; info->properties[i] != NULL; i++)
    {
      const char *name = info->properties[i]->name;
      g_autoptr (GVariant) value
          = g_dbus_proxy_get_cached_property (G_DBUS_PROXY (instance->server), name);
      g_autofree char *key = snake_case (name);

      if (value == NULL)
        continue;
      if (g_str_equal (name, "Peers"))
        json_object_set_member (object, key, peers_to_json (value));
      else
        json_object_set_member (object, key, json_gvariant_serialize (value));
    }
  return object;
}

static void
print_instances_json (GPtrArray *instances)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_ARRAY);
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < instances->len; i++)
    json_array_add_object_element (array, instance_to_json (instances->pdata[i]));
  json_node_take_array (root, array);
  print_json (root);
}

/* --- commands -------------------------------------------------------------- */

static char *
in_sync_text (Instance *instance)
{
  const char *const *in_sync = chatctl_server1_get_in_sync (instance->server);
  GVariant *peers = chatctl_server1_get_peers (instance->server);

  return g_strdup_printf ("%u/%zu", in_sync != NULL ? g_strv_length ((char **)in_sync) : 0,
                          (peers != NULL ? g_variant_n_children (peers) : 0) + 1);
}

static void
add_status_row (Table *table, Instance *instance)
{
  ChatctlServer1 *server = instance->server;
  const char *hash = text_or_dash (chatctl_server1_get_state_hash (server));

  table_add (table, g_strdup (node_of (instance)));
  table_add (table, g_strdup (text_or_dash (chatctl_server1_get_role (server))));
  table_add (table, g_strdup_printf ("%" G_GUINT64_FORMAT, chatctl_server1_get_term (server)));
  table_add (table, g_strdup (text_or_dash (chatctl_server1_get_leader (server))));
  table_add (table,
             g_strdup_printf ("%" G_GUINT64_FORMAT, chatctl_server1_get_commit_index (server)));
  table_add (table,
             g_strdup_printf ("%" G_GUINT64_FORMAT, chatctl_server1_get_applied_index (server)));
  table_add (table, in_sync_text (instance));
  table_add (table, g_strdup_printf ("%u", chatctl_server1_get_connected_clients (server)));
  table_add (table, g_strndup (hash, 12));
}

static int
command_status (GDBusConnection *bus, GPtrArray *instances)
{
  static const char *const headers[] = { "ENDPOINT", "ROLE",    "TERM",    "LEADER", "COMMIT",
                                         "APPLIED",  "IN-SYNC", "CLIENTS", "HASH",   NULL };
  Table *table;

  if (opts.json)
    {
      print_instances_json (instances);
      return EXIT_OK;
    }
  table = table_new (headers);
  for (guint i = 0; i < instances->len; i++)
    add_status_row (table, instances->pdata[i]);
  table_print_and_free (table);
  /* A server that can neither lead nor follow says why, under the table. */
  for (guint i = 0; i < instances->len; i++)
    {
      Instance *instance = instances->pdata[i];
      const char *waiting = text_or_dash (chatctl_server1_get_waiting (instance->server));

      if (g_strcmp0 (waiting, "-") != 0)
        g_print ("%s: %s\n", node_of (instance), waiting);
    }
  return EXIT_OK;
}

static char *
contact_text (gint64 ms)
{
  if (ms < 0)
    return g_strdup ("never");
  if (ms < 10000)
    return g_strdup_printf ("%" G_GINT64_FORMAT " ms ago", ms);
  return g_strdup_printf ("%" G_GINT64_FORMAT " s ago", ms / 1000);
}

static void
add_peer_rows (Table *table, Instance *instance)
{
  GVariant *peers = chatctl_server1_get_peers (instance->server);
  GVariantIter iter;
  const char *address, *state;
  guint64 lag;
  gint64 contact;

  if (peers == NULL)
    return;
  g_variant_iter_init (&iter, peers);
  while (g_variant_iter_next (&iter, "(&s&stx)", &address, &state, &lag, &contact))
    {
      table_add (table, g_strdup (node_of (instance)));
      table_add (table, g_strdup (address));
      table_add (table, g_strdup (state));
      table_add (table, g_strdup_printf ("%" G_GUINT64_FORMAT, lag));
      table_add (table, contact_text (contact));
    }
}

static int
command_peers (GDBusConnection *bus, GPtrArray *instances)
{
  static const char *const headers[] = { "ENDPOINT", "PEER", "STATE", "LAG", "LAST-CONTACT", NULL };
  Table *table;

  if (opts.json)
    {
      print_instances_json (instances);
      return EXIT_OK;
    }
  table = table_new (headers);
  for (guint i = 0; i < instances->len; i++)
    add_peer_rows (table, instances->pdata[i]);
  table_print_and_free (table);
  return EXIT_OK;
}

/* The instance a single-target command acts on: --port, else the only instance,
 * else (for step-down) the local leader. */
static Instance *
pick_target (GPtrArray *instances, gboolean prefer_leader)
{
  if (instances->len == 1)
    return instances->pdata[0];
  for (guint i = 0; prefer_leader && i < instances->len; i++)
    if (is_leader (instances->pdata[i]))
      return instances->pdata[i];
  return NULL;
}

static int
print_done (Instance *target, const char *what, JsonObject *extra)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = extra != NULL ? extra : json_object_new ();

  if (!opts.json)
    {
      g_print ("%s: %s\n", node_of (target), what);
      json_object_unref (object);
      return EXIT_OK;
    }
  json_object_set_string_member (object, "bus_name", target->name);
  json_object_set_string_member (object, "node", node_of (target));
  json_object_set_string_member (object, "result", what);
  json_node_take_object (root, object);
  print_json (root);
  return EXIT_OK;
}

static int
command_step_down (GDBusConnection *bus, GPtrArray *instances)
{
  g_autoptr (GError) error = NULL;
  Instance *target = pick_target (instances, TRUE);

  if (target == NULL)
    {
      g_printerr ("chatctl: step-down: no local leader found; name one with --port\n");
      return EXIT_NO_INSTANCE;
    }
  if (!chatctl_server1_call_step_down_sync (target->server, NULL, &error))
    return report_error ("step-down", error);
  return print_done (target, "stepped down", NULL);
}

static int
command_snapshot (GDBusConnection *bus, GPtrArray *instances)
{
  g_autoptr (GError) error = NULL;
  Instance *target = pick_target (instances, FALSE);
  g_autofree char *text = NULL;
  JsonObject *extra;
  guint64 index = 0;

  if (target == NULL)
    {
      g_printerr ("chatctl: snapshot: several servers run here; choose one with --port\n");
      return EXIT_USAGE;
    }
  if (!chatctl_server1_call_snapshot_sync (target->server, &index, NULL, &error))
    return report_error ("snapshot", error);
  text = g_strdup_printf ("snapshot written up to index %" G_GUINT64_FORMAT, index);
  extra = json_object_new ();
  json_object_set_int_member (extra, "index", (gint64)index);
  return print_done (target, text, extra);
}

static int
command_force_leader (GDBusConnection *bus, GPtrArray *instances)
{
  g_autoptr (GError) error = NULL;
  Instance *target = instances->pdata[0];

  if (opts.port == 0 || !opts.yes_i_know)
    {
      g_printerr ("chatctl: force-leader makes a recovering server lead without its peers;\n"
                  "writes only they had may be lost. Run it as\n"
                  "  chatctl force-leader --port PORT --yes-i-know\n");
      return EXIT_USAGE;
    }
  if (!chatctl_server1_call_force_leader_sync (target->server, TRUE, NULL, &error))
    return report_error ("force-leader", error);
  return print_done (target, "forced to lead", NULL);
}

/* Every server found (or --port): re-read the [tls] files, as SIGHUP does. */
static int
command_reload_certificates (GDBusConnection *bus, GPtrArray *instances)
{
  int code = EXIT_OK;

  for (guint i = 0; i < instances->len; i++)
    {
      Instance *instance = instances->pdata[i];
      g_autoptr (GError) error = NULL;

      if (!chatctl_server1_call_reload_certificates_sync (instance->server, NULL, &error))
        code = report_error ("reload-certificates", error);
      else
        print_done (instance, "certificates reloaded", NULL);
    }
  return code;
}

/* chatctl make-certificates DIR HOST...: the openssl script shipped with chatd, which
 * needs no server and no bus. */
static int
make_certificates (int argc, char **argv)
{
  const char *script = g_getenv ("CHATD_MAKE_CERTIFICATES");
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (script == NULL)
    script = DATADIR "/chatd/make-certificates";
  g_ptr_array_add (args, (char *)script);
  for (int i = 2; i < argc; i++)
    g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);
  if (!g_spawn_sync (NULL, (char **)args->pdata, NULL, G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL,
                     NULL, NULL, &status, &error))
    {
      g_printerr ("chatctl: make-certificates: %s\n", error->message);
      return EXIT_DAEMON_ERROR;
    }
  return g_spawn_check_wait_status (status, NULL) ? EXIT_OK : EXIT_DAEMON_ERROR;
}

/* --- health ----------------------------------------------------------------- */

#define HEALTH_POLL_MS 250

/* Lists and reads the servers again (ChatctlServer1 *); one that cannot be read counts as
 * absent. */
static GPtrArray *
read_health_servers (GDBusConnection *bus)
{
  g_autoptr (GPtrArray) instances = list_instances (bus, NULL);
  GPtrArray *servers = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; instances != NULL && i < instances->len; i++)
    {
      Instance *instance = instances->pdata[i];

      if (read_properties (bus, instance, NULL))
        g_ptr_array_add (servers, g_object_ref (instance->server));
    }
  return servers;
}

static void
print_health (ChatctlHealth health, const char *reason)
{
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object = NULL;

  if (!opts.json)
    {
      g_print ("%s: %s\n", chatctl_health_to_string (health), reason);
      return;
    }
  object = json_object_new ();
  json_object_set_string_member (object, "health", chatctl_health_to_string (health));
  json_object_set_int_member (object, "exit", health);
  json_object_set_string_member (object, "reason", reason);
  root = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (root, object);
  print_json (root);
}

/* 0 healthy, 1 degraded, 2 unavailable; with --wait, asks again until healthy or the
 * time is up (a server that just started is not on the bus at once). */
static int
command_health (GDBusConnection *bus, GPtrArray *instances)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)opts.wait_s * G_USEC_PER_SEC;
  g_autofree char *reason = NULL;
  ChatctlHealth health;

  for (;;)
    {
      g_autoptr (GPtrArray) servers = read_health_servers (bus);

      g_clear_pointer (&reason, g_free);
      health = chatctl_health_judge_all (servers, &reason);
      if (health == CHATCTL_HEALTHY || g_get_monotonic_time () >= deadline)
        break;
      g_usleep (HEALTH_POLL_MS * 1000);
    }
  print_health (health, reason);
  return health;
}

/* Polls the old leader until it follows another server; returns that server, or NULL. */
static char *
wait_for_handover (GDBusConnection *bus, Instance *old_leader)
{
  for (guint waited = 0; waited <= HANDOVER_WAIT_MS; waited += 100)
    {
      if (read_properties (bus, old_leader, NULL))
        {
          const char *leader = text_or_dash (chatctl_server1_get_leader (old_leader->server));

          if (!is_leader (old_leader) && !g_str_equal (leader, "-")
              && !g_str_equal (leader, node_of (old_leader)))
            return g_strdup (leader);
        }
      g_usleep (100 * G_TIME_SPAN_MILLISECOND);
    }
  return NULL;
}

static int
command_transfer_leadership (GDBusConnection *bus, GPtrArray *instances)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *new_leader = NULL, *text = NULL, *chosen = NULL;
  Instance *target = pick_target (instances, TRUE);
  JsonObject *extra;

  if (target == NULL)
    {
      g_printerr ("chatctl: transfer-leadership: no local leader found; name one with --port\n");
      return EXIT_NO_INSTANCE;
    }
  if (!chatctl_server1_call_transfer_leadership_sync (target->server, opts.to ? opts.to : "",
                                                      &chosen, NULL, &error))
    return report_error ("transfer-leadership", error);
  new_leader = wait_for_handover (bus, target);
  if (new_leader == NULL)
    {
      g_printerr ("chatctl: transfer-leadership: %s asked %s to take over, but still leads or "
                  "knows no leader after %d s\n",
                  node_of (target), chosen, HANDOVER_WAIT_MS / 1000);
      return EXIT_DAEMON_ERROR;
    }
  text = g_strdup_printf ("handed leadership to %s", new_leader);
  extra = json_object_new ();
  json_object_set_string_member (extra, "leader", new_leader);
  return print_done (target, text, extra);
}

/* --- main ------------------------------------------------------------------ */

typedef int (*CommandFunc) (GDBusConnection *bus, GPtrArray *instances);

static const struct
{
  const char *name;
  CommandFunc func;
} commands[] = {
  { "status", command_status },
  { "peers", command_peers },
  { "step-down", command_step_down },
  { "snapshot", command_snapshot },
  { "force-leader", command_force_leader },
  { "reload-certificates", command_reload_certificates },
  { "health", command_health },
  { "transfer-leadership", command_transfer_leadership },
};

static const GOptionEntry entries[] = {
  { "port", 'p', 0, G_OPTION_ARG_INT, &opts.port, "Only the server on this port", "PORT" },
  { "json", 'j', 0, G_OPTION_ARG_NONE, &opts.json, "Print JSON instead of a table", NULL },
  { "system", 0, 0, G_OPTION_ARG_NONE, &opts.use_system, "Use the system bus only", NULL },
  { "session", 0, 0, G_OPTION_ARG_NONE, &opts.use_session, "Use the session bus only", NULL },
  { "yes-i-know", 0, 0, G_OPTION_ARG_NONE, &opts.yes_i_know,
    "Confirm force-leader (it can lose writes)", NULL },
  { "wait", 'w', 0, G_OPTION_ARG_INT, &opts.wait_s,
    "health: ask again until healthy, for up to SECONDS", "SECONDS" },
  { "to", 0, 0, G_OPTION_ARG_STRING, &opts.to, "transfer-leadership: the server to hand over to",
    "HOST:PORT" },
  { NULL },
};

static const char summary[]
    = "Commands:\n"
      "  status        Role, term, leader, indexes and state hash of every local server\n"
      "  peers         How each server sees the others: state, lag, last contact\n"
      "  step-down     Ask the leader (or --port) to hand leadership over\n"
      "  snapshot      Write a snapshot and compact the log (--port when several run)\n"
      "  force-leader  Make a recovering server lead (--port and --yes-i-know)\n"
      "  reload-certificates  Re-read the [tls] certificate, key and ca (every server, or --port)\n"
      "  make-certificates DIR HOST...  Make a cluster CA and one certificate per host in DIR\n"
      "  health        One line: healthy, degraded or unavailable, and why (exit 0, 1, 2)\n"
      "  transfer-leadership  Hand leadership to an in-sync server (--to HOST:PORT, or the\n"
      "                closest) and wait until it leads; for planned restarts\n"
      "\n"
      "Servers are found on the system bus, or on the session bus when none runs there.\n"
      "Exit status: 0 ok, 1 error from chatd, 2 usage, 3 no server found, 4 permission denied;\n"
      "health: 0 healthy, 1 degraded, 2 unavailable (also when no server is found).";

static CommandFunc
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return commands[i].func;
  return NULL;
}

static gboolean
parse_args (int *argc, char ***argv, CommandFunc *func)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("COMMAND");
  g_autoptr (GError) error = NULL;

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("chatctl: %s (see chatctl --help)\n", error->message);
      return FALSE;
    }
  if (*argc != 2 || (*func = find_command ((*argv)[1])) == NULL)
    {
      g_printerr ("chatctl: expected one command: status, peers, step-down, snapshot, "
                  "force-leader, reload-certificates, make-certificates, health or "
                  "transfer-leadership (see chatctl --help)\n");
      return FALSE;
    }
  if (opts.use_system && opts.use_session)
    {
      g_printerr ("chatctl: --system and --session exclude each other\n");
      return FALSE;
    }
  if (opts.wait_s < 0 || opts.wait_s > MAX_WAIT_S)
    {
      g_printerr ("chatctl: --wait takes 0 to %d seconds\n", MAX_WAIT_S);
      return FALSE;
    }
  if (opts.port < 0 || opts.port > G_MAXUINT16)
    {
      g_printerr ("chatctl: --port must be between 1 and %d\n", G_MAXUINT16);
      return FALSE;
    }
  return TRUE;
}

static int
read_all (GDBusConnection *bus, GPtrArray *instances)
{
  for (guint i = 0; i < instances->len; i++)
    {
      g_autoptr (GError) error = NULL;

      if (!read_properties (bus, instances->pdata[i], &error))
        return report_error ("reading status", error);
    }
  return EXIT_OK;
}

int
main (int argc, char **argv)
{
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (GPtrArray) instances = NULL;
  g_autoptr (GError) error = NULL;
  CommandFunc func = NULL;
  int code;

  if (argc >= 2 && g_str_equal (argv[1], "make-certificates"))
    return make_certificates (argc, argv);
  if (!parse_args (&argc, &argv, &func))
    return EXIT_USAGE;
  bus = connect_and_list (&instances, &error);
  if (bus == NULL && func == command_health)
    {
      g_autofree char *reason = g_strdup_printf ("no bus to find chatd on: %s", error->message);

      print_health (CHATCTL_UNAVAILABLE, reason);
      return CHATCTL_UNAVAILABLE;
    }
  if (func == command_health)
    return command_health (bus, instances);
  if (bus == NULL)
    {
      code = report_error ("connecting to the bus", error);
      return code == EXIT_PERMISSION ? code : EXIT_NO_INSTANCE;
    }
  if (instances->len == 0)
    {
      g_printerr (opts.port != 0 ? "chatctl: no chatd server on port %d found on the bus\n"
                                 : "chatctl: no chatd server found on the bus\n",
                  opts.port);
      return EXIT_NO_INSTANCE;
    }
  code = read_all (bus, instances);
  if (code != EXIT_OK)
    return code;
  return func (bus, instances);
}
