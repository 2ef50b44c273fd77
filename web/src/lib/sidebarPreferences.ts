// How the sidebar lists rooms, from the user's preferences (upstream's `sidebarSortby`,
// `sidebarShowUnread`, `sidebarGroupByType`; the server fills in the workspace defaults).

import { toMillis, type Room, type Subscription, type User } from './types';

export type SidebarSort = 'activity' | 'alphabetical';

export interface SidebarPreferences {
  sort: SidebarSort;
  unreadFirst: boolean;
  groupByType: boolean;
}

export function sidebarPreferences(me: User | null): SidebarPreferences {
  const saved = me?.settings?.preferences ?? {};
  return {
    // Upstream's defaults when the server sends none.
    sort: saved.sidebarSortby === 'alphabetical' ? 'alphabetical' : 'activity',
    unreadFirst: saved.sidebarShowUnread === true,
    groupByType: saved.sidebarGroupByType !== false,
  };
}

/** Newest activity first: the room's last message, else when the user joined it. */
export function lastActivity(sub: Subscription, room: Room | undefined): number {
  return toMillis(room?.lm ?? sub.ts ?? sub._updatedAt);
}

/** A room whose unread status the member hid (`hideUnreadStatus`) never counts as unread here. */
export function isUnread(sub: Subscription): boolean {
  if (sub.hideUnreadStatus) return false;
  return sub.unread > 0 || Boolean(sub.alert) || sub.userMentions > 0 || sub.groupMentions > 0;
}
