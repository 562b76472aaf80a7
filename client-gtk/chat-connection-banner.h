/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatConnectionBanner: a thin "Reconnecting…" strip under a header bar. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CHAT_TYPE_CONNECTION_BANNER (chat_connection_banner_get_type ())
G_DECLARE_FINAL_TYPE (ChatConnectionBanner, chat_connection_banner, CHAT, CONNECTION_BANNER, AdwBin)

/* Property "revealed" (gboolean): slides the banner in or out. */
gboolean chat_connection_banner_get_revealed (ChatConnectionBanner *self);
void chat_connection_banner_set_revealed (ChatConnectionBanner *self, gboolean revealed);
/* Property "offline" (gboolean): says "Offline — waiting for the servers" (the window shows
 * its cache) instead of "Reconnecting…". */
gboolean chat_connection_banner_get_offline (ChatConnectionBanner *self);
void chat_connection_banner_set_offline (ChatConnectionBanner *self, gboolean offline);

G_END_DECLS
