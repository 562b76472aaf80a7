/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The built-in defaults of config.ini's tunables, named once for the core, the daemon and
 * the shipped config.ini (tests/unit/test-chat-defaults.c compares them). */
#pragma once

/* Constants only: the replication core includes this header and stays pure
 * (core/check-purity.sh). */

/* [cluster] */
#define CHAT_DEFAULT_HEARTBEAT_MS 100
#define CHAT_DEFAULT_ELECTION_TIMEOUT_MIN_MS 300
#define CHAT_DEFAULT_ELECTION_TIMEOUT_MAX_MS 600
#define CHAT_DEFAULT_FAILURE_TIMEOUT_MS 400
#define CHAT_DEFAULT_SNAPSHOT_INTERVAL 10000

/* [limits] */
#define CHAT_DEFAULT_MAX_LINE_BYTES (64 * 1024)
#define CHAT_DEFAULT_MAX_BODY_BYTES (16 * 1024)
#define CHAT_DEFAULT_MAX_CONNECTIONS 20000
#define CHAT_DEFAULT_IDLE_LINE_TIMEOUT_S 30
#define CHAT_DEFAULT_PARTIAL_LINES_BUDGET_BYTES (64 * 1024 * 1024)
#define CHAT_DEFAULT_DISK_RESERVE_BYTES (16 * 1024 * 1024)
