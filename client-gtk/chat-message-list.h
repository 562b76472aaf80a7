/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatMessageList: a GListModel of one conversation that prepends history pages on demand. */
#pragma once

#include <gio/gio.h>

#include "chat-client.h"

G_BEGIN_DECLS

/* Messages fetched per history request (the protocol allows up to 500). */
#define CHAT_MESSAGE_LIST_PAGE 200
/* The first, newest page when the view did not say how many rows fit: enough for a tall window.
 * GTK 4.8's list view builds a row for every item of a short list, so a first page no bigger
 * than the window is the cheapest first paint. */
#define CHAT_MESSAGE_LIST_FIRST_PAGE 50
/* Bounds of a first page sized to the window. */
#define CHAT_MESSAGE_LIST_MIN_FIRST_PAGE 10
#define CHAT_MESSAGE_LIST_MAX_FIRST_PAGE CHAT_MESSAGE_LIST_PAGE

/* How the conversation view draws a message, from its place in the list. */
typedef enum
{
  CHAT_MESSAGE_FLAG_SHOW_DAY = 1 << 0,     /* first of its day: a day separator above it */
  CHAT_MESSAGE_FLAG_FIRST_UNREAD = 1 << 1, /* the oldest unread: "New messages" above it */
  CHAT_MESSAGE_FLAG_GROUP_END = 1 << 2,    /* last of a run from one sender: it shows the time */
} ChatMessageFlags;

#define CHAT_TYPE_MESSAGE_LIST (chat_message_list_get_type ())
G_DECLARE_FINAL_TYPE (ChatMessageList, chat_message_list, CHAT, MESSAGE_LIST, GObject)

/*
 * A GListModel of libchat's ChatMessage in ascending seq, pending own messages last (their
 * "state" follows delivery). The list keeps each message's ChatMessageFlags.
 * Signal "flags-changed" (ChatMessage *message): its flags changed.
 * Properties:
 *   "peer"      string    the other participant (construct-only)
 *   "loading"   gboolean  a history page is being fetched
 *   "loaded"    gboolean  the newest page has arrived
 *   "complete"  gboolean  the oldest message is loaded
 */
ChatMessageList *chat_message_list_new (ChatClient *client, const char *me, const char *peer);

gboolean chat_message_list_get_loading (ChatMessageList *self);
gboolean chat_message_list_get_loaded (ChatMessageList *self);
gboolean chat_message_list_get_complete (ChatMessageList *self);
/* How many messages the first request fetches; clamped to the bounds above. Only matters
 * before the first chat_message_list_load_older(). */
void chat_message_list_set_first_page_size (ChatMessageList *self, guint size);
/* Fetches the page before the oldest loaded message; does nothing while one is loading
 * or when complete. */
void chat_message_list_load_older (ChatMessageList *self);
/* Appends a message from the server; FALSE when its id is already listed. */
gboolean chat_message_list_add_message (ChatMessageList *self, ChatMessage *message);
/* An own message from chat_message_new_pending(), listed last. */
void chat_message_list_add_pending (ChatMessageList *self, ChatMessage *pending);
/* The pending message was committed as message: it takes message's id, seq and time (see
 * chat_message_commit()). If that message already arrived by another path (a sync after a
 * failover), the copy is dropped so it shows once, as the bubble the user watched. */
void chat_message_list_commit_pending (ChatMessageList *self, ChatMessage *pending,
                                       ChatMessage *message);
void chat_message_list_remove_item (ChatMessageList *self, ChatMessage *message);
/* Removes the listed ids (gint64); returns how many were here. */
guint chat_message_list_remove_ids (ChatMessageList *self, const GArray *ids);
/* Own messages with seq <= up_to become READ. */
void chat_message_list_mark_read_up_to (ChatMessageList *self, gint64 up_to);
ChatMessage *chat_message_list_find (ChatMessageList *self, gint64 id);
/* The newest message (a new reference), or NULL when empty. */
ChatMessage *chat_message_list_dup_last (ChatMessageList *self);
ChatMessageFlags chat_message_list_get_flags (ChatMessageList *self, ChatMessage *message);
/* Sent by the list's user. */
gboolean chat_message_list_is_outgoing (ChatMessageList *self, ChatMessage *message);
/* "sent-at" in the local time zone (a new reference). */
GDateTime *chat_message_list_dup_time (ChatMessage *message);

/* The "New messages" divider: above the message id once it is listed (Ctrl+U has just marked
 * it read), or, with 0, above the oldest of the unread messages at the end. */
void chat_message_list_set_first_unread_id (ChatMessageList *self, gint64 id);
/* Places the divider from the read flags, unless an explicit one waits for the first page. */
void chat_message_list_place_unread_marker (ChatMessageList *self);
ChatMessage *chat_message_list_get_unread_marker (ChatMessageList *self);
/* Fills a list that shows the offline cache: messages (ascending, may be NULL), marked loaded;
 * it never fetches history. */
void chat_message_list_add_cached (ChatMessageList *self, GPtrArray *messages);
/* The newest max committed messages as protocol objects, oldest first (for the cache). */
JsonArray *chat_message_list_to_json (ChatMessageList *self, guint max);

/* Incoming messages up to seq up_to were marked read on the server. */
void chat_message_list_set_incoming_read (ChatMessageList *self, gint64 up_to);

G_END_DECLS
