/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshot images as files beside the database: written whole, then named (crash safe). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writes data to DIR/snapshot-INDEX-SERIAL.img through a temporary file that is fsynced
 * and renamed, then fsyncs DIR: the named file is either absent or complete. Safe to call
 * from a worker thread. Returns the serial that names the file. */
gboolean chat_snapshot_file_write (const char *dir, guint64 index, GBytes *data, guint64 *serial,
                                   GError **error);
/* A new path in dir for an image being built (by chat_store_snapshot_file); what a crash
 * leaves there goes at the next start (chat_snapshot_file_clean). */
char *chat_snapshot_file_temp_path (const char *dir);
/* Makes the complete image at temp, built in dir, durable and names it
 * DIR/snapshot-INDEX-SERIAL.img, as chat_snapshot_file_write does with its bytes; temp is
 * removed on failure. */
gboolean chat_snapshot_file_seal (const char *dir, const char *temp, guint64 index, guint64 *serial,
                                  GError **error);
char *chat_snapshot_file_name (guint64 index, guint64 serial);

GBytes *chat_snapshot_file_read (const char *dir, guint64 index, guint64 serial, GError **error);

/* Removes the file at path on a worker thread (a missing file is no error): freeing the
 * blocks of a large image took tens of milliseconds per range on a file system mounted
 * with `discard`, too long for the main loop. */
void chat_snapshot_file_remove_later (const char *path);
/* Removes every snapshot file and leftover temporary file in dir but the one named by
 * (index, serial); serial 0 keeps none. */
void chat_snapshot_file_clean (const char *dir, guint64 index, guint64 serial);

G_END_DECLS
