/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests line framing: split reads, pipelined lines, the length limit, NUL bytes. */
#include "chat-error.h"
#include "chat-line.h"

#include <string.h>

static char *
next_line (ChatLineBuffer *buffer)
{
  char *line = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;

  if (!chat_line_buffer_next (buffer, &line, &len, &error))
    {
      g_assert_no_error (error);
      return NULL;
    }
  g_assert_cmpuint (strlen (line), ==, len);
  return line;
}

static void
test_split_reads (void)
{
  g_autoptr (ChatLineBuffer) buffer = chat_line_buffer_new (100);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  /* Nothing fed yet: the buffer has no storage at all. */
  g_assert_null (next_line (buffer));
  chat_line_buffer_feed (buffer, "{\"a\"", 4);
  g_assert_null (next_line (buffer));
  g_assert_cmpuint (chat_line_buffer_pending (buffer), ==, 4);
  chat_line_buffer_feed (buffer, ":1}\n{\"b\":2}\r\n{\"c", 17);
  first = next_line (buffer);
  second = next_line (buffer);
  g_assert_cmpstr (first, ==, "{\"a\":1}");
  g_assert_cmpstr (second, ==, "{\"b\":2}\r");
  g_assert_null (next_line (buffer));
  g_assert_cmpuint (chat_line_buffer_pending (buffer), ==, 4);
}

static void
test_many_lines_stay_bounded (void)
{
  g_autoptr (ChatLineBuffer) buffer = chat_line_buffer_new (16);

  for (int i = 0; i < 10000; i++)
    {
      g_autofree char *line = NULL;
      chat_line_buffer_feed (buffer, "0123456789\n", 11);
      line = next_line (buffer);
      g_assert_cmpstr (line, ==, "0123456789");
    }
  g_assert_cmpuint (chat_line_buffer_pending (buffer), ==, 0);
}

static void
test_limit (void)
{
  g_autoptr (ChatLineBuffer) buffer = chat_line_buffer_new (8);
  g_autoptr (GError) error = NULL;
  char *line = NULL;
  gsize len = 0;

  chat_line_buffer_feed (buffer, "12345678\n", 9);
  g_assert_true (chat_line_buffer_next (buffer, &line, &len, NULL));
  g_free (line);
  /* The limit applies before the newline arrives, so a stalled giant line is caught. */
  chat_line_buffer_feed (buffer, "123456789", 9);
  g_assert_false (chat_line_buffer_next (buffer, &line, &len, &error));
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_TOO_LARGE);
  g_assert_null (line);
}

static void
test_nul_kept (void)
{
  g_autoptr (ChatLineBuffer) buffer = chat_line_buffer_new (8);
  g_autofree char *line = NULL;
  gsize len = 0;

  chat_line_buffer_feed (buffer, "a\0b\n", 4);
  g_assert_true (chat_line_buffer_next (buffer, &line, &len, NULL));
  g_assert_cmpuint (len, ==, 3);
  g_assert_cmpint (line[2], ==, 'b');
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/line/split-reads", test_split_reads);
  g_test_add_func ("/line/many-lines-stay-bounded", test_many_lines_stay_bounded);
  g_test_add_func ("/line/limit", test_limit);
  g_test_add_func ("/line/nul-kept", test_nul_kept);
  return g_test_run ();
}
