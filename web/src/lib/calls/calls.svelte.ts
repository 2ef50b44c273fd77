// Calls: the active provider, the calls shown in timelines (kept fresh by `<rid>/videoconf`),
// and ringing for direct calls as upstream's client does it: the caller writes `call` to the
// callee's `<uid>/video-conference` every 3 s (10 times at most), the callee answers `accepted`
// or `rejected`, the caller confirms with `confirmed` and both join. An incoming call that is
// not rung again within 10 s is lost (missed). A ringing room call arrives once as `ring`:
// answering it simply joins.

import { api } from '../api';
import { router } from '../router.svelte';
import { notifications } from '../stores/notifications.svelte';
import { session } from '../stores/session.svelte';
import { t } from '../i18n.svelte';
import { builtInCallId, callsApi, notifyUser, type CallInfo, type Capabilities, type DirectCallParams, type RingAction } from './api';
import { Ringtone } from './ringtone';

const CALL_INTERVAL = 3_000;
const CALL_ATTEMPT_LIMIT = 10;
const CALL_TIMEOUT = 10_000;
const ACCEPT_TIMEOUT = 5_000;
const CAPABILITIES_MAX_AGE = 10_000;

export interface IncomingCall extends DirectCallParams {
  /** Accepted here; waiting for the caller's `confirmed`. */
  accepting: boolean;
  /** A ringing room call (`ring`): answering joins it, no handshake with the caller. */
  group: boolean;
}

/** How long a ringing room call (rung once) stays on screen. */
const GROUP_RING_TIMEOUT = 30_000;

class Calls {
  capabilities = $state<Capabilities | null>(null);
  /** Calls by id, as `video-conference.info` last answered. */
  infos = $state<Record<string, CallInfo>>({});
  /** Direct calls ringing here. */
  incoming = $state<IncomingCall[]>([]);
  /** The direct call this user is ringing. */
  outgoing = $state<DirectCallParams | null>(null);
  /** A call is being started (the button waits). */
  starting = $state(false);
  /** The ringing sound playing now. */
  sound = $state<'incoming' | 'outgoing' | null>(null);

  readonly ringtone = new Ringtone();
  private userId: string | null = null;
  private capabilitiesAt = 0;
  private incomingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private acceptTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private dismissed = new Set<string>();
  private ringTimer: ReturnType<typeof setInterval> | null = null;
  private refreshing = new Map<string, Promise<void>>();
  /** Calls that changed while a read of them was under way. */
  private readAgain = new Set<string>();
  /** Calls joined from this page (the call view need not join again). */
  readonly joinedHere = new Set<string>();

  /** Follows the user's ringing events; answers the function that stops it all. */
  connect(uid: string): () => void {
    this.userId = uid;
    const stop = api.ddp.stream('stream-notify-user', `${uid}/video-conference`, (args) => {
      const event = args[0] as { action?: unknown; params?: Partial<DirectCallParams> } | undefined;
      const params = event?.params;
      if (typeof event?.action !== 'string' || !params?.callId || !params.uid || !params.rid) return;
      this.onRingEvent(event.action as RingAction, { callId: params.callId, uid: params.uid, rid: params.rid });
    });
    void this.loadCapabilities(true);
    return () => {
      stop();
      this.reset();
    };
  }

  /** The active provider, read again when it may have changed. */
  async loadCapabilities(force = false) {
    if (!force && Date.now() - this.capabilitiesAt < CAPABILITIES_MAX_AGE) return;
    this.capabilitiesAt = Date.now();
    try {
      this.capabilities = await callsApi.capabilities();
    } catch {
      // No provider is configured: no call button.
      this.capabilities = null;
    }
  }

  /** Follows `<rid>/videoconf`: every change of a call in the room reloads it. */
  watchRoom(rid: string): () => void {
    return api.ddp.stream('stream-notify-room', `${rid}/videoconf`, (args) => {
      const first = args[0] as string | { _id?: string; callId?: string } | undefined;
      const callId = typeof first === 'string' ? first : (first?.callId ?? first?._id);
      if (callId) void this.refresh(callId);
      else for (const info of Object.values(this.infos)) if (info.rid === rid) void this.refresh(info._id);
    });
  }

  /** Reads a call again (one request at a time per call). */
  refresh(callId: string): Promise<void> {
    const running = this.refreshing.get(callId);
    if (running) {
      // The call may have changed after that request left (the end of the call, say): read it
      // once more when it is back, or the last change would be lost.
      this.readAgain.add(callId);
      return running;
    }
    const promise = callsApi
      .info(callId)
      .then((info) => {
        this.infos[callId] = info;
      })
      .catch(() => {})
      .finally(() => {
        this.refreshing.delete(callId);
        if (this.readAgain.delete(callId)) void this.refresh(callId);
      });
    this.refreshing.set(callId, promise);
    return promise;
  }

  /** The call button: a direct call rings the other member, a room call is joined at once. */
  async start(rid: string) {
    if (this.starting || this.outgoing) return;
    this.starting = true;
    try {
      const data = await callsApi.start(rid);
      if (data.type === 'direct' && data.calleeId) this.ring({ uid: data.calleeId, rid, callId: data.callId });
      else await this.join(data.callId);
    } catch (error) {
      notifications.fail(error);
    } finally {
      this.starting = false;
    }
  }

  /** Joins: Comet's own calls open the call view, others (Jitsi) their site in a new tab. */
  async join(callId: string) {
    if (this.incoming.some((c) => c.callId === callId)) {
      this.dismissed.add(callId);
      this.removeIncoming(callId);
    }
    try {
      const { url, providerName } = await callsApi.join(callId, { mic: true, cam: true });
      const ownCall = providerName === 'comet' ? callId : builtInCallId(url);
      if (ownCall) {
        this.joinedHere.add(ownCall);
        router.go(`/call/${encodeURIComponent(ownCall)}`);
      } else {
        window.open(url, '_blank', 'noopener');
      }
      void this.refresh(callId);
    } catch (error) {
      notifications.fail(error);
    }
  }

  private ring(params: DirectCallParams) {
    this.outgoing = params;
    this.ringtone.play('outgoing');
    let attempt = 1;
    void this.send(params.uid, 'call', params);
    this.ringTimer = setInterval(() => {
      attempt++;
      if (attempt > CALL_ATTEMPT_LIMIT) {
        void this.cancelOutgoing();
        return;
      }
      void this.send(params.uid, 'call', params);
    }, CALL_INTERVAL);
  }

  private stopRinging() {
    if (this.ringTimer) clearInterval(this.ringTimer);
    this.ringTimer = null;
    this.outgoing = null;
    this.updateSound();
  }

  /** Stops calling (Cancel, or nobody answered): the callee stops ringing, the call is cancelled. */
  async cancelOutgoing() {
    const call = this.outgoing;
    if (!call) return;
    this.stopRinging();
    await this.send(call.uid, 'canceled', call);
    try {
      await callsApi.cancel(call.callId);
    } catch {
      // Already answered or ended elsewhere.
    }
    void this.refresh(call.callId);
  }

  accept(callId: string) {
    const call = this.incoming.find((c) => c.callId === callId);
    if (!call || call.accepting) return;
    if (call.group) {
      void this.join(callId);
      return;
    }
    this.clearIncomingTimer(callId);
    this.dismissed.add(callId);
    call.accepting = true;
    this.updateSound();
    this.acceptTimers.set(
      callId,
      setTimeout(() => {
        this.removeIncoming(callId);
        notifications.notify(t('call.accept_failed'), 'error');
      }, ACCEPT_TIMEOUT),
    );
    void this.send(call.uid, 'accepted', call);
  }

  decline(callId: string) {
    const call = this.incoming.find((c) => c.callId === callId);
    this.dismissed.add(callId);
    if (!call) return;
    if (!call.group) void this.send(call.uid, 'rejected', call);
    this.removeIncoming(callId);
  }

  private send(uid: string, action: RingAction, call: DirectCallParams) {
    const me = this.userId;
    if (!me) return Promise.resolve();
    return notifyUser(uid, action, { uid: me, rid: call.rid, callId: call.callId }).catch(() => {});
  }

  private onRingEvent(action: RingAction, params: DirectCallParams) {
    switch (action) {
      case 'call':
        return this.onCall(params, false);
      case 'ring':
        return this.onCall(params, true);
      case 'canceled':
      case 'end':
        if (this.incoming.some((c) => c.callId === params.callId)) {
          this.removeIncoming(params.callId);
          void this.refresh(params.callId);
        } else if (action === 'end' && this.outgoing?.callId === params.callId) {
          this.stopRinging();
        }
        return;
      case 'accepted':
        if (this.outgoing?.callId !== params.callId) return;
        this.stopRinging();
        void this.send(params.uid, 'confirmed', params);
        void this.join(params.callId);
        return;
      case 'join':
        // The callee joined without answering (from the call message): stop ringing them.
        if (params.uid === this.userId) {
          if (this.incoming.some((c) => c.callId === params.callId)) this.removeIncoming(params.callId);
        } else if (this.outgoing?.callId === params.callId) {
          this.stopRinging();
          void this.join(params.callId);
        }
        return;
      case 'rejected':
        if (this.outgoing?.callId !== params.callId) return;
        this.stopRinging();
        notifications.notify(t('call.declined_notice'));
        void callsApi
          .cancel(params.callId)
          .catch(() => {})
          .then(() => this.refresh(params.callId));
        return;
      case 'confirmed': {
        const call = this.incoming.find((c) => c.callId === params.callId);
        if (!call?.accepting) return;
        this.removeIncoming(params.callId);
        void this.join(params.callId);
        return;
      }
    }
  }

  private onCall(params: DirectCallParams, group: boolean) {
    if (this.dismissed.has(params.callId)) return;
    const known = this.incoming.find((c) => c.callId === params.callId);
    if (known?.accepting) return;
    if (!known) {
      // A new call from the same person replaces their older one.
      for (const old of this.incoming.filter((c) => c.uid === params.uid)) this.decline(old.callId);
      this.incoming.push({ ...params, accepting: false, group });
      void this.refresh(params.callId);
    }
    this.clearIncomingTimer(params.callId);
    this.incomingTimers.set(
      params.callId,
      setTimeout(() => {
        // The caller stopped ringing without a word: a missed call.
        this.removeIncoming(params.callId);
        void this.refresh(params.callId);
      }, group ? GROUP_RING_TIMEOUT : CALL_TIMEOUT),
    );
    this.updateSound();
  }

  private clearIncomingTimer(callId: string) {
    const timer = this.incomingTimers.get(callId);
    if (timer) clearTimeout(timer);
    this.incomingTimers.delete(callId);
  }

  private removeIncoming(callId: string) {
    this.clearIncomingTimer(callId);
    const accept = this.acceptTimers.get(callId);
    if (accept) clearTimeout(accept);
    this.acceptTimers.delete(callId);
    this.incoming = this.incoming.filter((c) => c.callId !== callId);
    this.updateSound();
  }

  private updateSound() {
    if (this.incoming.some((c) => !c.accepting)) this.ringtone.play('incoming');
    else if (this.outgoing) this.ringtone.play('outgoing');
    else this.ringtone.stop();
    this.sound = this.ringtone.tone;
  }

  /** Whether the user may start a call in `rid` (a provider is active; upstream's permission). */
  canCall(rid: string): boolean {
    return Boolean(this.capabilities) && session.can('call-management', rid);
  }

  reset() {
    if (this.ringTimer) clearInterval(this.ringTimer);
    this.ringTimer = null;
    for (const timer of this.incomingTimers.values()) clearTimeout(timer);
    for (const timer of this.acceptTimers.values()) clearTimeout(timer);
    this.incomingTimers.clear();
    this.acceptTimers.clear();
    this.incoming = [];
    this.outgoing = null;
    this.infos = {};
    this.capabilities = null;
    this.capabilitiesAt = 0;
    this.ringtone.stop();
    this.sound = null;
    this.userId = null;
  }
}

export const calls = new Calls();
