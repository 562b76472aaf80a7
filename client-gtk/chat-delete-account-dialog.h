/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatDeleteAccountDialog: confirms deleting the account with the password. */
#pragma once

#include <adwaita.h>

#include "chat-client.h"

G_BEGIN_DECLS

#define CHAT_TYPE_DELETE_ACCOUNT_DIALOG (chat_delete_account_dialog_get_type ())
G_DECLARE_FINAL_TYPE (ChatDeleteAccountDialog, chat_delete_account_dialog, CHAT,
                      DELETE_ACCOUNT_DIALOG, AdwMessageDialog)

/* Signal "deleted": the account is gone (the dialog then closes). A wrong password keeps
 * the dialog open with an inline error. */
ChatDeleteAccountDialog *chat_delete_account_dialog_new (GtkWindow *parent, ChatClient *client);
/* Types the password and answers "delete", as the user would. */
void chat_delete_account_dialog_confirm (ChatDeleteAccountDialog *self, const char *password);

G_END_DECLS
