/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Account handlers: signup, login, resume, logout, delete_account and list_users. */
#define G_LOG_DOMAIN "chatd-dispatch"

#include "chat-dispatch-private.h"

#include "chat-connection.h"
#include "chat-error.h"
#include "chat-journal.h"
#include "chat-json.h"
#include "chat-username.h"

#include <sodium.h>

/* Fields naming a user or holding a password are read with room to spare and then
 * judged by their own rules, so an overlong name is invalid_username, not too_large. */
#define MAX_NAME_FIELD_BYTES 4096
#define MAX_PASSWORD_FIELD_BYTES (CHAT_PASSWORD_MAX_BYTES * 4)

typedef struct
{
  ChatDispatch *dispatch;
  ChatRequest *request;
  char *username; /* display name */
  char *password; /* wiped when freed */
  char *token;    /* handed to the client once committed */
  char *session_hash;
  gint64 account_since; /* the account whose hash was verified (login, delete_account) */
} AuthCall;

static void
auth_call_free (AuthCall *call)
{
  g_object_unref (call->dispatch);
  chat_request_unref (call->request);
  g_free (call->username);
  if (call->password != NULL)
    sodium_memzero (call->password, strlen (call->password));
  g_free (call->password);
  g_free (call->token);
  g_free (call->session_hash);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthCall, auth_call_free)

static AuthCall *
auth_call_new (ChatDispatch *self, ChatRequest *request, const char *username, const char *password)
{
  AuthCall *call = g_new0 (AuthCall, 1);

  call->dispatch = g_object_ref (self);
  call->request = chat_request_ref (request);
  call->username = g_strdup (username);
  call->password = g_strdup (password);
  call->account_since = -1;
  return call;
}

static guint64
unread_total (ChatDispatch *self, const char *username)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) counts = chat_store_unread_count (self->store, username, &error);

  if (counts == NULL)
    {
      g_warning ("Counting unread messages failed: %s", error->message);
      return 0;
    }
  return (guint64)json_object_get_int_member_with_default (counts, "total", 0);
}

static JsonObject *
user_object (const char *username)
{
  JsonObject *user = json_object_new ();

  json_object_set_string_member (user, "username", username);
  return user;
}

/* After a committed signup or login: log the connection in and hand out the token. */
static void
on_session_committed (ChatDispatch *self, ChatRequest *request, ChatApplyResult *result,
                      gpointer data)
{
  AuthCall *call = data;
  g_autoptr (JsonObject) reply = json_object_ref (result->reply);

  chat_sessions_attach (self->sessions, chat_request_get_connection (request), call->session_hash,
                        call->username);
  json_object_set_string_member (reply, "session", call->token);
  if (!json_object_has_member (reply, "user"))
    json_object_set_object_member (reply, "user", user_object (call->username));
  if (g_str_equal (chat_request_get_op (request), "login")
      && !json_object_has_member (reply, "unread"))
    json_object_set_int_member (reply, "unread", (gint64)unread_total (self, call->username));
  chat_request_reply (request, reply);
}

/* The account whose password was verified, not the one the connection is logged in as
 * (a logged-in client may log in as somebody else). None (gone meanwhile): 0, which no
 * signup's time matches, so the op is refused rather than acting for a later account. */
static void
stamp_verified_account (JsonObject *op, const AuthCall *call)
{
  json_object_set_int_member (op, "account_since", MAX (call->account_since, 0));
}

/* A signup (password_hash set) acts for no account yet; a login for the verified one. */
static void
propose_session (AuthCall *call, const char *op_name, const char *password_hash)
{
  g_autoptr (JsonObject) op = chat_dispatch_new_op (call->dispatch, call->request, op_name);
  ChatDispatch *self = call->dispatch;
  ChatRequest *request = call->request;

  chat_auth_new_session (&call->token, &call->session_hash);
  json_object_set_string_member (op, "username", call->username);
  if (password_hash != NULL)
    json_object_set_string_member (op, "password_hash", password_hash);
  if (password_hash != NULL)
    json_object_remove_member (op, "account_since");
  else
    stamp_verified_account (op, call);
  json_object_set_string_member (op, "session", call->session_hash);
  json_object_set_int_member (op, "at", chat_dispatch_now_ms ());
  chat_dispatch_propose (self, request, op, on_session_committed, call,
                         (GDestroyNotify)auth_call_free);
}

static gboolean
read_credentials (JsonObject *params, const char **username, const char **password, GError **error)
{
  return chat_json_get_string (params, "username", TRUE, MAX_NAME_FIELD_BYTES, username, error)
         && chat_json_get_string (params, "password", TRUE, MAX_PASSWORD_FIELD_BYTES, password,
                                  error)
         && chat_password_validate (*password, error);
}

/* --- signup ------------------------------------------------------------------- */

static void
on_signup_hashed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (AuthCall) call = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *hash = chat_auth_hash_password_finish (CHAT_AUTH (source), res, &error);

  if (hash == NULL)
    {
      chat_dispatch_fail (call->request, error);
      return;
    }
  propose_session (g_steal_pointer (&call), "signup", hash);
}

void
chat_dispatch_signup (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  const char *username = NULL, *password = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *existing = NULL;
  AuthCall *call = NULL;

  if (!chat_json_get_string (params, "username", TRUE, MAX_NAME_FIELD_BYTES, &username, &error)
      || !chat_username_validate (username, &error)
      || !read_credentials (params, &username, &password, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  existing = chat_store_user_name (self->store, username);
  if (existing != NULL)
    {
      chat_request_fail_literal (request, CHAT_ERROR_USERNAME_TAKEN, "That username is taken");
      return;
    }
  call = auth_call_new (self, request, username, password);
  chat_auth_hash_password_async (self->auth, password, NULL, on_signup_hashed, call);
}

/* --- login -------------------------------------------------------------------- */

static const char *
throttle_message (ChatThrottleVerdict verdict)
{
  switch (verdict)
    {
      case CHAT_THROTTLE_ADDRESS:
        return "Too many failed logins from this address; wait and retry";
      case CHAT_THROTTLE_ACCOUNT:
        return "Too many failed logins for this user from new addresses; wait and retry";
      case CHAT_THROTTLE_PAIR:
      case CHAT_THROTTLE_ADMITTED:
      default:
        return "Too many failed logins for this user from this address; wait and retry";
    }
}

static void
fail_rate_limited (ChatRequest *request, ChatThrottleVerdict verdict, guint64 retry_after_ms)
{
  g_autoptr (GError) error
      = g_error_new_literal (CHAT_ERROR, CHAT_ERROR_RATE_LIMITED, throttle_message (verdict));
  g_autoptr (JsonObject) extra = json_object_new ();

  json_object_set_int_member (extra, "retry_after_ms", (gint64)retry_after_ms);
  chat_request_fail_with (request, error, extra);
}

/* The address throttling keys on: the client's IPv4 address or IPv6 /64. */
static char *
request_address (ChatRequest *request)
{
  ChatConnection *conn = chat_request_get_connection (request);

  return chat_throttle_address_key (conn != NULL ? chat_connection_get_peer (conn) : NULL);
}

/* The journal says who was throttled from where and why; never the password. A refused
 * guesser is logged once per refusal period, not once per attempt. */
static void
log_throttled (const char *key, const char *address, ChatThrottleVerdict verdict,
               guint64 retry_after_ms)
{
  chat_journal_event (CHAT_EVENT_LOGIN_THROTTLED, 0, NULL, NULL,
                      "logins for user “%s” from %s refused for %" G_GUINT64_FORMAT
                      " ms (%s budget spent)",
                      key, address, retry_after_ms, chat_throttle_verdict_name (verdict));
}

/* Checks the throttle; an admitted attempt counts as a failure until it succeeds, so
 * attempts running at the same time are limited too. */
static gboolean
admit_attempt (ChatDispatch *self, ChatRequest *request, const char *username)
{
  g_autofree char *key = chat_username_key (username);
  g_autofree char *address = request_address (request);
  ChatThrottle *throttle = chat_auth_get_throttle (self->auth);
  guint64 retry_after_ms = 0;
  ChatThrottleVerdict verdict
      = chat_throttle_admit (throttle, key, address, g_get_monotonic_time (), &retry_after_ms);

  if (verdict == CHAT_THROTTLE_ADMITTED)
    return TRUE;
  if (chat_throttle_should_log (throttle, key, address, g_get_monotonic_time ()))
    log_throttled (key, address, verdict, retry_after_ms);
  fail_rate_limited (request, verdict, retry_after_ms);
  return FALSE;
}

static void
forgive_attempt (ChatDispatch *self, ChatRequest *request, const char *username)
{
  g_autofree char *key = chat_username_key (username);
  g_autofree char *address = request_address (request);

  chat_throttle_succeeded (chat_auth_get_throttle (self->auth), key, address,
                           g_get_monotonic_time ());
}

static void
on_login_verified (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (AuthCall) call = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *display = NULL;
  gboolean ok = chat_auth_verify_password_finish (CHAT_AUTH (source), res, &error);

  if (error != NULL)
    {
      chat_dispatch_fail (call->request, error);
      return;
    }
  display = ok ? chat_store_user_name (call->dispatch->store, call->username) : NULL;
  if (display == NULL)
    {
      chat_request_fail_literal (call->request, CHAT_ERROR_BAD_CREDENTIALS,
                                 "Wrong username or password");
      return;
    }
  forgive_attempt (call->dispatch, call->request, call->username);
  g_free (call->username);
  call->username = g_steal_pointer (&display);
  propose_session (g_steal_pointer (&call), "login", NULL);
}

void
chat_dispatch_login (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  const char *username = NULL, *password = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *hash = NULL;
  AuthCall *call = NULL;

  if (!read_credentials (params, &username, &password, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  if (!admit_attempt (self, request, username))
    return;
  /* No such user: the same Argon2id work against a fixed hash, then the same answer. */
  if (chat_username_validate (username, NULL))
    hash = chat_store_password_hash (self->store, username);
  call = auth_call_new (self, request, username, password);
  call->account_since = chat_store_account_since (self->store, username, NULL);
  chat_auth_verify_password_async (self->auth, hash, password, NULL, on_login_verified, call);
}

/* --- resume and logout ---------------------------------------------------------- */

void
chat_dispatch_resume (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  const char *token = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *username = NULL;
  g_autoptr (JsonObject) reply = json_object_new ();

  if (!chat_json_get_string (params, "session", TRUE, CHAT_DISPATCH_MAX_SESSION_BYTES, &token,
                             &error))
    {
      chat_request_fail (request, error);
      return;
    }
  hash = chat_auth_session_hash (token);
  username = hash ? chat_store_session_user (self->store, hash) : NULL;
  if (username == NULL)
    {
      chat_request_fail_literal (request, CHAT_ERROR_UNAUTHENTICATED,
                                 "The session is unknown or has ended; log in again");
      return;
    }
  chat_sessions_attach (self->sessions, chat_request_get_connection (request), hash, username);
  json_object_set_object_member (reply, "user", user_object (username));
  json_object_set_int_member (reply, "unread", (gint64)unread_total (self, username));
  chat_request_reply (request, reply);
}

static void
reply_empty (ChatDispatch *self, ChatRequest *request, ChatApplyResult *result, gpointer data)
{
  chat_request_reply (request, NULL);
}

void
chat_dispatch_logout (ChatDispatch *self, ChatRequest *request)
{
  g_autoptr (JsonObject) op = chat_dispatch_new_op (self, request, "logout");

  json_object_set_string_member (op, "session", chat_request_get_session_hash (request));
  chat_dispatch_propose (self, request, op, reply_empty, NULL, NULL);
}

/* --- delete_account --------------------------------------------------------------- */

static void
on_delete_verified (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (AuthCall) call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) op = NULL;
  gboolean ok = chat_auth_verify_password_finish (CHAT_AUTH (source), res, &error);

  if (error != NULL)
    {
      chat_dispatch_fail (call->request, error);
      return;
    }
  if (!ok)
    {
      chat_request_fail_literal (call->request, CHAT_ERROR_BAD_CREDENTIALS, "Wrong password");
      return;
    }
  forgive_attempt (call->dispatch, call->request, call->username);
  op = chat_dispatch_new_op (call->dispatch, call->request, "delete_account");
  json_object_set_string_member (op, "username", call->username);
  stamp_verified_account (op, call);
  chat_dispatch_propose (call->dispatch, call->request, op, reply_empty, NULL, NULL);
}

void
chat_dispatch_delete_account (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  const char *password = NULL;
  const char *username = chat_request_get_username (request);
  g_autoptr (GError) error = NULL;
  g_autofree char *hash = NULL;
  AuthCall *call = NULL;

  if (!chat_json_get_string (params, "password", TRUE, MAX_PASSWORD_FIELD_BYTES, &password, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  if (!admit_attempt (self, request, username))
    return;
  hash = chat_store_password_hash (self->store, username);
  call = auth_call_new (self, request, username, password);
  call->account_since = chat_store_account_since (self->store, username, NULL);
  chat_auth_verify_password_async (self->auth, hash, password, NULL, on_delete_verified, call);
}

/* --- list_users ------------------------------------------------------------------- */

void
chat_dispatch_list_users (ChatDispatch *self, ChatRequest *request)
{
  JsonObject *params = chat_request_get_params (request);
  const char *pattern = "", *after = NULL;
  guint limit = 0;
  gboolean more = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonArray) users = NULL;
  g_autoptr (JsonObject) reply = json_object_new ();

  if (!chat_json_get_string (params, "pattern", FALSE, CHAT_DISPATCH_MAX_PATTERN_BYTES, &pattern,
                             &error)
      || !chat_json_get_string (params, "after", FALSE, MAX_NAME_FIELD_BYTES, &after, &error)
      || !chat_dispatch_get_limit (params, CHAT_DISPATCH_DEFAULT_LIMIT, &limit, &error))
    {
      chat_request_fail (request, error);
      return;
    }
  users = chat_store_list_users (self->store, pattern, after, limit, &more, &error);
  if (users == NULL)
    {
      chat_dispatch_fail (request, error);
      return;
    }
  json_object_set_array_member (reply, "users", g_steal_pointer (&users));
  json_object_set_boolean_member (reply, "more", more);
  chat_request_reply (request, reply);
}
