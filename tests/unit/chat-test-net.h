/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helper shared by the unit tests that open sockets: a listener on a free loopback port. */
#pragma once

#include <gio/gio.h>

/* Adds a listening socket on 127.0.0.1 with a port the kernel picks and returns that port.
 * Tests listen on loopback only, never on every interface. */
static G_GNUC_UNUSED guint16
chat_test_listen_loopback (GSocketListener *listener)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_socket_listener_add_address (listener, any_port, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}
