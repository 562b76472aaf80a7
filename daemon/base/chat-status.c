/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatStatus: construction, cleanup and the one-line summary used for STATUS=. */
#include "config.h"

#include "chat-status.h"

ChatPeerStatus *
chat_peer_status_new (const char *address, const char *state, guint64 lag, gint64 last_contact_ms)
{
  ChatPeerStatus *peer = g_new0 (ChatPeerStatus, 1);

  peer->address = g_strdup (address);
  peer->state = g_strdup (state);
  peer->lag = lag;
  peer->last_contact_ms = last_contact_ms;
  return peer;
}

void
chat_peer_status_free (ChatPeerStatus *peer)
{
  if (peer == NULL)
    return;
  g_free (peer->address);
  g_free (peer->state);
  g_free (peer);
}

ChatStatus *
chat_status_new (void)
{
  ChatStatus *status = g_new0 (ChatStatus, 1);

  status->in_sync = g_ptr_array_new_with_free_func (g_free);
  status->peers = g_ptr_array_new_with_free_func ((GDestroyNotify)chat_peer_status_free);
  return status;
}

void
chat_status_free (ChatStatus *status)
{
  if (status == NULL)
    return;
  g_free (status->node);
  g_free (status->role);
  g_free (status->leader);
  g_free (status->mode);
  g_free (status->state_hash);
  g_free (status->waiting);
  g_ptr_array_unref (status->in_sync);
  g_ptr_array_unref (status->peers);
  g_free (status);
}

void
chat_status_add_in_sync (ChatStatus *status, const char *address)
{
  g_return_if_fail (status != NULL && address != NULL);
  g_ptr_array_add (status->in_sync, g_strdup (address));
}

void
chat_status_add_peer (ChatStatus *status, const char *address, const char *state, guint64 lag,
                      gint64 last_contact_ms)
{
  g_return_if_fail (status != NULL && address != NULL);
  g_ptr_array_add (status->peers, chat_peer_status_new (address, state, lag, last_contact_ms));
}

static gboolean
has_text (const char *s)
{
  return s != NULL && *s != '\0';
}

static char *
describe_recovering (const ChatStatus *status)
{
  if (!has_text (status->leader))
    return g_strdup ("recovering: waiting for peers");
  return g_strdup_printf ("recovering: catching up from %s, term %" G_GUINT64_FORMAT,
                          status->leader, status->term);
}

char *
chat_status_describe (const ChatStatus *status)
{
  const char *role;

  g_return_val_if_fail (status != NULL, NULL);

  role = has_text (status->role) ? status->role : "starting";
  if (has_text (status->waiting))
    return g_strdup_printf ("%s, term %" G_GUINT64_FORMAT ": %s", role, status->term,
                            status->waiting);
  if (g_str_equal (role, "leader"))
    return g_strdup_printf ("leader, term %" G_GUINT64_FORMAT ", %u/%u in sync", status->term,
                            status->in_sync->len, status->peers->len + 1);
  if (g_str_equal (role, "recovering"))
    return describe_recovering (status);
  if (g_str_equal (role, "follower") && has_text (status->leader))
    return g_strdup_printf ("follower of %s, term %" G_GUINT64_FORMAT, status->leader,
                            status->term);
  if (g_str_equal (role, "follower") || g_str_equal (role, "candidate"))
    return g_strdup_printf ("%s, term %" G_GUINT64_FORMAT ": no leader, electing", role,
                            status->term);
  return g_strdup_printf ("%s, term %" G_GUINT64_FORMAT, role, status->term);
}
