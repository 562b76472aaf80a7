/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the cluster launcher's files share: a cluster's servers and settings. */
#pragma once

#include "chat-test-cluster.h"

G_BEGIN_DECLS

typedef struct
{
  char *host;
  guint16 port;
  gboolean port_picked; /* may be picked again if taken before the first start */
  char *netns;          /* NULL: this process's network */
  char **env;           /* NAME=value; a bare NAME unsets */
  char *state_dir;
  char *log_path;
  GSubprocess *process;
} ChatTestServer;

struct _ChatTestCluster
{
  gboolean local; /* FALSE: servers someone else runs */
  char *dir;
  char *config_path;
  char *mode;
  char *chatd;
  GKeyFile *options; /* extra config lines */
  char **env;        /* for every server */
  ChatTestServer *servers;
  guint n_servers;
  gboolean started_once;
  gboolean keep;
  GTlsDatabase *tls;
  ChatTestClusterTiming timing;
};

ChatTestServer *chat_test_cluster_server (ChatTestCluster *cluster, guint node);

G_END_DECLS
