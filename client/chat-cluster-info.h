/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Boxed results: a server's hello (role, leader, term, every server's state) and a sync page. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* One server as the answering server sees it. */
typedef struct
{
  char *address; /* "host:port" */
  char *state;   /* "leader", "follower", "candidate", "recovering", "down" or "unknown" */
  gboolean in_sync;
} ChatServerStatus;

#define CHAT_TYPE_SERVER_STATUS (chat_server_status_get_type ())
GType chat_server_status_get_type (void);
ChatServerStatus *chat_server_status_copy (const ChatServerStatus *status);
void chat_server_status_free (ChatServerStatus *status);
/* TRUE unless the state is "down" or "unknown". */
gboolean chat_server_status_is_up (const ChatServerStatus *status);

/* The answer to hello. */
typedef struct
{
  char *server; /* software and version, e.g. "chatd 0.1.0" */
  guint proto;
  char *node;   /* the answering server's "host:port" */
  char *role;   /* "leader", "follower", "candidate" or "recovering" */
  char *leader; /* "host:port", or NULL while none is known */
  guint64 term;
  GPtrArray *servers; /* ChatServerStatus *, owned */
} ChatHelloInfo;

#define CHAT_TYPE_HELLO_INFO (chat_hello_info_get_type ())
GType chat_hello_info_get_type (void);
ChatHelloInfo *chat_hello_info_new_from_json (JsonObject *object, GError **error);
ChatHelloInfo *chat_hello_info_copy (const ChatHelloInfo *info);
void chat_hello_info_free (ChatHelloInfo *info);
/* Servers whose state is up; *n_total (optional) gets the number of servers. */
guint chat_hello_info_count_up (const ChatHelloInfo *info, guint *n_total);

/* One page of sync: everything that changed for the caller after some seq. */
typedef struct
{
  GPtrArray *messages; /* ChatMessage *, ascending seq, owned */
  GArray *deleted;     /* gint64 ids of the caller's messages deleted since */
  GArray *read;        /* gint64 ids of messages the caller sent that were read since */
  gint64 seq;          /* complete up to this seq: the next "after" */
  gboolean more;       /* call again at once with after = seq */
} ChatSyncResult;

#define CHAT_TYPE_SYNC_RESULT (chat_sync_result_get_type ())
GType chat_sync_result_get_type (void);
ChatSyncResult *chat_sync_result_new_from_json (JsonObject *object, GError **error);
ChatSyncResult *chat_sync_result_copy (const ChatSyncResult *result);
void chat_sync_result_free (ChatSyncResult *result);

/* Appends the whole numbers of the optional array field to ids (gint64). */
gboolean chat_json_parse_ids (JsonObject *object, const char *field, GArray *ids, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatServerStatus, chat_server_status_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatHelloInfo, chat_hello_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatSyncResult, chat_sync_result_free)

G_END_DECLS
