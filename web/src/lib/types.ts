// Wire types of the Rocket.Chat REST and DDP APIs, as far as the client uses them.
// Dates arrive as ISO strings (REST) or `{$date: ms}` (DDP); the client normalizes both to
// epoch milliseconds with `toMillis`.

export type WireDate = string | { $date: number } | number;

export type RoomType = 'c' | 'p' | 'd' | 'l';

export type PresenceStatus = 'online' | 'away' | 'busy' | 'offline';

export interface UserStub {
  _id: string;
  username: string;
  name?: string;
}

export interface Reaction {
  usernames: string[];
}

export interface Message {
  _id: string;
  rid: string;
  msg: string;
  ts: WireDate;
  u: UserStub;
  _updatedAt?: WireDate;
  t?: string;
  mentions?: { _id: string; username: string; name?: string; type?: string }[];
  channels?: { _id: string; name: string }[];
  reactions?: Record<string, Reaction>;
  tmid?: string;
  tshow?: boolean;
  tcount?: number;
  tlm?: WireDate;
  replies?: string[];
  pinned?: boolean;
  starred?: { _id: string }[];
  editedAt?: WireDate;
  editedBy?: UserStub;
  /** The room role a `subscription-role-added`/`-removed` system message is about. */
  role?: string;
  alias?: string;
  emoji?: string;
  attachments?: Attachment[];
  groupable?: boolean;
  file?: MessageFile;
  files?: MessageFile[];
  /** Only this user sees it (a command's answer); never stored by the server. */
  private?: boolean;
  /** Automatic translation: language code → the message's text in it. */
  translations?: Record<string, string>;
  translationProvider?: string;
  /** Not yet read by every member (with read receipts on). */
  unread?: boolean;
  /** Client-only: sent but not confirmed by the server yet. */
  pending?: boolean;
  /** Client-only: the send failed. */
  failed?: boolean;
}

/** A file a message carries (upstream's `FileProp`). */
export interface MessageFile {
  _id: string;
  name: string;
  type?: string;
  size?: number;
  format?: string;
  typeGroup?: string;
}

/** A message attachment (upstream's `MessageAttachment`: files, images, media, quotes). */
export interface Attachment {
  type?: string;
  title?: string;
  title_link?: string;
  title_link_download?: boolean;
  description?: string;
  text?: string;
  fileId?: string;
  image_url?: string;
  image_type?: string;
  image_size?: number;
  image_dimensions?: { width?: number; height?: number };
  /** A tiny base64 image shown blurred while the real one loads. */
  image_preview?: string;
  audio_url?: string;
  audio_type?: string;
  audio_size?: number;
  video_url?: string;
  video_type?: string;
  video_size?: number;
  size?: number;
  format?: string;
  author_name?: string;
  message_link?: string;
}

export interface Subscription {
  _id: string;
  rid: string;
  name: string;
  fname?: string;
  t: RoomType;
  u: UserStub;
  ts?: WireDate;
  ls?: WireDate;
  lr?: WireDate;
  _updatedAt?: WireDate;
  open?: boolean;
  alert?: boolean;
  unread: number;
  userMentions: number;
  groupMentions: number;
  tunread?: string[];
  roles?: string[];
  f?: boolean;
  archived?: boolean;
  /** The member reads the room translated into `autoTranslateLanguage`. */
  autoTranslate?: boolean;
  autoTranslateLanguage?: string;
  /** Notification preferences for this room (`rooms.saveNotification`); absent: the account's. */
  desktopNotifications?: string;
  mobilePushNotifications?: string;
  emailNotifications?: string;
  audioNotificationValue?: string;
  muteGroupMentions?: boolean;
  hideUnreadStatus?: boolean;
  hideMentionStatus?: boolean;
  disableNotifications?: boolean;
}

export interface Room {
  _id: string;
  t: RoomType;
  name?: string;
  fname?: string;
  u?: UserStub;
  msgs?: number;
  usersCount?: number;
  usernames?: string[];
  uids?: string[];
  ro?: boolean;
  topic?: string;
  description?: string;
  announcement?: string;
  archived?: boolean;
  default?: boolean;
  lm?: WireDate;
  lastMessage?: Message;
  _updatedAt?: WireDate;
  /** The team the room belongs to. */
  teamId?: string;
  /** The room is its team's main room (the team itself on screen). */
  teamMain?: boolean;
  /** Team members join this room when they join the team (auto-join). */
  teamDefault?: boolean;
  /** A team's number of rooms (`directory` with `type: teams`). */
  roomsCount?: number;
}

/** A team (`teams.create`, `teams.info`); `type` 0 is public, 1 private. */
export interface Team {
  _id: string;
  name: string;
  type: 0 | 1;
  roomId: string;
  createdBy?: UserStub;
}

/** A member of a team with their team roles (`teams.members`). */
export interface TeamMember {
  user: { _id: string; username: string; name?: string; status?: PresenceStatus };
  roles?: string[];
}

export interface User {
  _id: string;
  username: string;
  name?: string;
  status?: PresenceStatus;
  statusText?: string;
  roles?: string[];
  active?: boolean;
  emails?: { address: string; verified: boolean }[];
  createdAt?: WireDate;
  lastLogin?: WireDate;
  type?: string;
  settings?: { preferences?: Record<string, unknown> };
  /** Changes whenever the user's avatar does; absent while they have none. */
  avatarETag?: string;
  /** Hours from UTC of the user's clock, as their client last reported it. */
  utcOffset?: number;
  /** The caller's own login services (`me`): whether TOTP or emailed codes are on. */
  services?: { password?: { exists?: boolean }; totp?: { enabled?: boolean }; email2fa?: { enabled?: boolean } };
}

export interface Setting {
  _id: string;
  value: unknown;
  type?: string;
  public?: boolean;
  packageValue?: unknown;
  group?: string;
  section?: string;
  i18nLabel?: string;
  /** A select setting's choices (DDP `private-settings/get`). */
  values?: { key: string; i18nLabel?: string }[];
  /** Where it stands in its group (DDP `private-settings/get`). */
  sorter?: number;
  /** A password or key: never shown in clear. */
  secret?: boolean;
}

export interface Role {
  _id: string;
  name: string;
  description?: string;
  scope?: string;
  protected?: boolean;
}

export function toMillis(date: WireDate | undefined | null): number {
  if (date == null) return 0;
  if (typeof date === 'number') return date;
  if (typeof date === 'string') return Date.parse(date) || 0;
  return date.$date ?? 0;
}

/** Turns DDP's EJSON dates into ISO strings everywhere in a value. */
export function fromEjson<T>(value: T): T {
  if (Array.isArray(value)) return value.map(fromEjson) as T;
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.$date === 'number' && Object.keys(record).length === 1) {
      return new Date(record.$date).toISOString() as T;
    }
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(record)) out[key] = fromEjson(inner);
    return out as T;
  }
  return value;
}

/** A slash command as `commands.list` describes it. */
export interface SlashCommand {
  command: string;
  /** Parameters hint: a translation key of upstream's client, or literal text. */
  params?: string;
  /** A translation key of upstream's client. */
  description: string;
  permission?: string | string[];
  clientOnly: boolean;
  providesPreview: boolean;
}

/** A reported message's room, as the moderation console lists it. */
export interface ReportRoom {
  _id: string;
  name?: string;
  fname?: string;
  t: RoomType;
}

/** One author's reported messages (`moderation.reportsByUsers`). */
export interface ReportedAuthor {
  userId: string;
  username: string;
  name?: string;
  message: string;
  msgId: string;
  ts: string;
  rooms: ReportRoom[];
  count: number;
  isUserDeleted: boolean;
}

/** One reported user (`moderation.userReports`). */
export interface ReportedUserGroup {
  reportedUser: { _id: string; username: string; name?: string };
  ts: string;
  count: number;
}

/** A reported message (`moderation.user.reportedMessages`). */
export interface ReportedMessage {
  _id: string;
  ts: string;
  message: Message;
  room: ReportRoom;
}

/** One audit log entry (`audit.log`, `audit.export`). */
export interface AuditEntry {
  seq: number;
  ts: string;
  actor: { _id: string; username: string };
  action: string;
  target: { kind: string; _id: string; name: string | null };
  clientAddress: string | null;
  userAgent: string | null;
  before: unknown;
  after: unknown;
  prevHash: string;
  hash: string;
}

/** The audit log's filters, as `audit.log` and `audit.export` take them. */
export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  /** Dates the server parses (ISO 8601); `until` is exclusive. */
  since?: string;
  until?: string;
}

/** A member holding room roles (`channels.roles`, `groups.roles`). */
export interface RoomRoleHolder {
  rid: string;
  u: { _id: string; username: string; name?: string };
  roles: string[];
}

/** A stored statistics snapshot (`statistics`), the fields the admin console shows. */
/** `autotranslate.status` (Comet's own): what automatic translation did since the start. */
export interface TranslationStatus {
  enabled: boolean;
  provider: string;
  translated: number;
  dropped: number;
  failures: number;
  lastFailure: { at: string; provider: string; error: string } | null;
  engine: { installedPairs: string[]; loadedPairs: string[] } | null;
}

export interface Statistics {
  _id?: string;
  version?: string;
  createdAt?: string;
  totalUsers: number;
  activeUsers: number;
  nonActiveUsers: number;
  onlineUsers: number;
  awayUsers: number;
  busyUsers: number;
  offlineUsers: number;
  totalRooms: number;
  totalChannels: number;
  totalPrivateGroups: number;
  totalDirect: number;
  totalDiscussions: number;
  totalThreads: number;
  totalMessages: number;
  totalChannelMessages: number;
  totalPrivateGroupMessages: number;
  totalDirectMessages: number;
  uploadsTotal: number;
  uploadsTotalSize: number;
  process?: { uptime?: number; nodeVersion?: string };
  database?: { type?: string; size?: number };
  deploy?: { method?: string; platform?: string };
}

/** `GET /api/info` as a `view-statistics` holder sees it. */
export interface ServerInfo {
  version: string;
  info?: {
    version?: string;
    commit?: { hash?: string; date?: string; branch?: string; tag?: string };
    comet?: { version?: string };
  };
}

/** An invite link as `listInvites` lists it (without its token). */
export interface Invite {
  _id: string;
  rid: string;
  userId: string;
  createdAt: string;
  expires: string | null;
  days: number;
  maxUses: number;
  uses: number;
}

/** The value of an `Assets_<name>` setting: `url` only while one is set. */
export interface AssetValue {
  url?: string;
  defaultUrl?: string;
}
