// A message's link, as upstream's permalinks: `<Site_Url>/<channel|group|direct>/<name>?msg=<id>`.
// Pasted into a message it becomes a quote (the server's `quotes` step); opened, the room
// jumps to the message (RoomView).

import { roomPath } from '../../lib/router.svelte';
import { rooms } from '../../lib/stores/rooms.svelte';
import { session } from '../../lib/stores/session.svelte';
import type { Message } from '../../lib/types';

export function permalink(message: Message): string {
  const sub = rooms.subs[message.rid];
  const room = rooms.byId[message.rid];
  const kind = sub?.t ?? room?.t ?? 'c';
  const name = sub?.name ?? room?.name ?? message.rid;
  return `${session.siteUrl}${roomPath(kind, name, message.rid)}?msg=${encodeURIComponent(message._id)}`;
}
