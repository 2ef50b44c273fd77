// People's live state: presence (online, away, ...), who is typing where, and avatar versions.

import { api } from '../api';
import type { PresenceStatus } from '../types';
import { session } from './session.svelte';

const PRESENCE_CODES: PresenceStatus[] = ['offline', 'online', 'away', 'busy'];
const TYPING_TTL = 6_000;

class Presence {
  /** username → presence. */
  statuses = $state<Record<string, PresenceStatus>>({});
  /**
   * username → the avatar's version, for the `etag` query that busts the browser's cache
   * (avatars are served with a long max-age). Fed by `me.avatarETag` and `updateAvatar`.
   */
  avatars = $state<Record<string, string>>({});
  /** rid → username → when the typing indicator expires. */
  typing = $state<Record<string, Record<string, number>>>({});

  private lastTypingSent = 0;

  statusOf(username: string): PresenceStatus {
    return this.statuses[username] ?? 'offline';
  }

  /** A `user-status` event: `[id, username, status code, status text?]` entries. */
  applyStatuses(entries: [string, string, number, string?][]) {
    for (const [id, username, code, text] of entries) {
      this.statuses[username] = PRESENCE_CODES[code] ?? 'offline';
      const me = session.me;
      if (me && id === me._id) {
        me.status = this.statuses[username];
        if (text !== undefined) me.statusText = text;
      }
    }
  }

  /** Asks the server for the user's own presence (it changes when the connection goes live). */
  async refreshOwn() {
    const me = session.me;
    if (!me) return;
    try {
      const { presence } = await api.userPresence(me._id);
      this.statuses[me.username] = presence;
      me.status = presence;
    } catch {
      // The status stream corrects it later.
    }
  }

  /** Fetches a user's presence unless it is known already. */
  async lookUp(username: string) {
    if (username in this.statuses) return;
    try {
      const { user } = await api.userInfo(username);
      if (!(username in this.statuses) && user.status) this.statuses[username] = user.status;
    } catch {
      // Unknown presence shows as offline.
    }
  }

  /** Presence of several users (the sidebar's direct messages), at most 40. */
  async lookUpAll(usernames: string[]) {
    const names = usernames.filter((name) => !(name in this.statuses)).slice(0, 40);
    await Promise.all(names.map((name) => this.lookUp(name)));
  }

  async setStatus(status: PresenceStatus, text?: string) {
    const me = session.me;
    if (!me) return;
    await api.setStatus(status, text);
    me.status = status;
    this.statuses[me.username] = status;
    if (text !== undefined) me.statusText = text;
  }

  // Typing.

  /** A `user-activity` event in `rid`. */
  applyActivity(rid: string, username: string, activities: string[]) {
    if (username === session.me?.username) return;
    const room = (this.typing[rid] ??= {});
    if (activities.includes('user-typing')) room[username] = Date.now() + TYPING_TTL;
    else delete room[username];
  }

  /** A message from `username` in `rid` ends their typing indicator. */
  stoppedTyping(rid: string, username: string) {
    const room = this.typing[rid];
    if (room && username in room) delete room[username];
  }

  /** Drops expired typing indicators (every second while logged in). */
  sweepTyping() {
    const now = Date.now();
    for (const room of Object.values(this.typing)) {
      for (const [username, until] of Object.entries(room)) if (until < now) delete room[username];
    }
  }

  /** Usernames whose typing indicator shows in `rid`. */
  typers(rid: string): string[] {
    return Object.keys(this.typing[rid] ?? {});
  }

  /** Tells the room this user is typing; at most every 3 s while it lasts. */
  typingIn(rid: string, typing: boolean, tmid?: string) {
    const me = session.me;
    if (!me) return;
    const now = Date.now();
    if (typing && now - this.lastTypingSent < 3_000) return;
    this.lastTypingSent = typing ? now : 0;
    api.ddp.notify(
      'stream-notify-room',
      `${rid}/user-activity`,
      me.username,
      typing ? ['user-typing'] : [],
      tmid ? { tmid } : {},
    );
  }

  // Avatars.

  /** The URL of a user's avatar, versioned so a change shows without a reload. */
  avatarUrl(username: string): string {
    const version = this.avatars[username];
    const path = `/avatar/${encodeURIComponent(username)}`;
    return version ? `${path}?etag=${encodeURIComponent(version)}` : path;
  }

  /**
   * A new avatar (or none, after a reset). A reset has no etag, yet the URL must still change:
   * the browser holds the old image under the old URL.
   */
  avatarChanged(username: string, etag?: string) {
    this.avatars[username] = etag || `r${Date.now().toString(36)}`;
    const me = session.me;
    if (me?.username === username) me.avatarETag = etag;
  }

  /** At logout; known presence stays (it is not the user's). */
  reset() {
    this.typing = {};
    this.avatars = {};
  }
}

export const presence = new Presence();
