/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every chatd-bench subcommand shares: the servers to use, output, host facts. */
#pragma once

#include "bench-cluster.h"
#include "bench-load.h"
#include "bench-stats.h"

G_BEGIN_DECLS

typedef struct
{
  char *servers;   /* --servers host:port,...: use running servers */
  char *config;    /* --config config.ini: use the running servers it lists */
  int nodes;       /* --nodes: how many local servers to start (default per command) */
  char *mode;      /* --mode available|quorum */
  char **settings; /* --set group.key=value (repeatable) */
  char *chatd;     /* --chatd PATH */
  gboolean json;   /* --json */
  int runs;        /* --runs: repeat each point, report the median of runs */
  gboolean tls;    /* --tls: local servers and every connection speak TLS */
  char *tls_dir;   /* the CA and certificates made for --tls */
} BenchCommon;

/* Adds the shared options to context; defaults filled in by bench_common_init. */
void bench_common_init (BenchCommon *common, int default_nodes);
GOptionGroup *bench_common_option_group (BenchCommon *common);
void bench_common_clear (BenchCommon *common);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BenchCommon, bench_common_clear)

/* The servers for one measurement: fresh local ones (started, with a leader) unless
 * --servers or --config name running ones. */
BenchCluster *bench_common_cluster (BenchCommon *common, GError **error);
/* "1,64,500" -> array of guint. */
GArray *bench_parse_uint_list (const char *text, GError **error);

/* {date, nproc, cpu, loadavg}: the facts every recorded number needs. */
JsonObject *bench_host_info (void);
void bench_print_host_info (void);
void bench_print_json (JsonObject *object);

/* Subcommands: argc/argv start at the subcommand name. */
int bench_load_main (int argc, char **argv);
int bench_idle_main (int argc, char **argv);
int bench_failover_main (int argc, char **argv);
int bench_rejoin_main (int argc, char **argv);
int bench_codec_main (int argc, char **argv);

G_END_DECLS
