/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reference the text writers are compared with: json-glib's generator. */
#pragma once

#include <json-glib/json-glib.h>

/* What json-glib's generator prints for object, with the line's '\n'. */
static G_GNUC_UNUSED char *
generator_text (JsonObject *object)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), object);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, NULL);
  return g_strconcat (text, "\n", NULL);
}
