/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ChatStore type, declared once for the headers of the store's parts. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define CHAT_TYPE_STORE (chat_store_get_type ())
G_DECLARE_FINAL_TYPE (ChatStore, chat_store, CHAT, STORE, GObject)

G_END_DECLS
