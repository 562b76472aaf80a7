/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica: replays the operations of a diverged history through the current leader. */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-replica-private.h"

#include "chat-error.h"
#include "chat-journal.h"
#include "chat-json.h"

/* After a partition in available mode the losing side's operations wait in the store's
 * replay table (docs/partitions.md). The oldest REPLAY_WINDOW of them are in play at a
 * time: proposed here while this server leads, otherwise forwarded to the leader, which
 * proposes them and answers once they are committed. A row leaves the table only then,
 * or when the op can never be proposed. Ops carry their client ids, so proposing one
 * twice (a lost answer, a restart, every server of the losing side replaying the same
 * history) stores it once. */

/* Queued ops in play at once (proposed or forwarded, not answered yet). Each waits for a
 * commit on the leader, so the window bounds the replay's rate: with 64, thousands of ops
 * took several seconds (about 1,500 a second on the partition test's machine). */
#define REPLAY_WINDOW 512
/* The window is topped up once this many of its places are free: each top-up reads the
 * oldest rows of the queue. */
#define REFILL_AT (REPLAY_WINDOW / 4)
/* A forward not answered within this is sent again: the link or the leader may be gone. */
#define FORWARD_TIMEOUT_MS 3000
/* After an answer worth retrying (not_leader, unavailable) or a link that is down:
 * 100 ms, doubling up to 2 s per op. */
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 2000
/* How often the queue is looked at while it is not empty. */
#define REPLAY_TICK_MS 100
/* Leader side: forwarded ops of one peer being proposed at once; more are refused. */
#define MAX_FORWARDS_PER_PEER (2 * REPLAY_WINDOW)

/* CHATD_EVENT values of the replay. */
#define EVENT_REPLAY_QUEUED "replay-queued"
#define EVENT_REPLAY_DONE "replay-done"

typedef struct
{
  gint64 row; /* id in the store's replay table */
  GBytes *op;
  guint64 forward_id; /* names this op on the wire; unique within a run */
  guint sent_to;      /* the node the last forward went to, 0: none */
  gboolean proposing; /* proposed on this server, the outcome is pending */
  gboolean finished;  /* committed or given up; its row is being removed */
  guint attempts;
  guint64 retry_at_ms; /* not tried again before */
} ReplayItem;

/* Leader side: one forwarded op being proposed. */
typedef struct
{
  ChatReplica *self;
  guint from;
  guint64 id;
  char *key; /* "from:id" in the forwards table */
} Forward;

/* The outcome of a local proposal finds its op again by forward id (it may be gone). */
typedef struct
{
  ChatReplica *self;
  guint64 forward_id;
} LocalProposal;

struct _ChatReplicaReplay
{
  /* the server with a diverged history */
  GPtrArray *window;         /* ReplayItem *: the oldest queued ops, oldest first */
  GHashTable *by_row;        /* gint64 row -> ReplayItem * of the window */
  GHashTable *by_forward;    /* guint64 forward id -> ReplayItem * of the window, not finished */
  GArray *finished;          /* gint64 rows done with, still to remove from the store */
  GHashTable *finished_rows; /* the same rows, as a set */
  guint64 queued;            /* rows waiting, not counting finished ones */
  guint64 replayed;          /* committed by a leader since the queue was last empty */
  guint64 refused;  /* of these, refused by the state (a deleted recipient, a taken name) */
  guint64 dropped;  /* given up: not an operation at all */
  guint just_added; /* queued by the last update, announced after its notices */
  guint just_known; /* diverged again but already queued */
  guint leader;     /* the leader the window was last sent to */
  guint64 next_forward_id;
  guint tick_id;
  guint idle_id;

  /* the leader */
  GHashTable *forwards; /* "from:id" -> Forward *, being proposed */
  guint forwards_of[CHAT_REPL_MAX_NODES + 1];
};

static guint64
now_ms (void)
{
  return (guint64)(g_get_monotonic_time () / 1000);
}

static void
item_free (ReplayItem *item)
{
  if (item == NULL)
    return;
  g_bytes_unref (item->op);
  g_free (item);
}

ChatReplicaReplay *
chat_replica_replay_new (void)
{
  ChatReplicaReplay *r = g_new0 (ChatReplicaReplay, 1);

  r->window = g_ptr_array_new_with_free_func ((GDestroyNotify)item_free);
  r->finished = g_array_new (FALSE, FALSE, sizeof (gint64));
  r->by_row = g_hash_table_new (g_int64_hash, g_int64_equal);
  r->by_forward = g_hash_table_new (g_int64_hash, g_int64_equal);
  r->finished_rows = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  r->forwards = g_hash_table_new (g_str_hash, g_str_equal);
  /* Random high bits: an answer meant for an earlier run of this server never matches. */
  r->next_forward_id = ((guint64)g_random_int () << 20) + 1;
  return r;
}

void
chat_replica_replay_free (ChatReplicaReplay *r)
{
  if (r == NULL)
    return;
  g_clear_handle_id (&r->tick_id, g_source_remove);
  g_clear_handle_id (&r->idle_id, g_source_remove);
  g_ptr_array_unref (r->window);
  g_array_unref (r->finished);
  g_hash_table_unref (r->by_row);
  g_hash_table_unref (r->by_forward);
  g_hash_table_unref (r->finished_rows);
  g_hash_table_unref (r->forwards);
  g_free (r);
}

static void
journal_event (ChatReplica *self, const char *event, const char *detail)
{
  const char *leader = chat_replica_address_of (self, chat_repl_get_leader (self->repl));

  chat_journal_event (event, chat_repl_get_term (self->repl), leader, NULL, "%s", detail);
}

/* --- queueing ---------------------------------------------------------------------------- */

gboolean
chat_replica_replay_load (ChatReplica *self, GError **error)
{
  ChatReplicaReplay *r = self->replay;
  GError *local = NULL;

  r->queued = chat_store_count_replay (self->store, &local);
  if (local != NULL)
    {
      g_propagate_prefixed_error (error, local, "Reading the replay queue: ");
      return FALSE;
    }
  if (r->queued > 0)
    g_message ("%" G_GUINT64_FORMAT " operations of a diverged history wait to be replayed",
               r->queued);
  return TRUE;
}

gboolean
chat_replica_replay_queue (ChatReplica *self, GPtrArray *diverged, GError **error)
{
  g_autoptr (GPtrArray) ops = g_ptr_array_new ();
  guint added = 0;

  for (guint i = 0; i < diverged->len; i++)
    {
      ChatReplEntry *entry = g_ptr_array_index (diverged, i);

      if (entry->type == CHAT_REPL_ENTRY_OP)
        g_ptr_array_add (ops, entry->data);
    }
  if (ops->len == 0)
    return TRUE;
  if (!chat_store_add_replay (self->store, ops, &added, error))
    return FALSE;
  self->replay->queued += added;
  self->replay->just_added += added;
  self->replay->just_known += ops->len - added;
  return TRUE;
}

/* After the core's own "diverged" notice, so that the journal reads in order. */
static void
announce_queued (ChatReplica *self)
{
  ChatReplicaReplay *r = self->replay;
  g_autofree char *detail = NULL;

  if (r->just_added == 0 && r->just_known == 0)
    return;
  detail = g_strdup_printf ("%u operations of a diverged history queued for replay "
                            "(%u more were queued already), %" G_GUINT64_FORMAT " waiting",
                            r->just_added, r->just_known, r->queued);
  journal_event (self, EVENT_REPLAY_QUEUED, detail);
  r->just_added = r->just_known = 0;
}

/* --- the window of ops in play ------------------------------------------------------------ */

static ReplayItem *
find_item (ChatReplicaReplay *r, guint64 forward_id)
{
  return g_hash_table_lookup (r->by_forward, &forward_id);
}

static void
add_to_window (ChatReplicaReplay *r, ChatReplayOp *row)
{
  ReplayItem *item = g_new0 (ReplayItem, 1);

  item->row = row->id;
  item->op = g_bytes_ref (row->op);
  item->forward_id = r->next_forward_id++;
  g_ptr_array_add (r->window, item);
  g_hash_table_insert (r->by_row, &item->row, item);
  g_hash_table_insert (r->by_forward, &item->forward_id, item);
}

/* Tops the window up with the oldest rows not in play yet. */
static void
fill_window (ChatReplica *self)
{
  ChatReplicaReplay *r = self->replay;
  guint limit = REPLAY_WINDOW + r->finished->len;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  guint64 waiting = 0;

  if (r->window->len > REPLAY_WINDOW - REFILL_AT || r->queued <= r->window->len)
    return;
  rows = chat_store_list_replay (self->store, limit, &error);
  if (rows == NULL)
    {
      g_warning ("Cannot read the replay queue: %s", error->message);
      return;
    }
  for (guint i = 0; i < rows->len; i++)
    {
      ChatReplayOp *row = g_ptr_array_index (rows, i);

      if (g_hash_table_contains (r->finished_rows, &row->id))
        continue;
      waiting++;
      if (!g_hash_table_contains (r->by_row, &row->id) && r->window->len < REPLAY_WINDOW)
        add_to_window (r, row);
    }
  /* Everything there is was listed: the count follows the store. */
  if (rows->len < limit)
    r->queued = waiting;
}

/* Removes finished rows from the store (one transaction) and their ops from the window. */
static void
remove_finished (ChatReplica *self)
{
  ChatReplicaReplay *r = self->replay;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) old = r->window;

  /* One pass that keeps the order (the oldest ops go first); old frees the finished ones. */
  r->window = g_ptr_array_new_full (REPLAY_WINDOW, (GDestroyNotify)item_free);
  for (guint i = 0; i < old->len; i++)
    {
      ReplayItem *item = old->pdata[i];

      if (item->finished)
        {
          g_hash_table_remove (r->by_row, &item->row);
          continue;
        }
      g_ptr_array_add (r->window, item);
      old->pdata[i] = NULL;
    }
  if (r->finished->len == 0)
    return;
  if (!chat_store_delete_replay (self->store, r->finished, &error))
    {
      g_warning ("Cannot remove replayed operations from the queue: %s", error->message);
      return; /* tried again on the next round; fill_window skips them meanwhile */
    }
  g_array_set_size (r->finished, 0);
  g_hash_table_remove_all (r->finished_rows);
}

static void schedule_pump (ChatReplica *self);

static void
finish_item (ChatReplica *self, ReplayItem *item)
{
  ChatReplicaReplay *r = self->replay;

  item->finished = TRUE;
  g_hash_table_remove (r->by_forward, &item->forward_id);
  g_array_append_val (r->finished, item->row);
  g_hash_table_add (r->finished_rows, g_memdup2 (&item->row, sizeof item->row));
  r->queued -= MIN (r->queued, 1);
  schedule_pump (self);
}

static void
committed (ChatReplica *self, ReplayItem *item, gboolean refused)
{
  self->replay->replayed++;
  self->replay->refused += refused ? 1 : 0;
  finish_item (self, item);
}

static void
give_up (ChatReplica *self, ReplayItem *item, const char *why)
{
  g_warning ("Dropping queued operation %" G_GINT64_FORMAT " of a diverged history: %s", item->row,
             why);
  self->replay->dropped++;
  finish_item (self, item);
}

static void
retry_later (ChatReplica *self, ReplayItem *item)
{
  guint delay = RETRY_MAX_MS;

  if (item->attempts < 5)
    delay = MIN (RETRY_MIN_MS << item->attempts, RETRY_MAX_MS);
  item->attempts++;
  item->retry_at_ms = now_ms () + delay;
}

/* --- proposing or forwarding ------------------------------------------------------------ */

static JsonObject *
item_op (ReplayItem *item)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (item->op, &size);
  JsonObject *op = chat_json_parse_object (data, size, NULL);

  if (op != NULL && json_object_get_string_member_with_default (op, "op", NULL) == NULL)
    g_clear_pointer (&op, json_object_unref);
  return op;
}

static void
on_proposed_here (guint64 index, ChatApplyResult *result, const GError *error, gpointer user_data)
{
  g_autofree LocalProposal *proposal = user_data;
  ChatReplica *self = proposal->self;
  ReplayItem *item = find_item (self->replay, proposal->forward_id);

  if (item == NULL)
    return;
  item->proposing = FALSE;
  if (error == NULL)
    committed (self, item, result != NULL && result->error_code >= 0);
  else
    retry_later (self, item);
}

static void
propose_here (ChatReplica *self, ReplayItem *item)
{
  g_autoptr (JsonObject) op = item_op (item);
  LocalProposal *proposal = NULL;

  if (op == NULL)
    {
      give_up (self, item, "not an operation");
      return;
    }
  proposal = g_new0 (LocalProposal, 1);
  proposal->self = self;
  proposal->forward_id = item->forward_id;
  item->proposing = TRUE;
  item->sent_to = 0;
  chat_replica_propose (self, op, on_proposed_here, proposal);
}

/* A host message on the peer link: {"type":..., "from":..., "to":...}. */
static JsonObject *
host_message (ChatReplica *self, const char *type, guint to, guint64 id)
{
  JsonObject *message = json_object_new ();

  json_object_set_string_member (message, "type", type);
  json_object_set_int_member (message, "from", self->node_id);
  json_object_set_int_member (message, "to", to);
  json_object_set_int_member (message, "id", (gint64)id);
  return message;
}

static gboolean
send_message (ChatReplica *self, guint to, JsonObject *message)
{
  gsize len = 0;
  char *text = chat_json_to_line (message, &len);
  g_autoptr (GBytes) line = g_bytes_new_take (text, len - 1); /* without its '\n' */

  return chat_peers_send (self->peers, to, line);
}

static void
forward (ChatReplica *self, ReplayItem *item, guint leader)
{
  g_autoptr (JsonObject) op = item_op (item);
  g_autoptr (JsonObject) message = NULL;

  if (op == NULL)
    {
      give_up (self, item, "not an operation");
      return;
    }
  message = host_message (self, "forward", leader, item->forward_id);
  json_object_set_object_member (message, "op", g_steal_pointer (&op));
  if (!send_message (self, leader, message))
    {
      retry_later (self, item); /* the link is down or full */
      return;
    }
  item->sent_to = leader;
  item->retry_at_ms = now_ms () + FORWARD_TIMEOUT_MS;
}

static void
try_item (ChatReplica *self, ReplayItem *item)
{
  guint leader = chat_repl_get_leader (self->repl);

  if (item->proposing || item->finished || now_ms () < item->retry_at_ms)
    return;
  if (chat_replica_is_serving (self))
    propose_here (self, item);
  else if (leader != 0 && leader != self->node_id)
    forward (self, item, leader);
  /* else no leader to ask yet: the next round tries again */
}

/* A new leader gets the whole window at once, whatever was pending with the old one. */
static void
follow_leader (ChatReplica *self)
{
  ChatReplicaReplay *r = self->replay;
  guint leader = chat_repl_get_leader (self->repl);
  const char *address = NULL;

  if (leader == r->leader)
    return;
  r->leader = leader;
  for (guint i = 0; i < r->window->len; i++)
    {
      ReplayItem *item = g_ptr_array_index (r->window, i);

      item->retry_at_ms = 0;
      item->attempts = 0;
    }
  if (leader == 0)
    return;
  address = chat_replica_address_of (self, leader);
  g_message ("Replaying %" G_GUINT64_FORMAT " operations of a diverged history through %s",
             r->queued, leader == self->node_id ? "this server" : address);
}

static void
report_done (ChatReplica *self)
{
  ChatReplicaReplay *r = self->replay;
  g_autofree char *detail = NULL;

  if (r->replayed == 0 && r->dropped == 0)
    return;
  detail = g_strdup_printf ("%" G_GUINT64_FORMAT " operations of a diverged history replayed "
                            "(%" G_GUINT64_FORMAT
                            " of them refused by the state), %" G_GUINT64_FORMAT " dropped",
                            r->replayed, r->refused, r->dropped);
  journal_event (self, EVENT_REPLAY_DONE, detail);
  r->replayed = r->refused = r->dropped = 0;
}

static gboolean
on_tick (gpointer user_data)
{
  chat_replica_replay_pump (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_idle (gpointer user_data)
{
  ChatReplica *self = user_data;

  self->replay->idle_id = 0;
  chat_replica_replay_pump (self);
  return G_SOURCE_REMOVE;
}

/* Answers and outcomes arrive one by one; the store hears of them once per iteration. */
static void
schedule_pump (ChatReplica *self)
{
  if (self->started && self->replay->idle_id == 0)
    self->replay->idle_id = g_idle_add (on_idle, self);
}

void
chat_replica_replay_pump (ChatReplica *self)
{
  ChatReplicaReplay *r = self->replay;

  if (!self->started)
    return;
  announce_queued (self);
  remove_finished (self);
  if (r->queued == 0 && r->window->len == 0)
    {
      g_clear_handle_id (&r->tick_id, g_source_remove);
      report_done (self);
      return;
    }
  if (r->tick_id == 0)
    r->tick_id = g_timeout_add (REPLAY_TICK_MS, on_tick, self);
  fill_window (self);
  follow_leader (self);
  for (guint i = 0; i < r->window->len; i++)
    try_item (self, g_ptr_array_index (r->window, i));
}

void
chat_replica_replay_stop (ChatReplica *self)
{
  g_clear_handle_id (&self->replay->tick_id, g_source_remove);
  g_clear_handle_id (&self->replay->idle_id, g_source_remove);
}

/* --- the wire: forward and forwarded ---------------------------------------------------- */

/* Only an op the leader cannot propose at all is given up; every other refusal
 * (not_leader, unavailable, internal, or a code this version does not know) may pass. */
static gboolean
refusal_is_final (const char *slug)
{
  return g_strcmp0 (slug, chat_error_to_slug (CHAT_ERROR_BAD_REQUEST)) == 0;
}

/* The server with the diverged history: the leader answered a forward. */
static void
on_forwarded (ChatReplica *self, guint from, JsonObject *message, guint64 id)
{
  ReplayItem *item = find_item (self->replay, id);
  gboolean ok = FALSE;
  const char *error = NULL;
  const char *refused = NULL;

  if (item == NULL || item->sent_to != from || item->proposing)
    return; /* an answer to an earlier attempt, already dealt with */
  if (!chat_json_get_bool (message, "ok", TRUE, &ok, NULL)
      || !chat_json_get_string (message, "error", FALSE, 64, &error, NULL)
      || !chat_json_get_string (message, "refused", FALSE, 64, &refused, NULL))
    return;
  if (ok)
    committed (self, item, refused != NULL);
  else if (refusal_is_final (error))
    give_up (self, item, "the leader cannot propose it");
  else
    retry_later (self, item);
}

static void
answer (ChatReplica *self, guint to, guint64 id, const char *error, const char *refused)
{
  g_autoptr (JsonObject) message = host_message (self, "forwarded", to, id);

  json_object_set_boolean_member (message, "ok", error == NULL);
  if (error != NULL)
    json_object_set_string_member (message, "error", error);
  if (refused != NULL)
    json_object_set_string_member (message, "refused", refused);
  send_message (self, to, message); /* lost: the peer asks again */
}

static void
on_forward_proposed (guint64 index, ChatApplyResult *result, const GError *error,
                     gpointer user_data)
{
  Forward *fwd = user_data;
  ChatReplicaReplay *r = fwd->self->replay;
  const char *refused = NULL;

  g_hash_table_remove (r->forwards, fwd->key);
  r->forwards_of[fwd->from]--;
  if (error == NULL && result != NULL && result->error_code >= 0)
    refused = chat_error_to_slug (result->error_code);
  answer (fwd->self, fwd->from, fwd->id, error != NULL ? chat_error_slug_for (error) : NULL,
          refused);
  g_free (fwd->key);
  g_free (fwd);
}

/* The leader: a server with a diverged history asks it to propose an op. */
static void
on_forward (ChatReplica *self, guint from, JsonObject *message, guint64 id)
{
  ChatReplicaReplay *r = self->replay;
  JsonNode *node = json_object_get_member (message, "op");
  JsonObject *op
      = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  g_autofree char *key = g_strdup_printf ("%u:%" G_GUINT64_FORMAT, from, id);
  const char *name = NULL;
  Forward *fwd = NULL;

  if (op == NULL || !chat_json_get_string (op, "op", TRUE, 64, &name, NULL))
    answer (self, from, id, chat_error_to_slug (CHAT_ERROR_BAD_REQUEST), NULL);
  else if (!chat_replica_is_serving (self))
    answer (self, from, id, chat_error_to_slug (CHAT_ERROR_NOT_LEADER), NULL);
  else if (g_hash_table_contains (r->forwards, key))
    return; /* asked again while its proposal is under way: that one answers */
  else if (r->forwards_of[from] >= MAX_FORWARDS_PER_PEER)
    answer (self, from, id, chat_error_to_slug (CHAT_ERROR_UNAVAILABLE), NULL);
  else
    {
      fwd = g_new0 (Forward, 1);
      fwd->self = self;
      fwd->from = from;
      fwd->id = id;
      fwd->key = g_steal_pointer (&key);
      g_hash_table_insert (r->forwards, fwd->key, fwd);
      r->forwards_of[from]++;
      chat_replica_propose (self, op, on_forward_proposed, fwd);
    }
}

gboolean
chat_replica_replay_handle_line (ChatReplica *self, guint from, const char *line, gsize len)
{
  g_autoptr (JsonObject) message = NULL;
  const char *type = NULL;
  guint64 sender = 0, to = 0, id = 0;

  if (len > CHAT_PEER_MAX_LINE_BYTES
      || (message = chat_json_parse_object (line, len, NULL)) == NULL)
    return FALSE;
  type = json_object_get_string_member_with_default (message, "type", "");
  if (!g_str_equal (type, "forward") && !g_str_equal (type, "forwarded"))
    return FALSE;
  /* A link speaks for the server that authenticated on it, and for no other. */
  if (!chat_json_get_uint (message, "from", TRUE, CHAT_REPL_MAX_NODES, &sender, NULL)
      || !chat_json_get_uint (message, "to", TRUE, CHAT_REPL_MAX_NODES, &to, NULL)
      || !chat_json_get_uint (message, "id", TRUE, G_MAXINT64, &id, NULL) || sender != from
      || to != self->node_id)
    {
      g_debug ("Dropping a %s message from node %u that does not add up", type, from);
      return TRUE;
    }
  if (g_str_equal (type, "forward"))
    on_forward (self, from, message, id);
  else
    on_forwarded (self, from, message, id);
  return TRUE;
}