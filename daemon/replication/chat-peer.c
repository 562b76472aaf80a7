/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Peer links: dialling with backoff, the HMAC handshake, line framing and bounded queues. */
#define G_LOG_DOMAIN "chatd-peer"

#include "chat-peer.h"

#include "chat-json.h"
#include "chat-line.h"
#include "chat-write-queue.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <string.h>

#define PEER_PROTO 1
#define NONCE_BYTES 16
#define NONCE_HEX (NONCE_BYTES * 2)
#define PROOF_HEX 64
#define READ_CHUNK (64 * 1024)
#define HANDSHAKE_TIMEOUT_S 5
#define CONNECT_TIMEOUT_S 2
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
/* A link whose sent data stays unacknowledged this long is closed and dialled again. Without
 * it, a link that lost its peer in a partition keeps its TCP retransmission backoff after the
 * heal (up to minutes, 13 s measured after a 15 s partition), and nothing this server sends
 * reaches the peer that long: heartbeats carry data, so a live peer acknowledges well within. */
#define UNACKED_TIMEOUT_MS 2000
/* Handshakes in progress at once, in all and per remote address. A new one beyond either
 * bound replaces the oldest (of that address, or of all): a real peer's handshake takes a
 * round trip, so a flood of hellos that never authenticate cannot keep it out. */
#define MAX_UNCLAIMED 64
#define MAX_UNCLAIMED_PER_ADDRESS 16
/* Lines before authentication are a few hundred bytes; anything longer is not a peer. */
#define HANDSHAKE_MAX_LINE_BYTES (4 * 1024)

typedef enum
{
  STEP_WAIT_CHALLENGE, /* dialled: sent hello */
  STEP_WAIT_OK,        /* dialled: sent our proof */
  STEP_WAIT_AUTH,      /* accepted: sent the challenge */
  STEP_READY,
} LinkStep;

typedef struct _Link Link;

struct _Link
{
  ChatPeers *owner; /* NULL once closed */
  guint node;       /* the other server */
  gboolean outbound;
  LinkStep step;
  GIOStream *stream;
  GSource *read_source;  /* the input stream's, attached from link_begin to link_close */
  GSource *write_source; /* while the stream is full */
  ChatLineBuffer *lines;
  guint8 *read_buf;
  char nonce[NONCE_HEX + 1];
  char remote_nonce[NONCE_HEX + 1];
  ChatWriteQueue writes;
  guint timeout_id;
  char *remote_host; /* accepted links: the address it came from */
  gint64 accepted_at;
};

typedef struct
{
  guint node;
  char *address; /* "host:port", for logs */
  GSocketConnectable *connectable;
  Link *out; /* the link we dialled; we send on it */
  Link *in;  /* the link it dialled; we receive on it */
  guint retry_id;
  guint backoff_ms;
  gboolean was_up;
} Remote;

struct _ChatPeers
{
  GObject parent_instance;

  const ChatConfig *config;
  guint node_id;
  ChatPeerMessageFunc func;
  gpointer user_data;
  Remote *remotes;      /* by node id; [0] and [node_id] unused */
  guint n_remotes;      /* the config's server count: a pending dial may outlive the config */
  GPtrArray *unclaimed; /* Link *: accepted, not yet authenticated */
  GSocketClient *client;
  ChatTls *tls;               /* NULL: plaintext links */
  ChatPeerDialFunc dial_func; /* NULL: TCP to the config's address */
  gpointer dial_data;
  gboolean running;
  guint64 dropped;
};

G_DEFINE_FINAL_TYPE (ChatPeers, chat_peers, G_TYPE_OBJECT)

static void link_close (Link *link, const char *reason);
static void link_read (Link *link);
static void dial (Remote *remote, ChatPeers *self);

/* --- links -------------------------------------------------------------------------- */

static Link *
link_new (ChatPeers *owner, GIOStream *stream, guint node, gboolean outbound)
{
  Link *link = g_rc_box_new0 (Link);

  link->owner = owner;
  link->node = node;
  link->outbound = outbound;
  link->stream = g_object_ref (stream);
  link->lines = chat_line_buffer_new (CHAT_PEER_MAX_LINE_BYTES);
  link->read_buf = g_malloc (READ_CHUNK);
  chat_write_queue_init (&link->writes);
  return link;
}

static void
link_clear (Link *link)
{
  g_clear_object (&link->stream);
  g_clear_pointer (&link->lines, chat_line_buffer_free);
  g_clear_pointer (&link->read_buf, g_free);
  chat_write_queue_clear (&link->writes);
  g_clear_pointer (&link->remote_host, g_free);
}

static Link *
link_ref (Link *link)
{
  return g_rc_box_acquire (link);
}

static void
link_unref (Link *link)
{
  g_rc_box_release_full (link, (GDestroyNotify)link_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Link, link_unref)

static Remote *
remote_of (ChatPeers *self, guint node)
{
  if (node < 1 || node > self->config->servers->len || node == self->node_id)
    return NULL;
  return &self->remotes[node];
}

static void flush_writes (Link *link);

static gboolean
on_writable (GObject *stream, gpointer user_data)
{
  Link *link = user_data;

  g_clear_pointer (&link->write_source, g_source_unref);
  flush_writes (link);
  return G_SOURCE_REMOVE;
}

static void
wait_writable (Link *link)
{
  GOutputStream *out = g_io_stream_get_output_stream (link->stream);

  link->write_source
      = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (out), NULL);
  g_source_set_callback (link->write_source, G_SOURCE_FUNC (on_writable), link_ref (link),
                         (GDestroyNotify)link_unref);
  g_source_attach (link->write_source, NULL);
}

/* What is queued goes now, one writev per turn, until the stream is full: an
 * asynchronous write completed in an idle source of its own, two more turns of the loop
 * for every message to a peer. */
static void
flush_writes (Link *link)
{
  g_autoptr (Link) keep = link_ref (link);
  GPollableOutputStream *out
      = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (link->stream));

  while (link->owner != NULL && link->write_source == NULL
         && !chat_write_queue_is_empty (&link->writes))
    {
      g_autoptr (GError) error = NULL;
      GPollableReturn ret = chat_write_queue_write (&link->writes, out, &error);

      if (ret == G_POLLABLE_RETURN_WOULD_BLOCK)
        wait_writable (link);
      else if (ret == G_POLLABLE_RETURN_FAILED)
        link_close (link, error->message);
    }
}

static void
link_enqueue (Link *link, GBytes *line)
{
  static const char newline = '\n';
  g_autoptr (GBytes) nl = g_bytes_new_static (&newline, 1);

  chat_write_queue_push (&link->writes, line);
  chat_write_queue_push (&link->writes, nl);
  flush_writes (link);
}

static void
link_send_object (Link *link, JsonObject *object)
{
  gsize len = 0;
  char *text = chat_json_to_line (object, &len);
  g_autoptr (GBytes) line = g_bytes_new_take (text, len - 1); /* without its '\n' */

  link_enqueue (link, line);
}

static gboolean
on_handshake_timeout (gpointer user_data)
{
  Link *link = user_data;

  link->timeout_id = 0;
  link_close (link, "the handshake took too long");
  return G_SOURCE_REMOVE;
}

static void
detach (Link *link)
{
  ChatPeers *self = link->owner;
  Remote *remote = remote_of (self, link->node);

  g_ptr_array_remove_fast (self->unclaimed, link); /* drops a reference when present */
  if (remote != NULL && remote->out == link)
    {
      remote->out = NULL;
      link_unref (link);
    }
  if (remote != NULL && remote->in == link)
    {
      remote->in = NULL;
      link_unref (link);
    }
}

static void schedule_dial (Remote *remote, ChatPeers *self);

static void
link_close (Link *link, const char *reason)
{
  ChatPeers *self = link->owner;
  Remote *remote = NULL;
  g_autoptr (Link) keep = NULL;

  if (self == NULL)
    return;
  keep = link_ref (link);
  remote = link->outbound ? remote_of (self, link->node) : NULL;
  if (link->step == STEP_READY || link->outbound)
    g_debug ("Link %s %s closed: %s", link->outbound ? "to" : "from",
             remote != NULL ? remote->address : "a peer", reason);
  if (remote != NULL && remote->was_up && remote->out == link)
    {
      g_message ("Lost the link to peer %s: %s", remote->address, reason);
      remote->was_up = FALSE;
    }
  g_clear_handle_id (&link->timeout_id, g_source_remove);
  if (link->read_source != NULL)
    g_source_destroy (link->read_source);
  g_clear_pointer (&link->read_source, g_source_unref);
  if (link->write_source != NULL)
    g_source_destroy (link->write_source);
  g_clear_pointer (&link->write_source, g_source_unref);
  g_io_stream_close (link->stream, NULL, NULL);
  detach (link);
  link->owner = NULL;
  if (remote != NULL && self->running)
    schedule_dial (remote, self);
}

/* --- the handshake ------------------------------------------------------------------ */

static void
make_nonce (char out[NONCE_HEX + 1])
{
  guint8 raw[NONCE_BYTES];

  randombytes_buf (raw, sizeof raw);
  sodium_bin2hex (out, NONCE_HEX + 1, raw, sizeof raw);
}

char *
chat_peers_compute_proof (const char *secret, const char *text)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *)secret, strlen (secret));

  g_hmac_update (hmac, (const guchar *)text, -1);
  return g_strdup (g_hmac_get_string (hmac));
}

/* The acceptor's proof binds both nonces and both ids, with a label of its own, so a
 * dialler's proof can never be replayed as an acceptor's or on another link. */
static char *
proof_for (ChatPeers *self, const char *role, guint from, guint to, const char *nonce_a,
           const char *nonce_b)
{
  g_autofree char *text = g_strdup_printf ("chatd-peer-%d %s %u %u %s %s", PEER_PROTO, role, from,
                                           to, nonce_a, nonce_b);

  return chat_peers_compute_proof (self->config->secret, text);
}

static gboolean
proof_matches (const char *expected, const char *given)
{
  if (given == NULL || strlen (given) != PROOF_HEX || strlen (expected) != PROOF_HEX)
    return FALSE;
  return sodium_memcmp (expected, given, PROOF_HEX) == 0;
}

static gboolean
valid_nonce (const char *nonce)
{
  if (nonce == NULL || strlen (nonce) != NONCE_HEX)
    return FALSE;
  for (const char *p = nonce; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p))
      return FALSE;
  return TRUE;
}

static JsonObject *
handshake_object (const char *kind)
{
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "peer", kind);
  return object;
}

static void
send_hello (Link *link)
{
  g_autoptr (JsonObject) hello = handshake_object ("hello");

  make_nonce (link->nonce);
  json_object_set_int_member (hello, "proto", PEER_PROTO);
  json_object_set_int_member (hello, "node", link->owner->node_id);
  json_object_set_int_member (hello, "to", link->node);
  json_object_set_string_member (hello, "nonce", link->nonce);
  link_send_object (link, hello);
  link->step = STEP_WAIT_CHALLENGE;
}

/* Dialled link: the other side proved itself; now we prove ourselves. */
static gboolean
on_challenge (Link *link, JsonObject *object)
{
  ChatPeers *self = link->owner;
  const char *nonce = json_object_get_string_member_with_default (object, "nonce", NULL);
  const char *proof = json_object_get_string_member_with_default (object, "proof", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *mine = NULL;
  g_autoptr (JsonObject) auth = handshake_object ("auth");

  if (!valid_nonce (nonce)
      || json_object_get_int_member_with_default (object, "node", 0) != link->node)
    return FALSE;
  expected = proof_for (self, "accept", link->node, self->node_id, link->nonce, nonce);
  if (!proof_matches (expected, proof))
    return FALSE;
  g_strlcpy (link->remote_nonce, nonce, sizeof link->remote_nonce);
  mine = proof_for (self, "dial", self->node_id, link->node, nonce, link->nonce);
  json_object_set_string_member (auth, "proof", mine);
  link_send_object (link, auth);
  link->step = STEP_WAIT_OK;
  return TRUE;
}

static void
link_ready (Link *link)
{
  ChatPeers *self = link->owner;
  Remote *remote = remote_of (self, link->node);

  link->step = STEP_READY;
  g_clear_handle_id (&link->timeout_id, g_source_remove);
  if (!link->outbound)
    return;
  remote->backoff_ms = 0;
  if (!remote->was_up)
    g_message ("Linked to peer %s", remote->address);
  remote->was_up = TRUE;
}

static void dial (Remote *remote, ChatPeers *self);

/* The peer reached us, so our own link to it (down, waiting out its backoff) is dialled now:
 * after a partition heals, whichever side connects first brings the other direction up. */
static void
dial_back (ChatPeers *self, Remote *remote)
{
  if (remote->out != NULL || remote->retry_id == 0 || !self->running)
    return;
  g_clear_handle_id (&remote->retry_id, g_source_remove);
  remote->backoff_ms = 0;
  dial (remote, self);
}

/* Accepted link: the dialler answers our challenge. */
static gboolean
on_auth (Link *link, JsonObject *object)
{
  ChatPeers *self = link->owner;
  Remote *remote = remote_of (self, link->node);
  const char *proof = json_object_get_string_member_with_default (object, "proof", NULL);
  g_autofree char *expected
      = proof_for (self, "dial", link->node, self->node_id, link->nonce, link->remote_nonce);
  g_autoptr (JsonObject) ok = handshake_object ("ok");

  if (!proof_matches (expected, proof))
    return FALSE;
  /* A newer link from the same server replaces the old one (it restarted). */
  if (remote->in != NULL)
    link_close (remote->in, "replaced by a new link");
  remote->in = link_ref (link);
  g_ptr_array_remove_fast (self->unclaimed, link);
  link_send_object (link, ok);
  link_ready (link);
  dial_back (self, remote);
  return TRUE;
}

static gboolean
handle_handshake_line (Link *link, const char *line, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) object = chat_json_parse_object (line, len, &error);
  const char *kind = NULL;

  if (object == NULL)
    return FALSE;
  kind = json_object_get_string_member_with_default (object, "peer", "");
  switch (link->step)
    {
      case STEP_WAIT_CHALLENGE:
        return g_str_equal (kind, "challenge") && on_challenge (link, object);
      case STEP_WAIT_OK:
        if (!g_str_equal (kind, "ok"))
          return FALSE;
        link_ready (link);
        return TRUE;
      case STEP_WAIT_AUTH:
        return g_str_equal (kind, "auth") && on_auth (link, object);
      case STEP_READY:
      default:
        return FALSE;
    }
}

static void
handle_line (Link *link, const char *line, gsize len)
{
  ChatPeers *self = link->owner;

  if (link->step != STEP_READY)
    {
      if (!handle_handshake_line (link, line, len))
        link_close (link, "the peer handshake failed (wrong cluster secret?)");
      return;
    }
  /* Only the dialler sends after the handshake; a dialled link carries nothing back. */
  if (!link->outbound)
    self->func (link->node, line, len, self->user_data);
}

/* --- reading -------------------------------------------------------------------------- */

static void
process_lines (Link *link)
{
  while (link->owner != NULL)
    {
      g_autofree char *line = NULL;
      gsize len = 0;
      g_autoptr (GError) error = NULL;

      if (!chat_line_buffer_next (link->lines, &line, &len, &error))
        {
          if (error != NULL)
            link_close (link, error->message);
          else if (link->step != STEP_READY
                   && chat_line_buffer_pending (link->lines) > HANDSHAKE_MAX_LINE_BYTES)
            link_close (link, "a handshake line is too long");
          return;
        }
      if (link->step != STEP_READY && len > HANDSHAKE_MAX_LINE_BYTES)
        {
          link_close (link, "a handshake line is too long");
          return;
        }
      handle_line (link, line, len);
    }
}

/* One source for the link's lifetime, not a read_async per read: each of those attached
 * and removed a socket source, and GLib wakes the loop through its eventfd at every
 * change of its poll set. */
static gboolean
read_available (Link *link)
{
  GInputStream *stream = g_io_stream_get_input_stream (link->stream);
  g_autoptr (GError) error = NULL;
  gssize n = 0;

  if (link->owner == NULL)
    return G_SOURCE_REMOVE;
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream), link->read_buf,
                                                READ_CHUNK, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      link_close (link, error != NULL ? error->message : "closed by the peer");
      return G_SOURCE_REMOVE;
    }
  chat_line_buffer_feed (link->lines, link->read_buf, (gsize)n);
  process_lines (link);
  return link->owner != NULL ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
on_stream_readable (GObject *stream, gpointer user_data)
{
  return read_available (user_data);
}

static gboolean
on_socket_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  return read_available (user_data);
}

/* A plain connection's source is its socket's own. A pollable stream's source has the
 * socket's as a child source, and GLib blocks a child around each of its dispatches
 * whatever the parent's can-recurse flag says: two poll set changes, so two eventfd writes
 * and an extra turn of the loop, at every read (eight per message on a leader of three).
 * A TLS stream keeps the pollable source: it is ready while the TLS layer holds
 * decrypted data that the socket no longer shows. */
static GSource *
readable_source_new (Link *link)
{
  GInputStream *in = g_io_stream_get_input_stream (link->stream);
  GSource *source = NULL;

  if (G_IS_SOCKET_CONNECTION (link->stream))
    {
      GSocket *socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (link->stream));

      source = g_socket_create_source (socket, G_IO_IN, NULL);
      g_source_set_callback (source, G_SOURCE_FUNC (on_socket_readable), link_ref (link),
                             (GDestroyNotify)link_unref);
      return source;
    }
  /* A TLS connection's streams are pollable; a stream that is not cannot be a link. */
  if (!G_IS_POLLABLE_INPUT_STREAM (in)
      || !g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (in)))
    return NULL;
  source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (in), NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (on_stream_readable), link_ref (link),
                         (GDestroyNotify)link_unref);
  return source;
}

static void
link_read (Link *link)
{
  if (link->owner == NULL || link->read_source != NULL)
    return;
  link->read_source = readable_source_new (link);
  if (link->read_source == NULL)
    {
      link_close (link, "its stream cannot be polled");
      return;
    }
  /* As the client sockets' source (chat-poll-source.c): no poll set change, and no
   * eventfd write, around each dispatch. */
  g_source_set_can_recurse (link->read_source, TRUE);
  g_source_attach (link->read_source, NULL);
}

static void
link_begin (Link *link)
{
  link->timeout_id = g_timeout_add_seconds (HANDSHAKE_TIMEOUT_S, on_handshake_timeout, link);
  link_read (link);
}

/* --- dialling ------------------------------------------------------------------------- */

static void
tune (GSocketConnection *connection)
{
  GSocket *socket = g_socket_connection_get_socket (connection);

  /* The connect timeout stays on the socket through a TLS handshake; open_link clears
   * it, as a link may be quiet. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  g_socket_set_option (socket, IPPROTO_TCP, TCP_USER_TIMEOUT, UNACKED_TIMEOUT_MS, NULL);
  g_socket_set_keepalive (socket, TRUE);
}

typedef struct
{
  ChatPeers *self;
  guint node;
} DialData;

static void
open_link (ChatPeers *self, Remote *remote, GIOStream *stream)
{
  g_socket_set_timeout (chat_tls_get_socket (stream), 0);
  remote->out = link_new (self, stream, remote->node, TRUE);
  send_hello (remote->out);
  link_begin (remote->out);
}

static void
on_tls_handshake (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree DialData *data = user_data;
  g_autoptr (ChatPeers) self = data->self;
  g_autoptr (GError) error = NULL;
  Remote *remote = &self->remotes[data->node];

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      g_io_stream_close (G_IO_STREAM (source), NULL, NULL);
      if (!self->running)
        return;
      g_message ("TLS with peer %s failed: %s", remote->address, error->message);
      schedule_dial (remote, self);
      return;
    }
  if (self->running)
    open_link (self, remote, G_IO_STREAM (source));
}

/* The peer must present a certificate for its configured host that chains to [tls] ca;
 * ours goes to it the same way. The socket's connect timeout bounds the handshake. */
static void
start_tls (ChatPeers *self, Remote *remote, GSocketConnection *connection, DialData *data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GIOStream) tls
      = chat_tls_wrap_client (self->tls, G_IO_STREAM (connection), remote->connectable, &error);

  if (tls == NULL)
    {
      g_warning ("Cannot start TLS with peer %s: %s", remote->address, error->message);
      g_object_unref (data->self);
      g_free (data);
      schedule_dial (remote, self);
      return;
    }
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, NULL,
                                    on_tls_handshake, data);
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree DialData *data = user_data;
  g_autoptr (ChatPeers) self = data->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection
      = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  Remote *remote = &self->remotes[data->node];

  if (!self->running)
    return;
  if (connection == NULL)
    {
      g_debug ("Cannot reach peer %s: %s", remote->address, error->message);
      schedule_dial (remote, self);
      return;
    }
  tune (connection);
  if (self->tls == NULL)
    {
      open_link (self, remote, G_IO_STREAM (connection));
      return;
    }
  data->self = g_object_ref (self);
  start_tls (self, remote, connection, g_steal_pointer (&data));
}

/* A stream from the dial function is a link at once (no TLS: it is not a network). */
static void
dial_with_func (Remote *remote, ChatPeers *self)
{
  g_autoptr (GIOStream) stream = self->dial_func (remote->node, self->dial_data);

  if (stream == NULL)
    schedule_dial (remote, self);
  else
    open_link (self, remote, stream);
}

static void
dial (Remote *remote, ChatPeers *self)
{
  DialData *data = NULL;

  if (self->dial_func != NULL)
    {
      dial_with_func (remote, self);
      return;
    }
  data = g_new0 (DialData, 1);

  data->self = g_object_ref (self);
  data->node = remote->node;
  g_socket_client_connect_async (self->client, remote->connectable, NULL, on_connected, data);
}

typedef struct
{
  ChatPeers *self;
  guint node;
} RetryData;

static gboolean
on_retry (gpointer user_data)
{
  RetryData *data = user_data;
  Remote *remote = &data->self->remotes[data->node];

  remote->retry_id = 0;
  if (data->self->running && remote->out == NULL)
    dial (remote, data->self);
  return G_SOURCE_REMOVE;
}

static void
schedule_dial (Remote *remote, ChatPeers *self)
{
  RetryData *data = NULL;

  if (remote->retry_id != 0 || remote->out != NULL)
    return;
  remote->backoff_ms = CLAMP (remote->backoff_ms * 2, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
  data = g_new0 (RetryData, 1);
  data->self = self; /* the source is removed before self goes */
  data->node = remote->node;
  remote->retry_id
      = g_timeout_add_full (G_PRIORITY_DEFAULT, remote->backoff_ms, on_retry, data, g_free);
}

void
chat_peers_set_tls (ChatPeers *self, ChatTls *tls)
{
  g_set_object (&self->tls, tls);
}

void
chat_peers_set_dial_func (ChatPeers *self, ChatPeerDialFunc func, gpointer user_data)
{
  g_return_if_fail (CHAT_IS_PEERS (self));

  self->dial_func = func;
  self->dial_data = user_data;
}

/* --- ChatPeers ------------------------------------------------------------------------- */

static void
chat_peers_dispose (GObject *object)
{
  chat_peers_stop (CHAT_PEERS (object));
  G_OBJECT_CLASS (chat_peers_parent_class)->dispose (object);
}

static void
chat_peers_finalize (GObject *object)
{
  ChatPeers *self = CHAT_PEERS (object);

  for (guint i = 1; i <= self->n_remotes; i++)
    {
      g_free (self->remotes[i].address);
      g_clear_object (&self->remotes[i].connectable);
    }
  g_free (self->remotes);
  g_ptr_array_unref (self->unclaimed);
  g_clear_object (&self->client);
  g_clear_object (&self->tls);
  G_OBJECT_CLASS (chat_peers_parent_class)->finalize (object);
}

static void
chat_peers_class_init (ChatPeersClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = chat_peers_dispose;
  object_class->finalize = chat_peers_finalize;
}

static void
chat_peers_init (ChatPeers *self)
{
  self->unclaimed = g_ptr_array_new_with_free_func ((GDestroyNotify)link_unref);
}

ChatPeers *
chat_peers_new (const ChatConfig *config, guint node_id, ChatPeerMessageFunc func,
                gpointer user_data)
{
  ChatPeers *self = g_object_new (CHAT_TYPE_PEERS, NULL);
  guint n = config->servers->len;

  g_return_val_if_fail (node_id >= 1 && node_id <= n, self);
  if (sodium_init () < 0)
    g_error ("libsodium cannot be initialized");
  self->config = config;
  self->node_id = node_id;
  self->func = func;
  self->user_data = user_data;
  self->remotes = g_new0 (Remote, n + 1);
  self->n_remotes = n;
  for (guint i = 1; i <= n; i++)
    {
      const ChatServerAddress *address = g_ptr_array_index (config->servers, i - 1);

      self->remotes[i].node = i;
      self->remotes[i].address = chat_server_address_to_string (address);
      self->remotes[i].connectable = g_network_address_new (address->host, address->port);
    }
  self->client = g_socket_client_new ();
  /* Peers are dialled directly: a proxy would only stand between the servers of one
   * cluster, and GIO's proxy resolver (libproxy) runs a thread per dial. */
  g_socket_client_set_enable_proxy (self->client, FALSE);
  g_socket_client_set_timeout (self->client, CONNECT_TIMEOUT_S);
  return self;
}

void
chat_peers_start (ChatPeers *self)
{
  g_return_if_fail (CHAT_IS_PEERS (self));

  if (self->running)
    return;
  self->running = TRUE;
  for (guint i = 1; i <= self->config->servers->len; i++)
    {
      if (i != self->node_id)
        dial (&self->remotes[i], self);
    }
}

void
chat_peers_stop (ChatPeers *self)
{
  g_return_if_fail (CHAT_IS_PEERS (self));

  self->running = FALSE;
  for (guint i = 1; self->remotes != NULL && i <= self->n_remotes; i++)
    {
      Remote *remote = &self->remotes[i];

      g_clear_handle_id (&remote->retry_id, g_source_remove);
      if (remote->out != NULL)
        link_close (remote->out, "stopping");
      if (remote->in != NULL)
        link_close (remote->in, "stopping");
    }
  while (self->unclaimed->len > 0)
    link_close (g_ptr_array_index (self->unclaimed, 0), "stopping");
}

gboolean
chat_peers_send (ChatPeers *self, guint to, GBytes *line)
{
  Remote *remote = remote_of (self, to);
  Link *link = remote != NULL ? remote->out : NULL;

  if (link == NULL || link->step != STEP_READY
      || link->writes.queued_bytes + g_bytes_get_size (line) + 1 > CHAT_PEER_MAX_QUEUED_BYTES)
    {
      self->dropped++;
      return FALSE;
    }
  link_enqueue (link, line);
  return TRUE;
}

gboolean
chat_peers_is_connected (ChatPeers *self, guint node)
{
  Remote *remote = remote_of (self, node);

  return remote != NULL && remote->out != NULL && remote->out->step == STEP_READY;
}

guint64
chat_peers_get_dropped (ChatPeers *self)
{
  return self->dropped;
}

gboolean
chat_peers_is_hello (const char *line, gsize len)
{
  g_autoptr (JsonObject) object = NULL;

  /* Cheap test first: every client request line would otherwise be parsed twice. */
  if (len > 4096 || g_strstr_len (line, (gssize)len, "\"peer\"") == NULL)
    return FALSE;
  object = chat_json_parse_object (line, len, NULL);
  return object != NULL
         && g_strcmp0 (json_object_get_string_member_with_default (object, "peer", NULL), "hello")
                == 0;
}

/* Checks the hello of an accepted link; answers with our challenge and proof. */
static gboolean
answer_hello (ChatPeers *self, Link *link, JsonObject *hello)
{
  gint64 node = json_object_get_int_member_with_default (hello, "node", 0);
  gint64 to = json_object_get_int_member_with_default (hello, "to", 0);
  const char *nonce = json_object_get_string_member_with_default (hello, "nonce", NULL);
  g_autoptr (JsonObject) challenge = handshake_object ("challenge");
  g_autofree char *proof = NULL;

  if (json_object_get_int_member_with_default (hello, "proto", 0) != PEER_PROTO || node < 1
      || node > (gint64)self->config->servers->len || node == self->node_id || to != self->node_id
      || !valid_nonce (nonce))
    return FALSE;
  link->node = (guint)node;
  g_strlcpy (link->remote_nonce, nonce, sizeof link->remote_nonce);
  make_nonce (link->nonce);
  proof = proof_for (self, "accept", self->node_id, link->node, link->remote_nonce, link->nonce);
  json_object_set_int_member (challenge, "node", self->node_id);
  json_object_set_string_member (challenge, "nonce", link->nonce);
  json_object_set_string_member (challenge, "proof", proof);
  link_send_object (link, challenge);
  link->step = STEP_WAIT_AUTH;
  return TRUE;
}

static char *
remote_host_of (GIOStream *stream)
{
  GSocket *socket = G_IS_SOCKET_CONNECTION (stream)
                        ? g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream))
                        : chat_tls_get_socket (stream);
  g_autoptr (GSocketAddress) address
      = socket != NULL ? g_socket_get_remote_address (socket, NULL) : NULL;

  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("");
  return g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
}

/* The oldest handshake in progress, of one address (host) or of all (NULL); how many of
 * that address there are in *count. */
static Link *
oldest_unclaimed (ChatPeers *self, const char *host, guint *count)
{
  Link *oldest = NULL;

  *count = 0;
  for (guint i = 0; i < self->unclaimed->len; i++)
    {
      Link *link = g_ptr_array_index (self->unclaimed, i);

      if (host != NULL && g_strcmp0 (link->remote_host, host) != 0)
        continue;
      (*count)++;
      if (oldest == NULL || link->accepted_at < oldest->accepted_at)
        oldest = link;
    }
  return oldest;
}

/* Makes room for one more handshake under both bounds. */
static void
make_room (ChatPeers *self, const char *host)
{
  guint count = 0;
  Link *oldest = oldest_unclaimed (self, host, &count);

  if (count >= MAX_UNCLAIMED_PER_ADDRESS)
    link_close (oldest, "too many peer handshakes from one address");
  oldest = oldest_unclaimed (self, NULL, &count);
  if (count >= MAX_UNCLAIMED)
    link_close (oldest, "too many peer handshakes");
}

void
chat_peers_accept (ChatPeers *self, GIOStream *stream, const char *hello_line, gsize len,
                   GBytes *rest)
{
  Link *link = NULL;
  g_autoptr (JsonObject) hello = NULL;
  g_autofree char *host = NULL;

  g_return_if_fail (CHAT_IS_PEERS (self));

  if (!self->running || len > HANDSHAKE_MAX_LINE_BYTES)
    {
      g_io_stream_close (stream, NULL, NULL);
      return;
    }

  if (self->tls != NULL && !chat_tls_peer_is_verified (stream))
    {
      /* Mutual TLS: a peer shows a certificate of the cluster CA before its HMAC proof. */
      g_message ("Refusing a peer hello from a connection without a verified certificate");
      g_io_stream_close (stream, NULL, NULL);
      return;
    }
  host = remote_host_of (stream);
  make_room (self, host);
  link = link_new (self, stream, 0, FALSE);
  link->remote_host = g_steal_pointer (&host);
  link->accepted_at = g_get_monotonic_time ();
  g_ptr_array_add (self->unclaimed, link);
  if (G_IS_SOCKET_CONNECTION (stream))
    tune (G_SOCKET_CONNECTION (stream));
  else
    g_socket_set_keepalive (chat_tls_get_socket (stream), TRUE);
  hello = chat_json_parse_object (hello_line, len, NULL);
  if (hello == NULL || !answer_hello (self, link, hello))
    {
      link_close (link, "a bad peer hello");
      return;
    }
  if (rest != NULL && g_bytes_get_size (rest) > 0)
    chat_line_buffer_feed (link->lines, g_bytes_get_data (rest, NULL), g_bytes_get_size (rest));
  link_begin (link);
  process_lines (link);
}
