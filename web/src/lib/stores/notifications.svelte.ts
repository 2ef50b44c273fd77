// What the client tells the user: the toast (errors, confirmations, notifications when the
// system's are not allowed) and desktop notifications from `<uid>/notification`.

import { router, roomPath } from '../router.svelte';
import { rooms } from './rooms.svelte';

export interface DesktopNotification {
  title: string;
  text: string;
  payload?: { _id?: string; rid?: string; type?: string; sender?: { username: string; name?: string } };
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
