// The server's custom user statuses (a name and one of the presence types): loaded with
// `custom-user-status.list`, kept current by `updateCustomUserStatus`/`deleteCustomUserStatus`
// on `stream-notify-logged`. The status menu offers them.

import { api } from '../api';

export interface CustomUserStatus {
  _id: string;
  name: string;
  statusType: string;
  _updatedAt?: string;
}

class CustomStatusStore {
  byId = $state<Record<string, CustomUserStatus>>({});
  list = $derived(Object.values(this.byId).sort((a, b) => a.name.localeCompare(b.name)));

  async load() {
    try {
      const body = await api.rest.get<{ statuses: CustomUserStatus[] }>('custom-user-status.list', { count: 100 });
      const next: Record<string, CustomUserStatus> = {};
      for (const status of body.statuses) next[status._id] = status;
      this.byId = next;
    } catch {
      // The status menu then offers the standard statuses only.
    }
  }

  applyUpdate(status: CustomUserStatus | undefined) {
    if (status?._id) this.byId[status._id] = status;
  }

  applyDelete(status: { _id?: string } | undefined) {
    if (status?._id) delete this.byId[status._id];
  }

  reset() {
    this.byId = {};
  }
}

export const customStatuses = new CustomStatusStore();
