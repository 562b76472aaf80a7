/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulator's checkers: log matching, one leader per term, leader completeness,
 * state machine safety, durability of acknowledged operations, no duplicates. */
#include "sim.h"

typedef struct
{
  guint64 index;
  guint64 term;
  guint64 chain;
} EntryId;

static guint
entry_id_hash (gconstpointer p)
{
  const EntryId *e = p;

  return (guint)(e->index * 2654435761u) ^ (guint)(e->term ^ (e->term >> 32));
}

static gboolean
entry_id_equal (gconstpointer a, gconstpointer b)
{
  const EntryId *x = a, *y = b;

  return x->index == y->index && x->term == y->term;
}

void
sim_check_init (SimWorld *w)
{
  w->entry_chain = g_hash_table_new_full (entry_id_hash, entry_id_equal, g_free, NULL);
}

static guint64
mix (guint64 h, guint64 v)
{
  h ^= v + G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
  return h * G_GUINT64_CONSTANT (0x100000001b3);
}

static guint64
bytes_hash (GBytes *b)
{
  gsize size = 0;
  const guint8 *p = g_bytes_get_data (b, &size);
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (gsize i = 0; i < size; i++)
    h = (h ^ p[i]) * G_GUINT64_CONSTANT (0x100000001b3);
  return h;
}

static guint64
committed_at (SimWorld *w, guint64 index)
{
  return index < w->committed->len ? g_array_index (w->committed, guint64, index) : 0;
}

guint64
sim_chain_at (SimServer *s, guint64 index)
{
  if (index < s->chain_base || index - s->chain_base >= s->chain->len)
    return 0;
  return g_array_index (s->chain, guint64, index - s->chain_base);
}

void
sim_chain_reset (SimWorld *w, SimServer *s, guint64 base, guint64 term)
{
  guint64 h = base == 0 ? 1 : committed_at (w, base);

  if (h == 0)
    h = mix (mix (7, base), term);
  g_array_set_size (s->chain, 0);
  g_array_append_val (s->chain, h);
  s->chain_base = base;
}

static void
record_entry (SimWorld *w, SimServer *s, const ChatReplEntry *e, guint64 chain)
{
  EntryId key = { e->index, e->term, chain };
  EntryId *found = g_hash_table_lookup (w->entry_chain, &key);

  if (found == NULL)
    {
      EntryId *copy = g_memdup2 (&key, sizeof key);

      g_hash_table_add (w->entry_chain, copy);
      return;
    }
  if (found->chain != chain && !w->expect_split)
    sim_violation (w,
                   "log matching: s%u holds a different log up to index %" G_GUINT64_FORMAT
                   " of the same term",
                   s->id, e->index);
}

void
sim_check_entries (SimWorld *w, SimServer *s, const ChatReplUpdate *u)
{
  if (u->truncate_from > s->chain_base)
    g_array_set_size (s->chain, MIN (s->chain->len, u->truncate_from - s->chain_base));
  for (guint i = 0; u->entries != NULL && i < u->entries->len; i++)
    {
      const ChatReplEntry *e = u->entries->pdata[i];
      guint64 pos, h;

      if (e->index <= s->chain_base)
        continue;
      pos = e->index - s->chain_base;
      if (pos > s->chain->len)
        {
          sim_violation (w, "s%u: log gap before index %" G_GUINT64_FORMAT, s->id, e->index);
          return;
        }
      g_array_set_size (s->chain, pos);
      h = mix (mix (mix (g_array_index (s->chain, guint64, pos - 1), e->term), e->type),
               bytes_hash (e->data));
      g_array_append_val (s->chain, h);
      record_entry (w, s, e, h);
    }
}

static void
record_committed (SimWorld *w, SimServer *s, guint64 index, const char *what)
{
  guint64 h = sim_chain_at (s, index);
  guint64 known = committed_at (w, index);

  if (h == 0)
    return;
  if (known != 0 && known != h && !w->expect_split)
    {
      sim_violation (w,
                     "state machine safety: s%u %s a different entry at index %" G_GUINT64_FORMAT,
                     s->id, what, index);
      return;
    }
  if (index >= w->committed->len)
    g_array_set_size (w->committed, index + 1);
  g_array_index (w->committed, guint64, index) = h;
  w->max_committed = MAX (w->max_committed, index);
}

void
sim_check_apply (SimWorld *w, SimServer *s, const ChatReplEntry *e)
{
  record_committed (w, s, e->index, "applies");
}

void
sim_check_ack (SimWorld *w, SimServer *s, guint64 key, guint64 index, guint64 id)
{
  const ChatReplEntry *e = chat_repl_get_entry (s->repl, index);

  if (e != NULL && (e->type != CHAT_REPL_ENTRY_OP || g_bytes_get_size (e->data) != 8))
    sim_violation (w, "s%u acknowledged index %" G_GUINT64_FORMAT " which is no operation", s->id,
                   index);
  record_committed (w, s, index, "acknowledges");
  if (!g_hash_table_contains (w->acked, GSIZE_TO_POINTER (key)))
    {
      g_hash_table_insert (w->acked, GSIZE_TO_POINTER (key), GSIZE_TO_POINTER (id));
      w->n_acked++;
    }
  else if (!w->expect_split
           && GPOINTER_TO_SIZE (g_hash_table_lookup (w->acked, GSIZE_TO_POINTER (key))) != id)
    sim_violation (w, "renumbered: s%u acknowledged an op again with another id", s->id);
}

void
sim_check_leader (SimWorld *w, SimServer *s)
{
  guint64 term = chat_repl_get_term (s->repl);
  guint64 m = w->max_committed;
  gpointer old;

  if (CHAT_REPL_TERM_NODE (term) != s->id)
    sim_violation (w, "s%u leads a term it does not own", s->id);
  old = g_hash_table_lookup (w->term_leader, &term);
  if (old != NULL)
    sim_violation (w, "s%u leads term %" G_GUINT64_FORMAT " a second time", s->id, term);
  else
    g_hash_table_insert (w->term_leader, g_memdup2 (&term, sizeof term), GUINT_TO_POINTER (s->id));
  if (w->expect_split || m == 0)
    return;
  /* Leader completeness: the new leader's log holds everything committed so far. */
  if (s->chain_base + s->chain->len - 1 < m)
    sim_violation (w,
                   "leader completeness: s%u leads with last index %" G_GUINT64_FORMAT
                   " < committed %" G_GUINT64_FORMAT,
                   s->id, s->chain_base + s->chain->len - 1, m);
  else if (m >= s->chain_base && sim_chain_at (s, m) != committed_at (w, m))
    sim_violation (w, "leader completeness: s%u leads without committed index %" G_GUINT64_FORMAT,
                   s->id, m);
}

void
sim_check_final (SimWorld *w)
{
  GHashTableIter it;
  gpointer key, index;

  for (guint id = 1; id <= w->opt.n_servers; id++)
    {
      SimServer *s = &w->servers[id];

      if (!s->up)
        continue;
      if (g_hash_table_size (s->sm_ops) != s->sm_order->len)
        sim_violation (w, "duplicates: s%u applied an operation twice", id);
      g_hash_table_iter_init (&it, w->acked);
      while (g_hash_table_iter_next (&it, &key, &index))
        {
          if (g_hash_table_contains (s->sm_ops, key) && !w->expect_split
              && g_hash_table_lookup (s->sm_ops, key) != index)
            {
              sim_violation (w,
                             "renumbered: op c%u#%u acknowledged with id %" G_GSIZE_FORMAT
                             " has id %" G_GSIZE_FORMAT " on s%u",
                             (guint)(GPOINTER_TO_SIZE (key) >> 32), (guint)GPOINTER_TO_SIZE (key),
                             GPOINTER_TO_SIZE (index),
                             GPOINTER_TO_SIZE (g_hash_table_lookup (s->sm_ops, key)), id);
              return;
            }
          if (!g_hash_table_contains (s->sm_ops, key))
            {
              sim_violation (w,
                             "durability: op c%u#%u acknowledged at index %" G_GSIZE_FORMAT
                             " is missing on s%u",
                             (guint)(GPOINTER_TO_SIZE (key) >> 32), (guint)GPOINTER_TO_SIZE (key),
                             GPOINTER_TO_SIZE (index), id);
              return;
            }
        }
    }
}
