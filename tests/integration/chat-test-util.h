/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shorthands for integration tests: requests written with single quotes, checked replies. */
#pragma once

#include "chat-test-cluster.h"

G_BEGIN_DECLS

/* printf-style request with ' standing for " (no quotes inside values); returns the reply. */
JsonObject *chat_test_rq (ChatTestConn *conn, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* The same, asserting "ok": true. */
JsonObject *chat_test_ok (ChatTestConn *conn, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* The same, asserting "ok": false with this error code. */
void chat_test_fails (ChatTestConn *conn, const char *code, const char *format, ...)
    G_GNUC_PRINTF (3, 4);
void chat_test_assert_error (JsonObject *reply, const char *code);
/* Signs a user up on conn (which is then logged in) and returns the session token. */
char *chat_test_signup (ChatTestConn *conn, const char *username, const char *password);
/* The first pushed event named name, taken from the events seen so far or read within
 * timeout_ms; NULL if none came. */
JsonObject *chat_test_wait_event (ChatTestConn *conn, const char *name, guint timeout_ms);
/* A user name unique within this test process ("<prefix><n>"). */
char *chat_test_unique_name (const char *prefix);
/* For a TAP test program that cannot run on this machine: prints the plan "1..0 # SKIP
 * reason", which meson reports as one skipped test with that reason, and returns the
 * exit status for main(). Call after g_test_init() and instead of g_test_run(). */
int chat_test_skip_all (const char *reason);

/* A program run to its end: exit status and what it wrote. */
typedef struct
{
  int status;
  char *out;
  char *err;
} ChatTestRun;

void chat_test_run_free (ChatTestRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChatTestRun, chat_test_run_free)
/* Runs argv with input on its stdin (NULL: nothing) and collects its status and output.
 * launcher must pipe stdin, stdout and stderr; NULL makes one that does. */
ChatTestRun *chat_test_run (GSubprocessLauncher *launcher, const char *const *argv,
                            const char *input);

G_END_DECLS
