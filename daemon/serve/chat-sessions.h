/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatSessions: which live connections belong to which session and which user. */
#pragma once

#include <glib-object.h>

#include "chat-daemon-types.h"
#include "chat-store.h"

G_BEGIN_DECLS

#define CHAT_TYPE_SESSIONS (chat_sessions_get_type ())
G_DECLARE_FINAL_TYPE (ChatSessions, chat_sessions, CHAT, SESSIONS, GObject)

ChatSessions *chat_sessions_new (void);
/* Logs conn in (replacing any earlier session of it) and indexes it. */
void chat_sessions_attach (ChatSessions *self, ChatConnection *conn, const char *session_hash,
                           const char *username);
/* Logs conn out of the index (on close, or before it logs in again). */
void chat_sessions_detach (ChatSessions *self, ChatConnection *conn);
/* Pushes an event to every connection of event->user_key except those of
 * event->except_session. */
void chat_sessions_deliver (ChatSessions *self, const ChatApplyEvent *event);
/* Tells every connection of a session that it ended ({"event":"session_ended",
 * "reason"}) and logs them out. */
void chat_sessions_end (ChatSessions *self, const char *session_hash, const char *reason);
/* Delivers what applying one operation produced. */
void chat_sessions_deliver_result (ChatSessions *self, JsonObject *op,
                                   const ChatApplyResult *result);

G_END_DECLS
