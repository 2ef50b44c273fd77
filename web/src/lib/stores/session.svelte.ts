// Who is logged in: their user document, whether the first load is done, the connection, the
// permission table (what their roles allow) and the public settings the client needs.

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

class Session {
  me = $state<User | null>(null);
  /** True once everything the first screen needs has loaded. */
  ready = $state(false);
  conn = $state<ConnectionState>('offline');
  siteName = $state('Comet');
  /** Server defaults until the public settings arrive; the server checks again anyway. */
  uploadLimits = $state<UploadLimits>({
    enabled: true,
    enabledDirect: true,
    maxSize: 104_857_600,
    allow: '',
    deny: 'image/svg+xml',
  });
  /** Called after logging out (the app goes back to the login form). */
  onLoggedOut: () => void = () => {};

  /** Role names allowed each permission (`permissions.listAll`). */
  private permissions = $state<Record<string, string[]>>({});

  get isAdmin() {
    return Boolean(this.me?.roles?.includes('admin'));
  }

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

  async loadSettings() {
    try {
      const { settings } = await api.publicSettings();
      const value = (id: string) => settings.find((s) => s._id === id)?.value;
      const name = value('Site_Name');
      if (typeof name === 'string' && name) this.siteName = name;
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
    } catch {
      // Defaults are fine.
    }
  }

  reset() {
    this.me = null;
    this.ready = false;
  }
}

export const session = new Session();
