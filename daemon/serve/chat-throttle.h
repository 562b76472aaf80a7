/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Failed-login throttling by (username, address), per address and per account. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* docs/protocol.md "Login throttling" states these numbers; keep them in step.
 *
 * One (username, address) pair: the first CHAT_THROTTLE_PAIR_FREE failures cost nothing,
 * each further one makes that pair wait twice as long as the one before, from
 * CHAT_THROTTLE_PAIR_FIRST_DELAY_US up to CHAT_THROTTLE_PAIR_MAX_DELAY_US. A pair is
 * forgotten CHAT_THROTTLE_PAIR_FORGET_US after its last failure, and at once on success. */
#define CHAT_THROTTLE_PAIR_FREE 3
#define CHAT_THROTTLE_PAIR_FIRST_DELAY_US ((gint64)1 * G_USEC_PER_SEC)
#define CHAT_THROTTLE_PAIR_MAX_DELAY_US ((gint64)15 * 60 * G_USEC_PER_SEC)
#define CHAT_THROTTLE_PAIR_FORGET_US ((gint64)60 * 60 * G_USEC_PER_SEC)
/* One address, across every username: a burst of CHAT_THROTTLE_ADDRESS_BURST failures,
 * then one per CHAT_THROTTLE_ADDRESS_INTERVAL_US. */
#define CHAT_THROTTLE_ADDRESS_BURST 20
#define CHAT_THROTTLE_ADDRESS_INTERVAL_US ((gint64)30 * G_USEC_PER_SEC)
/* One account, across every address that has not logged in to it successfully within
 * CHAT_THROTTLE_KNOWN_US: a burst of CHAT_THROTTLE_ACCOUNT_BURST failures, then one per
 * CHAT_THROTTLE_ACCOUNT_INTERVAL_US. What a guesser with many addresses gets at most. */
#define CHAT_THROTTLE_ACCOUNT_BURST 30
#define CHAT_THROTTLE_ACCOUNT_INTERVAL_US ((gint64)60 * G_USEC_PER_SEC)
#define CHAT_THROTTLE_KNOWN_US ((gint64)30 * 24 * 60 * 60 * G_USEC_PER_SEC)

typedef enum
{
  CHAT_THROTTLE_ADMITTED,
  CHAT_THROTTLE_PAIR,    /* this username from this address backs off */
  CHAT_THROTTLE_ADDRESS, /* this address spent its budget across usernames */
  CHAT_THROTTLE_ACCOUNT, /* this account's budget across unknown addresses is spent */
} ChatThrottleVerdict;

typedef struct _ChatThrottle ChatThrottle;

ChatThrottle *chat_throttle_new (void);
void chat_throttle_free (ChatThrottle *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatThrottle, chat_throttle_free)

/* Forgets everything (for test harnesses). */
void chat_throttle_reset (ChatThrottle *self);

/* Whether a login for user_key (case-folded) from address may check its password at
 * now_us (monotonic). An admitted attempt counts as a failure until
 * chat_throttle_succeeded(), so attempts running at the same time are throttled too.
 * Otherwise *retry_after_ms says when this pair may try again. */
ChatThrottleVerdict chat_throttle_admit (ChatThrottle *self, const char *user_key,
                                         const char *address, gint64 now_us,
                                         guint64 *retry_after_ms);
/* The password was right: the pair is forgotten, the address and account budgets get
 * this attempt back, and the address becomes known for the account. */
void chat_throttle_succeeded (ChatThrottle *self, const char *user_key, const char *address,
                              gint64 now_us);

/* Refusals of one (username, address) pair are logged at most once per this interval. */
#define CHAT_THROTTLE_LOG_INTERVAL_US ((gint64)60 * G_USEC_PER_SEC)
/* Whether a refusal for this pair should reach the journal now (and notes that it did). */
gboolean chat_throttle_should_log (ChatThrottle *self, const char *user_key, const char *address,
                                   gint64 now_us);

/* The address part of a peer "host:port" or "[v6]:port" that throttling keys on: the
 * IPv4 address, or the /64 prefix of an IPv6 address (one host's usual share). */
char *chat_throttle_address_key (const char *peer);

/* A short reason for logs: "pair", "address" or "account". */
const char *chat_throttle_verdict_name (ChatThrottleVerdict verdict);

G_END_DECLS
