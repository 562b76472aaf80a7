/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatSearchResults: users matching a search, each one starts a conversation. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CHAT_TYPE_SEARCH_RESULTS (chat_search_results_get_type ())
G_DECLARE_FINAL_TYPE (ChatSearchResults, chat_search_results, CHAT, SEARCH_RESULTS, GtkWidget)

/* Signal "user-activated" (const char *username). */
/* users NULL: searching (a spinner). */
void chat_search_results_set_users (ChatSearchResults *self, const char *const *users,
                                    gboolean more);
guint chat_search_results_get_n_users (ChatSearchResults *self);
/* Activates the nth result, as a click would. */
void chat_search_results_activate (ChatSearchResults *self, guint n);

G_END_DECLS
