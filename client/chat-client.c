/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatClient: the object, its properties and signals, and the events the server pushes. */
#define G_LOG_DOMAIN "libchat"

#include "config.h"

#include "chat-client-private.h"
#include "chat-json.h"
#include "chat-tls.h"

#define MAX_NAME_BYTES 256

G_DEFINE_FINAL_TYPE (ChatClient, chat_client, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_SERVERS,
  PROP_CLIENT_NAME,
  PROP_CONNECTION_STATE,
  PROP_USERNAME,
  PROP_SESSION,
  PROP_LEADER,
  PROP_SERVER,
  PROP_LAST_SEQ,
  PROP_REQUEST_TIMEOUT,
  PROP_CLUSTER_HEALTH,
  N_PROPS
};

enum
{
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_MESSAGES_DELETED,
  SIGNAL_MESSAGES_READ,
  SIGNAL_CONNECTION_STATE_CHANGED,
  SIGNAL_LEADER_CHANGED,
  SIGNAL_SESSION_ENDED,
  SIGNAL_ACCOUNT_DELETED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static const GEnumValue state_values[] = {
  { CHAT_CONNECTION_STATE_OFFLINE, "CHAT_CONNECTION_STATE_OFFLINE", "offline" },
  { CHAT_CONNECTION_STATE_CONNECTING, "CHAT_CONNECTION_STATE_CONNECTING", "connecting" },
  { CHAT_CONNECTION_STATE_CONNECTED, "CHAT_CONNECTION_STATE_CONNECTED", "connected" },
  { CHAT_CONNECTION_STATE_RECONNECTING, "CHAT_CONNECTION_STATE_RECONNECTING", "reconnecting" },
  { 0, NULL, NULL },
};

GType
chat_connection_state_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("ChatConnectionState", state_values));
  return (GType)type;
}

const char *
chat_connection_state_to_string (ChatConnectionState state)
{
  if ((guint)state > CHAT_CONNECTION_STATE_RECONNECTING)
    return "unknown";
  return state_values[state].value_nick;
}

static void
chat_client_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ChatClient *self = CHAT_CLIENT (object);

  switch (prop_id)
    {
      case PROP_SERVERS:
        g_value_set_boxed (value, self->servers);
        break;
      case PROP_CLIENT_NAME:
        g_value_set_string (value, self->client_name);
        break;
      case PROP_CONNECTION_STATE:
        g_value_set_enum (value, self->state);
        break;
      case PROP_USERNAME:
        g_value_set_string (value, self->username);
        break;
      case PROP_SESSION:
        g_value_set_string (value, self->session);
        break;
      case PROP_LEADER:
        g_value_set_string (value, self->leader);
        break;
      case PROP_SERVER:
        g_value_set_string (value, self->server);
        break;
      case PROP_LAST_SEQ:
        g_value_set_int64 (value, self->last_seq);
        break;
      case PROP_REQUEST_TIMEOUT:
        g_value_set_uint (value, self->request_timeout_ms);
        break;
      case PROP_CLUSTER_HEALTH:
        g_value_set_boxed (value, self->cluster_health);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_client_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  ChatClient *self = CHAT_CLIENT (object);

  switch (prop_id)
    {
      case PROP_SERVERS:
        self->servers = g_value_dup_boxed (value);
        break;
      case PROP_CLIENT_NAME:
        chat_client_set_client_name (self, g_value_get_string (value));
        break;
      case PROP_SESSION:
        chat_client_set_session (self, g_value_get_string (value));
        break;
      case PROP_LAST_SEQ:
        chat_client_set_last_seq (self, g_value_get_int64 (value));
        break;
      case PROP_REQUEST_TIMEOUT:
        chat_client_set_request_timeout (self, g_value_get_uint (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
chat_client_dispose (GObject *object)
{
  ChatClient *self = CHAT_CLIENT (object);
  g_autoptr (GError) error
      = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "The client was destroyed");

  chat_client_conn_shutdown (self, error);
  G_OBJECT_CLASS (chat_client_parent_class)->dispose (object);
}

static void
chat_client_finalize (GObject *object)
{
  ChatClient *self = CHAT_CLIENT (object);

  g_strfreev (self->servers);
  g_free (self->client_name);
  g_clear_object (&self->tls_database);
  g_free (self->username);
  g_free (self->session);
  g_free (self->leader);
  g_free (self->server);
  g_ptr_array_unref (self->cluster_health);
  g_free (self->msg_id_prefix);
  g_clear_pointer (&self->candidates, g_ptr_array_unref);
  g_free (self->last_error);
  g_hash_table_unref (self->inflight);
  chat_id_set_free (self->seen_messages);
  chat_id_set_free (self->seen_deletions);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (chat_client_parent_class)->finalize (object);
}

static void
install_properties (GObjectClass *object_class)
{
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  properties[PROP_SERVERS]
      = g_param_spec_boxed ("servers", NULL, NULL, G_TYPE_STRV,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CLIENT_NAME] = g_param_spec_string ("client-name", NULL, NULL, NULL, rw);
  properties[PROP_CONNECTION_STATE]
      = g_param_spec_enum ("connection-state", NULL, NULL, CHAT_TYPE_CONNECTION_STATE,
                           CHAT_CONNECTION_STATE_OFFLINE, ro);
  properties[PROP_USERNAME] = g_param_spec_string ("username", NULL, NULL, NULL, ro);
  properties[PROP_SESSION] = g_param_spec_string ("session", NULL, NULL, NULL, rw);
  properties[PROP_LEADER] = g_param_spec_string ("leader", NULL, NULL, NULL, ro);
  properties[PROP_SERVER] = g_param_spec_string ("server", NULL, NULL, NULL, ro);
  properties[PROP_LAST_SEQ] = g_param_spec_int64 ("last-seq", NULL, NULL, 0, G_MAXINT64, 0, rw);
  properties[PROP_REQUEST_TIMEOUT] = g_param_spec_uint ("request-timeout", NULL, NULL, 1, G_MAXUINT,
                                                        CHAT_CLIENT_DEFAULT_REQUEST_TIMEOUT_MS, rw);
  properties[PROP_CLUSTER_HEALTH]
      = g_param_spec_boxed ("cluster-health", NULL, NULL, G_TYPE_PTR_ARRAY, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
install_signals (GType type)
{
  signals[SIGNAL_MESSAGE_RECEIVED]
      = g_signal_new ("message-received", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                      1, CHAT_TYPE_MESSAGE);
  signals[SIGNAL_MESSAGES_DELETED] = g_signal_new ("messages-deleted", type, G_SIGNAL_RUN_LAST, 0,
                                                   NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ARRAY);
  signals[SIGNAL_MESSAGES_READ]
      = g_signal_new ("messages-read", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                      G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT64);
  signals[SIGNAL_CONNECTION_STATE_CHANGED]
      = g_signal_new ("connection-state-changed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 1, CHAT_TYPE_CONNECTION_STATE);
  signals[SIGNAL_LEADER_CHANGED] = g_signal_new ("leader-changed", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                 NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_SESSION_ENDED] = g_signal_new ("session-ended", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_ACCOUNT_DELETED] = g_signal_new ("account-deleted", type, G_SIGNAL_RUN_LAST, 0,
                                                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
chat_client_class_init (ChatClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = chat_client_get_property;
  object_class->set_property = chat_client_set_property;
  object_class->dispose = chat_client_dispose;
  object_class->finalize = chat_client_finalize;
  install_properties (object_class);
  install_signals (G_TYPE_FROM_CLASS (klass));
}

static void
chat_client_init (ChatClient *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->client_name = g_strdup ("libchat " PACKAGE_VERSION);
  self->request_timeout_ms = CHAT_CLIENT_DEFAULT_REQUEST_TIMEOUT_MS;
  self->cluster_health = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_server_status_free);
  self->msg_id_prefix = chat_client_msg_id_prefix_new ();
  self->seen_messages = chat_id_set_new (CHAT_CLIENT_SEEN_IDS);
  self->seen_deletions = chat_id_set_new (CHAT_CLIENT_SEEN_IDS);
  chat_client_conn_init (self);
}

ChatClient *
chat_client_new (const char *const *servers)
{
  g_return_val_if_fail (servers != NULL && servers[0] != NULL, NULL);
  return g_object_new (CHAT_TYPE_CLIENT, "servers", servers, NULL);
}

void
chat_client_set_tls_database (ChatClient *self, GTlsDatabase *database)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  g_set_object (&self->tls_database, database);
}

/* A client trusts [tls] ca (else the system store); it never reads a server's key. */
static gboolean
apply_tls_config (ChatClient *self, const ChatConfig *config, GError **error)
{
  g_autoptr (ChatTls) tls = NULL;

  if (!chat_config_tls_enabled (config))
    return TRUE;
  tls = chat_tls_new (NULL, NULL, config->tls_ca, error);
  if (tls == NULL)
    return FALSE;
  chat_client_set_tls_database (self, chat_tls_get_database (tls));
  return TRUE;
}

ChatClient *
chat_client_new_from_config (const ChatConfig *config, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) servers = NULL;
  g_autoptr (ChatClient) client = NULL;

  g_return_val_if_fail (config != NULL && config->servers->len > 0, NULL);
  for (guint i = 0; i < config->servers->len; i++)
    {
      g_autofree char *address = chat_server_address_to_string (config->servers->pdata[i]);
      g_strv_builder_add (builder, address);
    }
  servers = g_strv_builder_end (builder);
  client = chat_client_new ((const char *const *)servers);
  if (!apply_tls_config (client, config, error))
    return NULL;
  return g_steal_pointer (&client);
}

/* Accessors. */

ChatConnectionState
chat_client_get_connection_state (ChatClient *self)
{
  g_return_val_if_fail (CHAT_IS_CLIENT (self), CHAT_CONNECTION_STATE_OFFLINE);
  return self->state;
}

const char *
chat_client_get_username (ChatClient *self)
{
  g_return_val_if_fail (CHAT_IS_CLIENT (self), NULL);
  return self->username;
}

const char *
chat_client_get_session (ChatClient *self)
{
  g_return_val_if_fail (CHAT_IS_CLIENT (self), NULL);
  return self->session;
}

void
chat_client_set_session (ChatClient *self, const char *session)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  if (g_strcmp0 (self->session, session) == 0)
    return;
  g_free (self->session);
  self->session = g_strdup (session);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

const char *
chat_client_get_leader (ChatClient *self)
{
  g_return_val_if_fail (CHAT_IS_CLIENT (self), NULL);
  return self->leader;
}

const char *
chat_client_get_server (ChatClient *self)
{
  g_return_val_if_fail (CHAT_IS_CLIENT (self), NULL);
  return self->server;
}

gint64
chat_client_get_last_seq (ChatClient *self)
{
  g_return_val_if_fail (CHAT_IS_CLIENT (self), 0);
  return self->last_seq;
}

void
chat_client_set_last_seq (ChatClient *self, gint64 last_seq)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  if (self->last_seq == last_seq)
    return;
  self->last_seq = last_seq;
  if (self->resync_pending && self->resync_silent)
    self->resync_pending = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_SEQ]);
}

guint
chat_client_get_request_timeout (ChatClient *self)
{
  g_return_val_if_fail (CHAT_IS_CLIENT (self), 0);
  return self->request_timeout_ms;
}

void
chat_client_set_request_timeout (ChatClient *self, guint timeout_ms)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  timeout_ms = MAX (timeout_ms, 1);
  if (self->request_timeout_ms == timeout_ms)
    return;
  self->request_timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REQUEST_TIMEOUT]);
}

void
chat_client_set_client_name (ChatClient *self, const char *name)
{
  g_return_if_fail (CHAT_IS_CLIENT (self));
  if (name == NULL || g_strcmp0 (self->client_name, name) == 0)
    return;
  g_free (self->client_name);
  self->client_name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT_NAME]);
}

guint
chat_client_count_servers_up (ChatClient *self, guint *n_total)
{
  guint up = 0;

  g_return_val_if_fail (CHAT_IS_CLIENT (self), 0);
  for (guint i = 0; i < self->cluster_health->len; i++)
    if (chat_server_status_is_up (self->cluster_health->pdata[i]))
      up++;
  if (n_total != NULL)
    *n_total = self->cluster_health->len;
  return up;
}

char *
chat_client_new_client_msg_id (ChatClient *self)
{
  g_return_val_if_fail (CHAT_IS_CLIENT (self), NULL);
  return chat_client_msg_id_format (self->msg_id_prefix, ++self->msg_id_counter);
}

/* Internal setters. */

void
chat_client_set_state (ChatClient *self, ChatConnectionState state)
{
  if (self->state == state)
    return;
  g_debug ("connection state: %s", chat_connection_state_to_string (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTION_STATE]);
  g_signal_emit (self, signals[SIGNAL_CONNECTION_STATE_CHANGED], 0, state);
}

void
chat_client_set_leader (ChatClient *self, const char *leader)
{
  if (leader == NULL || chat_codec_address_equal (self->leader, leader))
    return;
  g_free (self->leader);
  self->leader = g_strdup (leader);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LEADER]);
  g_signal_emit (self, signals[SIGNAL_LEADER_CHANGED], 0, leader);
}

void
chat_client_set_server (ChatClient *self, const char *server)
{
  if (g_strcmp0 (self->server, server) == 0)
    return;
  g_free (self->server);
  self->server = g_strdup (server);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SERVER]);
}

void
chat_client_set_user (ChatClient *self, const char *username, const char *session)
{
  chat_client_set_session (self, session);
  if (g_strcmp0 (self->username, username) == 0)
    return;
  g_free (self->username);
  self->username = g_strdup (username);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USERNAME]);
}

void
chat_client_end_session (ChatClient *self, const char *reason)
{
  g_autoptr (ChatClient) hold G_GNUC_UNUSED = g_object_ref (self);

  if (self->username == NULL && self->session == NULL)
    return;
  chat_client_set_user (self, NULL, NULL);
  self->resync_pending = FALSE;
  g_signal_emit (self, signals[SIGNAL_SESSION_ENDED], 0, reason);
}

void
chat_client_set_cluster_health (ChatClient *self, const ChatHelloInfo *info)
{
  g_ptr_array_set_size (self->cluster_health, 0);
  for (guint i = 0; info->servers != NULL && i < info->servers->len; i++)
    g_ptr_array_add (self->cluster_health, chat_server_status_copy (info->servers->pdata[i]));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLUSTER_HEALTH]);
}

void
chat_client_note_seq (ChatClient *self, gint64 seq)
{
  if (seq <= self->last_seq)
    return;
  self->last_seq = seq;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_SEQ]);
}

void
chat_client_note_message_seen (ChatClient *self, ChatMessage *message)
{
  chat_id_set_add (self->seen_messages, chat_message_get_id (message));
  chat_client_note_seq (self, chat_message_get_seq (message));
}

void
chat_client_deliver_message (ChatClient *self, ChatMessage *message)
{
  gboolean fresh = chat_id_set_add (self->seen_messages, chat_message_get_id (message));

  chat_client_note_seq (self, chat_message_get_seq (message));
  if (fresh)
    g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, message);
}

void
chat_client_deliver_deleted (ChatClient *self, GArray *ids)
{
  g_autoptr (GArray) fresh = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < ids->len; i++)
    {
      gint64 id = g_array_index (ids, gint64, i);
      if (chat_id_set_add (self->seen_deletions, id))
        g_array_append_val (fresh, id);
    }
  if (fresh->len > 0)
    g_signal_emit (self, signals[SIGNAL_MESSAGES_DELETED], 0, fresh);
}

/* Events. */

static gint64
event_seq (JsonObject *event)
{
  guint64 seq = 0;
  g_autoptr (GError) error = NULL;

  chat_json_get_uint (event, "seq", FALSE, G_MAXINT64, &seq, &error);
  return (gint64)seq;
}

static void
handle_message_event (ChatClient *self, JsonObject *event)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatMessage) message = NULL;
  JsonNode *node = json_object_get_member (event, "message");

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  message = chat_message_new_from_json (json_node_get_object (node), &error);
  if (message == NULL)
    {
      g_debug ("ignoring a message event: %s", error->message);
      return;
    }
  chat_client_deliver_message (self, message);
}

static void
handle_deleted_event (ChatClient *self, JsonObject *event)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatSyncResult) parsed = NULL;
  g_autoptr (JsonObject) shaped = json_object_new ();
  JsonNode *ids = json_object_get_member (event, "ids");

  /* Reuse the sync parser for the id list: {"deleted": ids}. */
  if (ids != NULL)
    json_object_set_member (shaped, "deleted", json_node_copy (ids));
  parsed = chat_sync_result_new_from_json (shaped, &error);
  if (parsed == NULL)
    {
      g_debug ("ignoring a deleted event: %s", error->message);
      return;
    }
  chat_client_deliver_deleted (self, parsed->deleted);
}

static void
handle_read_event (ChatClient *self, JsonObject *event)
{
  g_autoptr (GError) error = NULL;
  const char *by = NULL, *with = NULL;
  guint64 up_to = 0;

  if (!chat_json_get_string (event, "by", TRUE, MAX_NAME_BYTES, &by, &error)
      || !chat_json_get_string (event, "with", FALSE, MAX_NAME_BYTES, &with, &error)
      || !chat_json_get_uint (event, "up_to", TRUE, G_MAXINT64, &up_to, &error))
    {
      g_debug ("ignoring a read event: %s", error->message);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_MESSAGES_READ], 0, by, with != NULL ? with : self->username,
                 (gint64)up_to);
}

static void
handle_named_event (ChatClient *self, JsonObject *event, const char *field, guint signal_id)
{
  g_autoptr (GError) error = NULL;
  const char *value = NULL;

  if (!chat_json_get_string (event, field, TRUE, MAX_NAME_BYTES, &value, &error))
    {
      g_debug ("ignoring an event: %s", error->message);
      return;
    }
  if (signal_id == signals[SIGNAL_SESSION_ENDED])
    chat_client_end_session (self, value);
  else
    g_signal_emit (self, signal_id, 0, value);
}

void
chat_client_handle_event (ChatClient *self, JsonObject *event)
{
  const char *name = json_object_get_string_member (event, "event");

  chat_client_note_seq (self, event_seq (event));
  if (g_strcmp0 (name, "message") == 0)
    handle_message_event (self, event);
  else if (g_strcmp0 (name, "deleted") == 0)
    handle_deleted_event (self, event);
  else if (g_strcmp0 (name, "read") == 0)
    handle_read_event (self, event);
  else if (g_strcmp0 (name, "account_deleted") == 0)
    handle_named_event (self, event, "user", signals[SIGNAL_ACCOUNT_DELETED]);
  else if (g_strcmp0 (name, "session_ended") == 0)
    handle_named_event (self, event, "reason", signals[SIGNAL_SESSION_ENDED]);
  else
    g_debug ("ignoring unknown event “%s”", name);
}
