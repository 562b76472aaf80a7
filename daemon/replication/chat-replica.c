/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatReplica: feeds the core its events and carries out its updates, in the documented order;
 * proposals, signals and the life cycle. */
#define G_LOG_DOMAIN "chatd-node"

#include "chat-replica-private.h"

#include "chat-error.h"
#include "chat-json.h"
#include "chat-metrics.h"
#include "chat-peer-codec.h"
#include "chat-slice.h"
#include "chat-thread-priority.h"
#include "chat-snapshot-file.h"

#include <stdlib.h>
#include <string.h>

/* Rounds of (persist, send, apply) one flush may run before yielding to the main loop. */
#define MAX_FLUSH_ROUNDS 8
/* Time after which a flush persists no further update (it always persists one). */
#define FLUSH_SLICE_US (30 * 1000)
/* The stall probe's period (chatd_main_loop_stall_seconds). */
#define STALL_PROBE_MS 50
/* A stall probe this late is logged (debug). */
#define STALL_LOG_US (100 * 1000)
/* Committed entries applied in one slice of the main loop at most, and the time after
 * which a slice applies no further entry (the commit and the answers come after it). */
#define MAX_APPLY_PER_SLICE 128
/* A follower answers no client: it applies in larger slices (fewer commits, each page of
 * the chat state written once per slice rather than once per 128 entries) while it
 * catches up. The time bound still applies; once the follower is back in the in-sync set
 * every commit waits for its acknowledgement, which waits for the slice in progress, so
 * its slices are then cut short sooner. */
#define MAX_APPLY_PER_FOLLOWER_SLICE 1024
#define IN_SYNC_FOLLOWER_SLICE_US (10 * 1000)
/* Images below this size are written every snapshot_interval entries whatever the log's
 * growth (log_outgrew_image). */
#define SNAPSHOT_RATIO_FLOOR (64 * 1024 * 1024)
#define APPLY_SLICE_US (40 * 1000)
/* How often a flush looks again while the store holds its writes (a hold lasts one
 * checkpoint of the WAL's last pages: a few to hundreds of milliseconds). */
#define HELD_RETRY_MS 2
/* status-changed for a moving commit index alone is sent at most this often. */
#define STATUS_INTERVAL_MS 1000

/* One applied entry of a batch, answered and announced after the batch commits. */
typedef struct
{
  guint64 index;
  JsonObject *op; /* NULL for entries without a client operation */
  ChatApplyResult *result;
  ChatReplicaProposal *proposal;
} Applied;

enum
{
  SIGNAL_APPLIED,
  SIGNAL_STATUS_CHANGED,
  SIGNAL_FAILED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE_WITH_CODE (ChatReplica, chat_replica, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (CHAT_TYPE_CLUSTER_ADMIN,
                                                      chat_replica_admin_init))

static void step (ChatReplica *self, ChatReplEvent *event);
static void schedule_flush (ChatReplica *self);

/* Started, and no storage fault since. */
static gboolean
running (ChatReplica *self)
{
  return self->started && !self->failed;
}

static guint64
now_ms (void)
{
  return (guint64)(g_get_monotonic_time () / 1000);
}

static void
proposal_free (ChatReplicaProposal *proposal)
{
  g_clear_pointer (&proposal->op, json_object_unref);
  g_clear_pointer (&proposal->data, g_bytes_unref);
  g_free (proposal);
}

static void
applied_clear (Applied *applied)
{
  g_clear_pointer (&applied->op, json_object_unref);
  g_clear_pointer (&applied->result, chat_apply_result_free);
  g_clear_pointer (&applied->proposal, proposal_free);
}

static void
fail_proposal (ChatReplicaProposal *proposal, int code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (CHAT_ERROR, code, message);

  proposal->done (0, NULL, error, proposal->user_data);
  proposal_free (proposal);
}

static void
emit_status_changed (ChatReplica *self)
{
  ChatReplStatus status;

  chat_replica_get_status (self, &status);
  self->status_commit = status.commit_index;
  self->status_ms = now_ms ();
  g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0);
}

/* The commit index moves with every write: the status faces hear of it now and then. */
static void
maybe_emit_progress (ChatReplica *self)
{
  ChatReplStatus status;

  chat_replica_get_status (self, &status);
  if (status.commit_index != self->status_commit
      && now_ms () >= self->status_ms + STATUS_INTERVAL_MS)
    emit_status_changed (self);
}

/* A storage fault after the core moved on cannot be undone in memory: the replica stops
 * working and says so; the process stops and the restart replays from what is durable
 * (fail-stop keeps every server consistent). */
void
chat_replica_fail (ChatReplica *self, const char *what, const GError *error)
{
  g_autoptr (GError) failure = NULL;

  if (self->failed)
    return;
  self->failed = TRUE;
  failure = g_error_new (error->domain, error->code, "%s: %s", what, error->message);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, failure);
}

/* --- the timer ------------------------------------------------------------------------- */

static gboolean
on_timer (gpointer user_data)
{
  ChatReplica *self = user_data;
  ChatReplEvent event = { .type = CHAT_REPL_EVENT_TICK };

  g_source_set_ready_time (self->timer, -1);
  step (self, &event);
  return G_SOURCE_CONTINUE;
}

/* The stall metric: a timer of its own that asks to run every STALL_PROBE_MS and
 * observes how late it runs. The replication timer cannot tell: steps move its ready time
 * all the time, so a late run of it says little about the loop. */
static gboolean
on_stall_probe (gpointer user_data)
{
  ChatReplica *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 late_us = self->probe_last_us != 0 ? now - self->probe_last_us - STALL_PROBE_MS * 1000 : 0;

  chat_metrics_observe_loop_stall ((double)MAX (late_us, 0) / G_USEC_PER_SEC);
  /* The slices logged just before this line add up to it. */
  if (late_us >= STALL_LOG_US)
    g_debug ("Main loop late %" G_GINT64_FORMAT " ms", late_us / 1000);
  self->probe_last_us = now;
  return G_SOURCE_CONTINUE;
}

static gboolean
timer_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return callback (user_data);
}

static GSourceFuncs timer_funcs = { .dispatch = timer_dispatch };

/* Only ever earlier: GLib wakes the loop through its eventfd at every change of a ready
 * time, and the core's wakeup moves at nearly every step (a follower's election deadline
 * with every append, "at least once a heartbeat" from now), which cost three to eight
 * eventfd writes, and as many extra turns of the loop, per message on each server. A
 * timer that fires before the core's wakeup runs a tick early, which does nothing before
 * its deadlines (chat_repl_step), and is then set to the wakeup that step returns. */
static void
set_wakeup (ChatReplica *self, guint64 wakeup_ms)
{
  gint64 ready_us = (gint64)wakeup_ms * 1000;
  gint64 current_us = 0;

  if (self->timer == NULL)
    return;
  current_us = g_source_get_ready_time (self->timer);
  if (current_us < 0 || ready_us < current_us)
    g_source_set_ready_time (self->timer, ready_us);
}

/* --- peer messages ---------------------------------------------------------------------- */

/* Appends coalesced into one message stay far below the codec's bounds (4096 entries,
 * 8 MiB lines, entries in base64). */
#define MERGED_APPEND_MAX_ENTRIES 2048
#define MERGED_APPEND_MAX_BYTES (1024 * 1024)

static gsize
entries_size (const ChatReplMessage *message)
{
  gsize size = 0;

  for (guint i = 0; i < message->entries->len; i++)
    size += g_bytes_get_size (((ChatReplEntry *)g_ptr_array_index (message->entries, i))->data);
  return size;
}

/* later continues earlier's entries to the same follower in the same term: handling the
 * one merged message is what handling both in a row does, with one answer instead of two. */
static gboolean
appends_continue (const ChatReplMessage *earlier, const ChatReplMessage *later, gsize earlier_size,
                  gsize later_size)
{
  return earlier->type == CHAT_REPL_MSG_APPEND && later->type == CHAT_REPL_MSG_APPEND
         && earlier->term == later->term && earlier->from == later->from
         && later->prev_index == earlier->prev_index + earlier->entries->len
         && earlier->entries->len + later->entries->len <= MERGED_APPEND_MAX_ENTRIES
         && earlier_size + later_size <= MERGED_APPEND_MAX_BYTES;
}

/* A proposal sends an append to every follower at once, so one main-loop iteration with
 * many proposals hands out many one-entry appends per follower. Sent as they are, each
 * costs the follower a decode, a step and an answer; merged, it costs one. The messages
 * of one update are new (the core keeps none), so the first of a run takes the others'
 * entries. Order per follower is kept: only a follower's latest message is extended. */
static GPtrArray *
coalesce_appends (GPtrArray *messages)
{
  GPtrArray *out = g_ptr_array_new_full (messages->len, (GDestroyNotify)chat_repl_message_unref);
  ChatReplMessage *latest[CHAT_REPL_MAX_NODES + 1] = { NULL };
  gsize latest_size[CHAT_REPL_MAX_NODES + 1] = { 0 };

  for (guint i = 0; i < messages->len; i++)
    {
      ChatReplMessage *message = g_ptr_array_index (messages, i);
      ChatReplMessage *earlier = message->to <= CHAT_REPL_MAX_NODES ? latest[message->to] : NULL;
      gsize size = entries_size (message);

      if (earlier != NULL && appends_continue (earlier, message, latest_size[message->to], size))
        {
          for (guint e = 0; e < message->entries->len; e++)
            g_ptr_array_add (earlier->entries,
                             chat_repl_entry_ref (g_ptr_array_index (message->entries, e)));
          earlier->commit = MAX (earlier->commit, message->commit);
          latest_size[message->to] += size;
          continue;
        }
      g_ptr_array_add (out, chat_repl_message_ref (message));
      if (message->to <= CHAT_REPL_MAX_NODES)
        {
          latest[message->to] = message;
          latest_size[message->to] = size;
        }
    }
  return out;
}

static void
send_messages (ChatReplica *self, GPtrArray *messages)
{
  g_autoptr (GPtrArray) coalesced = coalesce_appends (messages);

  for (guint i = 0; i < coalesced->len; i++)
    {
      ChatReplMessage *message = g_ptr_array_index (coalesced, i);
      gsize len = 0;
      char *text = chat_peer_codec_encode (message, &len);
      g_autoptr (GBytes) line = g_bytes_new_take (text, len);

      chat_peers_send (self->peers, message->to, line);
    }
}

static void
on_peer_line (guint from, const char *line, gsize len, gpointer user_data)
{
  ChatReplica *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ChatReplMessage) message = chat_peer_codec_decode (line, (gssize)len, &error);
  ChatReplEvent event = { .type = CHAT_REPL_EVENT_MESSAGE };

  if (message == NULL)
    {
      /* Not the core's: the host's own messages (replay forwarding) share the link. */
      if (!chat_replica_replay_handle_line (self, from, line, len))
        g_debug ("Dropping a bad message from node %u: %s", from, error->message);
      return;
    }
  /* A link speaks for the server that authenticated on it, and for no other. */
  if (message->from != from || message->to != self->node_id)
    {
      g_debug ("Dropping a message from node %u that claims to be from %u to %u", from,
               message->from, message->to);
      return;
    }
  chat_failover_contact (&self->failover, from, now_ms ());
  event.message = message;
  step (self, &event);
}

/* --- applying ------------------------------------------------------------------------- */

/* The operation a proposal of this server put into the log at result->index, when the
 * entry there still holds that proposal's bytes: applying it then needs no parsing. */
static JsonObject *
proposed_op (ChatReplica *self, const ChatReplProposalResult *result, const ChatReplEntry *entry)
{
  ChatReplicaProposal *proposal = NULL;

  if (result->code != CHAT_REPL_RESULT_OK || result->index != entry->index)
    return NULL;
  proposal = g_hash_table_lookup (self->proposals, &result->proposal_id);
  if (proposal == NULL || proposal->data != entry->data)
    return NULL;
  return json_object_ref (proposal->op);
}

static JsonObject *
entry_op (ChatReplica *self, const ChatReplEntry *entry, GArray *results, guint *next_result)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (entry->data, &size);
  g_autoptr (GError) error = NULL;
  JsonObject *op = NULL;

  if (entry->type != CHAT_REPL_ENTRY_OP)
    return NULL;
  /* Results follow the committed entries in log order: one forward scan serves them all. */
  while (*next_result < results->len
         && g_array_index (results, ChatReplProposalResult, *next_result).index < entry->index)
    (*next_result)++;
  if (*next_result < results->len)
    op = proposed_op (self, &g_array_index (results, ChatReplProposalResult, *next_result), entry);
  if (op != NULL)
    return op;
  /* The leader wrote it: usually flat and plain, read without json-glib's parser. */
  op = chat_json_parse_flat_object (data, size);
  if (op == NULL)
    op = chat_json_parse_object (data, size, &error);
  if (op == NULL)
    g_warning ("Log entry %" G_GUINT64_FORMAT " holds no operation: %s", entry->index,
               error->message);
  return op;
}

static void
note_own_term (ChatReplica *self, const ChatReplEntry *entry)
{
  if (chat_repl_get_role (self->repl) == CHAT_REPL_ROLE_LEADER
      && entry->term == chat_repl_get_term (self->repl) && !self->serving)
    {
      self->serving = TRUE;
      chat_replica_journal_serving (self, entry->index, now_ms ());
      emit_status_changed (self);
    }
}

/* Applies committed entries in one transaction, until deadline_us (0: all of them, and at
 * least one entry in any case); returns the Applied records and how many entries it
 * took. */
static GArray *
apply_committed (ChatReplica *self, GPtrArray *committed, GArray *results, gint64 deadline_us,
                 guint *taken)
{
  GArray *batch = g_array_new (FALSE, TRUE, sizeof (Applied));
  guint64 done = chat_store_applied_index (self->store);
  g_autoptr (GError) error = NULL;
  guint next_result = 0;
  gint64 start = g_get_monotonic_time (), commit_start = 0;

  *taken = 0;
  g_array_set_clear_func (batch, (GDestroyNotify)applied_clear);
  if (committed->len == 0)
    return batch;
  if (!chat_store_begin_apply (self->store, &error))
    {
      chat_replica_fail (self, "Cannot apply committed entries", error);
      return batch;
    }
  for (*taken = 0; *taken < committed->len; (*taken)++)
    {
      ChatReplEntry *entry = g_ptr_array_index (committed, *taken);
      Applied applied = { .index = entry->index };

      if (*taken > 0 && deadline_us != 0 && g_get_monotonic_time () >= deadline_us)
        break;
      if (entry->index <= done)
        continue; /* already in the chat state (a snapshot or an earlier run) */
      self->applied_bytes += g_bytes_get_size (entry->data);
      applied.op = entry_op (self, entry, results, &next_result);
      applied.result = chat_store_apply (self->store, entry->index, applied.op, &error);
      if (applied.result == NULL)
        {
          chat_store_rollback_apply (self->store);
          chat_replica_fail (self, "Cannot apply a committed entry", error);
          g_array_set_size (batch, 0);
          return batch;
        }
      g_array_append_val (batch, applied);
    }
  commit_start = g_get_monotonic_time ();
  chat_slice_note ("applying entries to the chat state", start, batch->len);
  if (!chat_store_commit_apply (self->store, &error))
    {
      chat_replica_fail (self, "Cannot apply committed entries", error);
      g_array_set_size (batch, 0);
      return batch;
    }
  chat_slice_note ("committing applied entries", commit_start, batch->len);
  return batch;
}

static Applied *
find_applied (GArray *batch, guint64 index)
{
  for (guint i = 0; i < batch->len; i++)
    {
      Applied *applied = &g_array_index (batch, Applied, i);

      if (applied->index == index)
        return applied;
    }
  return NULL;
}

static void
take_result (ChatReplica *self, const ChatReplProposalResult *r, GArray *batch)
{
  ChatReplicaProposal *proposal = NULL;
  Applied *applied = NULL;

  if (!g_hash_table_steal_extended (self->proposals, &r->proposal_id, NULL, (gpointer *)&proposal))
    return;
  if (r->code == CHAT_REPL_RESULT_NOT_LEADER)
    fail_proposal (proposal, CHAT_ERROR_NOT_LEADER, "This server is not the leader");
  else if (r->code != CHAT_REPL_RESULT_OK)
    fail_proposal (proposal, CHAT_ERROR_UNAVAILABLE, "The cluster cannot commit right now");
  else if ((applied = find_applied (batch, r->index)) == NULL || applied->result == NULL)
    fail_proposal (proposal, CHAT_ERROR_UNAVAILABLE, "The outcome is not known here; try again");
  else
    applied->proposal = proposal;
}

/* Puts the entries from index from of committed on, and the results that follow them, back
 * at the head of the queues, for the next slice. */
static void
requeue_rest (ChatReplica *self, GPtrArray *committed, GArray *results, guint from)
{
  guint64 last = ((ChatReplEntry *)g_ptr_array_index (committed, from - 1))->index;
  guint r = 0;

  for (guint i = committed->len; i > from; i--)
    g_ptr_array_insert (self->apply_entries, 0,
                        chat_repl_entry_ref (g_ptr_array_index (committed, i - 1)));
  g_ptr_array_set_size (committed, from);
  while (r < results->len && g_array_index (results, ChatReplProposalResult, r).index <= last)
    r++;
  /* Nothing left (results->data may then be NULL: no pointer into it may be formed). */
  if (r == results->len)
    return;
  g_array_prepend_vals (self->apply_results, &g_array_index (results, ChatReplProposalResult, r),
                        results->len - r);
  g_array_set_size (results, r);
}

/* Step 4 and 5: apply, then answer each proposal and announce each applied operation, in
 * log order. What the deadline left over goes back to the queue. */
static void
apply_and_answer (ChatReplica *self, GPtrArray *committed, GArray *results, gint64 deadline_us)
{
  guint taken = 0;
  g_autoptr (GArray) batch = NULL;
  gint64 answer_start = 0;

  if (self->failed)
    return;
  batch = apply_committed (self, committed, results, deadline_us, &taken);
  if (self->failed)
    return; /* nothing of the batch is known to be applied: nobody is answered */
  if (taken < committed->len)
    requeue_rest (self, committed, results, taken);

  for (guint i = 0; i < committed->len; i++)
    note_own_term (self, g_ptr_array_index (committed, i));
  for (guint i = 0; i < results->len; i++)
    take_result (self, &g_array_index (results, ChatReplProposalResult, i), batch);
  answer_start = g_get_monotonic_time ();
  for (guint i = 0; i < batch->len; i++)
    {
      Applied *applied = &g_array_index (batch, Applied, i);

      if (applied->proposal != NULL)
        applied->proposal->done (applied->index, applied->result, NULL,
                                 applied->proposal->user_data);
      if (applied->op != NULL)
        g_signal_emit (self, signals[SIGNAL_APPLIED], 0, applied->index, applied->op,
                       applied->result);
    }
  chat_slice_note ("answering and announcing applied entries", answer_start, batch->len);
}

/* Committed entries wait in a queue and are applied at most MAX_APPLY_PER_SLICE at a time,
 * one slice per flush, so that heartbeats, acknowledgements and the timer run in between
 * (docs/server.md: batches of 500 held the loop for up to 600 ms). A proposal is answered
 * when its entry is applied; a failed one at once. */
static void
queue_committed (ChatReplica *self, ChatReplUpdate *u)
{
  for (guint i = 0; i < u->committed->len; i++)
    g_ptr_array_add (self->apply_entries,
                     chat_repl_entry_ref (g_ptr_array_index (u->committed, i)));
  for (guint i = 0; i < u->results->len; i++)
    {
      ChatReplProposalResult *r = &g_array_index (u->results, ChatReplProposalResult, i);

      if (r->code == CHAT_REPL_RESULT_OK)
        g_array_append_val (self->apply_results, *r);
      else
        take_result (self, r, NULL);
    }
}

/* budget_us 0: no time bound. */
static void
apply_slice (ChatReplica *self, guint max_entries, gint64 budget_us)
{
  guint n = MIN (self->apply_entries->len, max_entries), r = 0;
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  g_autoptr (GArray) results = g_array_new (FALSE, FALSE, sizeof (ChatReplProposalResult));
  guint64 last = 0;
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (entries, chat_repl_entry_ref (g_ptr_array_index (self->apply_entries, i)));
  if (n > 0)
    {
      g_ptr_array_remove_range (self->apply_entries, 0, n);
      last = ((ChatReplEntry *)g_ptr_array_index (entries, n - 1))->index;
    }
  /* Results follow their entries; one whose entry is not queued any more (n == 0) finds no
   * applied record and is answered "outcome not known". */
  while (
      r < self->apply_results->len
      && (n == 0 || g_array_index (self->apply_results, ChatReplProposalResult, r).index <= last))
    r++;
  g_array_append_vals (results, self->apply_results->data, r);
  g_array_remove_range (self->apply_results, 0, r);
  apply_and_answer (self, entries, results, budget_us == 0 ? 0 : start + budget_us);
  chat_slice_note ("applying and answering", start, entries->len);
}

static void
apply_all (ChatReplica *self)
{
  while (self->apply_entries->len > 0 || self->apply_results->len > 0)
    apply_slice (self, G_MAXUINT, 0);
}

/* --- snapshots -------------------------------------------------------------------------- */

static gboolean
snapshot_now (ChatReplica *self, guint64 *index, GError **error)
{
  guint64 applied = 0;
  g_autoptr (GBytes) data = chat_store_snapshot (self->store, &applied, error);
  ChatReplEvent event = { .type = CHAT_REPL_EVENT_ADMIN, .admin = CHAT_REPL_ADMIN_SNAPSHOT };

  if (data == NULL)
    return FALSE;
  event.index = applied;
  event.data = data;
  step (self, &event);
  if (index != NULL)
    *index = applied;
  return TRUE;
}

/* A snapshot read by a worker thread, and the state it was read from. */
typedef struct
{
  char *path;
  char *dir;
  guint64 generation;
  guint64 applied;
  guint64 serial; /* names the file the image was written to */
  GBytes *data;
  gint64 started_us;
} SnapshotJob;

static void
snapshot_job_free (SnapshotJob *job)
{
  g_free (job->path);
  g_free (job->dir);
  g_clear_pointer (&job->data, g_bytes_unref);
  g_free (job);
}

/* The store builds the image in a file of its own, which is then synced and named; what the
 * core keeps (to send to followers) is the file mapped, pages the kernel may drop and read
 * again, rather than a copy of hundreds of MB on the heap. */
static gboolean
write_image_file (SnapshotJob *job, GError **error)
{
  g_autofree char *temp = chat_snapshot_file_temp_path (job->dir);

  if (!chat_store_snapshot_file (job->path, temp, &job->applied, error)
      || !chat_snapshot_file_seal (job->dir, temp, job->applied, &job->serial, error))
    return FALSE;
  job->data = chat_snapshot_file_read (job->dir, job->applied, job->serial, error);
  return job->data != NULL;
}

static void
read_snapshot_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  SnapshotJob *job = data;
  GError *error = NULL;

  /* Behind the main loops of the machine (the pool thread keeps it; only these tasks run
   * on it). */
  chat_thread_yield_priority ();

  /* Reading and writing the image both take time that grows with the state (a second
   * and more at tens of thousands of messages): here, not on the main loop. */
  if (write_image_file (job, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* One line per image (every snapshot_interval entries at most): how large the state has
 * grown and how long reading it took are what an operator sizes snapshot_interval by. */
static void
log_image (const SnapshotJob *job)
{
  g_autofree char *size = g_format_size (g_bytes_get_size (job->data));

  g_message ("Read an image of the state at index %" G_GUINT64_FORMAT " (%s) in %" G_GINT64_FORMAT
             " ms",
             job->applied, size, (g_get_monotonic_time () - job->started_us) / 1000);
}

/* The core compacts its log up to the image's index, unless it turns the image down. */
static void
offer_written_image (ChatReplica *self)
{
  ChatReplEvent event = { .type = CHAT_REPL_EVENT_ADMIN, .admin = CHAT_REPL_ADMIN_SNAPSHOT };
  GBytes *data = self->written_image;

  self->written_unoffered = FALSE;
  if (data == NULL)
    return;
  event.index = self->written_index;
  event.data = data;
  step (self, &event);
  if (self->update.snapshot == NULL || self->update.snapshot->data != data)
    chat_replica_disk_drop_written (self);
}

/* Back on the main loop: the core compacts its log up to the index the state was read at
 * (older than what is applied by now, which the core accepts), unless an installed
 * snapshot replaced the state meanwhile (then that state belongs to another history).
 * The image is in its file already: saving it only records the metadata
 * (chat-replica-disk.c, write_image). A file the core turns down goes at the next start. */
static void
snapshot_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChatReplica *self = CHAT_REPLICA (source);
  SnapshotJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  self->snapshot_running = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_warning ("Cannot take a snapshot: %s", error->message);
      return;
    }
  log_image (job);
  chat_replica_disk_drop_written (self);
  self->written_image = g_bytes_ref (job->data);
  self->last_image_bytes = g_bytes_get_size (job->data);
  self->written_index = job->applied;
  self->written_serial = job->serial;
  if (!self->started || job->generation != self->state_generation)
    {
      chat_replica_disk_drop_written (self);
      return;
    }
  /* Messages wait for a snapshot handed out to be saved (chat-repl.h), and saving it waits
   * for a hold of the store's writes to end: heartbeats held with them for 1.5 s cost the
   * leadership at etcd's l load, where the hold after the image's read is the long one.
   * The core hears of the image once the hold is over. */
  if (chat_store_writes_held (self->store))
    {
      g_debug ("The image at index %" G_GUINT64_FORMAT " waits for the store's writes to go on",
               job->applied);
      self->written_unoffered = TRUE;
      schedule_flush (self);
      return;
    }
  offer_written_image (self);
}

/* A large image is written again only once the log has grown by half its size since the
 * last snapshot: every snapshot_interval entries alone, a state of hundreds of MB meant
 * writing it every few seconds on every server at etcd's l load, and the log's fsyncs
 * waited up to 0.5 s behind those writes on the shared disk. The log kept meanwhile is
 * then at most half the state's size. */
static gboolean
log_outgrew_image (ChatReplica *self)
{
  return self->last_image_bytes < SNAPSHOT_RATIO_FLOOR
         || self->applied_bytes >= self->last_image_bytes / 2;
}

/* A follower with more than a slice of committed entries waiting reads its state once it
 * has caught up rather than every interval on the way: each read keeps a core busy for a
 * while, the core the catch-up needs. Never more than four intervals late. */
static gboolean
catching_up (ChatReplica *self, guint64 applied)
{
  return chat_repl_get_role (self->repl) != CHAT_REPL_ROLE_LEADER
         && self->apply_entries->len > MAX_APPLY_PER_SLICE
         && applied < self->snapshot_index + 4 * (guint64)self->config->snapshot_interval;
}

/* Every snapshot_interval applied entries. Reading the whole chat state takes time that
 * grows with it (hundreds of milliseconds at tens of thousands of messages), so a worker
 * thread reads it through a connection of its own while the main loop goes on. */
static void
maybe_snapshot (ChatReplica *self)
{
  guint64 applied = chat_store_applied_index (self->store);
  g_autoptr (GTask) task = NULL;
  SnapshotJob *job = NULL;

  if (self->snapshot_running || applied < self->snapshot_index + self->config->snapshot_interval
      || !log_outgrew_image (self) || catching_up (self, applied))
    return;
  /* Not again before the interval passes, even when the core turns this one down. */
  self->snapshot_index = MAX (self->snapshot_index, applied);
  self->applied_bytes = 0;
  self->snapshot_running = TRUE;
  job = g_new0 (SnapshotJob, 1);
  job->path = g_strdup (chat_store_get_path (self->store));
  job->dir = chat_replica_disk_dir (self);
  job->generation = self->state_generation;
  job->started_us = g_get_monotonic_time ();
  task = g_task_new (self, NULL, snapshot_read, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify)snapshot_job_free);
  g_task_run_in_thread (task, read_snapshot_in_thread);
}

/* --- updates ---------------------------------------------------------------------------- */

/* After a durable write, which makes every unsynced write before it durable too. */
static void
report_persisted (ChatReplica *self, ChatReplUpdate *u)
{
  ChatReplEvent event = { .type = CHAT_REPL_EVENT_PERSISTED };
  gboolean earlier = FALSE;

  if (u->snapshot != NULL)
    {
      ChatReplEvent snap
          = { .type = CHAT_REPL_EVENT_SNAPSHOT_PERSISTED, .index = u->snapshot->index };
      step (self, &snap);
    }
  earlier = chat_replica_sync_take (self, G_MAXUINT64, &event.index, &event.term);
  if (!earlier && !u->hard_state_changed && u->truncate_from == 0 && u->entries->len == 0)
    return;
  if (u->entries->len > 0)
    {
      ChatReplEntry *last = g_ptr_array_index (u->entries, u->entries->len - 1);

      event.index = last->index;
      event.term = last->term;
    }
  else if (u->truncate_from != 0 && event.index >= u->truncate_from)
    event.index = event.term = 0;
  step (self, &event);
}

/* Messages go before their update's writes are durable unless they answer for them (a
 * hard state, a snapshot, diverged operations) or earlier ones wait for the disk, which
 * they stay behind. The followers write in parallel with this server, and the core counts
 * no entry as durable here before PERSISTED. */
static gboolean
messages_may_lead_disk (ChatReplica *self, const ChatReplUpdate *u)
{
  return !u->hard_state_changed && u->snapshot == NULL && u->diverged->len == 0
         && !chat_replica_sync_holding (self);
}

/* PERSISTED makes a follower acknowledge what it just wrote. Those answers are what the
 * leader waits for to commit: they leave now, not after this server has applied a batch
 * of committed entries (which can take long while it catches up). Anything that must wait
 * for the disk stays in the update for the next round. */
static void
send_acknowledgements (ChatReplica *self)
{
  if (self->update.messages->len == 0 || !messages_may_lead_disk (self, &self->update))
    return;
  send_messages (self, self->update.messages);
  g_ptr_array_set_size (self->update.messages, 0);
}

static void
send_released (ChatReplica *self, guint64 ticket)
{
  g_autoptr (GPtrArray) released = chat_replica_sync_release (self, ticket);

  if (released->len > 0)
    send_messages (self, released);
}

/* The store's sync thread made the writes up to ticket durable: what waited for them
 * leaves, and the core hears PERSISTED unless a hard state handed out since is not durable
 * yet (PERSISTED would tell it that it is); the sync of that one reports these too. */
static void
on_synced (guint64 ticket, gint64 duration_us, const GError *error, gpointer user_data)
{
  ChatReplica *self = user_data;
  ChatReplEvent event = { .type = CHAT_REPL_EVENT_PERSISTED };
  gint64 start = g_get_monotonic_time ();

  if (error != NULL)
    {
      chat_replica_fail (self, "Cannot make the replication state durable", error);
      return;
    }
  chat_metrics_observe_fsync ((double)duration_us / G_USEC_PER_SEC);
  if (!running (self))
    return;
  send_released (self, ticket);
  if (!self->update.hard_state_changed
      && chat_replica_sync_take (self, ticket, &event.index, &event.term))
    {
      step (self, &event);
      send_acknowledgements (self);
    }
  chat_slice_note ("reporting a sync", start, 0);
}

/* Step 1 and 2, with the time of each durable write for the fsync metric. */
static gboolean
persist_timed (ChatReplica *self, ChatReplUpdate *u, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  gboolean durable = u->hard_state_changed || u->snapshot != NULL || u->truncate_from != 0
                     || u->entries->len > 0;

  if (!chat_replica_disk_persist (self, u, error))
    return FALSE;
  if (durable)
    chat_metrics_observe_fsync ((double)(g_get_monotonic_time () - start) / G_USEC_PER_SEC);
  return TRUE;
}

/* The hard state, truncation and entries go to the disk without waiting for it; the sync
 * thread makes them durable and PERSISTED follows (on_synced). The messages that may not
 * lead the disk wait for that sync. */
static void
write_unsynced (ChatReplica *self, ChatReplUpdate *u)
{
  g_autoptr (GError) error = NULL;
  gboolean lead = messages_may_lead_disk (self, u);

  if (lead)
    send_messages (self, u->messages);
  if (!chat_replica_sync_write (self, u, &error))
    {
      chat_replica_fail (self, "Cannot write the replication state", error);
      return;
    }
  if (!lead)
    chat_replica_sync_hold (self, u->messages);
}

/* A snapshot, or a history that diverged: files are written and replaced, and the chat
 * state maybe restored, in an order that needs each step durable before the next. The
 * durable writes make every earlier unsynced one durable too. */
static void
write_durably (ChatReplica *self, ChatReplUpdate *u)
{
  g_autoptr (GError) error = NULL;

  if (!persist_timed (self, u, &error))
    {
      chat_replica_fail (self, "Cannot persist the replication state", error);
      return;
    }
  send_released (self, G_MAXUINT64);
  send_messages (self, u->messages);
  report_persisted (self, u);
  send_acknowledgements (self);
}

/* One update, in the order chat-repl.h prescribes. */
static void
handle_update (ChatReplica *self)
{
  g_auto (ChatReplUpdate) u = self->update;
  gboolean changed = u.role_changed || u.notices->len > 0 || u.hard_state_changed;
  gint64 start = 0;

  chat_repl_update_init (&self->update);
  if (u.snapshot != NULL && u.snapshot->install)
    {
      /* What was committed before the install goes in first, as it always did. */
      apply_all (self);
      self->state_generation++;
    }
  start = g_get_monotonic_time ();
  if (u.snapshot == NULL && u.diverged->len == 0)
    write_unsynced (self, &u);
  else
    write_durably (self, &u);
  chat_slice_note (u.snapshot ? "persisting a snapshot" : "writing the log", start, u.entries->len);
  if (self->failed)
    return;
  if (u.role_changed && self->serving)
    self->serving = FALSE;
  queue_committed (self, &u);
  start = g_get_monotonic_time ();
  chat_replica_journal_update (self, &u, now_ms ());
  chat_slice_note ("journaling an update", start, u.notices->len);
  if (changed)
    emit_status_changed (self);
}

/* What a snapshot's compaction left in the log goes one slice per flush (the deletion of a
 * whole snapshot interval held the loop for up to 0.4 s). A failure leaves the rest for the
 * next snapshot: entries below the snapshot are never read again. */
static void
compact_slice (ChatReplica *self)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  if (!chat_store_compact_more (self->store, &error))
    g_warning ("%s", error->message);
  chat_slice_note ("compacting the log", start, 0);
}

/* One flush is one slice of the main loop, and does one kind of work: persisting updates
 * (rounds until 30 ms have passed or the store holds its writes, at least one), applying
 * one slice of committed entries, or one slice of log compaction. When more than one is
 * pending they take turns, one per flush, with the rest of the main loop (peer lines, the
 * timer, clients) in between: a persist with a slow fsync followed by an apply held the
 * loop for 0.4 s. */
typedef enum
{
  FLUSH_PERSIST,
  FLUSH_APPLY,
  FLUSH_COMPACT,
  FLUSH_KINDS
} FlushKind;

static gboolean
flush_pending (ChatReplica *self, FlushKind kind)
{
  switch (kind)
    {
      case FLUSH_PERSIST:
        return !chat_repl_update_is_empty (&self->update);
      case FLUSH_APPLY:
        return self->apply_entries->len > 0 || self->apply_results->len > 0;
      case FLUSH_COMPACT:
        return chat_store_compact_pending (self->store);
      default:
        return FALSE;
    }
}

static void
persist_rounds (ChatReplica *self, gint64 budget_us)
{
  gint64 start = g_get_monotonic_time ();

  for (guint round = 0; round < MAX_FLUSH_ROUNDS && running (self); round++)
    {
      if (chat_repl_update_is_empty (&self->update))
        break;
      if (round > 0
          && (g_get_monotonic_time () - start >= budget_us || chat_store_writes_held (self->store)))
        break;
      handle_update (self);
    }
}

static void
apply_one_slice (ChatReplica *self)
{
  ChatReplStatus status;

  if (chat_repl_get_role (self->repl) == CHAT_REPL_ROLE_LEADER)
    {
      apply_slice (self, MAX_APPLY_PER_SLICE, APPLY_SLICE_US);
      return;
    }
  chat_repl_get_status (self->repl, &status);
  apply_slice (self, MAX_APPLY_PER_FOLLOWER_SLICE,
               (status.in_sync & CHAT_REPL_NODE_BIT (status.node_id)) ? IN_SYNC_FOLLOWER_SLICE_US
                                                                      : APPLY_SLICE_US);
}

static void
flush_one (ChatReplica *self, FlushKind kind, gint64 budget_us)
{
  if (kind == FLUSH_PERSIST)
    persist_rounds (self, budget_us);
  else if (kind == FLUSH_APPLY)
    apply_one_slice (self);
  else
    compact_slice (self);
}

static void
flush (ChatReplica *self, gint64 budget_us)
{
  gint64 start = g_get_monotonic_time ();
  FlushKind kind = FLUSH_KINDS;

  if (self->written_unoffered)
    offer_written_image (self);

  for (guint i = 0; i < FLUSH_KINDS && kind == FLUSH_KINDS; i++)
    {
      FlushKind candidate = (self->flush_turn + i) % FLUSH_KINDS;

      if (flush_pending (self, candidate))
        kind = candidate;
    }
  if (running (self) && kind != FLUSH_KINDS)
    {
      flush_one (self, kind, budget_us);
      self->flush_turn = (kind + 1) % FLUSH_KINDS;
    }
  for (guint k = 0; k < FLUSH_KINDS && running (self); k++)
    if (flush_pending (self, k))
      schedule_flush (self);
  if (running (self))
    {
      gint64 snapshot_start = g_get_monotonic_time ();

      chat_replica_replay_pump (self);
      maybe_snapshot (self);
      chat_slice_note ("a snapshot", snapshot_start, 0);
      maybe_emit_progress (self);
    }
  chat_slice_note ("a flush", start, kind);
}

static gboolean on_flush (gpointer user_data);

/* The store holds its writes while its checkpoint thread copies the WAL's last pages
 * (chat_store_writes_held): what may go before the disk goes now (heartbeats, the
 * leader's appends, answers), so that no server takes this one for dead, and the flush
 * looks again shortly. */
static void
flush_while_held (ChatReplica *self)
{
  send_acknowledgements (self);
  self->flush_source = g_timeout_add_full (G_PRIORITY_DEFAULT, HELD_RETRY_MS, on_flush, self, NULL);
}

static gboolean
on_flush (gpointer user_data)
{
  ChatReplica *self = g_object_ref (user_data);

  self->flush_source = 0;
  if (running (self) && chat_store_writes_held (self->store))
    flush_while_held (self);
  else
    flush (self, FLUSH_SLICE_US);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (ChatReplica *self)
{
  /* Everything stepped until the loop comes round again shares one fsync. */
  if (self->flush_source == 0)
    self->flush_source = g_timeout_add_full (G_PRIORITY_DEFAULT, 0, on_flush, self, NULL);
}

static void
step (ChatReplica *self, ChatReplEvent *event)
{
  if (!running (self))
    return;
  event->now_ms = now_ms ();
  if (chat_repl_step (self->repl, event, &self->update))
    schedule_flush (self);
  set_wakeup (self, self->update.next_wakeup_ms);
}

/* --- life cycle ------------------------------------------------------------------------ */

static void
chat_replica_dispose (GObject *object)
{
  ChatReplica *self = CHAT_REPLICA (object);

  chat_replica_stop (self);
  G_OBJECT_CLASS (chat_replica_parent_class)->dispose (object);
}

static void
chat_replica_finalize (GObject *object)
{
  ChatReplica *self = CHAT_REPLICA (object);

  chat_repl_update_clear (&self->update);
  chat_replica_sync_clear (self);
  g_ptr_array_unref (self->apply_entries);
  g_array_unref (self->apply_results);
  g_clear_pointer (&self->repl, chat_repl_free);
  g_clear_object (&self->peers);
  g_hash_table_unref (self->proposals);
  g_clear_pointer (&self->replay, chat_replica_replay_free);
  g_clear_pointer (&self->written_image, g_bytes_unref); /* its file goes at the next start */
  g_free (self->snapshot_file);
  g_clear_object (&self->tls);
  g_strfreev (self->addresses);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (chat_replica_parent_class)->finalize (object);
}

static void
chat_replica_class_init (ChatReplicaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = chat_replica_dispose;
  object_class->finalize = chat_replica_finalize;
  signals[SIGNAL_APPLIED]
      = g_signal_new ("applied", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 3, G_TYPE_UINT64, JSON_TYPE_OBJECT, G_TYPE_POINTER);
  signals[SIGNAL_STATUS_CHANGED]
      = g_signal_new ("status-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
chat_replica_init (ChatReplica *self)
{
  self->proposals
      = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, (GDestroyNotify)proposal_free);
  self->next_proposal_id = 1;
  self->replay = chat_replica_replay_new ();
  self->apply_entries = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_repl_entry_unref);
  self->apply_results = g_array_new (FALSE, FALSE, sizeof (ChatReplProposalResult));
  chat_repl_update_init (&self->update);
  chat_replica_sync_init (self);
}

ChatReplica *
chat_replica_new (ChatStore *store, const ChatConfig *config, guint node_id, gboolean primary)
{
  ChatReplica *self = g_object_new (CHAT_TYPE_REPLICA, NULL);
  guint n = config->servers->len;

  g_return_val_if_fail (node_id >= 1 && node_id <= n, self);
  self->store = g_object_ref (store);
  self->config = config;
  self->node_id = node_id;
  self->primary = primary;
  self->addresses = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    self->addresses[i] = chat_server_address_to_string (g_ptr_array_index (config->servers, i));
  chat_failover_init (&self->failover, node_id);
  self->peers = chat_peers_new (config, node_id, on_peer_line, self);
  return self;
}

static void
make_config (ChatReplica *self, ChatReplConfig *rc)
{
  const ChatConfig *c = self->config;

  chat_repl_config_init (rc, self->node_id, c->servers->len);
  rc->mode = c->mode == CHAT_CLUSTER_MODE_QUORUM ? CHAT_REPL_MODE_QUORUM : CHAT_REPL_MODE_AVAILABLE;
  /* A cluster of one has nobody to wait for: its server bootstraps it on its own. */
  rc->primary = self->primary || c->servers->len == 1;
  rc->heartbeat_ms = c->heartbeat_ms;
  rc->election_timeout_min_ms = c->election_timeout_min_ms;
  rc->election_timeout_max_ms = c->election_timeout_max_ms;
  rc->failure_timeout_ms = c->failure_timeout_ms;
  /* Past four snapshot intervals that some server lacks, snapshots compact what a majority
   * holds (docs/replication.md §8). */
  rc->max_retained_entries = 4 * c->snapshot_interval;
  rc->seed = ((guint64)g_random_int () << 32) | g_random_int ();
}

static void
start_timer (ChatReplica *self)
{
  self->timer = g_source_new (&timer_funcs, sizeof (GSource));
  g_source_set_name (self->timer, "chatd replication timer");
  g_source_set_callback (self->timer, on_timer, self, NULL);
  g_source_set_ready_time (self->timer, -1);
  g_source_attach (self->timer, NULL);
  self->probe_last_us = 0;
  self->stall_probe = g_timeout_add (STALL_PROBE_MS, on_stall_probe, self);
}

static gboolean
start_core (ChatReplica *self, GError **error)
{
  ChatReplConfig rc;
  ChatReplPersistedState state;
  ChatReplEvent tick = { .type = CHAT_REPL_EVENT_TICK };
  ChatReplStatus status;

  g_return_val_if_fail (!self->started, FALSE);
  make_config (self, &rc);
  if (!chat_replica_disk_incarnation (self, &rc.incarnation, error)
      || !chat_replica_replay_load (self, error) || !chat_replica_disk_load (self, &state, error))
    return FALSE;
  self->repl = chat_repl_new (&rc, &state);
  chat_replica_disk_state_clear (&state);
  if (self->repl == NULL)
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                           "The [cluster] timeouts of the configuration are not usable");
      return FALSE;
    }
  self->started = TRUE;
  chat_store_set_synced_func (self->store, on_synced, self);
  chat_replica_space_start (self);
  start_timer (self);
  chat_peers_start (self->peers);
  step (self, &tick);
  chat_repl_get_status (self->repl, &status);
  g_message ("Node %u: term %" G_GUINT64_FORMAT ", log up to %" G_GUINT64_FORMAT
             ", applied %" G_GUINT64_FORMAT "%s",
             self->node_id, status.term, status.last_index, status.applied_index,
             status.recovering ? ", recovering" : "");
  return TRUE;
}

gboolean
chat_replica_start (ChatReplica *self, GError **error)
{
  g_return_val_if_fail (CHAT_IS_REPLICA (self), FALSE);

  if (!start_core (self, error))
    {
      g_prefix_error (error, "Starting replication failed: ");
      return FALSE;
    }
  g_message ("Node %u (%s) of %u started", self->node_id, chat_replica_get_address (self),
             self->config->servers->len);
  return TRUE;
}

void
chat_replica_stop (ChatReplica *self)
{
  GHashTableIter iter;
  gpointer value = NULL;
  g_autoptr (GPtrArray) pending = g_ptr_array_new ();

  if (!self->started)
    return;
  /* Whatever the core handed out last is written and sent, as on any iteration; messages
   * still waiting for the sync thread stay unsent, as after a crash. */
  g_clear_handle_id (&self->flush_source, g_source_remove);
  persist_rounds (self, G_MAXINT64);
  apply_all (self);
  self->started = FALSE;
  chat_store_set_synced_func (self->store, NULL, NULL);
  g_clear_handle_id (&self->flush_source, g_source_remove);
  chat_replica_space_stop (self);
  chat_replica_replay_stop (self);
  g_clear_handle_id (&self->stall_probe, g_source_remove);
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  chat_peers_stop (self->peers);
  g_hash_table_iter_init (&iter, self->proposals);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_ptr_array_add (pending, value);
      g_hash_table_iter_steal (&iter);
    }
  for (guint i = 0; i < pending->len; i++)
    fail_proposal (g_ptr_array_index (pending, i), CHAT_ERROR_UNAVAILABLE,
                   "The server is shutting down");
  self->serving = FALSE;
  emit_status_changed (self);
}

/* --- requests ----------------------------------------------------------------------------- */

static GBytes *
op_to_bytes (JsonObject *op)
{
  gsize len = 0;
  char *line = chat_json_to_line (op, &len);

  /* The log keeps the compact JSON without the line's '\n'. */
  line[--len] = '\0';
  return g_bytes_new_take (line, len);
}

void
chat_replica_propose (ChatReplica *self, JsonObject *op, ChatReplicaDoneFunc done,
                      gpointer user_data)
{
  ChatReplicaProposal *proposal = g_new0 (ChatReplicaProposal, 1);
  g_autoptr (GBytes) data = op_to_bytes (op);
  ChatReplEvent event = { .type = CHAT_REPL_EVENT_PROPOSE };

  proposal->id = self->next_proposal_id++;
  proposal->op = json_object_ref (op);
  proposal->data = g_bytes_ref (data);
  proposal->done = done;
  proposal->user_data = user_data;
  if (!running (self))
    {
      fail_proposal (proposal, CHAT_ERROR_UNAVAILABLE, "The server is not running");
      return;
    }
  if (chat_replica_space_refuses_writes (self))
    {
      fail_proposal (proposal, CHAT_ERROR_UNAVAILABLE,
                     "The server's disk is full: nothing was written; try again later");
      return;
    }
  g_hash_table_insert (self->proposals, &proposal->id, proposal);
  event.proposal_id = proposal->id;
  event.data = data;
  step (self, &event);
}

/* The proposer reads the reply and the refusal; the events stay with "applied". */
static ChatApplyResult *
proposer_result (const ChatApplyResult *applied)
{
  ChatApplyResult *result = g_new0 (ChatApplyResult, 1);

  result->reply = json_object_ref (applied->reply);
  if (applied->message != NULL)
    result->message = chat_stored_message_ref (applied->message);
  result->error_code = applied->error_code;
  result->error_message = g_strdup (applied->error_message);
  result->events = g_ptr_array_new ();
  result->ended_sessions = g_ptr_array_new ();
  return result;
}

static void
on_proposal_done (guint64 index, ChatApplyResult *result, const GError *error, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;

  if (error != NULL)
    {
      g_task_return_error (task, g_error_copy (error));
      return;
    }
  g_task_set_task_data (task, g_memdup2 (&index, sizeof index), g_free);
  g_task_return_pointer (task, proposer_result (result), (GDestroyNotify)chat_apply_result_free);
}

void
chat_replica_propose_async (ChatReplica *self, JsonObject *op, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = NULL;

  g_return_if_fail (CHAT_IS_REPLICA (self));
  g_return_if_fail (op != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, chat_replica_propose_async);
  g_task_set_check_cancellable (task, TRUE);
  chat_replica_propose (self, op, on_proposal_done, task);
}

ChatApplyResult *
chat_replica_propose_finish (ChatReplica *self, GAsyncResult *result, guint64 *index,
                             GError **error)
{
  ChatApplyResult *applied = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  applied = g_task_propagate_pointer (G_TASK (result), error);
  if (index != NULL)
    *index = applied != NULL ? *(guint64 *)g_task_get_task_data (G_TASK (result)) : 0;
  return applied;
}

void
chat_replica_step (ChatReplica *self, ChatReplEvent *event)
{
  step (self, event);
}

gboolean
chat_replica_running (ChatReplica *self)
{
  return running (self);
}

gboolean
chat_replica_take_snapshot (ChatReplica *self, guint64 *index, GError **error)
{
  if (!running (self))
    {
      g_set_error_literal (error, CHAT_ERROR, CHAT_ERROR_UNAVAILABLE, "The server is not running");
      return FALSE;
    }
  return snapshot_now (self, index, error);
}
