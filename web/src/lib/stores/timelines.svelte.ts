// The messages of the rooms the user opened (main timelines) and of the threads they looked
// at: live streams per room, paging back, and sending and changing messages optimistically
// (client-chosen `_id`s, reconciled with the server's copy).

import { api, ApiError, randomId } from '../api';
import { toMillis, type Message, type WireDate } from '../types';
import { notifications } from './notifications.svelte';
import { presence } from './presence.svelte';
import { rooms } from './rooms.svelte';
import { session } from './session.svelte';

const PAGE = 50;
/** The most messages fetched at once to join a far message to the loaded ones (server's cap). */
const BRIDGE = 1000;
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

/** Who speaks for the server in notices. */
const ROCKET_CAT = { _id: 'rocket.cat', username: 'rocket.cat', name: 'Rocket.Cat' };

class Timelines {
  private timelines = new Map<string, Timeline>();
  private threads = new Map<string, Thread>();
  /** rid → unsubscribes its streams; most recently used last. */
  private live = new Map<string, () => void>();
  /** rid → its opening under way (see `open`). */
  private opening = new Map<string, Promise<void>>();

  /** The timeline of `rid` (empty until loaded). */
  get(rid: string): Timeline {
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
  open(rid: string): Promise<void> {
    this.goLive(rid);
    // The app starts opening the room its address names before the first render; the room
    // view opening it again then waits for that same page instead of reading as loaded.
    let opening = this.opening.get(rid);
    if (!opening) {
      opening = (async () => {
        const timeline = this.get(rid);
        if (!timeline.loaded) await this.loadOlder(rid);
        rooms.markRead(rid);
      })().finally(() => this.opening.delete(rid));
      this.opening.set(rid, opening);
    }
    return opening;
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
      ddp.stream('stream-room-messages', rid, (args) => this.applyMessage(args[0] as Message)),
      ddp.stream('stream-notify-room', `${rid}/deleteMessage`, (args) =>
        this.applyDeleted(rid, (args[0] as { _id: string })._id),
      ),
      ddp.stream('stream-notify-room', `${rid}/user-activity`, (args) =>
        presence.applyActivity(rid, args[0] as string, (args[1] as string[]) ?? []),
      ),
    ];
    // Read receipts: everyone has read the room up to `until`.
    if (session.readReceipts) {
      stops.push(
        ddp.stream('stream-notify-room', `${rid}/messagesRead`, (args) => {
          const until = toMillis((args[0] as { until?: WireDate } | undefined)?.until);
          const timeline = this.timelines.get(rid);
          if (timeline && until) timeline.messages = timeline.messages.map((m) => (m.unread && toMillis(m.ts) <= until ? { ...m, unread: false } : m));
        }),
      );
    }
    this.live.set(rid, () => stops.forEach((stop) => stop()));
    if (this.live.size > LIVE_ROOMS) {
      const [oldest] = this.live.keys();
      this.forget(oldest);
    }
  }

  /** Stops following `rid` (left, or least recently used). */
  forget(rid: string) {
    this.live.get(rid)?.();
    this.live.delete(rid);
    // Without its stream the cached page would go stale: load it afresh next time.
    this.timelines.delete(rid);
  }

  async loadOlder(rid: string) {
    const timeline = this.get(rid);
    const sub = rooms.subs[rid];
    const room = rooms.byId[rid] ?? (sub ? { _id: rid, t: sub.t } : null);
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

  /**
   * Makes message `id` of room `rid` part of the loaded timeline (for a search result, a pinned
   * or starred message, a message link): the messages from it up to the ones already loaded come
   * in one `loadNextMessages` call, so the timeline stays one unbroken run back from the newest.
   * Answers where the message shows: in the timeline, in its thread (`tmid`), or nowhere.
   */
  async reveal(rid: string, id: string): Promise<{ in: 'timeline' } | { in: 'thread'; tmid: string } | null> {
    await this.open(rid);
    const timeline = this.get(rid);
    if (timeline.messages.some((m) => m._id === id)) return { in: 'timeline' };
    const { message: target } = await api.getMessage(id);
    if (target.rid !== rid) return null;
    if (threadOnly(target) && target.tmid) return { in: 'thread', tmid: target.tmid };
    const oldest = timeline.messages.find((m) => !m.pending);
    const from = toMillis(target.ts) - 1;
    for (let round = 0; round < 20 && !timeline.messages.some((m) => m._id === id); round++) {
      const bridge = await api.nextMessages(rid, from, BRIDGE);
      let list = timeline.messages;
      for (const message of bridge.messages) {
        if (threadOnly(message)) continue;
        list = upsertSorted(list, message);
        timeline.lastUpdate = Math.max(timeline.lastUpdate, toMillis(message._updatedAt));
      }
      const last = bridge.messages[bridge.messages.length - 1];
      const joined = !oldest || bridge.messages.length < BRIDGE || (last && toMillis(last.ts) >= toMillis(oldest.ts));
      if (joined) {
        timeline.messages = list;
        break;
      }
      // Too far back for one call: page back from the newest instead, which keeps the run whole.
      await this.loadOlder(rid);
      if (!timeline.hasMore) break;
    }
    return timeline.messages.some((m) => m._id === id) ? { in: 'timeline' } : null;
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
      // Seen: the thread stops counting as unread (a failure here only leaves it marked).
      api.readThread(tmid).catch(() => undefined);
    } catch (error) {
      notifications.fail(error);
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

  /** A new or changed message (from the stream, a catch-up or the server's answer). */
  applyMessage(message: Message) {
    const rid = message.rid;
    const timeline = this.timelines.get(rid);
    // Its first arrival from the server (not a later edit, reaction or echo).
    const known = timeline?.messages.find((m) => m._id === message._id);
    const arrived = !message.pending && (!known || Boolean(known.pending));
    if (timeline) {
      timeline.lastUpdate = Math.max(timeline.lastUpdate, toMillis(message._updatedAt));
      if (!threadOnly(message)) timeline.messages = upsertSorted(timeline.messages, message);
    }
    if (message.tmid) {
      const thread = this.threads.get(message.tmid);
      if (thread) thread.messages = upsertSorted(thread.messages, message);
    }
    presence.stoppedTyping(rid, message.u.username);
    if (rid === rooms.current && document.visibilityState === 'visible') {
      rooms.markRead(rid, session.readReceipts && arrived && message.u._id === session.me?._id && !threadOnly(message));
    }
  }

  applyDeleted(rid: string, id: string) {
    const timeline = this.timelines.get(rid);
    if (timeline) timeline.messages = timeline.messages.filter((m) => m._id !== id);
    for (const thread of this.threads.values()) {
      if (thread.messages.some((m) => m._id === id)) {
        thread.messages = thread.messages.filter((m) => m._id !== id);
      }
    }
  }

  /** After a reconnection: fetches what each loaded room missed, then sends what waited. */
  async catchUp() {
    for (const timeline of this.timelines.values()) {
      if (!timeline.loaded || !timeline.lastUpdate) continue;
      try {
        const { result } = await api.syncMessages(
          timeline.rid,
          new Date(timeline.lastUpdate).toISOString(),
        );
        for (const message of result.updated) this.applyMessage(message);
        for (const gone of result.deleted) this.applyDeleted(timeline.rid, gone._id);
      } catch {
        // The room may be gone; its timeline stays as it was.
      }
    }
    // Messages sent while offline go out now.
    for (const timeline of this.timelines.values()) {
      for (const message of timeline.messages) if (message.pending) void this.deliver(message);
    }
  }

  // Sending and changing messages.

  /** Sends at once in the UI; the server's copy replaces it when it arrives. */
  async send(rid: string, text: string, tmid?: string) {
    const me = session.me;
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

  /** A message only this user sees (a command's answer): shown where it belongs, never
   * stored, gone on reload as upstream's. */
  notice(message: Message) {
    this.placeLocal({ ...message, private: true, groupable: false, u: message.u ?? ROCKET_CAT });
  }

  /** A notice made by this client (e.g. an unknown command), from Rocket.Cat as upstream's. */
  localNotice(rid: string, text: string, tmid?: string) {
    const now = new Date().toISOString();
    this.notice({ _id: randomId(), rid, msg: text, ts: now, _updatedAt: now, u: ROCKET_CAT, ...(tmid ? { tmid } : {}) });
  }

  private placeLocal(message: Message) {
    if (message.tmid) {
      const thread = this.thread(message.tmid);
      thread.messages = upsertSorted(thread.messages, message);
    } else {
      const timeline = this.get(message.rid);
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
        notifications.fail(error);
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
    this.applyMessage(saved);
  }

  retry(message: Message) {
    const again = { ...message, failed: false, pending: true };
    this.placeLocal(again);
    void this.deliver(again);
  }

  discard(message: Message) {
    this.applyDeleted(message.rid, message._id);
  }

  async edit(message: Message, text: string) {
    const before = message;
    this.placeLocal({ ...message, msg: text, editedAt: new Date().toISOString() });
    try {
      await api.updateMessage(message.rid, message._id, text);
    } catch (error) {
      this.placeLocal(before);
      notifications.fail(error);
    }
  }

  async remove(message: Message) {
    this.applyDeleted(message.rid, message._id);
    try {
      await api.deleteMessage(message.rid, message._id);
    } catch (error) {
      this.placeLocal(message);
      notifications.fail(error);
    }
  }

  async react(message: Message, emoji: string) {
    const me = session.me;
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
      notifications.fail(error);
    }
  }

  async pin(message: Message) {
    const pinned = !message.pinned;
    this.placeLocal({ ...message, pinned });
    try {
      await api.pin(message._id, pinned);
    } catch (error) {
      this.placeLocal(message);
      notifications.fail(error);
    }
  }

  isStarred(message: Message) {
    const me = session.me;
    return Boolean(me && message.starred?.some((s) => s._id === me._id));
  }

  async star(message: Message) {
    const me = session.me;
    if (!me) return;
    const starred = !this.isStarred(message);
    const list = (message.starred ?? []).filter((s) => s._id !== me._id);
    this.placeLocal({ ...message, starred: starred ? [...list, { _id: me._id }] : list });
    try {
      await api.star(message._id, starred);
    } catch (error) {
      this.placeLocal(message);
      notifications.fail(error);
    }
  }

  /** At logout: every stream stops and every cached page goes. */
  reset() {
    for (const stop of this.live.values()) stop();
    this.live.clear();
    this.timelines.clear();
    this.threads.clear();
  }
}

export const timelines = new Timelines();
