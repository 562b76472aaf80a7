/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Forward declarations of the daemon's types, so headers need not include each other. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ChatAuth ChatAuth;
typedef struct _ChatConnection ChatConnection;
typedef struct _ChatDispatch ChatDispatch;
typedef struct _ChatRequest ChatRequest;
typedef struct _ChatServer ChatServer;
typedef struct _ChatSessions ChatSessions;

G_END_DECLS
