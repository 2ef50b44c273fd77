// What the client tells the user: the toast (errors, confirmations, notifications when the
// system's are not allowed) and desktop notifications from `<uid>/notification`.

import { router, roomPath } from '../router.svelte';
import type { Subscription } from '../types';
import { rooms } from './rooms.svelte';
import { session } from './session.svelte';

export interface DesktopNotification {
  title: string;
  text: string;
  payload?: {
    _id?: string;
    rid?: string;
    type?: string;
    sender?: { username: string; name?: string };
    message?: { msg?: string };
  };
}

/** One of the user's account preferences (`settings.preferences`). */
function preference(key: string): unknown {
  return session.me?.settings?.preferences?.[key];
}

/** A room preference, where "default" (or none) defers to the account's. */
function roomOrAccount(own: string | undefined, accountKey: string, fallback: string): string {
  if (own && own !== 'default') return own;
  const account = preference(accountKey);
  return typeof account === 'string' && account ? account : fallback;
}

/**
 * Whether the user wants a desktop notification of `note` under their saved preferences: none
 * for a muted room; the room's level (else the account's): everything, mentions (direct
 * messages, their name, `@all`/`@here` unless the room mutes group mentions), or nothing.
 */
export function wantsDesktop(note: DesktopNotification, sub: Subscription | undefined): boolean {
  if (!sub) return true;
  if (sub.disableNotifications) return false;
  const level = roomOrAccount(sub.desktopNotifications, 'desktopNotifications', 'all');
  if (level === 'nothing') return false;
  if (level === 'all' || sub.t === 'd') return true;
  const text = note.payload?.message?.msg ?? note.text;
  const me = session.me?.username;
  // Usernames are letters, digits, `.`, `_` and `-`; only the dot needs escaping.
  const named = (word: string) => new RegExp(`(^|[^\\w@])@${word.replace(/\./g, '\\.')}(?![\\w.-])`, 'i').test(text);
  if (me && named(me)) return true;
  return !sub.muteGroupMentions && (named('all') || named('here'));
}

class Notifications {
  /** A short notice for the user (errors, confirmations). */
  toast = $state<{ text: string; kind: 'error' | 'info'; rid?: string } | null>(null);
  /** The browser's answer about desktop notifications ('unsupported' without the API). */
  permission = $state<NotificationPermission | 'unsupported'>(
    typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
  );

  private toastTimer: ReturnType<typeof setTimeout> | null = null;

  notify(text: string, kind: 'error' | 'info' = 'info', rid?: string) {
    this.toast = { text, kind, rid };
    if (this.toastTimer) clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (this.toast = null), 5_000);
  }

  fail(error: unknown) {
    const text = error instanceof Error ? error.message : String(error);
    this.notify(text, 'error');
  }

  async enable() {
    if (typeof Notification === 'undefined') return;
    this.permission = await Notification.requestPermission();
  }

  /** A desktop notification from the server: the system's when allowed, else a toast. */
  show(note: DesktopNotification) {
    const rid = note.payload?.rid;
    // The room on screen in a focused tab needs no notification.
    if (rid && rid === rooms.current && document.visibilityState === 'visible' && document.hasFocus()) return;
    if (!wantsDesktop(note, rid ? rooms.subs[rid] : undefined)) return;
    if (typeof Notification !== 'undefined' && Notification.permission === 'granted') {
      try {
        const shown = new Notification(note.title, { body: note.text, tag: note.payload?._id });
        shown.onclick = () => {
          window.focus();
          openRoom(rid);
        };
        return;
      } catch {
        // Some browsers only allow notifications from a service worker: fall back to the toast.
      }
    }
    this.notify(`${note.title}: ${note.text}`, 'info', rid);
  }

  /**
   * A new message by someone else in one of the user's rooms: the new-message sound, the room's own (else the account's
   * `newMessageNotification`), at the account's volume; silent for a muted room, for "none",
   * and for the room on screen in a focused tab.
   */
  newMessage(sub: Subscription) {
    if (sub.disableNotifications) return;
    if (sub.rid === rooms.current && document.visibilityState === 'visible' && document.hasFocus()) return;
    const sound = roomOrAccount(sub.audioNotificationValue, 'newMessageNotification', 'chime');
    if (sound === 'none') return;
    const volume = preference('notificationsSoundVolume');
    void import('../sounds').then(({ playSound }) => playSound(sound, typeof volume === 'number' ? volume : 100));
  }

  /** Opens the room a notification toast is about. */
  openToast() {
    const rid = this.toast?.rid;
    this.toast = null;
    openRoom(rid);
  }
}

function openRoom(rid: string | undefined) {
  const sub = rid ? rooms.subs[rid] : undefined;
  if (sub) router.go(roomPath(sub.t, sub.name, sub.rid));
}

export const notifications = new Notifications();
