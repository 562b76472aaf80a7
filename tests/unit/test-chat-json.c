/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests bounded JSON parsing and typed field access on hostile input. */
#include "chat-json-test-util.h"
#include "chat-error.h"
#include "chat-json.h"

#include <string.h>

static JsonObject *
parse (const char *text, GError **error)
{
  return chat_json_parse_object (text, strlen (text), error);
}

static void
expect_bad (const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) object = chat_json_parse_object (text, len, &error);

  g_assert_null (object);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, !=, "");
}

static void
test_rejects (void)
{
  g_autofree char *open = g_strnfill (17, '[');
  g_autofree char *close = g_strnfill (17, ']');
  g_autofree char *deep = g_strconcat (open, close, NULL);
  g_autofree char *wrapped = g_strdup_printf ("{\"a\":%s}", deep);

  expect_bad ("not json", 8);
  expect_bad ("[1,2]", 5);
  expect_bad ("\"text\"", 6);
  expect_bad ("", 0);
  expect_bad ("{\"a\":\"\xff\"}", 9);
  expect_bad ("{\"a\":1}\0", 8);
  expect_bad (wrapped, strlen (wrapped));
}

static void
test_depth_limit_is_exact (void)
{
  g_autofree char *open = g_strnfill (CHAT_JSON_MAX_DEPTH - 1, '[');
  g_autofree char *close = g_strnfill (CHAT_JSON_MAX_DEPTH - 1, ']');
  g_autofree char *text = g_strdup_printf ("{\"a\":%s%s}", open, close);
  g_autoptr (JsonObject) object = parse (text, NULL);

  /* The object itself is one level: 1 + 15 arrays is exactly the limit. */
  g_assert_nonnull (object);
}

static void
test_depth_ignores_brackets_in_strings (void)
{
  g_autofree char *brackets = g_strnfill (100, '[');
  g_autofree char *text = g_strdup_printf ("{\"body\":\"%s\\\"\"}", brackets);
  g_autoptr (JsonObject) object = parse (text, NULL);

  g_assert_nonnull (object);
}

static void
test_fields (void)
{
  g_autoptr (JsonObject) object = parse (
      "{\"s\":\"hi\",\"n\":7,\"neg\":-1,\"f\":1.5,\"b\":true,\"a\":[1,2,3],\"z\":null}", NULL);
  const char *s = NULL;
  guint64 n = 0;
  gboolean b = FALSE;
  JsonArray *a = NULL;
  g_autoptr (GError) e1 = NULL;
  g_autoptr (GError) e2 = NULL;
  g_autoptr (GError) e3 = NULL;
  g_autoptr (GError) e4 = NULL;

  g_assert_true (chat_json_get_string (object, "s", TRUE, 10, &s, NULL));
  g_assert_cmpstr (s, ==, "hi");
  g_assert_true (chat_json_get_uint (object, "n", TRUE, 100, &n, NULL));
  g_assert_cmpuint (n, ==, 7);
  g_assert_true (chat_json_get_bool (object, "b", TRUE, &b, NULL));
  g_assert_true (b);
  g_assert_true (chat_json_get_array (object, "a", TRUE, 3, &a, NULL));
  g_assert_cmpuint (json_array_get_length (a), ==, 3);

  /* Optional and null fields leave the value alone. */
  n = 42;
  g_assert_true (chat_json_get_uint (object, "z", FALSE, 100, &n, NULL));
  g_assert_true (chat_json_get_uint (object, "absent", FALSE, 100, &n, NULL));
  g_assert_cmpuint (n, ==, 42);

  g_assert_false (chat_json_get_string (object, "n", TRUE, 10, &s, &e1));
  g_assert_error (e1, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
  g_assert_nonnull (strstr (e1->message, "“n”"));
  g_assert_false (chat_json_get_uint (object, "neg", TRUE, 100, &n, &e2));
  g_assert_error (e2, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
  g_assert_false (chat_json_get_uint (object, "f", TRUE, 100, &n, NULL));
  g_assert_false (chat_json_get_string (object, "s", TRUE, 1, &s, &e3));
  g_assert_error (e3, CHAT_ERROR, CHAT_ERROR_TOO_LARGE);
  g_assert_false (chat_json_get_array (object, "a", TRUE, 2, &a, NULL));
  g_assert_false (chat_json_get_string (object, "absent", TRUE, 10, &s, &e4));
  g_assert_nonnull (strstr (e4->message, "Missing"));
}

/* The error for text names field and says what; NULL field: a field name. */
static void
expect_named (const char *text, const char *field, const char *what)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) object = parse (text, &error);
  g_autofree char *quoted = field != NULL ? g_strdup_printf ("“%s”", field) : NULL;

  g_assert_null (object);
  g_assert_error (error, CHAT_ERROR, CHAT_ERROR_BAD_REQUEST);
  if (quoted != NULL)
    g_assert_nonnull (strstr (error->message, quoted));
  else
    g_assert_nonnull (strstr (error->message, "A field name"));
  g_assert_nonnull (strstr (error->message, what));
}

/* Case 1 and 4: an escaped NUL would cut the string, a lone surrogate was reported as
 * an unterminated string, and an integer beyond 64 bits was clamped. */
static void
test_escapes_and_overflow (void)
{
  g_autoptr (JsonObject) pair = NULL, plain = NULL;
  guint64 value = 0;

  expect_named ("{\"body\":\"abc\\u0000def\"}", "body", "NUL");
  expect_named ("{\"op\":\"signup\",\"username\":\"zed\\u0000abc\"}", "username", "NUL");
  expect_named ("{\"to\":\"alice\\u0000zzz\",\"body\":\"x\"}", "to", "NUL");
  expect_named ("{\"ids\":[1,\"\\u0000\"]}", "ids", "NUL");
  expect_named ("{\"a\\u0000\":1}", NULL, "NUL");
  expect_named ("{\"body\":\"\\ud800\"}", "body", "surrogate");
  expect_named ("{\"body\":\"\\ud800x\"}", "body", "surrogate");
  expect_named ("{\"body\":\"\\udc00\"}", "body", "surrogate");
  expect_named ("{\"body\":\"\\ud800\\u0041\"}", "body", "surrogate");
  expect_named ("{\"o\":{\"inner\":\"\\u0000\"},\"k\":1}", "inner", "NUL");
  /* json-glib would read the first byte of "é" as a hex digit and store invalid UTF-8. */
  expect_named ("{\"body\":\"\\u12\xc3\xa9\"}", "body", "four hex digits");
  expect_named ("{\"body\":\"\\u\"}", "body", "four hex digits");
  expect_named ("{\"a\\u00zz\":1}", NULL, "four hex digits");
  expect_named ("{\"before\":-9223372036854775809}", "before", "64 bits");
  expect_named ("{\"up_to\":18446744073709551616}", "up_to", "64 bits");
  expect_named ("{\"after\":99999999999999999999999}", "after", "64 bits");

  /* A surrogate pair is one character; an escaped backslash before "u0000" is text. */
  pair = parse ("{\"body\":\"\\ud83d\\ude00\",\"t\":\"\\\\u0000\",\"n\":-9223372036854775808}",
                NULL);
  g_assert_nonnull (pair);
  g_assert_cmpstr (json_object_get_string_member (pair, "body"), ==, "\xf0\x9f\x98\x80");
  g_assert_cmpstr (json_object_get_string_member (pair, "t"), ==, "\\u0000");
  plain = parse ("{\"limit\":0,\"f\":1e400,\"big\":9223372036854775807}", NULL);
  g_assert_nonnull (plain);
  g_assert_false (chat_json_get_uint_range (plain, "limit", TRUE, 1, 500, &value, NULL));
  g_assert_true (chat_json_get_uint_range (plain, "big", TRUE, 1, G_MAXINT64, &value, NULL));
}

/* The range in the error text is the range the check uses. */
static void
test_range_message (void)
{
  g_autoptr (JsonObject) object = parse ("{\"limit\":0}", NULL);
  g_autoptr (GError) error = NULL;
  guint64 value = 0;

  g_assert_false (chat_json_get_uint_range (object, "limit", TRUE, 1, 500, &value, &error));
  g_assert_cmpstr (error->message, ==, "Field “limit” must be from 1 to 500");
}

static void
test_to_line (void)
{
  g_autoptr (JsonObject) object = parse ("{ \"id\" : 1, \"ok\" : true }", NULL);
  gsize len = 0;
  g_autofree char *line = chat_json_to_line (object, &len);

  g_assert_cmpstr (line, ==, "{\"id\":1,\"ok\":true}\n");
  g_assert_cmpuint (len, ==, strlen (line));
}

/* What the text writer wrote for one string member, next to the generator's text for it. */
static void
assert_string_as_generator (const char *value)
{
  g_autoptr (JsonObject) object = json_object_new ();
  g_autofree char *expected = NULL;
  g_autoptr (GString) written = g_string_new ("{");

  json_object_set_string_member (object, "s", value);
  expected = generator_text (object);
  chat_json_append_member (written, "s");
  chat_json_append_string (written, value);
  g_string_append (written, "}\n");
  g_assert_cmpstr (written->str, ==, expected);
}

static void
test_text_writer_strings (void)
{
  static const char *const samples[] = {
    "",
    "plain",
    "h\xc3\xa9 \"there\"",
    "back\\slash",
    "a/b",
    "\xe2\x80\xa8 line separator",
    "emoji \xf0\x9f\x98\x80",
    "tab\tnew\nline\r",
  };

  /* Every ASCII character, alone and between others: the generator's escapes are its own
   * (0x1f passes as it is, DEL does not). */
  for (int c = 1; c < 0x80; c++)
    {
      char alone[2] = { (char)c, '\0' };
      char between[4] = { 'a', (char)c, 'b', '\0' };

      assert_string_as_generator (alone);
      assert_string_as_generator (between);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (samples); i++)
    assert_string_as_generator (samples[i]);
}

static void
test_text_writer_numbers (void)
{
  static const gint64 values[] = { 0, 1, -1, 9, 10, 1795000000123, G_MAXINT64, G_MININT64 };

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr (JsonObject) object = json_object_new ();
      g_autofree char *expected = NULL;
      g_autoptr (GString) written = g_string_new ("{");

      json_object_set_int_member (object, "n", values[i]);
      json_object_set_boolean_member (object, "b", TRUE);
      expected = generator_text (object);
      chat_json_append_member (written, "n");
      chat_json_append_int (written, values[i]);
      chat_json_append_member (written, "b");
      g_string_append (written, "true}\n");
      g_assert_cmpstr (written->str, ==, expected);
    }
}

static void
assert_line_as_generator (JsonObject *object)
{
  g_autofree char *expected = generator_text (object);
  gsize len = 0;
  g_autofree char *line = chat_json_to_line (object, &len);

  g_assert_cmpstr (line, ==, expected);
  g_assert_cmpuint (len, ==, strlen (expected));
}

/* chat_json_to_line writes the generator's text for every kind of member, nested too, in
 * the order the members were set; a fraction is left to the generator itself. */
static void
test_to_line_as_generator (void)
{
  static const char *const texts[] = {
    "{}",
    "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":\"a \\\"b\\\"\"}}",
    "{\"z\":1,\"a\":[],\"m\":[1,\"two\",true,null,{},[[]]],\"neg\":-9223372036854775808}",
    "{\"by_user\":{\"b\":2,\"a\":1},\"total\":3,\"text\":\"tab\\there \\u001f \\u007f \\u00e9\"}",
    "{\"fraction\":1.5,\"list\":[0.25,1e300]}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (JsonObject) object = parse (texts[i], NULL);
      g_autoptr (JsonObject) built = json_object_new ();

      g_assert_nonnull (object);
      assert_line_as_generator (object);
      /* Objects built member by member, as replies are, keep that order too. */
      json_object_set_string_member (built, "zeta", "last set first");
      json_object_set_object_member (built, "inner", json_object_ref (object));
      json_object_set_int_member (built, "alpha", 7);
      assert_line_as_generator (built);
    }
}

/* chat_json_parse_flat_object either gives up (NULL) or reads what chat_json_parse_object
 * reads. Returns whether it read the text. */
static gboolean
assert_flat_agrees (const char *text, gsize len)
{
  g_autoptr (JsonObject) flat = chat_json_parse_flat_object (text, len);
  g_autoptr (JsonObject) full = NULL;
  g_autoptr (JsonNode) a = NULL;
  g_autoptr (JsonNode) b = NULL;

  if (flat == NULL)
    return FALSE;
  full = chat_json_parse_object (text, len, NULL);
  if (full == NULL)
    g_error ("the flat reader accepted what the parser refuses: %.*s", (int)len, text);
  a = json_node_init_object (json_node_alloc (), flat);
  b = json_node_init_object (json_node_alloc (), full);
  g_assert_true (json_node_equal (a, b));
  g_assert_cmpuint (json_object_get_size (flat), ==, json_object_get_size (full));
  return TRUE;
}

static void
test_flat (void)
{
  static const char *const read[] = {
    "{\"op\":\"send\",\"from\":\"alice\",\"to\":\"bob\",\"body\":\"hi there\","
    "\"client_msg_id\":\"m-1\",\"at\":1733480000123}",
    "{}",
    "{\"n\":-42,\"z\":0,\"big\":999999999999999999,\"t\":true,\"f\":false}",
    "{\"body\":\"gr\xc3\xbc\xc3\x9f \xe2\x9c\x93 / {x} [y]\"}",
  };
  /* Valid JSON outside the plain subset, and invalid text: left to the parser. */
  static const char *const left[] = {
    "{ \"a\":1}",
    "{\"a\": 1}",
    "{\"a\":\"x\\\"y\"}",
    "{\"a\":\"\\u00e9\"}",
    "{\"a\":{\"b\":1}}",
    "{\"a\":[1]}",
    "{\"a\":null}",
    "{\"a\":1.5}",
    "{\"a\":1e3}",
    "{\"a\":1234567890123456789}",
    "{\"a\":1,\"a\":2}",
    "{\"\":1}",
    "{\"a\":-0}",
    "{\"a\":01}",
    "{\"a\":1}\n",
    "{\"a\":1} ",
    "[1]",
    "",
    "{",
    "{\"a\"}",
    "{\"a\":}",
    "{\"a\":1,}",
    "{\"a\":tru}",
    "{\"a\":\"\xff\"}",
    "{\"a\":\"x\ty\"}",
  };
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);

  for (guint i = 0; i < G_N_ELEMENTS (read); i++)
    g_assert_true (assert_flat_agrees (read[i], strlen (read[i])));
  for (guint i = 0; i < G_N_ELEMENTS (left); i++)
    g_assert_null (chat_json_parse_flat_object (left[i], strlen (left[i])));
  /* Flipped bytes of a plain line: whatever the flat reader still reads, the parser reads
   * the same way. */
  for (guint round = 0; round < 20000; round++)
    {
      g_autofree char *copy = g_strdup (read[0]);
      gsize len = strlen (copy);

      for (guint k = 0; k < 2; k++)
        copy[g_rand_int_range (rand, 0, (gint32)len)] = (char)g_rand_int_range (rand, 1, 256);
      assert_flat_agrees (copy, len);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/rejects", test_rejects);
  g_test_add_func ("/json/depth-limit-is-exact", test_depth_limit_is_exact);
  g_test_add_func ("/json/depth-ignores-brackets-in-strings",
                   test_depth_ignores_brackets_in_strings);
  g_test_add_func ("/json/fields", test_fields);
  g_test_add_func ("/json/to-line", test_to_line);
  g_test_add_func ("/json/text-writer-strings", test_text_writer_strings);
  g_test_add_func ("/json/text-writer-numbers", test_text_writer_numbers);
  g_test_add_func ("/json/to-line-as-generator", test_to_line_as_generator);
  g_test_add_func ("/json/escapes-and-overflow", test_escapes_and_overflow);
  g_test_add_func ("/json/range-message", test_range_message);
  g_test_add_func ("/json/flat", test_flat);
  return g_test_run ();
}
