/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatDbus: one server's io.github.chatd.Server1 object on the bus (status + admin). */
#define G_LOG_DOMAIN "chatd-dbus"

#include "config.h"

#include "chat-dbus.h"
#include "chat-dbus-resources.h"
#include "chat-error.h"
#include "chat-journal.h"

#define INTROSPECTION_RESOURCE "/io/github/chatd/daemon/io.github.chatd.Server1.xml"
/* PropertiesChanged is sent at most this often. */
#define FLUSH_DELAY_MS 100

typedef GVariant *(*ChatPropertyGetter) (const ChatStatus *status);

typedef struct
{
  const char *name;
  ChatPropertyGetter get;
} ChatProperty;

static const char *
text_or_empty (const char *s)
{
  return s != NULL ? s : "";
}

static GVariant *
get_node (const ChatStatus *s)
{
  return g_variant_new_string (text_or_empty (s->node));
}

static GVariant *
get_role (const ChatStatus *s)
{
  return g_variant_new_string (text_or_empty (s->role));
}

static GVariant *
get_term (const ChatStatus *s)
{
  return g_variant_new_uint64 (s->term);
}

static GVariant *
get_leader (const ChatStatus *s)
{
  return g_variant_new_string (text_or_empty (s->leader));
}

static GVariant *
get_commit_index (const ChatStatus *s)
{
  return g_variant_new_uint64 (s->commit_index);
}

static GVariant *
get_applied_index (const ChatStatus *s)
{
  return g_variant_new_uint64 (s->applied_index);
}

static GVariant *
get_mode (const ChatStatus *s)
{
  return g_variant_new_string (text_or_empty (s->mode));
}

static GVariant *
get_in_sync (const ChatStatus *s)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; i < s->in_sync->len; i++)
    g_variant_builder_add (&builder, "s", (const char *)g_ptr_array_index (s->in_sync, i));
  return g_variant_builder_end (&builder);
}

static GVariant *
get_peers (const ChatStatus *s)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sstx)"));
  for (guint i = 0; i < s->peers->len; i++)
    {
      const ChatPeerStatus *peer = g_ptr_array_index (s->peers, i);

      g_variant_builder_add (&builder, "(sstx)", text_or_empty (peer->address),
                             text_or_empty (peer->state), peer->lag, peer->last_contact_ms);
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
get_connected_clients (const ChatStatus *s)
{
  return g_variant_new_uint32 (s->connected_clients);
}

static GVariant *
get_accounts (const ChatStatus *s)
{
  return g_variant_new_uint64 (s->accounts);
}

static GVariant *
get_messages (const ChatStatus *s)
{
  return g_variant_new_uint64 (s->messages);
}

static GVariant *
get_waiting (const ChatStatus *s)
{
  return g_variant_new_string (text_or_empty (s->waiting));
}

static GVariant *
get_state_hash (const ChatStatus *s)
{
  return g_variant_new_string (text_or_empty (s->state_hash));
}

/* Every property but StateHash, which is computed only when read. */
static const ChatProperty properties_table[] = {
  { "Node", get_node },
  { "Role", get_role },
  { "Term", get_term },
  { "Leader", get_leader },
  { "CommitIndex", get_commit_index },
  { "AppliedIndex", get_applied_index },
  { "Mode", get_mode },
  { "InSync", get_in_sync },
  { "Peers", get_peers },
  { "ConnectedClients", get_connected_clients },
  { "Accounts", get_accounts },
  { "Messages", get_messages },
  { "Waiting", get_waiting },
};
#define N_TABLE G_N_ELEMENTS (properties_table)
#define APPLIED_INDEX_SLOT 5

struct _ChatDbus
{
  GObject parent_instance;

  guint16 port;
  char *bus_name;
  ChatStatusFunc status_func;
  gpointer status_data;
  GDestroyNotify status_notify;
  ChatClusterAdmin *admin; /* NULL: every admin method is not supported */

  GDBusConnection *connection;
  guint registration_id;
  guint owner_id;
  gboolean name_owned;

  ChatStatus *cached; /* read once per main loop iteration */
  guint cache_source;
  GVariant *announced[N_TABLE];
  guint flush_source;
};

G_DEFINE_FINAL_TYPE (ChatDbus, chat_dbus, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_NAME_OWNED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const GDBusErrorEntry error_entries[] = {
  { CHAT_DBUS_ERROR_FAILED, "io.github.chatd.Error.Failed" },
  { CHAT_DBUS_ERROR_NOT_CONFIRMED, "io.github.chatd.Error.NotConfirmed" },
  { CHAT_DBUS_ERROR_NOT_LEADER, "io.github.chatd.Error.NotLeader" },
};

GQuark
chat_dbus_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("chat-dbus-error-quark", &quark, error_entries,
                                      G_N_ELEMENTS (error_entries));
  return (GQuark)quark;
}

static GDBusInterfaceInfo *
interface_info (void)
{
  static GDBusNodeInfo *node_info = NULL;

  if (g_once_init_enter (&node_info))
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) xml
          = g_resource_lookup_data (chat_dbus_get_resource (), INTROSPECTION_RESOURCE, 0, &error);
      GDBusNodeInfo *info;

      g_assert_no_error (error);
      info = g_dbus_node_info_new_for_xml (g_bytes_get_data (xml, NULL), &error);
      g_assert_no_error (error);
      g_once_init_leave (&node_info, info);
    }
  return node_info->interfaces[0];
}

ChatDbusBus
chat_dbus_choose_bus (void)
{
  const char *forced = g_getenv ("CHATD_DBUS");

  if (forced != NULL && *forced != '\0')
    {
      if (g_str_equal (forced, "system"))
        return CHAT_DBUS_BUS_SYSTEM;
      if (g_str_equal (forced, "session"))
        return CHAT_DBUS_BUS_SESSION;
      if (!g_str_equal (forced, "none"))
        g_message ("CHATD_DBUS=%s is not system, session or none: not using D-Bus", forced);
      return CHAT_DBUS_BUS_NONE;
    }
  if (g_getenv ("INVOCATION_ID") != NULL || g_getenv ("NOTIFY_SOCKET") != NULL)
    return CHAT_DBUS_BUS_SYSTEM;
  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") != NULL)
    return CHAT_DBUS_BUS_SESSION;
  return CHAT_DBUS_BUS_NONE;
}

char *
chat_dbus_name_for_port (guint16 port)
{
  return g_strdup_printf (CHAT_DBUS_NAME_PREFIX "%u", (guint)port);
}

static gboolean
on_cache_expired (gpointer user_data)
{
  ChatDbus *self = CHAT_DBUS (user_data);

  self->cache_source = 0;
  g_clear_pointer (&self->cached, chat_status_free);
  return G_SOURCE_REMOVE;
}

/* The status, read at most once per main loop iteration (a GetAll reads every property). */
static const ChatStatus *
get_status (ChatDbus *self, ChatStatusWant want)
{
  gboolean need_hash = (want & CHAT_STATUS_WANT_STATE_HASH) != 0;

  if (self->cached != NULL && (!need_hash || self->cached->state_hash != NULL))
    return self->cached;
  g_clear_pointer (&self->cached, chat_status_free);
  self->cached = chat_status_new ();
  if (self->status_func != NULL)
    self->status_func (self->cached, want, self->status_data);
  /* High priority: the cache ends at the next iteration, before any further request is
   * dispatched; a default idle would wait behind busy sources and serve stale values. */
  if (self->cache_source == 0)
    self->cache_source = g_idle_add_full (G_PRIORITY_HIGH, on_cache_expired, self, NULL);
  return self->cached;
}

static const ChatProperty *
find_property (const char *name, guint *slot)
{
  for (guint i = 0; i < N_TABLE; i++)
    if (g_str_equal (properties_table[i].name, name))
      {
        *slot = i;
        return &properties_table[i];
      }
  return NULL;
}

static GVariant *
handle_get_property (GDBusConnection *connection, const char *sender, const char *object_path,
                     const char *interface_name, const char *property_name, GError **error,
                     gpointer user_data)
{
  ChatDbus *self = CHAT_DBUS (user_data);
  const ChatProperty *property;
  guint slot;

  if (g_str_equal (property_name, "StateHash"))
    return get_state_hash (get_status (self, CHAT_STATUS_WANT_STATE_HASH));
  property = find_property (property_name, &slot);
  if (property == NULL)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "No property %s",
                   property_name);
      return NULL;
    }
  return property->get (get_status (self, CHAT_STATUS_WANT_DEFAULT));
}

static void
return_op_error (GDBusMethodInvocation *invocation, const char *method, GError *error)
{
  if (error == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, CHAT_DBUS_ERROR, CHAT_DBUS_ERROR_FAILED,
                                             "%s failed", method);
      return;
    }
  if (error->domain == CHAT_DBUS_ERROR)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    {
      g_dbus_method_invocation_return_error_literal (invocation, G_DBUS_ERROR,
                                                     G_DBUS_ERROR_NOT_SUPPORTED, error->message);
      return;
    }
  /* chatctl tells "ask the leader" apart from every other failure. */
  if (g_error_matches (error, CHAT_ERROR, CHAT_ERROR_NOT_LEADER))
    {
      g_dbus_method_invocation_return_error_literal (invocation, CHAT_DBUS_ERROR,
                                                     CHAT_DBUS_ERROR_NOT_LEADER, error->message);
      return;
    }
  g_dbus_method_invocation_return_error (invocation, CHAT_DBUS_ERROR, CHAT_DBUS_ERROR_FAILED, "%s",
                                         error->message);
}

static gboolean
check_supported (ChatDbus *self, GDBusMethodInvocation *invocation, const char *method)
{
  if (self->admin != NULL)
    return TRUE;
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_NOT_SUPPORTED,
                                         "This server does not support %s yet", method);
  return FALSE;
}

static void
handle_step_down (ChatDbus *self, GDBusMethodInvocation *invocation)
{
  g_autoptr (GError) error = NULL;

  if (!check_supported (self, invocation, "StepDown"))
    return;
  g_message ("StepDown requested over D-Bus by %s",
             g_dbus_method_invocation_get_sender (invocation));
  if (!chat_cluster_admin_step_down (self->admin, &error))
    {
      return_op_error (invocation, "StepDown", error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
handle_snapshot (ChatDbus *self, GDBusMethodInvocation *invocation)
{
  g_autoptr (GError) error = NULL;
  guint64 index = 0;

  if (!check_supported (self, invocation, "Snapshot"))
    return;
  if (!chat_cluster_admin_snapshot (self->admin, &index, &error))
    {
      return_op_error (invocation, "Snapshot", error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(t)", index));
}

static void
handle_transfer_leadership (ChatDbus *self, GDBusMethodInvocation *invocation, GVariant *parameters)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *chosen = NULL;
  const char *target = NULL;

  if (!check_supported (self, invocation, "TransferLeadership"))
    return;
  g_variant_get (parameters, "(&s)", &target);
  if (!chat_cluster_admin_transfer_leadership (self->admin, target, &chosen, &error))
    {
      return_op_error (invocation, "TransferLeadership", error);
      return;
    }
  g_message ("TransferLeadership to %s requested over D-Bus by %s", chosen,
             g_dbus_method_invocation_get_sender (invocation));
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", chosen));
}

static void
log_forced (ChatDbus *self, const char *sender)
{
  const ChatStatus *status;

  g_clear_pointer (&self->cached, chat_status_free);
  status = get_status (self, CHAT_STATUS_WANT_DEFAULT);
  chat_journal_event (CHAT_EVENT_FORCE_LEADER, status->term, status->node, NULL,
                      "requested over D-Bus by %s", sender);
}

static void
handle_force_leader (ChatDbus *self, GDBusMethodInvocation *invocation, GVariant *parameters)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr (GError) error = NULL;
  gboolean confirm = FALSE;

  g_variant_get (parameters, "(b)", &confirm);
  if (!confirm)
    {
      g_message ("ForceLeader from %s refused: not confirmed", sender);
      g_dbus_method_invocation_return_error (
          invocation, CHAT_DBUS_ERROR, CHAT_DBUS_ERROR_NOT_CONFIRMED,
          "ForceLeader can lose acknowledged writes; call it with confirm=true to proceed");
      return;
    }
  if (!check_supported (self, invocation, "ForceLeader"))
    return;
  if (!chat_cluster_admin_force_leader (self->admin, &error))
    {
      return_op_error (invocation, "ForceLeader", error);
      return;
    }
  log_forced (self, sender);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
handle_reload_certificates (ChatDbus *self, GDBusMethodInvocation *invocation)
{
  g_autoptr (GError) error = NULL;

  if (!check_supported (self, invocation, "ReloadCertificates"))
    return;
  g_message ("ReloadCertificates requested over D-Bus by %s",
             g_dbus_method_invocation_get_sender (invocation));
  if (!chat_cluster_admin_reload_certificates (self->admin, &error))
    {
      return_op_error (invocation, "ReloadCertificates", error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
handle_method_call (GDBusConnection *connection, const char *sender, const char *object_path,
                    const char *interface_name, const char *method_name, GVariant *parameters,
                    GDBusMethodInvocation *invocation, gpointer user_data)
{
  ChatDbus *self = CHAT_DBUS (user_data);

  if (g_str_equal (method_name, "StepDown"))
    handle_step_down (self, invocation);
  else if (g_str_equal (method_name, "Snapshot"))
    handle_snapshot (self, invocation);
  else if (g_str_equal (method_name, "ForceLeader"))
    handle_force_leader (self, invocation, parameters);
  else if (g_str_equal (method_name, "ReloadCertificates"))
    handle_reload_certificates (self, invocation);
  else if (g_str_equal (method_name, "TransferLeadership"))
    handle_transfer_leadership (self, invocation, parameters);
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "No method %s", method_name);
}

static const GDBusInterfaceVTable interface_vtable = {
  .method_call = handle_method_call,
  .get_property = handle_get_property,
};

/* Remembers the current values as announced, so that only changes are signalled. */
static void
remember_values (ChatDbus *self, const ChatStatus *status)
{
  for (guint i = 0; i < N_TABLE; i++)
    {
      g_clear_pointer (&self->announced[i], g_variant_unref);
      self->announced[i] = g_variant_ref_sink (properties_table[i].get (status));
    }
}

static gboolean
export_object (ChatDbus *self, GDBusConnection *connection)
{
  g_autoptr (GError) error = NULL;

  g_set_object (&self->connection, connection);
  self->registration_id = g_dbus_connection_register_object (
      connection, CHAT_DBUS_OBJECT_PATH, interface_info (), &interface_vtable, self, NULL, &error);
  if (self->registration_id == 0)
    {
      g_warning ("Cannot export %s: %s", CHAT_DBUS_OBJECT_PATH, error->message);
      return FALSE;
    }
  remember_values (self, get_status (self, CHAT_STATUS_WANT_DEFAULT));
  return TRUE;
}

static void
set_name_owned (ChatDbus *self, gboolean owned)
{
  if (self->name_owned == owned)
    return;
  self->name_owned = owned;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME_OWNED]);
}

static void
on_bus_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  ChatDbus *self = CHAT_DBUS (user_data);

  if (self->registration_id == 0)
    export_object (self, connection);
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_debug ("Owning %s on the bus", name);
  set_name_owned (CHAT_DBUS (user_data), TRUE);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  ChatDbus *self = CHAT_DBUS (user_data);

  if (connection == NULL)
    g_message ("No D-Bus connection: %s is not published (the server runs on)", name);
  else
    g_message ("Cannot own %s on the bus (taken, or not allowed by the bus policy)", name);
  set_name_owned (self, FALSE);
}

static void
unexport (ChatDbus *self)
{
  if (self->owner_id != 0)
    g_bus_unown_name (self->owner_id);
  self->owner_id = 0;
  if (self->registration_id != 0 && self->connection != NULL)
    g_dbus_connection_unregister_object (self->connection, self->registration_id);
  self->registration_id = 0;
  g_clear_object (&self->connection);
}

void
chat_dbus_start (ChatDbus *self, ChatDbusBus bus)
{
  GBusType type = bus == CHAT_DBUS_BUS_SYSTEM ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION;

  g_return_if_fail (CHAT_IS_DBUS (self));
  g_return_if_fail (self->owner_id == 0);

  if (bus == CHAT_DBUS_BUS_NONE)
    {
      g_debug ("D-Bus disabled: %s is not published", self->bus_name);
      return;
    }
  self->owner_id = g_bus_own_name (type, self->bus_name, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                   on_bus_acquired, on_name_acquired, on_name_lost, self, NULL);
}

void
chat_dbus_stop (ChatDbus *self)
{
  g_return_if_fail (CHAT_IS_DBUS (self));

  unexport (self);
  set_name_owned (self, FALSE);
}

gboolean
chat_dbus_get_name_owned (ChatDbus *self)
{
  g_return_val_if_fail (CHAT_IS_DBUS (self), FALSE);
  return self->name_owned;
}

/* Adds every changed property to changed; TRUE when AppliedIndex moved. */
static gboolean
collect_changes (ChatDbus *self, const ChatStatus *status, GVariantBuilder *changed, gboolean *any)
{
  gboolean applied_moved = FALSE;

  for (guint i = 0; i < N_TABLE; i++)
    {
      g_autoptr (GVariant) value = g_variant_ref_sink (properties_table[i].get (status));

      if (self->announced[i] != NULL && g_variant_equal (self->announced[i], value))
        continue;
      g_variant_builder_add (changed, "{sv}", properties_table[i].name, value);
      g_clear_pointer (&self->announced[i], g_variant_unref);
      self->announced[i] = g_steal_pointer (&value);
      applied_moved |= i == APPLIED_INDEX_SLOT;
      *any = TRUE;
    }
  return applied_moved;
}

static void
emit_changes (ChatDbus *self)
{
  GVariantBuilder changed;
  GVariantBuilder invalidated;
  g_autoptr (GError) error = NULL;
  gboolean any = FALSE;

  g_clear_pointer (&self->cached, chat_status_free);
  g_variant_builder_init (&changed, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_init (&invalidated, G_VARIANT_TYPE_STRING_ARRAY);
  if (collect_changes (self, get_status (self, CHAT_STATUS_WANT_DEFAULT), &changed, &any))
    g_variant_builder_add (&invalidated, "s", "StateHash");
  if (!any)
    {
      g_variant_builder_clear (&changed);
      g_variant_builder_clear (&invalidated);
      return;
    }
  if (!g_dbus_connection_emit_signal (
          self->connection, NULL, CHAT_DBUS_OBJECT_PATH, "org.freedesktop.DBus.Properties",
          "PropertiesChanged",
          g_variant_new ("(sa{sv}as)", CHAT_DBUS_INTERFACE, &changed, &invalidated), &error))
    g_debug ("Cannot emit PropertiesChanged: %s", error->message);
}

static gboolean
on_flush_timeout (gpointer user_data)
{
  ChatDbus *self = CHAT_DBUS (user_data);

  self->flush_source = 0;
  chat_dbus_flush (self);
  return G_SOURCE_REMOVE;
}

void
chat_dbus_status_changed (ChatDbus *self)
{
  g_return_if_fail (CHAT_IS_DBUS (self));

  if (self->flush_source != 0 || self->registration_id == 0)
    return;
  self->flush_source = g_timeout_add (FLUSH_DELAY_MS, on_flush_timeout, self);
  g_source_set_name_by_id (self->flush_source, "[chatd] D-Bus PropertiesChanged");
}

void
chat_dbus_flush (ChatDbus *self)
{
  g_return_if_fail (CHAT_IS_DBUS (self));

  if (self->flush_source != 0)
    g_source_remove (self->flush_source);
  self->flush_source = 0;
  if (self->registration_id != 0)
    emit_changes (self);
}

void
chat_dbus_set_admin (ChatDbus *self, ChatClusterAdmin *admin)
{
  g_return_if_fail (CHAT_IS_DBUS (self));

  g_set_object (&self->admin, admin);
}

static void
chat_dbus_get_gproperty (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ChatDbus *self = CHAT_DBUS (object);

  switch (prop_id)
    {
      case PROP_NAME_OWNED:
        g_value_set_boolean (value, self->name_owned);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clear_source (guint *source)
{
  if (*source != 0)
    g_source_remove (*source);
  *source = 0;
}

static void
chat_dbus_dispose (GObject *object)
{
  ChatDbus *self = CHAT_DBUS (object);

  unexport (self);
  clear_source (&self->flush_source);
  clear_source (&self->cache_source);
  g_clear_object (&self->admin);
  G_OBJECT_CLASS (chat_dbus_parent_class)->dispose (object);
}

static void
chat_dbus_finalize (GObject *object)
{
  ChatDbus *self = CHAT_DBUS (object);

  if (self->status_notify != NULL)
    self->status_notify (self->status_data);
  g_clear_pointer (&self->cached, chat_status_free);
  for (guint i = 0; i < N_TABLE; i++)
    g_clear_pointer (&self->announced[i], g_variant_unref);
  g_free (self->bus_name);
  G_OBJECT_CLASS (chat_dbus_parent_class)->finalize (object);
}

static void
chat_dbus_class_init (ChatDbusClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = chat_dbus_get_gproperty;
  object_class->dispose = chat_dbus_dispose;
  object_class->finalize = chat_dbus_finalize;

  properties[PROP_NAME_OWNED]
      = g_param_spec_boolean ("name-owned", NULL, NULL, FALSE,
                              G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
chat_dbus_init (ChatDbus *self)
{
  (void)CHAT_DBUS_ERROR; /* registers the D-Bus error names */
}

ChatDbus *
chat_dbus_new (guint16 port, ChatStatusFunc status_func, gpointer user_data, GDestroyNotify notify)
{
  ChatDbus *self = g_object_new (CHAT_TYPE_DBUS, NULL);

  self->port = port;
  self->bus_name = chat_dbus_name_for_port (port);
  self->status_func = status_func;
  self->status_data = user_data;
  self->status_notify = notify;
  return self;
}
