// Going live: loads what the first screen needs, then follows the user's streams and applies
// each event to the store it concerns; after a reconnection, refetches the room list and
// catches up every loaded timeline. Logging out stops all of it and empties the stores.

import { api } from '../api';
import { router } from '../router.svelte';
import type { Message, Room, Subscription } from '../types';
import { customEmoji, type CustomEmoji } from './customEmoji.svelte';
import { customStatuses, type CustomUserStatus } from './customStatuses.svelte';
import { notifications, type DesktopNotification } from './notifications.svelte';
import { presence } from './presence.svelte';
import { rooms } from './rooms.svelte';
import { session } from './session.svelte';
import { branding } from './branding.svelte';
import { timelines } from './timelines.svelte';
import { translation } from './translation.svelte';

let stops: (() => void)[] = [];

/** Loads everything for the logged-in user and goes live. */
export async function start() {
  const current = api.session;
  if (!current) return;
  api.rest.onUnauthorized = () => void logout();
  // Everything the first screen needs, in parallel.
  const [me] = await Promise.all([
    api.me(),
    rooms.load(),
    session.loadSettings(),
    session.loadPermissions(),
    customEmoji.load(),
    customStatuses.load(),
  ]);
  session.me = me;
  presence.statuses[me.username] = me.status ?? 'online';
  if (me.avatarETag) presence.avatars[me.username] = me.avatarETag;
  session.ready = true;

  const ddp = api.ddp;
  stops.push(
    ddp.onState((state) => {
      session.conn = state;
      // Going live changes one's own presence before the status stream is subscribed.
      // The server may settle it just after the login answer, so look twice.
      if (state === 'connected') {
        void presence.refreshOwn();
        setTimeout(() => void presence.refreshOwn(), 1_500);
      }
    }),
  );
  stops.push(ddp.onReconnect(() => void catchUp()));
  ddp.on('logged-out', () => void logout());
  ddp.start(current.token);
  session.conn = ddp.state;
  // The room the address names starts loading now, before the first render (whose sidebar
  // alone can take a tenth of a second); the room view then finds its page on the way.
  const shown = rooms.ridOf(router.route);
  if (shown) void timelines.open(shown);
  // Others' user cards show the user's local time from this offset (hours, as upstream's client
  // sends it after login); the call waits for the connection.
  const utcOffset = -new Date().getTimezoneOffset() / 60;
  if (me.utcOffset !== utcOffset) void api.setUtcOffset(utcOffset).catch(() => {});
  const uid = me._id;
  // Calls (ringing, call messages, the call view) load just after the first screen.
  let stopCalls: (() => void) | null = null;
  let stopped = false;
  void import('../calls/calls.svelte').then(({ calls }) => {
    if (!stopped) stopCalls = calls.connect(uid);
  });
  stops.push(() => {
    stopped = true;
    stopCalls?.();
  });
  stops.push(
    ddp.stream('stream-notify-user', `${uid}/subscriptions-changed`, (args) =>
      subscriptionChanged(args[0] as string, args[1] as Subscription),
    ),
    ddp.stream('stream-notify-user', `${uid}/rooms-changed`, (args) => roomChanged(args[0] as string, args[1] as Room)),
    ddp.stream('stream-notify-user', `${uid}/message`, (args) => timelines.notice(args[0] as Message)),
    ddp.stream('stream-notify-user', `${uid}/notification`, (args) =>
      notifications.show(args[0] as DesktopNotification),
    ),
    ddp.stream('stream-notify-user', `${uid}/userData`, (args) =>
      session.applyUserData(args[0] as { diff?: { roles?: unknown } }),
    ),
    ddp.stream('stream-notify-logged', 'permissions-changed', (args) =>
      session.applyPermission(args[1] as { _id: string; roles?: string[] }),
    ),
    ddp.stream('stream-notify-logged', 'roles-change', (args) => {
      for (const change of args as { type?: string; _id?: string; u?: { _id?: string }; scope?: string }[]) {
        session.applyRoleChange(change);
      }
    }),
    ddp.stream('stream-notify-logged', 'updateAvatar', (args) => {
      for (const change of args as { username?: string; etag?: string }[]) {
        if (change?.username) presence.avatarChanged(change.username, change.etag);
      }
    }),
    ddp.stream('stream-notify-logged', 'updateEmojiCustom', (args) =>
      customEmoji.applyUpdate((args[0] as { emojiData?: CustomEmoji })?.emojiData),
    ),
    ddp.stream('stream-notify-logged', 'deleteEmojiCustom', (args) =>
      customEmoji.applyDelete((args[0] as { emojiData?: CustomEmoji })?.emojiData),
    ),
    ddp.stream('stream-notify-logged', 'updateCustomUserStatus', (args) =>
      customStatuses.applyUpdate((args[0] as { userStatusData?: CustomUserStatus })?.userStatusData),
    ),
    ddp.stream('stream-notify-logged', 'deleteCustomUserStatus', (args) =>
      customStatuses.applyDelete((args[0] as { userStatusData?: CustomUserStatus })?.userStatusData),
    ),
    ddp.stream('stream-notify-logged', 'user-status', (args) =>
      presence.applyStatuses(args as [string, string, number, string?][]),
    ),
    ddp.stream('stream-notify-all', 'public-settings-changed', (args) => {
      const setting = args[1] as { _id?: string; value?: unknown } | undefined;
      if (!setting?._id) return;
      branding.apply(setting._id, setting.value);
      session.applyPublicSetting(setting._id, setting.value);
    }),
  );
  const typingSweep = setInterval(() => presence.sweepTyping(), 1_000);
  stops.push(() => clearInterval(typingSweep));
  // Coming back to the tab reads the room on screen.
  const onVisible = () => {
    if (document.visibilityState === 'visible' && rooms.current) rooms.markRead(rooms.current);
  };
  document.addEventListener('visibilitychange', onVisible);
  stops.push(() => document.removeEventListener('visibilitychange', onVisible));
  void presence.lookUpAll(
    Object.values(rooms.subs)
      .filter((sub) => sub.t === 'd')
      .map((sub) => sub.name),
  );
}

function subscriptionChanged(action: string, sub: Subscription) {
  rooms.applySubscription(action, sub);
  if (action === 'removed') timelines.forget(sub.rid);
  else if (sub.t === 'd') void presence.lookUp(sub.name);
}

/** A room changed; a new last message by someone else (not a system message) may ring. */
function roomChanged(action: string, room: Room) {
  const before = rooms.byId[room._id]?.lastMessage?._id;
  rooms.applyRoom(action, room);
  const last = room.lastMessage;
  const sub = rooms.subs[room._id];
  if (action !== 'removed' && sub && last && last._id !== before && !last.t && last.u?._id !== session.me?._id) {
    notifications.newMessage(sub);
  }
}

/** After a reconnection: refresh the room list and fetch what each open room missed. */
async function catchUp() {
  try {
    await rooms.load();
  } catch {
    // Retried on the next reconnection.
  }
  await timelines.catchUp();
}

/** Stops every stream and empties the stores. */
export function stop() {
  for (const stopOne of stops) stopOne();
  stops = [];
  timelines.reset();
  rooms.reset();
  presence.reset();
  customEmoji.reset();
  customStatuses.reset();
  translation.reset();
  session.reset();
}

export async function logout() {
  stop();
  await api.logout();
  session.onLoggedOut();
}
