// What is open on screen: side panel, dialogs, the message being edited.

export type Panel =
  | { kind: 'thread'; tmid: string }
  | { kind: 'search' }
  | { kind: 'members' }
  | { kind: 'pinned' }
  | { kind: 'starred' }
  | { kind: 'threads' }
  | null;

export type DialogKind = 'channel' | 'group' | 'direct' | 'profile' | 'directory' | null;

class Ui {
  panel = $state<Panel>(null);
  dialog = $state<DialogKind>(null);
  /** Id of the message being edited in place. */
  editing = $state<string | null>(null);
  /** The composer's text per room (kept when switching rooms). */
  drafts: Record<string, string> = {};

  openThread(tmid: string) {
    this.panel = { kind: 'thread', tmid };
  }

  toggle(kind: 'search' | 'members' | 'pinned' | 'starred' | 'threads') {
    this.panel = this.panel?.kind === kind ? null : { kind };
  }
}

export const ui = new Ui();
