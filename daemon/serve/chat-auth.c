/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Argon2id hashing on a bounded worker pool, session tokens and the login throttle. */
#define G_LOG_DOMAIN "chatd-auth"

#include "chat-auth.h"

#include "chat-error.h"
#include "chat-thread-priority.h"

#include <sodium.h>
#include <string.h>

/* An Argon2id hash with the interactive limits, of a password nobody uses: checking
 * against it costs what checking a real account costs. */
#define DUMMY_HASH                                                                                 \
  "$argon2id$v=19$m=65536,t=2,p=1$3yPK1w8dZ5YYRk+T7OUIGw$G/W/JWPHKxNa/ZCRodV5arhXH7iUnc2s"         \
  "Cq8gPfIQXyw"

/* What set_cost hashes for the dummy check (never a real account's: it fails anyway). */
#define DUMMY_PASSWORD "chatd-dummy-password"

#define TOKEN_BYTES 32

typedef enum
{
  JOB_HASH,
  JOB_VERIFY,
} JobKind;

typedef struct
{
  JobKind kind;
  char *password;
  char *hash;
  gboolean dummy;
  guint64 opslimit;
  gsize memlimit;
} Job;

struct _ChatAuth
{
  GObject parent_instance;

  GThreadPool *pool;
  ChatThrottle *throttle;
  guint64 opslimit;
  gsize memlimit;
  char *dummy_hash; /* NULL: DUMMY_HASH */
};

G_DEFINE_FINAL_TYPE (ChatAuth, chat_auth, G_TYPE_OBJECT)

static void
job_free (Job *job)
{
  if (job->password != NULL)
    sodium_memzero (job->password, strlen (job->password));
  g_free (job->password);
  g_free (job->hash);
  g_free (job);
}

static void
run_hash (GTask *task, Job *job)
{
  char out[crypto_pwhash_STRBYTES];

  if (crypto_pwhash_str (out, job->password, strlen (job->password), job->opslimit, job->memlimit)
      != 0)
    {
      g_task_return_new_error (task, CHAT_ERROR, CHAT_ERROR_INTERNAL,
                               "Hashing a password failed (out of memory)");
      return;
    }
  g_task_return_pointer (task, g_strdup (out), g_free);
}

static void
run_verify (GTask *task, Job *job)
{
  int ret = crypto_pwhash_str_verify (job->hash, job->password, strlen (job->password));

  g_task_return_boolean (task, ret == 0 && !job->dummy);
}

static void
run_job (gpointer data, gpointer user_data)
{
  g_autoptr (GTask) task = data;
  Job *job = g_task_get_task_data (task);

  chat_thread_yield_priority ();
  if (job->kind == JOB_HASH)
    run_hash (task, job);
  else
    run_verify (task, job);
}

static void
chat_auth_finalize (GObject *object)
{
  ChatAuth *self = CHAT_AUTH (object);

  g_thread_pool_free (self->pool, FALSE, TRUE);
  chat_throttle_free (self->throttle);
  g_free (self->dummy_hash);
  G_OBJECT_CLASS (chat_auth_parent_class)->finalize (object);
}

static void
chat_auth_class_init (ChatAuthClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = chat_auth_finalize;
}

/* Each hash takes 64 MiB and about 100 ms of a processor. A burst of sign-ups must not take
 * every processor from the main loops that replicate and answer: one processor is left to
 * them (the pool's threads also run at background priority), the rest of the burst queues. */
static guint
hash_threads (void)
{
  guint processors = g_get_num_processors ();

  return processors > 1 ? processors - 1 : 1;
}

static void
chat_auth_init (ChatAuth *self)
{
  /* Exclusive: threads lowered to background priority serve this pool only. */
  self->pool = g_thread_pool_new (run_job, self, (gint)hash_threads (), TRUE, NULL);
  self->throttle = chat_throttle_new ();
  self->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  self->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

ChatAuth *
chat_auth_new (void)
{
  if (sodium_init () < 0)
    g_error ("libsodium cannot be initialized");
  return g_object_new (CHAT_TYPE_AUTH, NULL);
}

void
chat_auth_set_cost (ChatAuth *self, guint64 opslimit, gsize memlimit)
{
  char dummy[crypto_pwhash_STRBYTES];

  g_return_if_fail (CHAT_IS_AUTH (self));
  g_return_if_fail (opslimit >= crypto_pwhash_OPSLIMIT_MIN);
  g_return_if_fail (memlimit >= crypto_pwhash_MEMLIMIT_MIN);
  self->opslimit = opslimit;
  self->memlimit = memlimit;
  /* The check for a missing user must cost what a real one costs. */
  if (crypto_pwhash_str (dummy, DUMMY_PASSWORD, strlen (DUMMY_PASSWORD), opslimit, memlimit) != 0)
    g_error ("Hashing the dummy password failed (out of memory)");
  g_free (self->dummy_hash);
  self->dummy_hash = g_strdup (dummy);
}

static void
push_job (ChatAuth *self, Job *job, GCancellable *cancellable, GAsyncReadyCallback callback,
          gpointer user_data, gpointer tag)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  job->opslimit = self->opslimit;
  job->memlimit = self->memlimit;
  g_task_set_task_data (task, job, (GDestroyNotify)job_free);
  g_thread_pool_push (self->pool, task, NULL);
}

void
chat_auth_hash_password_async (ChatAuth *self, const char *password, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);

  job->kind = JOB_HASH;
  job->password = g_strdup (password);
  push_job (self, job, cancellable, callback, user_data, chat_auth_hash_password_async);
}

char *
chat_auth_hash_password_finish (ChatAuth *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
chat_auth_verify_password_async (ChatAuth *self, const char *hash, const char *password,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  Job *job = g_new0 (Job, 1);

  job->kind = JOB_VERIFY;
  job->password = g_strdup (password);
  job->dummy = hash == NULL;
  if (hash == NULL)
    hash = self->dummy_hash != NULL ? self->dummy_hash : DUMMY_HASH;
  job->hash = g_strdup (hash);
  push_job (self, job, cancellable, callback, user_data, chat_auth_verify_password_async);
}

gboolean
chat_auth_verify_password_finish (ChatAuth *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

ChatThrottle *
chat_auth_get_throttle (ChatAuth *self)
{
  g_return_val_if_fail (CHAT_IS_AUTH (self), NULL);
  return self->throttle;
}

/* --- sessions ------------------------------------------------------------------------ */

void
chat_auth_new_session (char **token, char **session_hash)
{
  guint8 raw[TOKEN_BYTES];
  char hex[TOKEN_BYTES * 2 + 1];

  randombytes_buf (raw, sizeof raw);
  sodium_bin2hex (hex, sizeof hex, raw, sizeof raw);
  *token = g_strdup (hex);
  *session_hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, hex, -1);
  sodium_memzero (raw, sizeof raw);
  sodium_memzero (hex, sizeof hex);
}

char *
chat_auth_session_hash (const char *token)
{
  g_autofree char *lower = NULL;

  if (strlen (token) != TOKEN_BYTES * 2)
    return NULL;
  for (const char *p = token; *p != '\0'; p++)
    {
      if (!g_ascii_isxdigit (*p))
        return NULL;
    }
  lower = g_ascii_strdown (token, -1);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, lower, -1);
}
