// Who is logged in: their user document, whether the first load is done, the connection, the
// permission table (what their roles allow) and the public settings the client needs.

import { branding } from './branding.svelte';
import { api, type ConnectionState } from '../api';
import type { User } from '../types';
import { rooms } from './rooms.svelte';

/** The public FileUpload_* settings the client checks before sending a file. */
export interface UploadLimits {
  enabled: boolean;
  enabledDirect: boolean;
  /** Bytes; negative means no limit (upstream's -1). */
  maxSize: number;
  allow: string;
  deny: string;
}

/** The administration screens and the permissions that open them (upstream's). */
export const ADMIN_SECTIONS = {
  users: ['view-user-administration'],
  rooms: ['view-room-administration'],
  settings: ['view-privileged-setting', 'edit-privileged-setting'],
  roles: ['access-permissions'],
  permissions: ['access-permissions'],
  moderation: ['view-moderation-console'],
  audit: ['view-audit-log'],
  workspace: ['view-statistics'],
  invites: ['create-invite-links'],
  assets: ['manage-assets'],
  'custom-emoji': ['manage-emoji'],
  'user-status': ['manage-user-status'],
  sounds: ['manage-sounds'],
} as const;

export type AdminSection = keyof typeof ADMIN_SECTIONS;

class Session {
  me = $state<User | null>(null);
  /** True once everything the first screen needs has loaded. */
  ready = $state(false);
  conn = $state<ConnectionState>('offline');
  siteName = $state('Comet');
  /** `Show_Setup_Wizard`: a new workspace's first administrator is walked through its setup. */
  setupWizard = $state('completed');
  /** The administrator put the setup wizard off for this visit. */
  setupWizardLater = $state(false);
  /** Server defaults until the public settings arrive; the server checks again anyway. */
  uploadLimits = $state<UploadLimits>({
    enabled: true,
    enabledDirect: true,
    maxSize: 104_857_600,
    allow: '',
    deny: 'image/svg+xml',
  });
  /** `Message_AllowUnrecognizedSlashCommand`: an unknown `/word` is sent as a message. */
  allowUnknownCommands = $state(false);
  /** `Accounts_TwoFactorAuthentication_By_Email_Enabled` (and two-factor itself on). */
  emailTwoFactor = $state(false);
  /** `AutoTranslate_Enabled`: messages can be translated (for holders of `auto-translate`). */
  autoTranslateEnabled = $state(false);
  /** `Site_Url`: where message links (permalinks) point. */
  siteUrl = $state(location.origin);
  /** `Message_Read_Receipt_Enabled`: who read a message can be asked. */
  readReceipts = $state(false);
  /** Called after logging out (the app goes back to the login form). */
  onLoggedOut: () => void = () => {};

  /** Role names allowed each permission (`permissions.listAll`, then `permissions-changed`). */
  private permissions = $state<Record<string, string[]>>({});

  /** The administration screens the user may open, in menu order. */
  adminSections = $derived(
    (Object.keys(ADMIN_SECTIONS) as AdminSection[]).filter((section) =>
      ADMIN_SECTIONS[section].some((permission) => this.holds(permission)),
    ),
  );

  /**
   * Whether the user holds `permission`, globally or through their roles in `rid`. A
   * permission missing from the table is offered: the server decides anyway.
   */
  can(permission: string, rid?: string): boolean {
    const allowed = this.permissions[permission];
    if (!allowed) return true;
    const roles = [...(this.me?.roles ?? []), ...((rid && rooms.subs[rid]?.roles) || [])];
    return roles.some((role) => allowed.includes(role));
  }

  /** Whether the table grants `permission` to one of the user's global roles (strict). */
  holds(permission: string): boolean {
    const allowed = this.permissions[permission];
    return Boolean(allowed && this.me?.roles?.some((role) => allowed.includes(role)));
  }

  async loadPermissions() {
    try {
      const { update } = await api.permissions();
      const map: Record<string, string[]> = {};
      for (const permission of update) map[permission._id] = permission.roles;
      this.permissions = map;
    } catch {
      // Without the table every action is offered; the server still decides.
    }
  }

  /** A `permissions-changed` event: a permission's roles changed. */
  applyPermission(permission: { _id: string; roles?: string[] }) {
    if (permission?._id && Array.isArray(permission.roles)) this.permissions[permission._id] = permission.roles;
  }

  /** A `roles-change` event: a global role given to or taken from the user. */
  applyRoleChange(change: { type?: string; _id?: string; u?: { _id?: string }; scope?: string }) {
    const me = this.me;
    if (!me || !change?._id || change.u?._id !== me._id || change.scope) return;
    const roles = (me.roles ?? []).filter((role) => role !== change._id);
    if (change.type === 'added') roles.push(change._id);
    me.roles = roles;
  }

  /**
   * A `<uid>/userData` event: the user's own document changed, by them elsewhere or by an
   * administrator (a rename, new roles): the header and permissions follow.
   */
  applyUserData(change: { diff?: { roles?: unknown; name?: unknown; username?: unknown } }) {
    const diff = change?.diff;
    const me = this.me;
    if (!me || !diff) return;
    if (Array.isArray(diff.roles)) me.roles = diff.roles.filter((r): r is string => typeof r === 'string');
    if (typeof diff.name === 'string') me.name = diff.name;
    if (typeof diff.username === 'string' && diff.username) me.username = diff.username;
  }

  async loadSettings() {
    try {
      const { settings } = await api.publicSettings();
      const value = (id: string) => settings.find((s) => s._id === id)?.value;
      branding.load(settings);
      const name = value('Site_Name');
      if (typeof name === 'string' && name) this.siteName = name;
      const wizard = value('Show_Setup_Wizard');
      if (typeof wizard === 'string') this.setupWizard = wizard;
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
      this.allowUnknownCommands = value('Message_AllowUnrecognizedSlashCommand') === true;
      this.autoTranslateEnabled = value('AutoTranslate_Enabled') === true;
      const site = value('Site_Url');
      if (typeof site === 'string' && site.trim()) this.siteUrl = site.trim().replace(/\/+$/, '');
      this.readReceipts = value('Message_Read_Receipt_Enabled') === true;
      this.emailTwoFactor =
        value('Accounts_TwoFactorAuthentication_Enabled') !== false &&
        value('Accounts_TwoFactorAuthentication_By_Email_Enabled') === true;
    } catch {
      // Defaults are fine.
    }
  }

  /** Whether the translation menu, panel and message action are offered. */
  get canTranslate(): boolean {
    return this.autoTranslateEnabled && this.can('auto-translate');
  }

  /** A `public-settings-changed` event for a setting the session follows. */
  applyPublicSetting(id: string, value: unknown) {
    if (id === 'AutoTranslate_Enabled') this.autoTranslateEnabled = value === true;
    if (id === 'Site_Name' && typeof value === 'string' && value) this.siteName = value;
    if (id === 'Message_Read_Receipt_Enabled') this.readReceipts = value === true;
    if (id === 'Show_Setup_Wizard' && typeof value === 'string') this.setupWizard = value;
  }

  reset() {
    this.me = null;
    this.ready = false;
  }
}

export const session = new Session();
