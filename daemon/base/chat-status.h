/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStatus: one server's cluster status as the admin faces (D-Bus, sd_notify) read it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One other server of the cluster, as this server sees it. */
typedef struct
{
  char *address;          /* "host:port" */
  char *state;            /* e.g. "in-sync", "catching-up", "down", "unknown" */
  guint64 lag;            /* log entries behind this server's last index */
  gint64 last_contact_ms; /* milliseconds since it was last heard from, or -1 */
} ChatPeerStatus;

ChatPeerStatus *chat_peer_status_new (const char *address, const char *state, guint64 lag,
                                      gint64 last_contact_ms);
void chat_peer_status_free (ChatPeerStatus *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatPeerStatus, chat_peer_status_free)

/* Everything the admin interface shows. The daemon fills it in a ChatStatusFunc;
 * strings are owned by the struct (g_free), NULL reads as "". */
typedef struct
{
  char *node; /* this server, "host:port" */
  char *role; /* "leader", "follower", "candidate" or "recovering" */
  guint64 term;
  char *leader; /* "host:port", or NULL when no leader is known */
  guint64 commit_index;
  guint64 applied_index;
  char *mode;         /* "available" or "quorum" */
  GPtrArray *in_sync; /* char *: the current in-sync set, "host:port" each */
  GPtrArray *peers;   /* ChatPeerStatus *: every other configured server */
  guint connected_clients;
  guint64 accounts;
  guint64 messages;
  char *state_hash; /* only filled when CHAT_STATUS_WANT_STATE_HASH is asked */
  char *waiting;    /* why it neither leads nor follows yet (chat_replica_fill_status), or NULL */
} ChatStatus;

/* Fields that cost real work to fill; the daemon fills them only when asked. */
typedef enum
{
  CHAT_STATUS_WANT_DEFAULT = 0,
  CHAT_STATUS_WANT_STATE_HASH = 1 << 0,
} ChatStatusWant;

/* Provided by the daemon: fills status (fresh from chat_status_new()) with the
 * current values. Called on the main loop, so it must not block for long. */
typedef void (*ChatStatusFunc) (ChatStatus *status, ChatStatusWant want, gpointer user_data);

ChatStatus *chat_status_new (void);
void chat_status_free (ChatStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatStatus, chat_status_free)

/* Adds a member of the in-sync set / a peer (convenience for ChatStatusFunc implementations). */
void chat_status_add_in_sync (ChatStatus *status, const char *address);
void chat_status_add_peer (ChatStatus *status, const char *address, const char *state, guint64 lag,
                           gint64 last_contact_ms);

/* A one-line human summary, as used for the sd_notify STATUS= text:
 * "leader, term 12, 3/3 in sync", "follower of 127.0.0.1:5555, term 12",
 * "recovering: waiting for peers"; with a waiting reason, the role and that reason. */
char *chat_status_describe (const ChatStatus *status);

G_END_DECLS
