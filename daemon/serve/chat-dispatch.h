/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatDispatch: turns request lines into handler calls: reads from the store, writes through
 * the replica. */
#pragma once

#include <glib-object.h>

#include "chat-auth.h"
#include "chat-config.h"
#include "chat-daemon-types.h"
#include "chat-replica.h"
#include "chat-sessions.h"
#include "chat-store.h"

G_BEGIN_DECLS

#define CHAT_TYPE_DISPATCH (chat_dispatch_get_type ())
G_DECLARE_FINAL_TYPE (ChatDispatch, chat_dispatch, CHAT, DISPATCH, GObject)

/* config must outlive the dispatcher. */
ChatDispatch *chat_dispatch_new (const ChatConfig *config, ChatStore *store, ChatReplica *replica,
                                 ChatSessions *sessions, ChatAuth *auth);
/* Parses one line into a request; a line that is not a valid request becomes a
 * request that answers bad_request. Never fails. */
ChatRequest *chat_dispatch_parse (ChatDispatch *self, ChatConnection *conn, const char *line,
                                  gsize len);
/* Runs a request; it answers now or later through chat_request_reply/_fail. */
void chat_dispatch_run (ChatDispatch *self, ChatRequest *request);

G_END_DECLS
