/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The single-server ChatNode: group commit of proposals to the log, then batch apply.
 *
 * Interim, until the replication core drives this file: a node leads when it is
 * the only server of the config or was started with --primary; any other node is
 * a follower that knows no leader and answers not_leader with "leader": null. */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-node.h"

#include "chat-error.h"
#include "chat-json.h"

#include <string.h>

#define META_TERM "node.term"

typedef struct
{
  JsonObject *op;
  ChatNodeProposeFunc callback;
  gpointer user_data;
  guint64 index;
  ChatApplyResult *result;
} Proposal;

struct _ChatNode
{
  GObject parent_instance;

  ChatStore *store;
  const ChatConfig *config;
  guint node_id;
  gboolean primary;
  char *address;

  ChatNodeRole role;
  guint64 term;
  guint64 last_index;
  guint64 commit_index;
  gboolean started;

  GPtrArray *pending; /* Proposal *, waiting for the next group commit */
  guint flush_source;
};

enum
{
  SIGNAL_APPLIED,
  SIGNAL_STATUS_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ChatNode, chat_node, G_TYPE_OBJECT)

static void
proposal_free (Proposal *proposal)
{
  g_clear_pointer (&proposal->op, json_object_unref);
  g_clear_pointer (&proposal->result, chat_apply_result_free);
  g_free (proposal);
}

void
chat_node_server_free (ChatNodeServer *server)
{
  if (server == NULL)
    return;
  g_free (server->address);
  g_free (server);
}

static void
fail_proposals (GPtrArray *proposals, ChatNode *self, int code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (CHAT_ERROR, code, message);

  for (guint i = 0; i < proposals->len; i++)
    {
      Proposal *proposal = g_ptr_array_index (proposals, i);
      proposal->callback (self, 0, NULL, error, proposal->user_data);
    }
}

static void
chat_node_dispose (GObject *object)
{
  ChatNode *self = CHAT_NODE (object);

  chat_node_stop (self);
  G_OBJECT_CLASS (chat_node_parent_class)->dispose (object);
}

static void
chat_node_finalize (GObject *object)
{
  ChatNode *self = CHAT_NODE (object);

  g_clear_object (&self->store);
  g_ptr_array_unref (self->pending);
  g_free (self->address);
  G_OBJECT_CLASS (chat_node_parent_class)->finalize (object);
}

static void
chat_node_class_init (ChatNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = chat_node_dispose;
  object_class->finalize = chat_node_finalize;
  signals[SIGNAL_APPLIED]
      = g_signal_new ("applied", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 3, G_TYPE_UINT64, JSON_TYPE_OBJECT, G_TYPE_POINTER);
  signals[SIGNAL_STATUS_CHANGED]
      = g_signal_new ("status-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
}

static void
chat_node_init (ChatNode *self)
{
  self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify)proposal_free);
  self->role = CHAT_NODE_ROLE_FOLLOWER;
}

ChatNode *
chat_node_new (ChatStore *store, const ChatConfig *config, guint node_id, gboolean primary)
{
  ChatNode *self = g_object_new (CHAT_TYPE_NODE, NULL);
  const ChatServerAddress *me = NULL;

  g_return_val_if_fail (node_id >= 1 && node_id <= config->servers->len, self);
  self->store = g_object_ref (store);
  self->config = config;
  self->node_id = node_id;
  self->primary = primary;
  me = g_ptr_array_index (config->servers, node_id - 1);
  self->address = chat_server_address_to_string (me);
  return self;
}

/* --- persistent term ---------------------------------------------------------- */

static guint64
load_term (ChatNode *self)
{
  g_autoptr (GBytes) value = chat_store_get_meta (self->store, META_TERM);
  g_autofree char *text = NULL;
  gsize size = 0;
  const char *data = NULL;

  if (value == NULL)
    return 0;
  data = g_bytes_get_data (value, &size);
  text = g_strndup (data, size);
  return g_ascii_strtoull (text, NULL, 10);
}

static gboolean
save_term (ChatNode *self, guint64 term, GError **error)
{
  g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, term);
  g_autoptr (GBytes) value = g_bytes_new (text, strlen (text));

  return chat_store_set_meta (self->store, META_TERM, value, error);
}

/* --- applying ---------------------------------------------------------------------- */

static GBytes *
op_to_bytes (JsonObject *op)
{
  gsize len = 0;
  char *line = chat_json_to_line (op, &len);

  /* The log keeps the compact JSON without the line's '\n'. */
  line[--len] = '\0';
  return g_bytes_new_take (line, len);
}

static JsonObject *
op_from_entry (ChatLogEntry *entry, GError **error)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (entry->data, &size);
  JsonObject *op = chat_json_parse_object (data, size, error);

  if (op == NULL)
    g_prefix_error (error, "Log entry %" G_GUINT64_FORMAT ": ", entry->index);
  return op;
}

static gboolean
apply_entry (ChatNode *self, ChatLogEntry *entry, GError **error)
{
  g_autoptr (JsonObject) op = NULL;
  g_autoptr (ChatApplyResult) result = NULL;

  if (entry->type != CHAT_NODE_ENTRY_OP)
    return TRUE;
  op = op_from_entry (entry, error);
  if (op == NULL)
    return FALSE;
  result = chat_store_apply (self->store, entry->index, op, error);
  return result != NULL;
}

/* Applies committed entries the store has not applied yet, from the log: at start,
 * and after an apply transaction failed. Nobody waits for these answers. */
static gboolean
replay_log (ChatNode *self, GError **error)
{
  guint64 applied = chat_store_applied_index (self->store);
  g_autoptr (GPtrArray) entries = NULL;

  if (applied >= self->commit_index)
    return TRUE;
  entries = chat_store_load_log (self->store, applied + 1, error);
  if (entries == NULL || !chat_store_begin_apply (self->store, error))
    return FALSE;
  for (guint i = 0; i < entries->len; i++)
    {
      ChatLogEntry *entry = g_ptr_array_index (entries, i);

      if (entry->index > self->commit_index)
        break;
      if (!apply_entry (self, entry, error))
        {
          chat_store_rollback_apply (self->store);
          return FALSE;
        }
    }
  if (!chat_store_commit_apply (self->store, error))
    {
      chat_store_rollback_apply (self->store);
      return FALSE;
    }
  g_message ("Applied %u logged operations after index %" G_GUINT64_FORMAT, entries->len, applied);
  return TRUE;
}

static gboolean
apply_batch (ChatNode *self, GPtrArray *batch, GError **error)
{
  if (!chat_store_begin_apply (self->store, error))
    return FALSE;
  for (guint i = 0; i < batch->len; i++)
    {
      Proposal *proposal = g_ptr_array_index (batch, i);

      proposal->result = chat_store_apply (self->store, proposal->index, proposal->op, error);
      if (proposal->result == NULL)
        {
          chat_store_rollback_apply (self->store);
          return FALSE;
        }
    }
  if (!chat_store_commit_apply (self->store, error))
    {
      chat_store_rollback_apply (self->store);
      return FALSE;
    }
  return TRUE;
}

/* One durable append for the whole batch: the group commit. */
static gboolean
append_batch (ChatNode *self, GPtrArray *batch, GError **error)
{
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_full (batch->len, (GDestroyNotify)chat_log_entry_free);

  for (guint i = 0; i < batch->len; i++)
    {
      Proposal *proposal = g_ptr_array_index (batch, i);
      g_autoptr (GBytes) data = op_to_bytes (proposal->op);

      proposal->index = self->last_index + 1 + i;
      g_ptr_array_add (entries,
                       chat_log_entry_new (self->term, proposal->index, CHAT_NODE_ENTRY_OP, data));
    }
  if (!chat_store_append_log (self->store, 0, entries, error))
    return FALSE;
  self->last_index += batch->len;
  self->commit_index = self->last_index;
  return TRUE;
}

static void
answer_batch (ChatNode *self, GPtrArray *batch)
{
  for (guint i = 0; i < batch->len; i++)
    {
      Proposal *proposal = g_ptr_array_index (batch, i);

      proposal->callback (self, proposal->index, proposal->result, NULL, proposal->user_data);
      g_signal_emit (self, signals[SIGNAL_APPLIED], 0, proposal->index, proposal->op,
                     proposal->result);
    }
}

static gboolean
flush_pending (gpointer user_data)
{
  ChatNode *self = user_data;
  g_autoptr (ChatNode) keep = g_object_ref (self);
  g_autoptr (GPtrArray) batch = g_steal_pointer (&self->pending);
  g_autoptr (GError) error = NULL;

  self->flush_source = 0;
  self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify)proposal_free);
  if (self->role != CHAT_NODE_ROLE_LEADER)
    {
      fail_proposals (batch, self, CHAT_ERROR_NOT_LEADER, "This server is not the leader");
      return G_SOURCE_REMOVE;
    }
  if (!replay_log (self, &error) || !append_batch (self, batch, &error))
    {
      g_warning ("Cannot log %u operations: %s", batch->len, error->message);
      fail_proposals (batch, self, CHAT_ERROR_INTERNAL, "The server cannot store operations");
      return G_SOURCE_REMOVE;
    }
  if (!apply_batch (self, batch, &error))
    {
      /* Logged and committed: replay_log applies them before the next batch. */
      g_warning ("Cannot apply operations up to index %" G_GUINT64_FORMAT ": %s",
                 self->commit_index, error->message);
      fail_proposals (batch, self, CHAT_ERROR_INTERNAL, "The server cannot apply operations");
      return G_SOURCE_REMOVE;
    }
  answer_batch (self, batch);
  return G_SOURCE_REMOVE;
}

void
chat_node_propose (ChatNode *self, JsonObject *op, ChatNodeProposeFunc callback, gpointer user_data)
{
  Proposal *proposal = g_new0 (Proposal, 1);

  proposal->op = json_object_ref (op);
  proposal->callback = callback;
  proposal->user_data = user_data;
  g_ptr_array_add (self->pending, proposal);
  /* Everything proposed until the loop comes round again shares one fsync. */
  if (self->flush_source == 0)
    self->flush_source = g_timeout_add_full (G_PRIORITY_DEFAULT, 0, flush_pending, self, NULL);
}

/* --- life cycle ------------------------------------------------------------------ */

static void
set_role (ChatNode *self, ChatNodeRole role)
{
  if (self->role == role)
    return;
  self->role = role;
  g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0);
}

gboolean
chat_node_start (ChatNode *self, GError **error)
{
  gboolean leads = self->config->servers->len == 1 || self->primary;

  self->last_index = chat_store_last_log_index (self->store);
  /* A lone server's log holds only what it accepted itself: all of it is committed. */
  self->commit_index = self->last_index;
  if (!replay_log (self, error))
    {
      g_prefix_error (error, "Replaying the log failed: ");
      return FALSE;
    }
  self->term = load_term (self);
  if (leads)
    {
      if (!save_term (self, self->term + 1, error))
        return FALSE;
      self->term++;
    }
  self->started = TRUE;
  set_role (self, leads ? CHAT_NODE_ROLE_LEADER : CHAT_NODE_ROLE_FOLLOWER);
  g_message ("Node %u (%s) is %s in term %" G_GUINT64_FORMAT ", log up to %" G_GUINT64_FORMAT,
             self->node_id, self->address, chat_node_role_to_string (self->role), self->term,
             self->last_index);
  return TRUE;
}

void
chat_node_stop (ChatNode *self)
{
  g_autoptr (GPtrArray) batch = NULL;

  g_clear_handle_id (&self->flush_source, g_source_remove);
  if (self->pending != NULL && self->pending->len > 0)
    {
      batch = g_steal_pointer (&self->pending);
      self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify)proposal_free);
      fail_proposals (batch, self, CHAT_ERROR_UNAVAILABLE, "The server is shutting down");
    }
  if (self->started)
    set_role (self, CHAT_NODE_ROLE_FOLLOWER);
  self->started = FALSE;
}

/* --- status -------------------------------------------------------------------------- */

gboolean
chat_node_is_leader (ChatNode *self)
{
  return self->role == CHAT_NODE_ROLE_LEADER;
}

const char *
chat_node_leader_address (ChatNode *self)
{
  return self->role == CHAT_NODE_ROLE_LEADER ? self->address : NULL;
}

ChatNodeRole
chat_node_get_role (ChatNode *self)
{
  return self->role;
}

const char *
chat_node_role_to_string (ChatNodeRole role)
{
  switch (role)
    {
      case CHAT_NODE_ROLE_LEADER:
        return "leader";
      case CHAT_NODE_ROLE_CANDIDATE:
        return "candidate";
      case CHAT_NODE_ROLE_RECOVERING:
        return "recovering";
      case CHAT_NODE_ROLE_FOLLOWER:
      default:
        return "follower";
    }
}

guint
chat_node_get_id (ChatNode *self)
{
  return self->node_id;
}

const char *
chat_node_get_address (ChatNode *self)
{
  return self->address;
}

guint64
chat_node_get_term (ChatNode *self)
{
  return self->term;
}

guint64
chat_node_get_commit_index (ChatNode *self)
{
  return self->commit_index;
}

guint64
chat_node_get_applied_index (ChatNode *self)
{
  return chat_store_applied_index (self->store);
}

ChatStore *
chat_node_get_store (ChatNode *self)
{
  return self->store;
}

GPtrArray *
chat_node_list_servers (ChatNode *self)
{
  GPtrArray *servers = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_node_server_free);

  for (guint i = 0; i < self->config->servers->len; i++)
    {
      ChatNodeServer *server = g_new0 (ChatNodeServer, 1);
      gboolean me = i + 1 == self->node_id;

      server->address
          = chat_server_address_to_string (g_ptr_array_index (self->config->servers, i));
      server->state = me ? chat_node_role_to_string (self->role) : "unknown";
      server->in_sync = me && self->role == CHAT_NODE_ROLE_LEADER;
      g_ptr_array_add (servers, server);
    }
  return servers;
}
