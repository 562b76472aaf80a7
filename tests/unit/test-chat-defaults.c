/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests that the shipped config.ini states every default of chat-defaults.h, and that a
 * config.ini without them falls back to the same numbers. */
#include "chat-config.h"
#include "chat-defaults.h"

typedef struct
{
  const char *group;
  const char *key;
  guint64 value;
} Default;

static const Default defaults[] = {
  { "cluster", "heartbeat_ms", CHAT_DEFAULT_HEARTBEAT_MS },
  { "cluster", "election_timeout_min_ms", CHAT_DEFAULT_ELECTION_TIMEOUT_MIN_MS },
  { "cluster", "election_timeout_max_ms", CHAT_DEFAULT_ELECTION_TIMEOUT_MAX_MS },
  { "cluster", "failure_timeout_ms", CHAT_DEFAULT_FAILURE_TIMEOUT_MS },
  { "cluster", "snapshot_interval", CHAT_DEFAULT_SNAPSHOT_INTERVAL },
  { "limits", "max_line_bytes", CHAT_DEFAULT_MAX_LINE_BYTES },
  { "limits", "max_body_bytes", CHAT_DEFAULT_MAX_BODY_BYTES },
  { "limits", "max_connections", CHAT_DEFAULT_MAX_CONNECTIONS },
  { "limits", "idle_line_timeout_s", CHAT_DEFAULT_IDLE_LINE_TIMEOUT_S },
  { "limits", "partial_lines_budget_bytes", CHAT_DEFAULT_PARTIAL_LINES_BUDGET_BYTES },
  { "limits", "disk_reserve_bytes", CHAT_DEFAULT_DISK_RESERVE_BYTES },
};

/* The shipped config.ini as a GKeyFile, its ';' comments turned into the '#' GKeyFile reads. */
static GKeyFile *
load_shipped_file (void)
{
  g_autofree char *path = g_build_filename (g_getenv ("CHATD_SOURCE_ROOT"), "config.ini", NULL);
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *hashed = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (lines[i][0] == ';')
        lines[i][0] = '#';
    }
  hashed = g_strjoinv ("\n", lines);
  g_assert_true (g_key_file_load_from_data (file, hashed, -1, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&file);
}

/* Every default is written out in the shipped file, as the number of chat-defaults.h. */
static void
test_shipped_file_states_them (void)
{
  g_autoptr (GKeyFile) file = load_shipped_file ();

  for (gsize i = 0; i < G_N_ELEMENTS (defaults); i++)
    {
      g_autofree char *text = g_key_file_get_value (file, defaults[i].group, defaults[i].key, NULL);
      guint64 value = 0;

      g_test_message ("[%s] %s = %s", defaults[i].group, defaults[i].key, text);
      g_assert_nonnull (text);
      g_assert_true (g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &value, NULL));
      g_assert_cmpuint (value, ==, defaults[i].value);
    }
}

static void
assert_config_has_defaults (const ChatConfig *config)
{
  g_assert_cmpuint (config->heartbeat_ms, ==, CHAT_DEFAULT_HEARTBEAT_MS);
  g_assert_cmpuint (config->election_timeout_min_ms, ==, CHAT_DEFAULT_ELECTION_TIMEOUT_MIN_MS);
  g_assert_cmpuint (config->election_timeout_max_ms, ==, CHAT_DEFAULT_ELECTION_TIMEOUT_MAX_MS);
  g_assert_cmpuint (config->failure_timeout_ms, ==, CHAT_DEFAULT_FAILURE_TIMEOUT_MS);
  g_assert_cmpuint (config->snapshot_interval, ==, CHAT_DEFAULT_SNAPSHOT_INTERVAL);
  g_assert_cmpuint (config->max_line_bytes, ==, CHAT_DEFAULT_MAX_LINE_BYTES);
  g_assert_cmpuint (config->max_body_bytes, ==, CHAT_DEFAULT_MAX_BODY_BYTES);
  g_assert_cmpuint (config->max_connections, ==, CHAT_DEFAULT_MAX_CONNECTIONS);
  g_assert_cmpuint (config->idle_line_timeout_s, ==, CHAT_DEFAULT_IDLE_LINE_TIMEOUT_S);
  g_assert_cmpuint (config->partial_lines_budget_bytes, ==,
                    CHAT_DEFAULT_PARTIAL_LINES_BUDGET_BYTES);
  g_assert_cmpuint (config->disk_reserve_bytes, ==, CHAT_DEFAULT_DISK_RESERVE_BYTES);
}

/* Built-in defaults, a file that names only its servers, and the shipped file agree. */
static void
test_loaded_configs_use_them (void)
{
  g_autofree char *path = g_build_filename (g_getenv ("CHATD_SOURCE_ROOT"), "config.ini", NULL);
  g_autoptr (ChatConfig) built_in = chat_config_new_default ();
  g_autoptr (ChatConfig) servers_only = NULL;
  g_autoptr (ChatConfig) shipped = NULL;
  g_autoptr (GError) error = NULL;

  servers_only = chat_config_load_from_data ("[server]\nhost1 = 127.0.0.1\nport1 = 5555\n", &error);
  g_assert_no_error (error);
  shipped = chat_config_load (path, &error);
  g_assert_no_error (error);
  assert_config_has_defaults (built_in);
  assert_config_has_defaults (servers_only);
  assert_config_has_defaults (shipped);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/defaults/shipped-file-states-them", test_shipped_file_states_them);
  g_test_add_func ("/defaults/loaded-configs-use-them", test_loaded_configs_use_them);
  return g_test_run ();
}
