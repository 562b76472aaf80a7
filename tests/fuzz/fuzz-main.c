/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Without libFuzzer: replays every file given on the command line through the fuzz target. */
#include <glib.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
main (int argc, char **argv)
{
  int replayed = 0;

  for (int i = 1; i < argc; i++)
    {
      g_autofree char *contents = NULL;
      gsize len = 0;
      g_autoptr (GError) error = NULL;

      if (!g_file_get_contents (argv[i], &contents, &len, &error))
        {
          g_printerr ("fuzz-replay: %s\n", error->message);
          return 1;
        }
      LLVMFuzzerTestOneInput ((const uint8_t *)contents, len);
      replayed++;
    }
  g_print ("fuzz-replay: %d inputs replayed without a fault\n", replayed);
  return replayed > 0 ? 0 : 1;
}
