/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Failed-login throttling by (username, address), per address and per account. */
#define G_LOG_DOMAIN "chatd-auth"

#include "config.h"

#include "chat-throttle.h"

#include <gio/gio.h>
#include <string.h>

/* Sweep a table when it grows past this many keys. */
#define SWEEP_THRESHOLD 4096

typedef struct
{
  guint failures;
  gint64 last;
  gint64 next_allowed;
} Pair;

/* A budget as a "theoretical arrival time" (GCRA): each spent unit pushes tat one
 * interval later; a burst of n fits while tat stays within n intervals of now. */
typedef struct
{
  gint64 tat;
} Budget;

struct _ChatThrottle
{
  GHashTable *pairs;     /* "user\naddress" → Pair */
  GHashTable *known;     /* "user\naddress" → gint64 * last success */
  GHashTable *addresses; /* address → Budget */
  GHashTable *accounts;  /* user key → Budget */
  GHashTable *logged;    /* "user\naddress" → gint64 * when a refusal was last logged */
};

static GHashTable *
table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

ChatThrottle *
chat_throttle_new (void)
{
  ChatThrottle *self = g_new0 (ChatThrottle, 1);

  self->pairs = table_new ();
  self->known = table_new ();
  self->addresses = table_new ();
  self->accounts = table_new ();
  self->logged = table_new ();
  return self;
}

void
chat_throttle_free (ChatThrottle *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->pairs);
  g_hash_table_unref (self->known);
  g_hash_table_unref (self->addresses);
  g_hash_table_unref (self->accounts);
  g_hash_table_unref (self->logged);
  g_free (self);
}

void
chat_throttle_reset (ChatThrottle *self)
{
  g_hash_table_remove_all (self->pairs);
  g_hash_table_remove_all (self->known);
  g_hash_table_remove_all (self->addresses);
  g_hash_table_remove_all (self->accounts);
  g_hash_table_remove_all (self->logged);
}

const char *
chat_throttle_verdict_name (ChatThrottleVerdict verdict)
{
  switch (verdict)
    {
      case CHAT_THROTTLE_PAIR:
        return "pair";
      case CHAT_THROTTLE_ADDRESS:
        return "address";
      case CHAT_THROTTLE_ACCOUNT:
        return "account";
      case CHAT_THROTTLE_ADMITTED:
      default:
        return "admitted";
    }
}

/* --- sweeping ------------------------------------------------------------------- */

typedef gboolean (*ExpiredFunc) (gpointer value, gint64 now_us);

static gboolean
pair_expired (gpointer value, gint64 now_us)
{
  const Pair *pair = value;

  return now_us - pair->last >= CHAT_THROTTLE_PAIR_FORGET_US && now_us >= pair->next_allowed;
}

static gboolean
budget_expired (gpointer value, gint64 now_us)
{
  return ((Budget *)value)->tat <= now_us;
}

static gboolean
known_expired (gpointer value, gint64 now_us)
{
  return now_us - *(gint64 *)value >= CHAT_THROTTLE_KNOWN_US;
}

static void
sweep_if_large (GHashTable *table, ExpiredFunc expired, gint64 now_us)
{
  GHashTableIter iter;
  gpointer value = NULL;

  if (g_hash_table_size (table) < SWEEP_THRESHOLD)
    return;
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      if (expired (value, now_us))
        g_hash_table_iter_remove (&iter);
    }
}

/* --- budgets -------------------------------------------------------------------- */

static Budget *
budget_for (GHashTable *table, const char *key, gint64 now_us)
{
  Budget *budget = g_hash_table_lookup (table, key);

  if (budget == NULL)
    {
      sweep_if_large (table, budget_expired, now_us);
      budget = g_new0 (Budget, 1);
      g_hash_table_insert (table, g_strdup (key), budget);
    }
  return budget;
}

/* Whether one more unit fits; *wait_us says when it would otherwise. */
static gboolean
budget_fits (const Budget *budget, gint64 now_us, guint burst, gint64 interval_us, gint64 *wait_us)
{
  gint64 base = MAX (budget->tat, now_us);
  gint64 limit = now_us + (gint64)burst * interval_us;

  *wait_us = MAX (base + interval_us - limit, 0);
  return base + interval_us <= limit;
}

static void
budget_spend (Budget *budget, gint64 now_us, gint64 interval_us)
{
  budget->tat = MAX (budget->tat, now_us) + interval_us;
}

static void
budget_refund (GHashTable *table, const char *key, gint64 now_us, gint64 interval_us)
{
  Budget *budget = g_hash_table_lookup (table, key);

  if (budget != NULL)
    budget->tat = MAX (budget->tat - interval_us, now_us);
}

/* --- pairs ---------------------------------------------------------------------- */

static char *
pair_key (const char *user_key, const char *address)
{
  return g_strconcat (user_key, "\n", address, NULL);
}

static gint64
pair_delay (guint failures)
{
  guint shift;

  if (failures <= CHAT_THROTTLE_PAIR_FREE)
    return 0;
  shift = MIN (failures - CHAT_THROTTLE_PAIR_FREE - 1, 30);
  return MIN (CHAT_THROTTLE_PAIR_FIRST_DELAY_US << shift, CHAT_THROTTLE_PAIR_MAX_DELAY_US);
}

static Pair *
pair_for (ChatThrottle *self, const char *key, gint64 now_us)
{
  Pair *pair = g_hash_table_lookup (self->pairs, key);

  if (pair != NULL && pair_expired (pair, now_us))
    *pair = (Pair){ 0 };
  if (pair == NULL)
    {
      sweep_if_large (self->pairs, pair_expired, now_us);
      pair = g_new0 (Pair, 1);
      g_hash_table_insert (self->pairs, g_strdup (key), pair);
    }
  return pair;
}

static gboolean
is_known (ChatThrottle *self, const char *key, gint64 now_us)
{
  gint64 *last = g_hash_table_lookup (self->known, key);

  return last != NULL && !known_expired (last, now_us);
}

static guint64
to_ms (gint64 us)
{
  return (guint64)((us + 999) / 1000);
}

ChatThrottleVerdict
chat_throttle_admit (ChatThrottle *self, const char *user_key, const char *address, gint64 now_us,
                     guint64 *retry_after_ms)
{
  g_autofree char *key = pair_key (user_key, address);
  Pair *pair = pair_for (self, key, now_us);
  Budget *by_address = budget_for (self->addresses, address, now_us);
  gboolean known = is_known (self, key, now_us);
  Budget *by_account = known ? NULL : budget_for (self->accounts, user_key, now_us);
  gint64 wait = 0;

  *retry_after_ms = 0;
  if (now_us < pair->next_allowed)
    {
      *retry_after_ms = to_ms (pair->next_allowed - now_us);
      return CHAT_THROTTLE_PAIR;
    }
  if (!budget_fits (by_address, now_us, CHAT_THROTTLE_ADDRESS_BURST,
                    CHAT_THROTTLE_ADDRESS_INTERVAL_US, &wait))
    {
      *retry_after_ms = to_ms (wait);
      return CHAT_THROTTLE_ADDRESS;
    }
  if (by_account != NULL
      && !budget_fits (by_account, now_us, CHAT_THROTTLE_ACCOUNT_BURST,
                       CHAT_THROTTLE_ACCOUNT_INTERVAL_US, &wait))
    {
      *retry_after_ms = to_ms (wait);
      return CHAT_THROTTLE_ACCOUNT;
    }
  budget_spend (by_address, now_us, CHAT_THROTTLE_ADDRESS_INTERVAL_US);
  if (by_account != NULL)
    budget_spend (by_account, now_us, CHAT_THROTTLE_ACCOUNT_INTERVAL_US);
  pair->failures++;
  pair->last = now_us;
  pair->next_allowed = now_us + pair_delay (pair->failures);
  return CHAT_THROTTLE_ADMITTED;
}

void
chat_throttle_succeeded (ChatThrottle *self, const char *user_key, const char *address,
                         gint64 now_us)
{
  g_autofree char *key = pair_key (user_key, address);
  gint64 *last = g_new (gint64, 1);
  gboolean known = is_known (self, key, now_us);

  g_hash_table_remove (self->pairs, key);
  budget_refund (self->addresses, address, now_us, CHAT_THROTTLE_ADDRESS_INTERVAL_US);
  if (!known)
    budget_refund (self->accounts, user_key, now_us, CHAT_THROTTLE_ACCOUNT_INTERVAL_US);
  sweep_if_large (self->known, known_expired, now_us);
  *last = now_us;
  g_hash_table_replace (self->known, g_steal_pointer (&key), last);
}

static gboolean
logged_expired (gpointer value, gint64 now_us)
{
  return now_us - *(gint64 *)value >= CHAT_THROTTLE_LOG_INTERVAL_US;
}

gboolean
chat_throttle_should_log (ChatThrottle *self, const char *user_key, const char *address,
                          gint64 now_us)
{
  g_autofree char *key = pair_key (user_key, address);
  gint64 *last = g_hash_table_lookup (self->logged, key);

  if (last != NULL && !logged_expired (last, now_us))
    return FALSE;
  sweep_if_large (self->logged, logged_expired, now_us);
  last = g_new (gint64, 1);
  *last = now_us;
  g_hash_table_replace (self->logged, g_steal_pointer (&key), last);
  return TRUE;
}

char *
chat_throttle_address_key (const char *peer)
{
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) address = NULL;
  static const guint8 v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  guint8 prefix[16] = { 0 };
  const guint8 *bytes = NULL;

  if (peer == NULL)
    return g_strdup ("unknown");
  if (peer[0] == '[' && strchr (peer, ']') != NULL)
    host = g_strndup (peer + 1, strchr (peer, ']') - peer - 1);
  else if (strchr (peer, ':') != NULL && strchr (peer, ':') == strrchr (peer, ':'))
    host = g_strndup (peer, strchr (peer, ':') - peer);
  else
    host = g_strdup (peer);
  address = g_inet_address_new_from_string (host);
  if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6)
    return g_steal_pointer (&host);
  bytes = g_inet_address_to_bytes (address);
  /* An IPv4 client of a dual-stack socket (::ffff:a.b.c.d) is keyed as IPv4. */
  if (memcmp (bytes, v4_mapped, sizeof v4_mapped) == 0)
    return g_strdup_printf ("%u.%u.%u.%u", bytes[12], bytes[13], bytes[14], bytes[15]);
  memcpy (prefix, bytes, 8);
  {
    g_autoptr (GInetAddress) network = g_inet_address_new_from_bytes (prefix, G_SOCKET_FAMILY_IPV6);
    g_autofree char *text = g_inet_address_to_string (network);
    return g_strdup_printf ("%s/64", text);
  }
}
