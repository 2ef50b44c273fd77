// The video-conference REST calls (upstream's `video-conference.*`, plus Comet's `leave` and
// `iceServers` for the built-in provider) and the shapes they answer.

import { api } from '../api';

/** Upstream's `VideoConferenceStatus`. */
export const CallStatus = {
  calling: 0,
  started: 1,
  expired: 2,
  ended: 3,
  declined: 4,
} as const;

export interface CallUser {
  _id: string;
  username: string;
  name?: string;
  avatarETag?: string;
  ts?: string;
}

/** Upstream's `IVideoConference`, as far as the client reads it. */
export interface CallInfo {
  _id: string;
  type: 'direct' | 'videoconference' | 'livechat';
  rid: string;
  status: number;
  users: CallUser[];
  createdBy: CallUser;
  createdAt: string;
  endedAt?: string;
  providerName: string;
  ringing?: boolean;
  title?: string;
  url?: string;
  /** Comet's built-in provider: who is in the call right now. */
  present?: string[];
}

export interface Capabilities {
  providerName: string;
  capabilities: { mic?: boolean; cam?: boolean; title?: boolean };
}

export interface StartResult {
  type: 'direct' | 'videoconference' | 'livechat';
  callId: string;
  rid: string;
  calleeId?: string;
}

export interface IceServerList {
  iceServers: RTCIceServer[];
  /** Seconds the TURN credentials stay valid. */
  ttl: number;
}

export const callsApi = {
  capabilities() {
    return api.rest.get<Capabilities>('video-conference.capabilities');
  },
  async start(roomId: string, title?: string): Promise<StartResult> {
    const body = await api.rest.post<{ data: StartResult }>('video-conference.start', {
      roomId,
      allowRinging: true,
      ...(title ? { title } : {}),
    });
    return body.data;
  },
  join(callId: string, state: { mic?: boolean; cam?: boolean } = {}) {
    return api.rest.post<{ url: string; providerName: string }>('video-conference.join', { callId, state });
  },
  cancel(callId: string) {
    return api.rest.post('video-conference.cancel', { callId });
  },
  leave(callId: string) {
    return api.rest.post('video-conference.leave', { callId });
  },
  async info(callId: string): Promise<CallInfo> {
    const body = await api.rest.get<CallInfo & { success?: boolean }>('video-conference.info', { callId });
    const { success: _success, ...info } = body;
    return info;
  },
  iceServers(callId: string) {
    return api.rest.get<IceServerList>('video-conference.iceServers', { callId });
  },
  /**
   * Leaves while the page is going away: a plain fetch would be cancelled with the page, a
   * keepalive one is sent anyway.
   */
  leaveOnUnload(callId: string) {
    try {
      void fetch('/api/v1/video-conference.leave', {
        method: 'POST',
        keepalive: true,
        headers: { 'Content-Type': 'application/json', ...api.rest.authHeaders() },
        body: JSON.stringify({ callId }),
      }).catch(() => {});
    } catch {
      // The page is closing; the server ends calls nobody is present in anyway.
    }
  },
};

/** The ringing events of `<uid>/video-conference` (upstream's `DirectCallParams`). */
export interface DirectCallParams {
  uid: string;
  rid: string;
  callId: string;
}

export type RingAction = 'call' | 'ring' | 'canceled' | 'accepted' | 'rejected' | 'confirmed' | 'join' | 'end';

/** Tells another user about a direct call, as upstream's client does (a stream write). */
export function notifyUser(uid: string, action: RingAction, params: DirectCallParams): Promise<unknown> {
  return api.ddp.call('stream-notify-user', `${uid}/video-conference`, { action, params });
}

/** Where a `video-conference.join` URL leads: Comet's call view, or another site. */
export function builtInCallId(url: string): string | null {
  try {
    const parsed = new URL(url, location.origin);
    const match = /^\/call\/([^/]+)\/?$/.exec(parsed.pathname);
    return match && parsed.origin === location.origin ? decodeURIComponent(match[1]) : null;
  } catch {
    return null;
  }
}
