// The client's state: who is logged in, their rooms and subscriptions, the timelines of the
// rooms they opened, typing and presence. Everything updates live from DDP; REST loads the
// initial state and fills gaps after a reconnection.

import { api, ApiError, randomId, type ConnectionState } from './api';
import { router, roomPath } from './router.svelte';
import {
  toMillis,
  type Message,
  type PresenceStatus,
  type Room,
  type Subscription,
  type User,
} from './types';

interface DesktopNotification {
  title: string;
  text: string;
  payload?: { _id?: string; rid?: string; type?: string; sender?: { username: string; name?: string } };
}

const PRESENCE_CODES: PresenceStatus[] = ['offline', 'online', 'away', 'busy'];
const TYPING_TTL = 6_000;
const PAGE = 50;
/** Rooms whose live stream stays subscribed after the user moves on. */
const LIVE_ROOMS = 12;

/** True for messages that belong only to a thread (not shown in the main timeline). */
export function threadOnly(message: Message): boolean {
  return Boolean(message.tmid) && !message.tshow;
}

function byTs(a: Message, b: Message) {
  return toMillis(a.ts) - toMillis(b.ts);
}

/** Inserts or replaces `message` in a list sorted by time; returns a new list. */
export function upsertSorted(list: Message[], message: Message): Message[] {
  const index = list.findIndex((m) => m._id === message._id);
  const next = list.slice();
  if (index >= 0) {
    next[index] = message;
    const before = next[index - 1];
    const after = next[index + 1];
    if ((before && byTs(before, message) > 0) || (after && byTs(message, after) > 0)) {
      next.sort(byTs);
    }
    return next;
  }
  let at = next.length;
  while (at > 0 && byTs(next[at - 1], message) > 0) at--;
  next.splice(at, 0, message);
  return next;
}

/** A room's loaded messages (main timeline, oldest first). */
export class Timeline {
  messages = $state.raw<Message[]>([]);
  hasMore = $state(true);
  loading = $state(false);
  loaded = $state(false);
  error = $state<string | null>(null);
  /** Newest `_updatedAt` seen: where a catch-up starts. */
  lastUpdate = 0;
  constructor(public rid: string) {}
}

/** A thread's replies, oldest first. */
export class Thread {
  messages = $state.raw<Message[]>([]);
  loading = $state(false);
  loaded = $state(false);
  constructor(public tmid: string) {}
}

/** The public FileUpload_* settings the client checks before sending a file. */
export interface UploadLimits {
  enabled: boolean;
  enabledDirect: boolean;
  /** Bytes; negative means no limit (upstream's -1). */
  maxSize: number;
  allow: string;
  deny: string;
}

class Chat {
  me = $state<User | null>(null);
  /** Server defaults until the public settings arrive; the server checks again anyway. */
  uploadLimits = $state<UploadLimits>({
    enabled: true,
    enabledDirect: true,
    maxSize: 104_857_600,
    allow: '',
    deny: 'image/svg+xml',
  });
  ready = $state(false);
  conn = $state<ConnectionState>('offline');
  subs = $state<Record<string, Subscription>>({});
  rooms = $state<Record<string, Room>>({});
  presence = $state<Record<string, PresenceStatus>>({});
  /**
   * username → the avatar's version, for the `etag` query that busts the browser's cache
   * (avatars are served with a long max-age). Fed by `me.avatarETag` and `updateAvatar`.
   */
  avatars = $state<Record<string, string>>({});
  /** rid → username → when the typing indicator expires. */
  typing = $state<Record<string, Record<string, number>>>({});
  siteName = $state('Comet');
  /** A short notice for the user (errors, confirmations). */
  toast = $state<{ text: string; kind: 'error' | 'info'; rid?: string } | null>(null);
  /** The browser's answer about desktop notifications ('unsupported' without the API). */
  notificationPermission = $state<NotificationPermission | 'unsupported'>(
    typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
  );

  private timelines = new Map<string, Timeline>();
  private threads = new Map<string, Thread>();
  private live = new Map<string, () => void>();
  private stops: (() => void)[] = [];
  private toastTimer: ReturnType<typeof setTimeout> | null = null;
  private readTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private lastTypingSent = 0;
  onLoggedOut: () => void = () => {};

  /** Rooms with something new, for the tab title. */
  get unreadRooms(): number {
    return Object.values(this.subs).filter((s) => s.unread > 0 || s.alert).length;
  }

  get isAdmin() {
    return Boolean(this.me?.roles?.includes('admin'));
  }

  notify(text: string, kind: 'error' | 'info' = 'info', rid?: string) {
    this.toast = { text, kind, rid };
    if (this.toastTimer) clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (this.toast = null), 5_000);
  }

  async enableNotifications() {
    if (typeof Notification === 'undefined') return;
    this.notificationPermission = await Notification.requestPermission();
  }

  /** A desktop notification from the server: the system's when allowed, else a toast. */
  private onNotification(note: DesktopNotification) {
    const rid = note.payload?.rid;
    // The room on screen in a focused tab needs no notification.
    if (rid && rid === this.current && document.visibilityState === 'visible' && document.hasFocus()) return;
    const open = () => {
      const sub = rid ? this.subs[rid] : undefined;
      if (sub) router.go(roomPath(sub.t, sub.name, sub.rid));
    };
    if (typeof Notification !== 'undefined' && Notification.permission === 'granted') {
      try {
        const shown = new Notification(note.title, { body: note.text, tag: note.payload?._id });
        shown.onclick = () => {
          window.focus();
          open();
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
    const sub = rid ? this.subs[rid] : undefined;
    this.toast = null;
    if (sub) router.go(roomPath(sub.t, sub.name, sub.rid));
  }

  fail(error: unknown) {
    const text = error instanceof Error ? error.message : String(error);
    this.notify(text, 'error');
  }

  /** Loads everything for the logged-in user and goes live. */
  async start() {
    const session = api.session;
    if (!session) return;
    api.rest.onUnauthorized = () => void this.logout();
    // Everything the first screen needs, in parallel.
    const [me] = await Promise.all([
      api.me(),
      this.loadSubscriptions(),
      this.loadSettings(),
      this.loadPermissions(),
    ]);
    this.me = me;
    this.presence[me.username] = me.status ?? 'online';
    if (me.avatarETag) this.avatars[me.username] = me.avatarETag;
    this.ready = true;

    const ddp = api.ddp;
    this.stops.push(
      ddp.onState((state) => {
        this.conn = state;
        // Going live changes one's own presence before the status stream is subscribed.
        // The server may settle it just after the login answer, so look twice.
        if (state === 'connected') {
          void this.refreshOwnPresence();
          setTimeout(() => void this.refreshOwnPresence(), 1_500);
        }
      }),
    );
    this.stops.push(ddp.onReconnect(() => void this.catchUp()));
    ddp.on('logged-out', () => void this.logout());
    ddp.start(session.token);
    this.conn = ddp.state;
    const uid = me._id;
    this.stops.push(
      ddp.stream('stream-notify-user', `${uid}/subscriptions-changed`, (args) =>
        this.onSubscriptionChanged(args[0] as string, args[1] as Subscription),
      ),
      ddp.stream('stream-notify-user', `${uid}/rooms-changed`, (args) =>
        this.onRoomChanged(args[0] as string, args[1] as Room),
      ),
      ddp.stream('stream-notify-user', `${uid}/notification`, (args) =>
        this.onNotification(args[0] as DesktopNotification),
      ),
      ddp.stream('stream-notify-logged', 'updateAvatar', (args) => {
        for (const change of args as { username?: string; etag?: string }[]) {
          if (change?.username) this.avatarChanged(change.username, change.etag);
        }
      }),
      ddp.stream('stream-notify-logged', 'user-status', (args) => {
        for (const entry of args as [string, string, number, string?][]) {
          const [id, username, code, text] = entry;
          this.presence[username] = PRESENCE_CODES[code] ?? 'offline';
          if (this.me && id === this.me._id) {
            this.me.status = this.presence[username];
            if (text !== undefined) this.me.statusText = text;
          }
        }
      }),
    );
    const typingSweep = setInterval(() => this.sweepTyping(), 1_000);
    this.stops.push(() => clearInterval(typingSweep));
    // Coming back to the tab reads the room on screen.
    const onVisible = () => {
      if (document.visibilityState === 'visible' && this.current) this.markRead(this.current);
    };
    document.addEventListener('visibilitychange', onVisible);
    this.stops.push(() => document.removeEventListener('visibilitychange', onVisible));
    void this.loadDirectPresence();
  }

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
    if (this.me?.username === username) this.me.avatarETag = etag;
  }

  stop() {
    for (const stop of this.stops) stop();
    this.stops = [];
    for (const stop of this.live.values()) stop();
    this.live.clear();
    this.timelines.clear();
    this.threads.clear();
    this.subs = {};
    this.rooms = {};
    this.typing = {};
    this.avatars = {};
    this.me = null;
    this.ready = false;
  }

  async logout() {
    this.stop();
    await api.logout();
    this.onLoggedOut();
  }

  private async refreshOwnPresence() {
    const me = this.me;
    if (!me) return;
    try {
      const { presence } = await api.userPresence(me._id);
      this.presence[me.username] = presence;
      me.status = presence;
    } catch {
      // The status stream corrects it later.
    }
  }

  private async loadSettings() {
    try {
      const { settings } = await api.publicSettings();
      const value = (id: string) => settings.find((s) => s._id === id)?.value;
      const name = value('Site_Name');
      if (typeof name === 'string' && name) this.siteName = name;
      const limits = { ...this.uploadLimits };
      const enabled = value('FileUpload_Enabled');
      if (typeof enabled === 'boolean') limits.enabled = enabled;
      const direct = value('FileUpload_Enabled_Direct');
      if (typeof direct === 'boolean') limits.enabledDirect = direct;
      const max = value('FileUpload_MaxFileSize');
      if (typeof max === 'number' && Number.isFinite(max)) limits.maxSize = max;
      const allow = value('FileUpload_MediaTypeWhiteList');
      if (typeof allow === 'string') limits.allow = allow;
      const deny = value('FileUpload_MediaTypeBlackList');
      if (typeof deny === 'string') limits.deny = deny;
      this.uploadLimits = limits;
    } catch {
      // Defaults are fine.
    }
  }

  async loadSubscriptions() {
    const [subs, rooms] = await Promise.all([api.subscriptions(), api.rooms()]);
    const nextSubs: Record<string, Subscription> = {};
    for (const sub of subs.update) nextSubs[sub.rid] = sub;
    const nextRooms: Record<string, Room> = {};
    for (const room of rooms.update) nextRooms[room._id] = room;
    this.subs = nextSubs;
    this.rooms = nextRooms;
  }

  /** Presence of the people in direct messages (the sidebar's dots). */
  private async loadDirectPresence() {
    const names = Object.values(this.subs)
      .filter((sub) => sub.t === 'd' && !(sub.name in this.presence))
      .map((sub) => sub.name)
      .slice(0, 40);
    await Promise.all(names.map((name) => this.lookUpPresence(name)));
  }

  private async lookUpPresence(username: string) {
    try {
      const { user } = await api.userInfo(username);
      if (!(username in this.presence) && user.status) this.presence[username] = user.status;
    } catch {
      // Unknown presence shows as offline.
    }
  }

  /** Role names allowed each permission (`permissions.listAll`). */
  private permissions = $state<Record<string, string[]>>({});

  private async loadPermissions() {
    try {
      const { update } = await api.permissions();
      const map: Record<string, string[]> = {};
      for (const permission of update) map[permission._id] = permission.roles;
      this.permissions = map;
    } catch {
      // Without the table every action is offered; the server still decides.
    }
  }

  /** Whether the user holds `permission`, globally or through their roles in `rid`. */
  can(permission: string, rid?: string): boolean {
    const allowed = this.permissions[permission];
    if (!allowed) return true;
    const roles = [...(this.me?.roles ?? []), ...((rid && this.subs[rid]?.roles) || [])];
    return roles.some((role) => allowed.includes(role));
  }

  private onSubscriptionChanged(action: string, sub: Subscription) {
    if (action === 'removed') {
      delete this.subs[sub.rid];
      this.stopLive(sub.rid);
      return;
    }
    this.subs[sub.rid] = sub;
    if (sub.t === 'd' && !(sub.name in this.presence)) void this.lookUpPresence(sub.name);
    if (!this.rooms[sub.rid]) {
      void api
        .roomInfo(sub.rid)
        .then(({ room }) => (this.rooms[room._id] = room))
        .catch(() => {});
    }
  }

  private onRoomChanged(action: string, room: Room) {
    if (action === 'removed') {
      delete this.rooms[room._id];
      return;
    }
    this.rooms[room._id] = { ...this.rooms[room._id], ...room };
  }

  /** After a reconnection: refresh the room list and fetch what each open room missed. */
  private async catchUp() {
    try {
      await this.loadSubscriptions();
    } catch {
      // Retried on the next reconnection.
    }
    for (const timeline of this.timelines.values()) {
      if (!timeline.loaded || !timeline.lastUpdate) continue;
      try {
        const { result } = await api.syncMessages(
          timeline.rid,
          new Date(timeline.lastUpdate).toISOString(),
        );
        for (const message of result.updated) this.onMessage(message);
        for (const gone of result.deleted) this.onDeleted(timeline.rid, gone._id);
      } catch {
        // The room may be gone; its timeline stays as it was.
      }
    }
    // Messages sent while offline go out now.
    for (const timeline of this.timelines.values()) {
      for (const message of timeline.messages) if (message.pending) void this.deliver(message);
    }
  }

  // Rooms and timelines.

  timeline(rid: string): Timeline {
    let timeline = this.timelines.get(rid);
    if (!timeline) {
      timeline = new Timeline(rid);
      this.timelines.set(rid, timeline);
    }
    return timeline;
  }

  thread(tmid: string): Thread {
    let thread = this.threads.get(tmid);
    if (!thread) {
      thread = new Thread(tmid);
      this.threads.set(tmid, thread);
    }
    return thread;
  }

  /** Opens a room: starts its live streams and loads its latest page. */
  async open(rid: string) {
    this.goLive(rid);
    const timeline = this.timeline(rid);
    if (!timeline.loaded) await this.loadOlder(rid);
    this.markRead(rid);
  }

  private goLive(rid: string) {
    const existing = this.live.get(rid);
    if (existing) {
      // Most recently used last.
      this.live.delete(rid);
      this.live.set(rid, existing);
      return;
    }
    const ddp = api.ddp;
    const stops = [
      ddp.stream('stream-room-messages', rid, (args) => this.onMessage(args[0] as Message)),
      ddp.stream('stream-notify-room', `${rid}/deleteMessage`, (args) =>
        this.onDeleted(rid, (args[0] as { _id: string })._id),
      ),
      ddp.stream('stream-notify-room', `${rid}/user-activity`, (args) =>
        this.onActivity(rid, args[0] as string, (args[1] as string[]) ?? []),
      ),
    ];
    this.live.set(rid, () => stops.forEach((stop) => stop()));
    if (this.live.size > LIVE_ROOMS) {
      const [oldest] = this.live.keys();
      this.stopLive(oldest);
    }
  }

  private stopLive(rid: string) {
    this.live.get(rid)?.();
    this.live.delete(rid);
    // Without its stream the cached page would go stale: load it afresh next time.
    this.timelines.delete(rid);
  }

  async loadOlder(rid: string) {
    const timeline = this.timeline(rid);
    const room = this.rooms[rid] ?? (this.subs[rid] ? { _id: rid, t: this.subs[rid].t } : null);
    if (!room || timeline.loading || (timeline.loaded && !timeline.hasMore)) return;
    timeline.loading = true;
    timeline.error = null;
    try {
      const oldest = timeline.messages.find((m) => !m.pending);
      const latest = oldest ? new Date(toMillis(oldest.ts)).toISOString() : undefined;
      const { messages } = await api.history(room, latest, PAGE);
      let list = timeline.messages;
      for (const message of messages) {
        if (threadOnly(message)) continue;
        list = upsertSorted(list, message);
        timeline.lastUpdate = Math.max(timeline.lastUpdate, toMillis(message._updatedAt));
      }
      timeline.messages = list;
      timeline.hasMore = messages.length >= PAGE;
      timeline.loaded = true;
    } catch (error) {
      timeline.error = error instanceof Error ? error.message : String(error);
    } finally {
      timeline.loading = false;
    }
  }

  async loadThread(tmid: string) {
    const thread = this.thread(tmid);
    if (thread.loading) return;
    thread.loading = true;
    try {
      const { messages } = await api.threadMessages(tmid);
      let list = thread.messages;
      for (const message of messages) list = upsertSorted(list, message);
      thread.messages = list;
      thread.loaded = true;
    } catch (error) {
      this.fail(error);
    } finally {
      thread.loading = false;
    }
  }

  /** Finds a message in the loaded timelines and threads. */
  findMessage(rid: string, id: string): Message | undefined {
    return (
      this.timelines.get(rid)?.messages.find((m) => m._id === id) ??
      [...this.threads.values()].flatMap((t) => t.messages).find((m) => m._id === id)
    );
  }

  private onMessage(message: Message) {
    const rid = message.rid;
    const timeline = this.timelines.get(rid);
    if (timeline) {
      timeline.lastUpdate = Math.max(timeline.lastUpdate, toMillis(message._updatedAt));
      if (!threadOnly(message)) timeline.messages = upsertSorted(timeline.messages, message);
    }
    if (message.tmid) {
      const thread = this.threads.get(message.tmid);
      if (thread) thread.messages = upsertSorted(thread.messages, message);
    }
    const typing = this.typing[rid];
    if (typing && message.u.username in typing) delete typing[message.u.username];
    if (rid === this.current && document.visibilityState === 'visible') this.markRead(rid);
  }

  private onDeleted(rid: string, id: string) {
    const timeline = this.timelines.get(rid);
    if (timeline) timeline.messages = timeline.messages.filter((m) => m._id !== id);
    for (const thread of this.threads.values()) {
      if (thread.messages.some((m) => m._id === id)) {
        thread.messages = thread.messages.filter((m) => m._id !== id);
      }
    }
  }

  private onActivity(rid: string, username: string, activities: string[]) {
    if (username === this.me?.username) return;
    const room = (this.typing[rid] ??= {});
    if (activities.includes('user-typing')) room[username] = Date.now() + TYPING_TTL;
    else delete room[username];
  }

  private sweepTyping() {
    const now = Date.now();
    for (const room of Object.values(this.typing)) {
      for (const [username, until] of Object.entries(room)) if (until < now) delete room[username];
    }
  }

  /** The room the user is looking at (read receipts, notifications). */
  current = $state<string | null>(null);

  markRead(rid: string) {
    const sub = this.subs[rid];
    if (!sub) return;
    const pending = this.readTimers.get(rid);
    if (pending) clearTimeout(pending);
    this.readTimers.set(
      rid,
      setTimeout(() => {
        this.readTimers.delete(rid);
        const now = this.subs[rid];
        if (now && (now.unread > 0 || now.alert || now.userMentions > 0 || now.groupMentions > 0)) {
          void api.markRead(rid).catch(() => {});
        }
      }, 300),
    );
  }

  // Sending and changing messages.

  /** Sends at once in the UI; the server's copy replaces it when it arrives. */
  async send(rid: string, text: string, tmid?: string) {
    const me = this.me;
    if (!me || !text.trim()) return;
    const message: Message = {
      _id: randomId(),
      rid,
      msg: text,
      ts: new Date().toISOString(),
      u: { _id: me._id, username: me.username, name: me.name },
      pending: true,
      ...(tmid ? { tmid } : {}),
    };
    this.placeLocal(message);
    await this.deliver(message);
  }

  private placeLocal(message: Message) {
    if (message.tmid) {
      const thread = this.thread(message.tmid);
      thread.messages = upsertSorted(thread.messages, message);
    } else {
      const timeline = this.timeline(message.rid);
      timeline.messages = upsertSorted(timeline.messages, message);
    }
  }

  private async deliver(message: Message) {
    try {
      const { message: saved } = await api.sendMessage({
        _id: message._id,
        rid: message.rid,
        msg: message.msg,
        ...(message.tmid ? { tmid: message.tmid } : {}),
      });
      this.reconcile(saved);
    } catch (error) {
      if (error instanceof ApiError && error.errorType === 'error-message-already-exists') {
        // An earlier attempt got through: take the server's copy.
        const { message: saved } = await api.getMessage(message._id);
        this.reconcile(saved);
      } else if (error instanceof ApiError && error.status === 0) {
        // Offline: stays pending and goes out after the reconnection.
      } else {
        this.placeLocal({ ...message, pending: false, failed: true });
        this.fail(error);
      }
    }
  }

  /** A message the server answered with (a confirmed upload): shown at once. */
  accept(saved: Message) {
    this.reconcile(saved);
  }

  /** Replaces the optimistic copy unless the stream already delivered a newer one. */
  private reconcile(saved: Message) {
    const local = this.findMessage(saved.rid, saved._id);
    if (local && !local.pending && toMillis(local._updatedAt) >= toMillis(saved._updatedAt)) return;
    this.onMessage(saved);
  }

  retry(message: Message) {
    const again = { ...message, failed: false, pending: true };
    this.placeLocal(again);
    void this.deliver(again);
  }

  discard(message: Message) {
    this.onDeleted(message.rid, message._id);
  }

  async edit(message: Message, text: string) {
    const before = message;
    this.placeLocal({ ...message, msg: text, editedAt: new Date().toISOString() });
    try {
      await api.updateMessage(message.rid, message._id, text);
    } catch (error) {
      this.placeLocal(before);
      this.fail(error);
    }
  }

  async remove(message: Message) {
    this.onDeleted(message.rid, message._id);
    try {
      await api.deleteMessage(message.rid, message._id);
    } catch (error) {
      this.placeLocal(message);
      this.fail(error);
    }
  }

  async react(message: Message, emoji: string) {
    const me = this.me;
    if (!me) return;
    const key = `:${emoji.replace(/^:|:$/g, '')}:`;
    const reactions = structuredClone($state.snapshot(message.reactions) ?? {});
    const users = reactions[key]?.usernames ?? [];
    const reacted = users.includes(me.username);
    if (reacted) {
      const left = users.filter((u) => u !== me.username);
      if (left.length) reactions[key] = { usernames: left };
      else delete reactions[key];
    } else {
      reactions[key] = { usernames: [...users, me.username] };
    }
    this.placeLocal({ ...message, reactions });
    try {
      await api.react(message._id, key, !reacted);
    } catch (error) {
      this.placeLocal(message);
      this.fail(error);
    }
  }

  async pin(message: Message) {
    const pinned = !message.pinned;
    this.placeLocal({ ...message, pinned });
    try {
      await api.pin(message._id, pinned);
    } catch (error) {
      this.placeLocal(message);
      this.fail(error);
    }
  }

  isStarred(message: Message) {
    return Boolean(this.me && message.starred?.some((s) => s._id === this.me?._id));
  }

  async star(message: Message) {
    const me = this.me;
    if (!me) return;
    const starred = !this.isStarred(message);
    const list = (message.starred ?? []).filter((s) => s._id !== me._id);
    this.placeLocal({ ...message, starred: starred ? [...list, { _id: me._id }] : list });
    try {
      await api.star(message._id, starred);
    } catch (error) {
      this.placeLocal(message);
      this.fail(error);
    }
  }

  /** Tells the room this user is typing; at most every 3 s while it lasts. */
  typingIn(rid: string, typing: boolean, tmid?: string) {
    const me = this.me;
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

  // Room lists.

  roomName(rid: string): string {
    const sub = this.subs[rid];
    const room = this.rooms[rid];
    return sub?.fname || sub?.name || room?.fname || room?.name || rid;
  }

  /** Usernames whose typing indicator shows in `rid`. */
  typers(rid: string): string[] {
    return Object.keys(this.typing[rid] ?? {});
  }

  statusOf(username: string): PresenceStatus {
    return this.presence[username] ?? 'offline';
  }

  async setStatus(status: PresenceStatus, text?: string) {
    const me = this.me;
    if (!me) return;
    await api.setStatus(status, text);
    me.status = status;
    this.presence[me.username] = status;
    if (text !== undefined) me.statusText = text;
  }
}

export const chat = new Chat();
