/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Value types of the replication core: terms, node sets, log entries and peer messages. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Node ids are 1..n (the position in config.ini); 0 means "none". */
#define CHAT_REPL_MAX_NODES 64
/* Appends a leader keeps in flight to one catching-up follower, at most. */
#define CHAT_REPL_MAX_APPENDS_IN_FLIGHT 8
/* Snapshot chunks a leader keeps in flight to one follower, at most. */
#define CHAT_REPL_MAX_SNAPSHOT_CHUNKS_IN_FLIGHT 16

/* A term is one guint64: counter * 256 + node id of the only server that may lead it.
 * Comparing the integers compares (counter, node id), so terms are unique per server. */
#define CHAT_REPL_TERM_MAKE(counter, node) (((guint64)(counter) << 8) | ((guint64)(node)&0xff))
#define CHAT_REPL_TERM_COUNTER(term) ((guint64)(term) >> 8)
#define CHAT_REPL_TERM_NODE(term) ((guint)((term)&0xff))

/* A set of node ids as a bit mask: bit (id - 1). */
typedef guint64 ChatReplNodeSet;
#define CHAT_REPL_NODE_BIT(id) (G_GUINT64_CONSTANT (1) << ((id)-1))
#define CHAT_REPL_NODE_SET_HAS(set, id) (((set)&CHAT_REPL_NODE_BIT (id)) != 0)

typedef enum
{
  CHAT_REPL_ENTRY_NOOP,
  CHAT_REPL_ENTRY_OP,
  CHAT_REPL_ENTRY_IN_SYNC_SET,
  CHAT_REPL_ENTRY_CONFIG,
} ChatReplEntryType;

#define CHAT_REPL_ENTRY_TYPE_LAST CHAT_REPL_ENTRY_CONFIG

/* One log entry; reference counted and immutable once created. The data of an OP is the
 * host's operation (opaque here); of an IN_SYNC_SET, the set as 8 bytes little endian. */
typedef struct
{
  guint64 term;
  guint64 index;
  ChatReplEntryType type;
  GBytes *data; /* never NULL; may be empty */
} ChatReplEntry;

ChatReplEntry *chat_repl_entry_new (guint64 term, guint64 index, ChatReplEntryType type,
                                    GBytes *data);
ChatReplEntry *chat_repl_entry_ref (ChatReplEntry *entry);
void chat_repl_entry_unref (ChatReplEntry *entry);
/* The set stored in an IN_SYNC_SET entry, or 0 when the data is malformed. */
ChatReplNodeSet chat_repl_entry_get_node_set (const ChatReplEntry *entry);
GBytes *chat_repl_node_set_to_bytes (ChatReplNodeSet set);
guint chat_repl_node_set_count (ChatReplNodeSet set);

typedef enum
{
  CHAT_REPL_MSG_VOTE_REQUEST = 1,
  CHAT_REPL_MSG_VOTE_RESPONSE,
  CHAT_REPL_MSG_APPEND,
  CHAT_REPL_MSG_APPEND_RESPONSE,
  CHAT_REPL_MSG_SNAPSHOT,
  CHAT_REPL_MSG_SNAPSHOT_RESPONSE,
  CHAT_REPL_MSG_TIMEOUT_NOW,
  CHAT_REPL_MSG_PRE_VOTE_REQUEST,
  CHAT_REPL_MSG_PRE_VOTE_RESPONSE,
} ChatReplMessageType;

#define CHAT_REPL_MSG_TYPE_LAST CHAT_REPL_MSG_PRE_VOTE_RESPONSE

/* A message between two cores. Which fields matter depends on the type:
 *  VOTE_REQUEST      last_index, last_term, transfer
 *  VOTE_RESPONSE     granted, vouch
 *  APPEND            prev_index, prev_term, commit, entries, rejoin_heard
 *  APPEND_RESPONSE   success, match_index (on success) or hint_index (on reject)
 *  SNAPSHOT          snapshot_index, snapshot_term, snapshot_isr, offset, total, data, done
 *  SNAPSHOT_RESPONSE snapshot_index, offset (bytes held), done, success
 *  TIMEOUT_NOW       (term only)
 *  PRE_VOTE_REQUEST  last_index, last_term; term: the one the sender would run for
 *  PRE_VOTE_RESPONSE granted, vouch; term: the request's */
typedef struct
{
  ChatReplMessageType type;
  guint from;
  guint to;
  guint64 term;
  guint64 last_index;
  guint64 last_term;
  gboolean transfer;
  gboolean granted;
  /* VOTE_RESPONSE, PRE_VOTE_RESPONSE: when not 0, the grant vouches for the candidate's
   * log if the candidate's latest set is this one, the sender's (A6): the sender holds
   * every commit made while it lived (a live member, A5), or it recovers only for fear
   * that this very candidate removed it. */
  ChatReplNodeSet vouch;
  guint64 prev_index;
  guint64 prev_term;
  guint64 commit;
  GPtrArray *entries; /* ChatReplEntry *, never NULL */
  gboolean success;
  guint64 match_index;
  guint64 hint_index;
  guint64 snapshot_index;
  guint64 snapshot_term;
  ChatReplNodeSet snapshot_isr;
  guint64 offset;
  guint64 total;
  GBytes *data; /* snapshot chunk, or NULL */
  gboolean done;
  guint64 incarnation; /* the sender's store (every type; 0: unknown) */
  guint64 cluster;     /* the sender's cluster (every type; 0: none yet, A8) */
  /* Every type: the sender's latest in-sync set (0: not known, e.g. an older peer); after a
   * partition in available mode it decides which side wins (docs/partitions.md). */
  ChatReplNodeSet isr;
  /* APPEND: entries up to here are on a majority of the servers, and on every server */
  guint64 majority_index;
  guint64 everywhere_index;
  /* Every type: the rejoin the sender has under way (A7: it restarted, was starved, or its
   * store is new), 0 when none. APPEND: the receiver's rejoin as the leader last heard it,
   * so that the receiver knows this append was sent after the leader heard from it. */
  guint64 rejoin;
  guint64 rejoin_heard;
} ChatReplMessage;

ChatReplMessage *chat_repl_message_new (ChatReplMessageType type, guint from, guint to,
                                        guint64 term);
ChatReplMessage *chat_repl_message_ref (ChatReplMessage *message);
void chat_repl_message_unref (ChatReplMessage *message);
const char *chat_repl_message_type_to_string (ChatReplMessageType type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatReplEntry, chat_repl_entry_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatReplMessage, chat_repl_message_unref)

G_END_DECLS
