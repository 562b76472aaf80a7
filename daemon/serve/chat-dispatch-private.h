/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the dispatcher's files: its state, request helpers and the op handlers. */
#pragma once

#include "chat-dispatch.h"
#include "chat-request.h"

G_BEGIN_DECLS

#define CHAT_DISPATCH_DEFAULT_LIMIT 50
#define CHAT_DISPATCH_MAX_LIMIT 500
#define CHAT_DISPATCH_MAX_IDS 500
#define CHAT_DISPATCH_MAX_PATTERN_BYTES 64
#define CHAT_DISPATCH_MAX_CLIENT_MSG_ID_BYTES 64
#define CHAT_DISPATCH_MAX_SESSION_BYTES 64

struct _ChatDispatch
{
  GObject parent_instance;

  const ChatConfig *config;
  ChatStore *store;
  ChatReplica *replica;
  ChatSessions *sessions;
  ChatAuth *auth;
  GQueue waiting;    /* requests for a leader that does not serve yet (chat-dispatch-ready.c) */
  guint ready_check; /* times them out */
  gulong status_handler;
};

typedef void (*ChatOpHandler) (ChatDispatch *self, ChatRequest *request);

/* Runs after the proposed op committed and applied without refusal. */
typedef void (*ChatCommitFunc) (ChatDispatch *self, ChatRequest *request, ChatApplyResult *result,
                                gpointer data);

/* A new op {"op": name}, stamped with the account it acts for when the request has one.
 * (Ops no longer carry "origin": nothing read it. Logs that hold it still apply.) */
JsonObject *chat_dispatch_new_op (ChatDispatch *self, ChatRequest *request, const char *name);
/* Names the account an op acts for by when it was created (`account_since`). */
void chat_dispatch_stamp_account (ChatDispatch *self, JsonObject *op, const char *username);
/* Proposes op for request. Failures and refusals answer the request; a commit calls
 * on_commit, or answers result->reply when on_commit is NULL. */
void chat_dispatch_propose (ChatDispatch *self, ChatRequest *request, JsonObject *op,
                            ChatCommitFunc on_commit, gpointer data, GDestroyNotify destroy);
/* Answers with a store or validation error, logging faults (not CHAT_ERROR). */
void chat_dispatch_fail (ChatRequest *request, const GError *error);
/* The optional "limit" field: 1..CHAT_DISPATCH_MAX_LIMIT, default when absent. */
gboolean chat_dispatch_get_limit (JsonObject *params, guint default_limit, guint *limit,
                                  GError **error);
/* A required field naming a user that must exist; *display gets its display name. */
gboolean chat_dispatch_get_user (ChatDispatch *self, JsonObject *params, const char *field,
                                 char **display, GError **error);
gint64 chat_dispatch_now_ms (void);

/* chat-dispatch-ready.c */
void chat_dispatch_ready_start (ChatDispatch *self);
void chat_dispatch_ready_stop (ChatDispatch *self);
/* Runs request again (chat_dispatch_run) once this server serves or stops leading. */
void chat_dispatch_wait_until_ready (ChatDispatch *self, ChatRequest *request);

/* chat-dispatch-account.c */
void chat_dispatch_signup (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_login (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_resume (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_logout (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_delete_account (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_list_users (ChatDispatch *self, ChatRequest *request);

/* chat-dispatch-messages.c */
void chat_dispatch_send (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_read_unread (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_history (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_conversations (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_mark_read (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_unread_count (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_delete_messages (ChatDispatch *self, ChatRequest *request);
void chat_dispatch_sync (ChatDispatch *self, ChatRequest *request);

G_END_DECLS
