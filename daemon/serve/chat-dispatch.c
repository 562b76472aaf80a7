/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Request parsing, the op table, leader and session checks, hello and shared helpers. */
#define G_LOG_DOMAIN "chatd-dispatch"

#include "config.h"

#include "chat-dispatch-private.h"

#include "chat-connection.h"
#include "chat-error.h"
#include "chat-json.h"
#include "chat-username.h"

#include <string.h>

#define MAX_ID_BYTES 64
#define MAX_ID_NUMBER_BITS 53 /* every whole number a double holds exactly */
#define MAX_ID_NUMBER (G_GINT64_CONSTANT (1) << MAX_ID_NUMBER_BITS)
#define MAX_OP_BYTES 32
#define PROTO_VERSION 1

typedef struct
{
  const char *name;
  ChatOpHandler handler;
  gboolean needs_session;
  gboolean pipelined; /* may overlap earlier pipelined requests (see ChatRequest) */
} ChatOpInfo;

static void dispatch_hello (ChatDispatch *self, ChatRequest *request);

static const ChatOpInfo ops[] = {
  { "hello", dispatch_hello, FALSE, FALSE },
  { "signup", chat_dispatch_signup, FALSE, FALSE },
  { "login", chat_dispatch_login, FALSE, FALSE },
  { "resume", chat_dispatch_resume, FALSE, FALSE },
  { "logout", chat_dispatch_logout, TRUE, FALSE },
  { "list_users", chat_dispatch_list_users, TRUE, FALSE },
  { "send", chat_dispatch_send, TRUE, TRUE },
  { "read_unread", chat_dispatch_read_unread, TRUE, FALSE },
  { "history", chat_dispatch_history, TRUE, FALSE },
  { "conversations", chat_dispatch_conversations, TRUE, FALSE },
  { "mark_read", chat_dispatch_mark_read, TRUE, TRUE },
  { "unread_count", chat_dispatch_unread_count, TRUE, FALSE },
  { "delete_messages", chat_dispatch_delete_messages, TRUE, TRUE },
  { "delete_account", chat_dispatch_delete_account, TRUE, FALSE },
  { "sync", chat_dispatch_sync, TRUE, FALSE },
};

G_DEFINE_FINAL_TYPE (ChatDispatch, chat_dispatch, G_TYPE_OBJECT)

static void
chat_dispatch_dispose (GObject *object)
{
  ChatDispatch *self = CHAT_DISPATCH (object);

  if (self->replica != NULL)
    chat_dispatch_ready_stop (self);
  G_OBJECT_CLASS (chat_dispatch_parent_class)->dispose (object);
}

static void
chat_dispatch_finalize (GObject *object)
{
  ChatDispatch *self = CHAT_DISPATCH (object);

  g_clear_object (&self->store);
  g_clear_object (&self->replica);
  g_clear_object (&self->sessions);
  g_clear_object (&self->auth);
  G_OBJECT_CLASS (chat_dispatch_parent_class)->finalize (object);
}

static void
chat_dispatch_class_init (ChatDispatchClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = chat_dispatch_dispose;
  G_OBJECT_CLASS (klass)->finalize = chat_dispatch_finalize;
}

static void
chat_dispatch_init (ChatDispatch *self)
{
}

ChatDispatch *
chat_dispatch_new (const ChatConfig *config, ChatStore *store, ChatReplica *replica,
                   ChatSessions *sessions, ChatAuth *auth)
{
  ChatDispatch *self = g_object_new (CHAT_TYPE_DISPATCH, NULL);

  self->config = config;
  self->store = g_object_ref (store);
  self->replica = g_object_ref (replica);
  self->sessions = g_object_ref (sessions);
  self->auth = g_object_ref (auth);
  chat_dispatch_ready_start (self);
  return self;
}

static const ChatOpInfo *
find_op (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      if (g_str_equal (ops[i].name, name))
        return &ops[i];
    }
  return NULL;
}

/* The id a response echoes: a whole number 0..2^53 or a string of at most 64 bytes. */
static gboolean
check_id (JsonNode *id, GError **error)
{
  GType type = json_node_get_value_type (id);

  if (JSON_NODE_HOLDS_NULL (id))
    return TRUE;
  if (type == G_TYPE_INT64 && json_node_get_int (id) >= 0
      && json_node_get_int (id) <= MAX_ID_NUMBER)
    return TRUE;
  if (type == G_TYPE_STRING && strlen (json_node_get_string (id)) <= MAX_ID_BYTES)
    return TRUE;
  g_set_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST,
               "Field “id” must be a whole number from 0 to 2^%d or a string of at most %d bytes",
               MAX_ID_NUMBER_BITS, MAX_ID_BYTES);
  return FALSE;
}

ChatRequest *
chat_dispatch_parse (ChatDispatch *self, ChatConnection *conn, const char *line, gsize len)
{
  g_autoptr (JsonObject) object = NULL;
  GError *error = NULL;
  JsonNode *id = NULL;
  const char *op = NULL;
  const ChatOpInfo *info = NULL;
  ChatRequest *request = NULL;

  /* Most requests (a send) are flat objects of plain strings and numbers, which the flat
   * reader takes without json-glib's parser and reads as that would; it leaves anything
   * else, bad input included, to chat_json_parse_object and its errors. */
  object = chat_json_parse_flat_object (line, len);
  if (object == NULL)
    object = chat_json_parse_object (line, len, &error);
  if (object == NULL)
    return chat_request_new_failed (conn, NULL, error);
  id = json_object_get_member (object, "id");
  if (id != NULL && !check_id (id, &error))
    return chat_request_new_failed (conn, NULL, error);
  if (!chat_json_get_string (object, "op", TRUE, MAX_OP_BYTES, &op, &error))
    return chat_request_new_failed (conn, id, error);
  info = find_op (op);
  if (info == NULL)
    {
      error = g_error_new (CHAT_ERROR, CHAT_ERROR_BAD_REQUEST, "Unknown operation “%s”", op);
      return chat_request_new_failed (conn, id, error);
    }
  request = chat_request_new (conn, id, info->name, object);
  chat_request_set_pipelined (request, info->pipelined);
  return request;
}

static void
fail_not_leader (ChatDispatch *self, ChatRequest *request)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) extra = json_object_new ();
  const char *leader = chat_replica_get_leader_address (self->replica);

  if (leader != NULL)
    json_object_set_string_member (extra, "leader", leader);
  else
    json_object_set_null_member (extra, "leader");
  error = g_error_new_literal (CHAT_ERROR, CHAT_ERROR_NOT_LEADER,
                               leader ? "This server is not the leader; ask the leader"
                                      : "This server is not the leader and knows of none yet");
  chat_request_fail_with (request, error, extra);
}

void
chat_dispatch_run (ChatDispatch *self, ChatRequest *request)
{
  const ChatOpInfo *info = NULL;
  gboolean reads = FALSE;

  if (chat_request_get_error (request) != NULL)
    {
      chat_request_fail (request, chat_request_get_error (request));
      return;
    }
  info = find_op (chat_request_get_op (request));
  g_assert (info != NULL);
  if (info->handler != dispatch_hello && !chat_replica_is_serving (self->replica))
    {
      /* Elected, but nothing of its own term is committed yet: it may not answer reads
       * from state an earlier leader could still extend. The request waits for that. */
      if (chat_replica_is_electing (self->replica))
        chat_dispatch_wait_until_ready (self, request);
      else
        fail_not_leader (self, request);
      return;
    }
  if (info->needs_session && chat_request_get_session_hash (request) == NULL)
    {
      chat_request_fail_literal (request, CHAT_ERROR_UNAUTHENTICATED,
                                 "Log in first (signup, login or resume)");
      return;
    }
  reads = chat_store_begin_reads (self->store);
  info->handler (self, request);
  chat_store_end_reads (self->store, reads);
}

/* --- hello -------------------------------------------------------------------- */

static gboolean
is_in_sync (const ChatStatus *status, const char *address)
{
  return g_ptr_array_find_with_equal_func (status->in_sync, address, g_str_equal, NULL);
}

static void
add_server (JsonArray *array, const ChatStatus *status, const char *address, const char *state)
{
  JsonObject *entry = json_object_new ();

  json_object_set_string_member (entry, "address", address);
  json_object_set_string_member (entry, "state", state);
  json_object_set_boolean_member (entry, "in_sync", is_in_sync (status, address));
  json_array_add_object_element (array, entry);
}

/* Every server of the config, in its order: this one (its role) among its peers. */
static JsonArray *
servers_to_json (ChatDispatch *self, const ChatStatus *status)
{
  JsonArray *array = json_array_new ();
  guint self_index = chat_replica_get_id (self->replica) - 1;

  for (guint i = 0; i <= status->peers->len; i++)
    {
      const ChatPeerStatus *peer = NULL;

      if (i == self_index)
        add_server (array, status, status->node, status->role);
      if (i == status->peers->len)
        break;
      peer = g_ptr_array_index (status->peers, i);
      add_server (array, status, peer->address, peer->state);
    }
  return array;
}

/* hello {"state_hash": true} adds the chat state's hash and the index it is complete
 * up to, so tests and operators can check that servers converged (docs/replication.md). */
static gboolean
add_state_hash (ChatDispatch *self, JsonObject *params, JsonObject *reply, GError **error)
{
  gboolean wanted = FALSE;
  g_autofree char *hash = NULL;

  if (!chat_json_get_bool (params, "state_hash", FALSE, &wanted, error))
    return FALSE;
  if (!wanted)
    return TRUE;
  hash = chat_store_state_hash (self->store, error);
  if (hash == NULL)
    return FALSE;
  json_object_set_string_member (reply, "state_hash", hash);
  json_object_set_int_member (reply, "applied_index",
                              (gint64)chat_store_applied_index (self->store));
  return TRUE;
}

static void
dispatch_hello (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  g_autoptr (JsonObject) reply = json_object_new ();
  g_autoptr (GError) error = NULL;
  const char *client = NULL;
  guint64 proto = 0;
  g_autoptr (ChatStatus) status = chat_status_new ();

  if (!chat_json_get_string (params, "client", FALSE, 256, &client, &error)
      || !chat_json_get_uint (params, "proto", FALSE, G_MAXUINT32, &proto, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  json_object_set_string_member (reply, "server", "chatd " PACKAGE_VERSION);
  json_object_set_int_member (reply, "proto", PROTO_VERSION);
  chat_replica_fill_status (self->replica, status);
  json_object_set_string_member (reply, "node", status->node);
  json_object_set_string_member (reply, "role", status->role);
  if (status->leader != NULL)
    json_object_set_string_member (reply, "leader", status->leader);
  else
    json_object_set_null_member (reply, "leader");
  json_object_set_int_member (reply, "term", (gint64)status->term);
  json_object_set_array_member (reply, "servers", servers_to_json (self, status));
  if (status->waiting != NULL)
    json_object_set_string_member (reply, "waiting", status->waiting);
  if (!add_state_hash (self, params, reply, &error))
    {
      chat_dispatch_fail (request, error);
      return;
    }
  chat_request_reply (request, reply);
}

/* --- helpers for the handlers ---------------------------------------------------- */

gint64
chat_dispatch_now_ms (void)
{
  return g_get_real_time () / 1000;
}

void
chat_dispatch_fail (ChatRequest *request, const GError *error)
{
  if (error->domain != CHAT_ERROR || error->code == CHAT_ERROR_INTERNAL)
    g_warning ("Request “%s” failed: %s", chat_request_get_op (request), error->message);
  chat_request_fail (request, error);
}

gboolean
chat_dispatch_get_limit (JsonObject *params, guint default_limit, guint *limit, GError **error)
{
  guint64 value = default_limit;

  if (!chat_json_get_uint_range (params, "limit", FALSE, 1, CHAT_DISPATCH_MAX_LIMIT, &value, error))
    return FALSE;
  *limit = (guint)value;
  return TRUE;
}

gboolean
chat_dispatch_get_user (ChatDispatch *self, JsonObject *params, const char *field, char **display,
                        GError **error)
{
  const char *name = NULL;

  if (!chat_json_get_string (params, field, TRUE, 4096, &name, error))
    return FALSE;
  *display = chat_store_user_name (self->store, name);
  if (*display == NULL)
    {
      g_set_error (error, CHAT_ERROR, CHAT_ERROR_NO_SUCH_USER, "There is no user “%s”", name);
      return FALSE;
    }
  return TRUE;
}

JsonObject *
chat_dispatch_new_op (ChatDispatch *self, ChatRequest *request, const char *name)
{
  JsonObject *op = json_object_new ();

  json_object_set_string_member (op, "op", name);
  if (chat_request_get_username (request) != NULL)
    chat_dispatch_stamp_account (self, op, chat_request_get_username (request));
  return op;
}

/* The apply refuses a stamped op whose account was deleted and its name signed up again
 * before the op committed (a replay after a partition; docs/storage.md). */
void
chat_dispatch_stamp_account (ChatDispatch *self, JsonObject *op, const char *username)
{
  g_autoptr (GError) error = NULL;
  gint64 since = chat_store_account_since (self->store, username, &error);

  if (error != NULL)
    g_warning ("Reading the account of “%s” failed: %s", username, error->message);
  /* No account (deleted meanwhile): 0, which no signup's time matches, so it is refused. */
  json_object_set_int_member (op, "account_since", MAX (since, 0));
}

typedef struct
{
  ChatDispatch *dispatch;
  ChatRequest *request;
  ChatCommitFunc on_commit;
  gpointer data;
  GDestroyNotify destroy;
} Proposal;

static void
proposal_free (Proposal *proposal)
{
  if (proposal->destroy != NULL)
    proposal->destroy (proposal->data);
  g_object_unref (proposal->dispatch);
  chat_request_unref (proposal->request);
  g_free (proposal);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Proposal, proposal_free)

/* A send's answer {"message": ...}, written from the message's text. */
static void
reply_stored_message (ChatRequest *request, ChatStoredMessage *message)
{
  gsize len = 0;
  const char *json = chat_stored_message_get_json (message, &len);

  chat_request_reply_json (request, "message", json, len);
}

static void
on_proposal_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (Proposal) proposal = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatApplyResult) result
      = chat_replica_propose_finish (CHAT_REPLICA (source), res, NULL, &error);

  if (result == NULL)
    {
      chat_dispatch_fail (proposal->request, error);
      return;
    }
  if (result->error_code >= 0)
    {
      chat_request_fail_literal (proposal->request, result->error_code,
                                 result->error_message ? result->error_message
                                                       : "The operation was refused");
      return;
    }
  if (proposal->on_commit != NULL)
    proposal->on_commit (proposal->dispatch, proposal->request, result, proposal->data);
  else if (result->message != NULL)
    reply_stored_message (proposal->request, result->message);
  else
    chat_request_reply (proposal->request, result->reply);
}

void
chat_dispatch_propose (ChatDispatch *self, ChatRequest *request, JsonObject *op,
                       ChatCommitFunc on_commit, gpointer data, GDestroyNotify destroy)
{
  Proposal *proposal = g_new0 (Proposal, 1);

  proposal->dispatch = g_object_ref (self);
  proposal->request = chat_request_ref (request);
  proposal->on_commit = on_commit;
  proposal->data = data;
  proposal->destroy = destroy;
  chat_replica_propose_async (self->replica, op, NULL, on_proposal_done, proposal);
}
