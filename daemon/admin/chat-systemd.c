/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ChatSystemd: sd_notify READY/STATUS/STOPPING and the health-gated watchdog keepalive. */
#define G_LOG_DOMAIN "chatd-systemd"

#include "config.h"

#include "chat-systemd.h"

#if HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

/* STATUS= updates are sent at most this often (cluster changes can be frequent). */
#define STATUS_COALESCE_MS 200

struct _ChatSystemd
{
  GObject parent_instance;

  ChatStatusFunc status_func;
  gpointer status_data;
  GDestroyNotify status_notify;
  ChatHealthFunc health_func;
  gpointer health_data;
  GDestroyNotify health_notify;

  char *last_status;
  guint64 watchdog_interval_usec;
  guint watchdog_source;
  guint status_source;
  gboolean unhealthy; /* last health check failed (logged once per episode) */
  gboolean stopping;
};

G_DEFINE_FINAL_TYPE (ChatSystemd, chat_systemd, G_TYPE_OBJECT)

static void
notify_manager (const char *state)
{
#if HAVE_SYSTEMD
  int r = sd_notify (0, state);

  if (r < 0)
    g_debug ("sd_notify failed: %s", g_strerror (-r));
#endif
}

gboolean
chat_systemd_is_supervised (void)
{
#if HAVE_SYSTEMD
  const char *socket = g_getenv ("NOTIFY_SOCKET");

  return socket != NULL && *socket != '\0';
#else
  return FALSE;
#endif
}

static guint64
read_watchdog_usec (void)
{
#if HAVE_SYSTEMD
  uint64_t usec = 0;

  if (sd_watchdog_enabled (0, &usec) > 0)
    return usec;
#endif
  return 0;
}

static gboolean
check_health (ChatSystemd *self)
{
  g_autoptr (GError) error = NULL;

  if (self->health_func == NULL || self->health_func (self->health_data, &error))
    {
      if (self->unhealthy)
        g_message ("health check passes again, feeding the watchdog");
      self->unhealthy = FALSE;
      return TRUE;
    }
  if (!self->unhealthy)
    g_warning ("health check failed, not feeding the watchdog: %s",
               error != NULL ? error->message : "unknown reason");
  self->unhealthy = TRUE;
  return FALSE;
}

static gboolean
on_watchdog_tick (gpointer user_data)
{
  ChatSystemd *self = CHAT_SYSTEMD (user_data);

  if (check_health (self))
    notify_manager ("WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

static void
start_watchdog (ChatSystemd *self)
{
  guint64 usec = read_watchdog_usec ();
  guint interval_ms;

  if (usec == 0)
    return;
  self->watchdog_interval_usec = usec / 2;
  interval_ms = MAX (1, (guint)MIN (self->watchdog_interval_usec / 1000, G_MAXUINT));
  self->watchdog_source = g_timeout_add (interval_ms, on_watchdog_tick, self);
  g_source_set_name_by_id (self->watchdog_source, "[chatd] watchdog keepalive");
  g_debug ("watchdog enabled, keepalive every %u ms", interval_ms);
}

static void
clear_source (guint *source)
{
  if (*source != 0)
    g_source_remove (*source);
  *source = 0;
}

static void
chat_systemd_finalize (GObject *object)
{
  ChatSystemd *self = CHAT_SYSTEMD (object);

  clear_source (&self->watchdog_source);
  clear_source (&self->status_source);
  if (self->status_notify != NULL)
    self->status_notify (self->status_data);
  if (self->health_notify != NULL)
    self->health_notify (self->health_data);
  g_free (self->last_status);
  G_OBJECT_CLASS (chat_systemd_parent_class)->finalize (object);
}

static void
chat_systemd_class_init (ChatSystemdClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = chat_systemd_finalize;
}

static void
chat_systemd_init (ChatSystemd *self)
{
  start_watchdog (self);
}

ChatSystemd *
chat_systemd_new (void)
{
  return g_object_new (CHAT_TYPE_SYSTEMD, NULL);
}

guint64
chat_systemd_get_watchdog_interval (ChatSystemd *self)
{
  g_return_val_if_fail (CHAT_IS_SYSTEMD (self), 0);
  return self->watchdog_interval_usec;
}

void
chat_systemd_set_status_func (ChatSystemd *self, ChatStatusFunc func, gpointer user_data,
                              GDestroyNotify notify)
{
  g_return_if_fail (CHAT_IS_SYSTEMD (self));

  if (self->status_notify != NULL)
    self->status_notify (self->status_data);
  self->status_func = func;
  self->status_data = user_data;
  self->status_notify = notify;
}

void
chat_systemd_set_health_func (ChatSystemd *self, ChatHealthFunc func, gpointer user_data,
                              GDestroyNotify notify)
{
  g_return_if_fail (CHAT_IS_SYSTEMD (self));

  if (self->health_notify != NULL)
    self->health_notify (self->health_data);
  self->health_func = func;
  self->health_data = user_data;
  self->health_notify = notify;
}

/* Sends STATUS=text (with an optional state line before it) unless it is unchanged. */
static void
send_status (ChatSystemd *self, const char *state, const char *text)
{
  g_autofree char *message = NULL;

  if (state == NULL && g_strcmp0 (text, self->last_status) == 0)
    return;
  g_free (self->last_status);
  self->last_status = g_strdup (text);
  if (state != NULL)
    message = g_strdup_printf ("%s\nSTATUS=%s", state, text);
  else
    message = g_strdup_printf ("STATUS=%s", text);
  notify_manager (message);
}

static char *
current_status_text (ChatSystemd *self)
{
  g_autoptr (ChatStatus) status = chat_status_new ();

  if (self->status_func == NULL)
    return g_strdup (self->last_status != NULL ? self->last_status : "running");
  self->status_func (status, CHAT_STATUS_WANT_DEFAULT, self->status_data);
  return chat_status_describe (status);
}

void
chat_systemd_ready (ChatSystemd *self)
{
  g_autofree char *text = NULL;

  g_return_if_fail (CHAT_IS_SYSTEMD (self));

  text = current_status_text (self);
  send_status (self, "READY=1", text);
}

static gboolean
on_status_timeout (gpointer user_data)
{
  ChatSystemd *self = CHAT_SYSTEMD (user_data);
  g_autofree char *text = NULL;

  self->status_source = 0;
  if (self->stopping)
    return G_SOURCE_REMOVE;
  text = current_status_text (self);
  send_status (self, NULL, text);
  return G_SOURCE_REMOVE;
}

void
chat_systemd_status_changed (ChatSystemd *self)
{
  g_return_if_fail (CHAT_IS_SYSTEMD (self));

  if (self->status_source != 0 || self->stopping)
    return;
  self->status_source = g_timeout_add (STATUS_COALESCE_MS, on_status_timeout, self);
  g_source_set_name_by_id (self->status_source, "[chatd] sd_notify status");
}

void
chat_systemd_stopping (ChatSystemd *self)
{
  g_return_if_fail (CHAT_IS_SYSTEMD (self));

  if (self->stopping)
    return;
  self->stopping = TRUE;
  clear_source (&self->status_source);
  send_status (self, "STOPPING=1", "stopping");
}
