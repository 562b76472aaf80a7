/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The item swap shared by the list rows that show one model item and follow its changes. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Points *slot (a row's item field) at item, taking a reference, and disconnects from the
 * old item every handler connected with row as its data. Returns TRUE when the row now holds
 * a different, non-NULL item: the caller then connects its handlers and renders it. */
gboolean chat_row_item_swap (gpointer row, GObject **slot, gpointer item);

G_END_DECLS
