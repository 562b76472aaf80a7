/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scripted scenarios' harness (sim-sc.h). */
#include "sim-sc.h"

#include <stdio.h>
#include <string.h>

/* The world and its clients, at time 0: s1 has just started with --primary. */
void
sc_start_with (Sc *sc, gboolean trace, SimOptions *opt)
{
  opt->trace = trace;
  opt->capture = TRUE;
  sc->w = sim_world_new (opt);
  sc->pos = 0;
  sc->ok = TRUE;
  sc->allow_loss = FALSE;
  sim_clients_start (sc->w, 3, 40);
}

void
sc_start_seeded (Sc *sc, gboolean trace, ChatReplMode mode, guint64 seed)
{
  SimOptions opt;

  sim_options_init (&opt);
  opt.seed = seed;
  opt.mode = mode;
  sc_start_with (sc, trace, &opt);
}

void
sc_start (Sc *sc, gboolean trace, ChatReplMode mode)
{
  sc_start_seeded (sc, trace, mode, 42);
}

/* A fresh cluster that grows: s2 and s3 are not up when s1 starts, so s1 cannot found the
 * cluster (A8) until an operator forces it to lead (A9) with the set {1}; it adds them one
 * at a time once they are started and have caught up (A3). */
void
sc_start_growing (Sc *sc, gboolean trace, guint64 seed)
{
  sc_start_seeded (sc, trace, CHAT_REPL_MODE_AVAILABLE, seed);
  sim_crash (sc->w, 2);
  sim_crash (sc->w, 3);
  sim_run_until (sc->w, 1000);
  sim_admin (sc->w, 1, CHAT_REPL_ADMIN_FORCE_LEADER, 0);
  sim_run_until (sc->w, 1100);
  sim_restart (sc->w, 2);
  sim_restart (sc->w, 3);
}

void
sc_init (Sc *sc, gboolean trace, ChatReplMode mode)
{
  sc_start (sc, trace, mode);
  sim_run_until (sc->w, 1000);
}

void
sc_fail (Sc *sc, const char *what)
{
  if (sc->ok)
    g_print ("  %s\n", what);
  sc->ok = FALSE;
}

/* The excerpt must appear in the trace after the previous one. */
void
sc_expect (Sc *sc, const char *fmt, ...)
{
  g_autofree char *excerpt = NULL;
  g_autofree char *msg = NULL;
  const char *found;
  va_list ap;

  va_start (ap, fmt);
  excerpt = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  found = strstr (sc->w->trace_buf->str + sc->pos, excerpt);
  if (found != NULL)
    {
      sc->pos = (gsize)(found - sc->w->trace_buf->str) + strlen (excerpt);
      return;
    }
  msg = g_strdup_printf ("missing trace excerpt: \"%s\"", excerpt);
  sc_fail (sc, msg);
}

/* The excerpt must not appear in the trace after the last expected one. */
void
sc_absent (Sc *sc, const char *excerpt)
{
  g_autofree char *msg = NULL;

  if (strstr (sc->w->trace_buf->str + sc->pos, excerpt) == NULL)
    return;
  msg = g_strdup_printf ("unexpected trace excerpt: \"%s\"", excerpt);
  sc_fail (sc, msg);
}

void
sc_run (Sc *sc, guint64 ms)
{
  sim_run_until (sc->w, sc->w->now + ms);
}

guint
sc_leader (Sc *sc)
{
  guint leader = sim_leader (sc->w);

  if (leader == 0)
    sc_fail (sc, "no leader");
  return leader;
}

/* Later checks look at the trace from here on. */
void
sc_mark (Sc *sc)
{
  sc->pos = sc->w->trace_buf->len;
}

/* Liveness under starvation and returns: the leader and its term are the same, it never
 * stepped down, and no other server started an election since the scenario began. */
void
sc_kept_leader (Sc *sc, guint leader, guint64 term)
{
  SimServer *s = &sc->w->servers[leader];

  if (sim_leader (sc->w) != leader || !s->up || chat_repl_get_term (s->repl) != term)
    sc_fail (sc, "a healthy leader was deposed");
  sc_absent (sc, "stepped-down");
  sc_absent (sc, "election timeout");
}

void
sc_no_leader (Sc *sc)
{
  if (sim_leader (sc->w) != 0)
    sc_fail (sc, "a leader was elected although the in-sync rule forbids it");
}

/* Heal everything, restart whoever is down, let clients finish, then run every check. */
static gboolean
sc_settle (Sc *sc)
{
  SimWorld *w = sc->w;
  guint64 deadline;

  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      if (!w->servers[id].up)
        sim_restart (w, id);
    }
  if (w->side[1] || w->side[2] || w->side[3])
    sim_heal (w);
  deadline = w->now + 40000;
  while (w->violation == NULL && w->now < deadline && !(sim_clients_done (w) && sim_converged (w)))
    sc_run (sc, 100);
  if (!(sim_clients_done (w) && sim_converged (w)))
    sc_fail (sc, "liveness: clients not done or servers not converged");
  if (w->violation == NULL && !sc->allow_loss)
    sim_check_final (w);
  if (w->violation != NULL)
    sc_fail (sc, w->violation->str);
  return sc->ok;
}

gboolean
sc_finish (Sc *sc)
{
  gboolean ok = sc_settle (sc);

  sim_world_free (sc->w);
  return ok;
}

guint
sc_other (guint a, guint b)
{
  return 6 - a - b;
}
