/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The item swap shared by the list rows that show one model item and follow its changes. */
#define G_LOG_DOMAIN "chat-gtk"

#include "config.h"

#include "chat-row-item.h"

gboolean
chat_row_item_swap (gpointer row, GObject **slot, gpointer item)
{
  if (*slot == item)
    return FALSE;
  /* A recycled row must stop following the item it showed before. */
  if (*slot != NULL)
    g_signal_handlers_disconnect_by_data (*slot, row);
  g_set_object (slot, item);
  return item != NULL;
}
