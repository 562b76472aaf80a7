/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chat_message_markup_new(): escaping, links, and text that must stay text. */
#include "chat-message-markup.h"

static void
check (const char *body, const char *expected)
{
  g_autofree char *markup = chat_message_markup_new (body);

  g_assert_cmpstr (markup, ==, expected);
}

static void
test_plain (void)
{
  check ("hello <b>bob</b> & co", NULL);
  check ("no address here: example dot org", NULL);
}

static void
test_links (void)
{
  check ("see https://example.org/a?b=1&c=2.", "see <a href=\"https://example.org/a?b=1&amp;c=2\">"
                                               "https://example.org/a?b=1&amp;c=2</a>.");
  check ("www.gnome.org", "<a href=\"https://www.gnome.org\">www.gnome.org</a>");
  check ("(http://a.example/x) and http://b.example",
         "(<a href=\"http://a.example/x\">http://a.example/x</a>) and "
         "<a href=\"http://b.example\">http://b.example</a>");
}

/* Markup around an address is text, and a quote cannot leave the href. */
static void
test_hostile (void)
{
  check (
      "<i>x</i> https://e.example/\"onclick=1",
      "&lt;i&gt;x&lt;/i&gt; <a href=\"https://e.example/\">https://e.example/</a>&quot;onclick=1");
  check ("https://e.example/<span>",
         "<a href=\"https://e.example/\">https://e.example/</a>&lt;span&gt;");
  check ("javascript:alert(1) https://ok.example",
         "javascript:alert(1) <a href=\"https://ok.example\">https://ok.example</a>");
}

/* Only a run longer than CHAT_MESSAGE_LONG_WORD without a space counts as a long word. */
static void
test_long_word (void)
{
  g_autofree char *limit = g_strnfill (CHAT_MESSAGE_LONG_WORD, 'a');
  g_autofree char *over = g_strnfill (CHAT_MESSAGE_LONG_WORD + 1, 'a');
  g_autofree char *huge = g_strnfill (5000, 'x');
  g_autoptr (GString) words = g_string_new (NULL);

  for (guint i = 0; i < 200; i++)
    g_string_append (words, "twenty-five characters.. ");
  g_assert_false (chat_message_markup_has_long_word (""));
  g_assert_false (chat_message_markup_has_long_word (limit));
  g_assert_true (chat_message_markup_has_long_word (over));
  g_assert_true (chat_message_markup_has_long_word (huge));
  g_assert_false (chat_message_markup_has_long_word (words->str));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/message-markup/plain", test_plain);
  g_test_add_func ("/message-markup/links", test_links);
  g_test_add_func ("/message-markup/hostile", test_hostile);
  g_test_add_func ("/message-markup/long-word", test_long_word);
  return g_test_run ();
}
