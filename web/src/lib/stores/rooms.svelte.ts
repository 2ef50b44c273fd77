// The user's rooms: their subscriptions (unread counts, favourites, room roles) and the room
// documents, by room id, kept live by `live.ts`; which room is on screen; read receipts.

import { api } from '../api';
import type { Route } from '../router.svelte';
import type { Room, Subscription } from '../types';

class Rooms {
  /** rid → the user's subscription to it. */
  subs = $state<Record<string, Subscription>>({});
  /** rid → the room document. */
  byId = $state<Record<string, Room>>({});
  /** The room the user is looking at (read receipts, notifications). */
  current = $state<string | null>(null);

  private readTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Rooms whose pending read follows one's own message (see `markRead`). */
  private readOwn = new Set<string>();

  /** Rooms with something new, for the tab title; a room whose unread status is hidden counts for mentions of the user only. */
  get unreadRooms(): number {
    return Object.values(this.subs).filter((s) => (s.hideUnreadStatus ? s.userMentions > 0 : s.unread > 0 || s.alert)).length;
  }

  /** The room a route names, among the user's subscriptions (`null`: not one of theirs). */
  ridOf(route: Route): string | null {
    if (route.name !== 'room') return null;
    const subs = Object.values(this.subs);
    if (route.kind === 'direct') {
      return this.subs[route.id] ? route.id : (subs.find((s) => s.t === 'd' && s.name === route.id)?.rid ?? null);
    }
    const type = route.kind === 'group' ? 'p' : 'c';
    return subs.find((s) => s.t === type && s.name === route.id)?.rid ?? null;
  }

  /** Loads every subscription and room afresh (at start and after a reconnection). */
  async load() {
    const [subs, rooms] = await Promise.all([api.subscriptions(), api.rooms()]);
    const nextSubs: Record<string, Subscription> = {};
    for (const sub of subs.update) nextSubs[sub.rid] = sub;
    const nextRooms: Record<string, Room> = {};
    for (const room of rooms.update) nextRooms[room._id] = room;
    this.subs = nextSubs;
    this.byId = nextRooms;
  }

  /** A `subscriptions-changed` event. */
  applySubscription(action: string, sub: Subscription) {
    if (action === 'removed') {
      delete this.subs[sub.rid];
      return;
    }
    this.subs[sub.rid] = sub;
    if (!this.byId[sub.rid]) {
      void api
        .roomInfo(sub.rid)
        .then(({ room }) => (this.byId[room._id] = room))
        .catch(() => {});
    }
  }

  /** A `rooms-changed` event. */
  applyRoom(action: string, room: Room) {
    if (action === 'removed') {
      delete this.byId[room._id];
      return;
    }
    const merged = { ...this.byId[room._id], ...room };
    // A whole room document (it has its type) without team fields has left its team: the
    // server omits them rather than sending them empty.
    if (room.t) {
      if (!('teamId' in room)) delete merged.teamId;
      if (!('teamMain' in room)) delete merged.teamMain;
      if (!('teamDefault' in room)) delete merged.teamDefault;
    }
    this.byId[room._id] = merged;
  }

  roomName(rid: string): string {
    const sub = this.subs[rid];
    const room = this.byId[rid];
    // Direct conversations go by usernames, as Rocket.Chat's default (`UI_Use_Real_Name` off);
    // their `fname` holds the display names.
    if (sub?.t === 'd') return sub.name;
    return sub?.fname || sub?.name || room?.fname || room?.name || rid;
  }

  /**
   * Marks `rid` read on the server, shortly, if it has anything unread — or, with `own`, after
   * one's own message: nothing is unread then, but one's last read must pass it, or it holds
   * back the read receipts of that message (read once every member's last read passes it).
   */
  markRead(rid: string, own = false) {
    const sub = this.subs[rid];
    if (!sub) return;
    const pending = this.readTimers.get(rid);
    if (pending) clearTimeout(pending);
    if (own) this.readOwn.add(rid);
    this.readTimers.set(
      rid,
      setTimeout(() => {
        this.readTimers.delete(rid);
        const mine = this.readOwn.delete(rid);
        const now = this.subs[rid];
        if (now && (mine || now.unread > 0 || now.alert || now.userMentions > 0 || now.groupMentions > 0)) {
          void api.markRead(rid).catch(() => {});
        }
      }, 300),
    );
  }

  /** Forgets a read of `rid` on its way (the room was just marked unread). */
  cancelRead(rid: string) {
    const pending = this.readTimers.get(rid);
    if (pending) clearTimeout(pending);
    this.readTimers.delete(rid);
    this.readOwn.delete(rid);
  }

  reset() {
    this.subs = {};
    this.byId = {};
  }
}

export const rooms = new Rooms();
