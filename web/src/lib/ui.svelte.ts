// What is open on screen: side panel, dialogs, the message being edited.

export type Panel =
  | { kind: 'thread'; tmid: string }
  | { kind: 'search' }
  | { kind: 'members' }
  | { kind: 'pinned' }
  | { kind: 'starred' }
  | { kind: 'threads' }
  | { kind: 'team-channels' }
  | { kind: 'translation' }
  | { kind: 'info' }
  | null;

export type DialogKind = 'channel' | 'group' | 'team' | 'direct' | 'profile' | 'directory' | 'switcher' | 'preferences' | null;

/**
 * A team action that asks first: turning a room into a team, a team back into a room, leaving
 * or deleting a team (the last three choose which of the team's rooms go with it).
 */
export type TeamAction = { kind: 'to-team' | 'to-channel' | 'leave' | 'delete'; rid: string } | null;

class Ui {
  panel = $state<Panel>(null);
  dialog = $state<DialogKind>(null);
  teamAction = $state<TeamAction>(null);
  /** The person whose card is open, and the room it was opened from (for room roles). */
  /** The room whose notification preferences are open. */
  roomNotifications = $state<string | null>(null);
  userCard = $state<{ username: string; rid: string | null } | null>(null);
  /** Id of the message being edited in place. */
  editing = $state<string | null>(null);
  /**
   * A room opened by the person (a click or Enter on its link): its composer takes the focus
   * once it is on screen, so that typing goes to the room rather than to the sidebar.
   */
  composerFocus = $state<string | null>(null);
  /** A message to bring into view and mark for a moment (a search result, a link). */
  highlight = $state<{ rid: string; id: string } | null>(null);
  /** A message link to put before the text of the composer of `key` (`rid` or `rid:tmid`). */
  quote = $state<{ key: string; link: string } | null>(null);
  /** The composer's text per room (kept when switching rooms). */
  drafts: Record<string, string> = {};

  openThread(tmid: string) {
    this.panel = { kind: 'thread', tmid };
  }

  toggle(kind: 'search' | 'members' | 'pinned' | 'starred' | 'threads' | 'team-channels' | 'translation' | 'info') {
    this.panel = this.panel?.kind === kind ? null : { kind };
  }
}

export const ui = new Ui();
