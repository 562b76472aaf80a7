/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Closed-loop load: C raw connections, each sending a message, waiting for the ack, repeating.
 *
 * Client overhead is kept tiny so that the server, not the benchmark, is measured:
 * every request line is built once per client and only its counter is rewritten;
 * responses are recognized by their first bytes ("ok":true) without a JSON parser;
 * each thread drives its share of the connections with one epoll set. */
#include "bench-load.h"
#include "bench-conn.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PASSWORD "chatd-bench-password"
#define PREPARE_TIMEOUT_S 600
#define DRAIN_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define MAX_EVENTS 256
/* A redirect to a leader that does not take the session is given up after this many hops. */
#define MAX_REDIRECTS 20
/* Without a known leader (an election is on) the same request is sent again this much later. */
#define NO_LEADER_RETRY_US (50 * 1000)

typedef struct
{
  int fd;
  char *user;
  char *session;
  char *request; /* prefix, room for the counter, suffix */
  gsize prefix_len;
  guint64 counter;
  gsize request_len;
  gsize written;
  char *rbuf;
  gsize rlen, rcap;
  gint64 sent_at;
  gint64 retry_at;
  char *leader; /* host:port named by the last not_leader answer, "" when it named none */
  guint hops;   /* redirects followed for the current request */
  gboolean waiting;
  gboolean signed_up;
  gboolean login; /* a retried sign-up found its name taken: log in instead */
  guint signup_retries;
  gboolean closed;
} Client;

typedef struct
{
  BenchLoad *load;
  GThread *thread;
  Client **clients;
  guint n_clients;
  GArray *samples; /* BenchSample */
  guint64 errors;
  double rate_per_us; /* this thread's share of --rate, 0: unlimited */
  guint64 issued;
  GQueue waiting; /* clients with their ack, waiting for the rate to allow a send */
  GQueue retry;   /* clients told not_leader while no leader was known, by retry_at */
  guint64 redirects;
} Worker;

struct _BenchLoad
{
  BenchLoadOptions options;
  Client *clients;
  Worker *workers;
  guint n_workers;
  char *sink;
  gint64 start_time;
  guint64 acked;   /* atomic */
  int stopping;    /* atomic */
  GArray *samples; /* merged after stop */
  guint64 errors;
  guint64 redirects;
};

/* --- buffers ----------------------------------------------------------------------- */

/* tag is the load's own: each run's client_msg_ids are new, even for accounts an earlier
 * run used. Ids that repeat an earlier run's are answered with the stored message,
 * without a log entry, and made every run after the first look several times faster. */
static void
client_build_request (Client *client, const char *tag, const char *to, gsize body_size)
{
  g_autoptr (GString) prefix = g_string_new ("{\"id\":1,\"op\":\"send\",\"to\":\"");

  g_string_append_printf (prefix, "%s\",\"body\":\"", to);
  for (gsize i = 0; i < body_size; i++)
    g_string_append_c (prefix, (char)('a' + i % 26));
  g_string_append_printf (prefix, "\",\"client_msg_id\":\"%s-%s-", client->user, tag);
  client->prefix_len = prefix->len;
  client->request = g_malloc (prefix->len + 32);
  memcpy (client->request, prefix->str, prefix->len);
}

/* Rewrites the counter and the closing bytes: the next request is ready to write. */
static void
client_next_request (Client *client)
{
  char *p = client->request + client->prefix_len;
  char digits[24];
  int n = 0;
  guint64 value = ++client->counter;

  do
    digits[n++] = (char)('0' + value % 10);
  while ((value /= 10) > 0);
  while (n > 0)
    *p++ = digits[--n];
  memcpy (p, "\"}\n", 3);
  client->request_len = (gsize)(p + 3 - client->request);
  client->written = 0;
}

static void
client_clear (Client *client)
{
  if (client->fd >= 0)
    bench_io_close (client->fd);
  g_free (client->user);
  g_free (client->session);
  g_free (client->request);
  g_free (client->rbuf);
  g_free (client->leader);
}

/* --- I/O on one client ------------------------------------------------------------- */

/* FALSE when the connection is gone. */
static gboolean
client_flush (Client *client, int epfd)
{
  while (client->written < client->request_len)
    {
      gssize n = bench_io_send (client->fd, client->request + client->written,
                                client->request_len - client->written);

      if (n > 0)
        client->written += (gsize)n;
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n < 0 && errno == EAGAIN)
        {
          struct epoll_event event = { .events = EPOLLIN | EPOLLOUT, .data.ptr = client };

          epoll_ctl (epfd, EPOLL_CTL_MOD, client->fd, &event);
          return TRUE;
        }
      else
        return FALSE;
    }
  return TRUE;
}

static void
client_close (Worker *worker, Client *client, int epfd)
{
  if (client->closed)
    return;
  client->closed = TRUE;
  epoll_ctl (epfd, EPOLL_CTL_DEL, client->fd, NULL);
  if (client->waiting)
    worker->errors++;
  client->waiting = FALSE;
}

static void
client_send_next (Worker *worker, Client *client, int epfd)
{
  client_next_request (client);
  client->sent_at = g_get_monotonic_time ();
  client->waiting = TRUE;
  if (!client_flush (client, epfd))
    client_close (worker, client, epfd);
}

/* Reads what is there; FALSE on end of stream or error. */
static gboolean
client_fill (Client *client)
{
  gssize n = 0;

  /* A full buffer may leave decrypted TLS bytes behind that epoll will not report:
   * grow it and read again until the stream is drained. */
  do
    {
      if (client->rcap - client->rlen < 4096)
        {
          client->rcap = MAX (client->rcap * 2, 16384);
          client->rbuf = g_realloc (client->rbuf, client->rcap);
        }
      n = bench_io_recv (client->fd, client->rbuf + client->rlen, client->rcap - client->rlen);
      if (n > 0)
        client->rlen += (gsize)n;
    }
  while (n > 0 && client->rlen == client->rcap);
  if (n > 0)
    return TRUE;
  return n < 0 && (errno == EAGAIN || errno == EINTR);
}

static gboolean
line_is_event (const char *line, gsize len)
{
  return len >= 9 && memcmp (line, "{\"event\":", 9) == 0;
}

static gboolean
line_is_ok (const char *line, gsize len)
{
  return memmem (line, len, "\"ok\":true", 9) != NULL;
}

/* For a not_leader answer: error.leader ("host:port"), or "" when the server knows none;
 * NULL for any other line. Parsed only on this rare path. */
static char *
not_leader_target (const char *line, gsize len)
{
  g_autofree char *text = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object = NULL, *error = NULL;

  if (memmem (line, len, "not_leader", 10) == NULL)
    return NULL;
  text = g_strndup (line, len);
  node = json_from_string (text, NULL);
  object = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  error = object ? json_object_get_object_member (object, "error") : NULL;
  if (error == NULL
      || g_strcmp0 (json_object_get_string_member_with_default (error, "code", ""), "not_leader")
             != 0)
    return NULL;
  return g_strdup (json_object_get_string_member_with_default (error, "leader", ""));
}

/* Calls on_response for each complete response line; keeps the partial tail. */
static guint
client_take_responses_full (Client *client, gboolean *last_ok, char **last_line)
{
  gsize start = 0;
  guint responses = 0;

  for (;;)
    {
      char *newline = memchr (client->rbuf + start, '\n', client->rlen - start);
      gsize len = 0;

      if (newline == NULL)
        break;
      len = (gsize)(newline - (client->rbuf + start));
      if (!line_is_event (client->rbuf + start, len))
        {
          responses++;
          *last_ok = line_is_ok (client->rbuf + start, len);
          g_clear_pointer (&client->leader, g_free);
          if (!*last_ok)
            client->leader = not_leader_target (client->rbuf + start, len);
          if (last_line != NULL)
            {
              g_free (*last_line);
              *last_line = g_strndup (client->rbuf + start, len);
            }
          if (!*last_ok && g_getenv ("CHATD_BENCH_VERBOSE") != NULL)
            g_printerr ("error reply: %.*s\n", (int)MIN (len, 300), client->rbuf + start);
        }
      start += len + 1;
    }
  memmove (client->rbuf, client->rbuf + start, client->rlen - start);
  client->rlen -= start;
  return responses;
}

/* Whether the rate limit allows one more send now. */
static gboolean
worker_may_send (Worker *worker)
{
  gint64 elapsed = g_get_monotonic_time () - worker->load->start_time;

  return worker->rate_per_us <= 0 || (double)worker->issued < elapsed * worker->rate_per_us + 1;
}

/* Sends the client's next message now, or queues it until the rate allows. */
static void
worker_issue (Worker *worker, Client *client, int epfd)
{
  if (!worker_may_send (worker))
    {
      g_queue_push_tail (&worker->waiting, client);
      return;
    }
  worker->issued++;
  client_send_next (worker, client, epfd);
}

static void
worker_release_waiting (Worker *worker, int epfd)
{
  while (!g_queue_is_empty (&worker->waiting) && worker_may_send (worker))
    {
      worker->issued++;
      client_send_next (worker, g_queue_pop_head (&worker->waiting), epfd);
    }
}

static guint
client_take_responses (Client *client, gboolean *last_ok)
{
  return client_take_responses_full (client, last_ok, NULL);
}

/* Resumes the client's session on host:port ("host:port") over a new connection that
 * replaces its socket; FALSE (old socket kept) when that fails. */
static gboolean
client_move_to (Client *client, const char *address, int epfd)
{
  g_autofree char *host = g_strdup (address);
  char *colon = strrchr (host, ':');
  g_autofree char *line = NULL;
  g_autoptr (BenchConn) conn = NULL;
  g_autoptr (JsonObject) reply = NULL;
  g_autoptr (GString) pending = NULL;
  struct epoll_event event = { .events = EPOLLIN, .data.ptr = client };
  guint64 port = 0;

  if (colon == NULL || client->session == NULL)
    return FALSE;
  *colon = '\0';
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return FALSE;
  conn = bench_conn_new (host, (guint16)port, 2000, NULL);
  line = g_strdup_printf ("{\"id\":1,\"op\":\"resume\",\"session\":\"%s\"}", client->session);
  reply = conn ? bench_conn_request (conn, line, 5000, NULL) : NULL;
  if (reply == NULL || !bench_reply_ok (reply, NULL))
    return FALSE;
  epoll_ctl (epfd, EPOLL_CTL_DEL, client->fd, NULL);
  bench_io_close (client->fd);
  client->fd = bench_conn_steal_fd (conn, &pending);
  client->rlen = 0;
  epoll_ctl (epfd, EPOLL_CTL_ADD, client->fd, &event);
  return TRUE;
}

/* Writes the same request again (same client_msg_id: idempotent); its latency still
 * counts from the first attempt. */
static void
client_resend (Worker *worker, Client *client, int epfd)
{
  client->written = 0;
  client->waiting = TRUE;
  if (!client_flush (client, epfd))
    client_close (worker, client, epfd);
}

/* The server answered not_leader: follow it to the leader it names, or, while there is
 * none, ask again a little later. FALSE when the answer must count as an error. */
static gboolean
worker_follow_leader (Worker *worker, Client *client, int epfd)
{
  if (client->leader == NULL || ++client->hops > MAX_REDIRECTS)
    return FALSE;
  if (client->leader[0] == '\0')
    {
      client->retry_at = g_get_monotonic_time () + NO_LEADER_RETRY_US;
      g_queue_push_tail (&worker->retry, client);
      return TRUE;
    }
  if (!client_move_to (client, client->leader, epfd))
    return FALSE;
  worker->redirects++;
  client_resend (worker, client, epfd);
  return TRUE;
}

static void
worker_release_retries (Worker *worker, int epfd)
{
  gint64 now = g_get_monotonic_time ();
  Client *client = NULL;

  while ((client = g_queue_peek_head (&worker->retry)) != NULL && client->retry_at <= now)
    {
      g_queue_pop_head (&worker->retry);
      if (!client->closed)
        client_resend (worker, client, epfd);
    }
}

static void
worker_on_readable (Worker *worker, Client *client, int epfd)
{
  BenchLoad *load = worker->load;
  gboolean ok = FALSE;
  guint responses = 0;

  if (!client_fill (client))
    {
      client_close (worker, client, epfd);
      return;
    }
  responses = client_take_responses (client, &ok);
  if (responses == 0 || !client->waiting)
    return;
  client->waiting = FALSE;
  if (!ok && worker_follow_leader (worker, client, epfd))
    return;
  client->hops = 0;
  if (ok)
    {
      gint64 now = g_get_monotonic_time ();
      BenchSample sample
          = { now - load->start_time, (guint32)MIN (now - client->sent_at, G_MAXUINT32) };

      g_array_append_val (worker->samples, sample);
      __atomic_fetch_add (&load->acked, 1, __ATOMIC_RELAXED);
    }
  else
    worker->errors++;
  if (!__atomic_load_n (&load->stopping, __ATOMIC_RELAXED))
    worker_issue (worker, client, epfd);
}

/* --- threads ---------------------------------------------------------------------- */

static guint
worker_outstanding (Worker *worker)
{
  guint n = 0;

  for (guint i = 0; i < worker->n_clients; i++)
    n += worker->clients[i]->waiting;
  return n + g_queue_get_length (&worker->retry);
}

static void
worker_handle (Worker *worker, struct epoll_event *event, int epfd)
{
  Client *client = event->data.ptr;

  if (client->closed)
    return;
  if (event->events & EPOLLOUT)
    {
      struct epoll_event in = { .events = EPOLLIN, .data.ptr = client };

      if (!client_flush (client, epfd))
        {
          client_close (worker, client, epfd);
          return;
        }
      if (client->written == client->request_len)
        epoll_ctl (epfd, EPOLL_CTL_MOD, client->fd, &in);
    }
  if (event->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    worker_on_readable (worker, client, epfd);
}

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;
  BenchLoad *load = worker->load;
  struct epoll_event events[MAX_EVENTS];
  int epfd = epoll_create1 (EPOLL_CLOEXEC);
  gint64 drain_deadline = 0;

  for (guint i = 0; i < worker->n_clients; i++)
    {
      struct epoll_event event = { .events = EPOLLIN, .data.ptr = worker->clients[i] };

      if (!worker->clients[i]->closed)
        epoll_ctl (epfd, EPOLL_CTL_ADD, worker->clients[i]->fd, &event);
    }
  for (guint i = 0; i < worker->n_clients; i++)
    if (!worker->clients[i]->closed)
      worker_issue (worker, worker->clients[i], epfd);
  for (;;)
    {
      gboolean timed = !g_queue_is_empty (&worker->waiting) || !g_queue_is_empty (&worker->retry);
      int n = epoll_wait (epfd, events, MAX_EVENTS, timed ? 1 : 20);

      for (int i = 0; i < n; i++)
        worker_handle (worker, &events[i], epfd);
      worker_release_retries (worker, epfd);
      if (!__atomic_load_n (&load->stopping, __ATOMIC_RELAXED))
        {
          worker_release_waiting (worker, epfd);
          continue;
        }
      if (drain_deadline == 0)
        drain_deadline = g_get_monotonic_time () + DRAIN_TIMEOUT_US;
      if (worker_outstanding (worker) == 0 || g_get_monotonic_time () > drain_deadline)
        break;
    }
  close (epfd);
  return NULL;
}

/* --- preparing: sign every client up, pipelined ----------------------------------- */

/* The code of an error answer ("" for none). Parsed only on this rare path. */
static char *
reply_error_code (const char *line)
{
  g_autoptr (JsonNode) node = json_from_string (line, NULL);
  JsonObject *object = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonObject *error = object ? json_object_get_object_member (object, "error") : NULL;

  return g_strdup (error ? json_object_get_string_member_with_default (error, "code", "") : "");
}

/* "host:port" into its parts; FALSE when it is not one. */
static gboolean
split_address (const char *address, char **host, guint16 *port)
{
  const char *colon = strrchr (address, ':');
  guint64 value = 0;

  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &value, NULL))
    return FALSE;
  *host = g_strndup (address, (gsize)(colon - address));
  *port = (guint16)value;
  return TRUE;
}

static char *
signup_line_for (const char *user, const char *op)
{
  return g_strdup_printf (
      "{\"id\":1,\"op\":\"%s\",\"username\":\"%s\",\"password\":\"" PASSWORD "\"}", op, user);
}

/* The sink's sign-up, on whichever server leads: a not_leader answer names where to ask,
 * and a name found taken after a retry was our own earlier attempt, committed before the
 * leader changed. */
static gboolean
signup_sink (BenchLoad *load, GError **error)
{
  g_autofree char *host = g_strdup (load->options.host);
  guint16 port = load->options.port;

  for (guint attempt = 0; attempt <= MAX_REDIRECTS; attempt++)
    {
      g_autoptr (BenchConn) conn = bench_conn_new (host, port, 5000, error);
      g_autofree char *line = signup_line_for (load->sink, "signup");
      g_autoptr (JsonObject) reply = NULL;
      JsonObject *details = NULL;
      const char *code = NULL, *leader = NULL;

      if (conn == NULL || (reply = bench_conn_request (conn, line, 60000, error)) == NULL)
        return FALSE;
      if (bench_reply_ok (reply, &code) || (attempt > 0 && g_strcmp0 (code, "username_taken") == 0))
        return TRUE;
      details = json_object_get_object_member (reply, "error");
      leader
          = details ? json_object_get_string_member_with_default (details, "leader", NULL) : NULL;
      if (g_strcmp0 (code, "not_leader") == 0 && leader != NULL)
        {
          g_clear_pointer (&host, g_free);
          if (!split_address (leader, &host, &port))
            break;
        }
      else if (g_strcmp0 (code, "not_leader") != 0 && g_strcmp0 (code, "unavailable") != 0)
        break;
      g_usleep (100000);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "signup of %s failed", load->sink);
  return FALSE;
}

/* resume for accounts of an earlier load, login once a retried sign-up found the name
 * taken (the earlier attempt was committed), else signup. */
static char *
signup_line (Client *client)
{
  g_autofree char *line = NULL;

  if (client->session != NULL)
    return g_strdup_printf ("{\"id\":1,\"op\":\"resume\",\"session\":\"%s\"}\n", client->session);
  line = signup_line_for (client->user, client->login ? "login" : "signup");
  return g_strdup_printf ("%s\n", line);
}

static gboolean
connect_client_to (Client *client, const char *host, guint16 port, GError **error)
{
  g_autoptr (BenchConn) conn = bench_conn_new (host, port, 10000, error);
  g_autofree char *line = NULL;
  g_autoptr (GString) pending = NULL;

  if (conn == NULL)
    return FALSE;
  line = signup_line (client);
  line[strlen (line) - 1] = '\0';
  if (!bench_conn_send_line (conn, line, error))
    return FALSE;
  client->fd = bench_conn_steal_fd (conn, &pending);
  return TRUE;
}

static gboolean
connect_client (BenchLoad *load, Client *client, GError **error)
{
  return connect_client_to (client, load->options.host, load->options.port, error);
}

/* The cluster may be briefly unable to commit (a server just stopped, a leader changed):
 * ask again, on the leader a not_leader answer names. FALSE when it is hopeless. */
static gboolean
resend_signup (Client *client, const char *answer, int epfd, guint *attempts)
{
  g_autofree char *code = reply_error_code (answer);
  g_autofree char *leader = g_strdup (client->leader);
  g_autofree char *line = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;

  if (++*attempts > 100 * MAX (1, MAX_REDIRECTS))
    return FALSE;
  if (g_str_equal (code, "username_taken") && client->signup_retries > 0 && !client->login)
    client->login = TRUE;
  else if (!g_str_equal (code, "not_leader") && !g_str_equal (code, "unavailable")
           && !g_str_equal (code, "internal"))
    return FALSE;
  client->signup_retries++;
  if (leader != NULL && leader[0] != '\0' && split_address (leader, &host, &port))
    {
      struct epoll_event event = { .events = EPOLLIN, .data.ptr = client };

      epoll_ctl (epfd, EPOLL_CTL_DEL, client->fd, NULL);
      bench_io_close (client->fd);
      client->fd = -1;
      client->rlen = 0;
      if (!connect_client_to (client, host, port, NULL))
        return FALSE;
      return epoll_ctl (epfd, EPOLL_CTL_ADD, client->fd, &event) == 0;
    }
  g_usleep (100000);
  line = signup_line (client);
  return bench_io_send (client->fd, line, strlen (line)) == (gssize)strlen (line);
}

static char *
session_of (const char *line)
{
  g_autoptr (JsonNode) node = json_from_string (line, NULL);
  JsonObject *object = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;

  return object ? g_strdup (json_object_get_string_member_with_default (object, "session", NULL))
                : NULL;
}

static gboolean
await_signups (BenchLoad *load, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + PREPARE_TIMEOUT_S * G_USEC_PER_SEC;
  int epfd = epoll_create1 (EPOLL_CLOEXEC);
  guint left = load->options.n_clients, attempts = 0;
  struct epoll_event events[MAX_EVENTS];

  for (guint i = 0; i < load->options.n_clients; i++)
    {
      struct epoll_event event = { .events = EPOLLIN, .data.ptr = &load->clients[i] };

      epoll_ctl (epfd, EPOLL_CTL_ADD, load->clients[i].fd, &event);
    }
  while (left > 0 && g_get_monotonic_time () < deadline)
    {
      int n = epoll_wait (epfd, events, MAX_EVENTS, 100);

      for (int i = 0; i < n; i++)
        {
          Client *client = events[i].data.ptr;
          gboolean ok = FALSE;

          g_autofree char *line = NULL;

          if (client->signed_up)
            continue;
          if (!client_fill (client)
              || (client_take_responses_full (client, &ok, &line) > 0 && !ok
                  && !resend_signup (client, line, epfd, &attempts)))
            {
              close (epfd);
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "signup of %s failed: %s",
                           client->user, line ? line : "connection closed");
              return FALSE;
            }
          if (ok)
            {
              client->signed_up = TRUE;
              left--;
              if (client->session == NULL)
                client->session = session_of (line);
            }
        }
    }
  close (epfd);
  if (left > 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%u signups did not finish", left);
  return left == 0;
}

BenchLoad *
bench_load_prepare (const BenchLoadOptions *options, GError **error)
{
  g_autoptr (BenchLoad) load = g_new0 (BenchLoad, 1);
  g_autofree char *tag = g_strdup_printf ("%08x", g_random_int ());
  guint n = options->n_clients;

  const BenchAccounts *reuse = options->accounts;

  if (reuse != NULL && reuse->users->len < n)
    reuse = NULL;
  load->options = *options;
  load->options.accounts = NULL;
  load->options.n_threads = CLAMP (options->n_threads, 1, MAX (n, 1));
  load->sink = reuse ? g_strdup (reuse->sink) : g_strdup_printf ("sink%s", tag);
  load->clients = g_new0 (Client, n);
  for (guint i = 0; i < n; i++)
    {
      load->clients[i].fd = -1;
      load->clients[i].user = reuse ? g_strdup (g_ptr_array_index (reuse->users, i))
                                    : g_strdup_printf ("b%s-%u", tag, i);
      load->clients[i].session = reuse ? g_strdup (g_ptr_array_index (reuse->sessions, i)) : NULL;
    }
  for (guint i = 0; i < n; i++)
    {
      const char *to = options->recipient == BENCH_RECIPIENT_PEER ? load->clients[(i + 1) % n].user
                                                                  : load->sink;

      client_build_request (&load->clients[i], tag, to, options->body_size);
    }
  if (reuse == NULL && !signup_sink (load, error))
    return NULL;
  for (guint i = 0; i < n; i++)
    if (!connect_client (load, &load->clients[i], error))
      return NULL;
  if (!await_signups (load, error))
    return NULL;
  return g_steal_pointer (&load);
}

void
bench_accounts_free (BenchAccounts *accounts)
{
  if (accounts == NULL)
    return;
  g_free (accounts->sink);
  g_ptr_array_unref (accounts->users);
  g_ptr_array_unref (accounts->sessions);
  g_free (accounts);
}

BenchAccounts *
bench_load_take_accounts (BenchLoad *load)
{
  BenchAccounts *accounts = g_new0 (BenchAccounts, 1);

  accounts->sink = g_strdup (load->sink);
  accounts->users = g_ptr_array_new_with_free_func (g_free);
  accounts->sessions = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < load->options.n_clients; i++)
    {
      g_ptr_array_add (accounts->users, g_strdup (load->clients[i].user));
      g_ptr_array_add (accounts->sessions, g_strdup (load->clients[i].session));
    }
  return accounts;
}

void
bench_load_start (BenchLoad *load)
{
  guint n_workers = load->options.n_threads;

  load->start_time = g_get_monotonic_time ();
  load->n_workers = n_workers;
  load->workers = g_new0 (Worker, n_workers);
  for (guint w = 0; w < n_workers; w++)
    {
      Worker *worker = &load->workers[w];

      worker->load = load;
      worker->rate_per_us = load->options.rate / 1e6 / n_workers;
      g_queue_init (&worker->waiting);
      g_queue_init (&worker->retry);
      worker->samples = g_array_sized_new (FALSE, FALSE, sizeof (BenchSample), 1 << 16);
      worker->clients = g_new0 (Client *, load->options.n_clients / n_workers + 1);
      for (guint i = w; i < load->options.n_clients; i += n_workers)
        worker->clients[worker->n_clients++] = &load->clients[i];
    }
  for (guint w = 0; w < n_workers; w++)
    load->workers[w].thread = g_thread_new ("bench-load", worker_main, &load->workers[w]);
}

gint64
bench_load_now (BenchLoad *load)
{
  return g_get_monotonic_time () - load->start_time;
}

gint64
bench_load_start_time (BenchLoad *load)
{
  return load->start_time;
}

guint64
bench_load_acked (BenchLoad *load)
{
  return __atomic_load_n (&load->acked, __ATOMIC_RELAXED);
}

void
bench_load_stop (BenchLoad *load)
{
  if (load->samples != NULL)
    return;
  __atomic_store_n (&load->stopping, 1, __ATOMIC_RELAXED);
  load->samples = g_array_new (FALSE, FALSE, sizeof (BenchSample));
  for (guint w = 0; w < load->n_workers; w++)
    {
      Worker *worker = &load->workers[w];

      g_thread_join (worker->thread);
      g_array_append_vals (load->samples, worker->samples->data, worker->samples->len);
      load->errors += worker->errors;
      load->redirects += worker->redirects;
    }
}

const GArray *
bench_load_samples (BenchLoad *load)
{
  return load->samples;
}

guint64
bench_load_errors (BenchLoad *load)
{
  return load->errors;
}

guint64
bench_load_redirects (BenchLoad *load)
{
  return load->redirects;
}

void
bench_load_free (BenchLoad *load)
{
  if (load == NULL)
    return;
  if (load->workers != NULL)
    bench_load_stop (load);
  for (guint w = 0; w < load->n_workers; w++)
    {
      g_array_unref (load->workers[w].samples);
      g_queue_clear (&load->workers[w].waiting);
      g_queue_clear (&load->workers[w].retry);
      g_free (load->workers[w].clients);
    }
  for (guint i = 0; i < load->options.n_clients && load->clients != NULL; i++)
    client_clear (&load->clients[i]);
  g_free (load->clients);
  g_free (load->workers);
  g_free (load->sink);
  if (load->samples != NULL)
    g_array_unref (load->samples);
  g_free (load);
}

gboolean
bench_load_run (const BenchLoadOptions *options, double warmup_s, double duration_s, guint64 count,
                BenchSummary *summary, guint64 *errors, GError **error)
{
  return bench_load_run_with (options, NULL, warmup_s, duration_s, count, summary, errors, error);
}

gboolean
bench_load_run_with (const BenchLoadOptions *options, BenchAccounts **accounts, double warmup_s,
                     double duration_s, guint64 count, BenchSummary *summary, guint64 *errors,
                     GError **error)
{
  BenchLoadOptions with_accounts = *options;
  g_autoptr (BenchLoad) load = NULL;
  gint64 warmup_us = (gint64)(warmup_s * G_USEC_PER_SEC);
  gint64 end_us = warmup_us + (gint64)(duration_s * G_USEC_PER_SEC);
  guint64 acked_at_warmup = 0, cpu_at_warmup = 0, cpu_at_end = 0;
  gboolean warm = FALSE;

  if (accounts != NULL && *accounts != NULL)
    with_accounts.accounts = *accounts;
  load = bench_load_prepare (&with_accounts, error);
  if (load == NULL)
    return FALSE;
  if (accounts != NULL && *accounts == NULL)
    *accounts = bench_load_take_accounts (load);
  bench_load_start (load);
  for (;;)
    {
      gint64 now = bench_load_now (load);

      if (!warm && now >= warmup_us)
        {
          warm = TRUE;
          acked_at_warmup = bench_load_acked (load);
          cpu_at_warmup = options->cluster ? bench_cluster_cpu_us (options->cluster) : 0;
        }
      if (now >= end_us
          || (warm && count > 0 && bench_load_acked (load) - acked_at_warmup >= count))
        {
          end_us = now;
          cpu_at_end = options->cluster ? bench_cluster_cpu_us (options->cluster) : 0;
          break;
        }
      g_usleep (count > 0 ? 1000 : 10000);
    }
  bench_load_stop (load);
  if (bench_load_redirects (load) > 0)
    g_printerr ("(followed %" G_GUINT64_FORMAT " not_leader redirects to a new leader)\n",
                bench_load_redirects (load));
  bench_summary_compute (summary, bench_load_samples (load), warmup_us, end_us);
  if (cpu_at_end > cpu_at_warmup && summary->count > 0)
    summary->server_cpu_us = (double)(cpu_at_end - cpu_at_warmup) / (double)summary->count;
  if (errors != NULL)
    *errors = bench_load_errors (load);
  return TRUE;
}
