/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatWindow internals shared by chat-window.c and chat-window-actions.c. */
#pragma once

#include "chat-connection-banner.h"
#include "chat-conversation-list.h"
#include "chat-conversation-view.h"
#include "chat-login-page.h"
#include "chat-window.h"

G_BEGIN_DECLS

struct _ChatWindow
{
  AdwApplicationWindow parent_instance;

  AdwToastOverlay *toast_overlay;
  GtkStack *main_stack;
  ChatLoginPage *login_page;
  AdwLeaflet *leaflet;
  GtkWidget *sidebar_box;
  AdwWindowTitle *sidebar_title;
  GtkMenuButton *account_button;
  ChatConnectionBanner *sidebar_banner;
  ChatConversationList *conversation_list;
  GtkWidget *content_box;
  AdwWindowTitle *conversation_title;
  ChatConnectionBanner *conversation_banner;
  ChatConversationView *conversation_view;
  GtkWidget *account_box;
  GtkLabel *user_label;
  GtkLabel *health_label;

  ChatClient *client;
  ChatAccount *account;
  GCancellable *cancellable;
  gboolean reconnecting;
  gboolean was_connected;
};

/* chat-window-actions.c */
void chat_window_install_actions (ChatWindowClass *klass);
void chat_window_update_actions (ChatWindow *self);

/* chat-window.c */
void chat_window_log_out_done (ChatWindow *self, const char *message);

G_END_DECLS
