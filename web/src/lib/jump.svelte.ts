// Going to one message in its room: from search results, the pinned and starred lists and
// message links (`…?msg=<id>`). The room opens, the history between the message and the newest
// ones loads, and the message is brought into view and marked.

import { t } from './i18n.svelte';
import { router, roomPath } from './router.svelte';
import { notifications } from './stores/notifications.svelte';
import { rooms } from './stores/rooms.svelte';
import { timelines } from './stores/timelines.svelte';
import { ui } from './ui.svelte';

export async function jumpToMessage(rid: string, id: string) {
  const sub = rooms.subs[rid];
  if (sub && rooms.current !== rid) router.go(roomPath(sub.t, sub.name, sub.rid));
  // Beside the timeline the panel can stay; over it (narrow screens) it would hide the message.
  if (window.matchMedia('(max-width: 1100px)').matches) ui.panel = null;
  try {
    const place = await timelines.reveal(rid, id);
    if (!place) {
      notifications.notify(t('jump.not_found'), 'error');
      return;
    }
    if (place.in === 'thread') ui.openThread(place.tmid);
    const mark = { rid, id };
    ui.highlight = mark;
    setTimeout(() => {
      if (ui.highlight === mark) ui.highlight = null;
    }, 6_000);
  } catch (error) {
    notifications.fail(error);
  }
}
