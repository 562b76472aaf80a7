/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a chatd server is on D-Bus: its bus name, object path and interface, for the
 * daemon and chatctl alike (the interface itself: daemon/admin/io.github.chatd.Server1.xml). */
#pragma once

/* Followed by the server's port: io.github.chatd.Server5555. */
#define CHAT_DBUS_NAME_PREFIX "io.github.chatd.Server"
#define CHAT_DBUS_OBJECT_PATH "/io/github/chatd/Server"
#define CHAT_DBUS_INTERFACE "io.github.chatd.Server1"
