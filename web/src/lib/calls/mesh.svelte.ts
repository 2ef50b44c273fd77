// A call with Comet's built-in provider: a WebRTC mesh (every participant connected to every
// other, at most 6), signalled over DDP. Offers, answers, candidates and `bye` go to a peer
// with the `stream-notify-user` method on `<peerUid>/webrtc`; the server relays them only
// between users present in the call and stamps `from`. Whoever joins offers to everyone
// already present; when two offer to each other at once, the user with the smaller id wins
// and the other answers. An offer or answer carries the candidates gathered by then (each
// signal counts against the DDP rate limits). An offer sent before its peer listened is lost:
// one unanswered for a while is made again. `<rid>/videoconf` tells who is still present.

import { api, ApiError } from '../api';
import { callsApi, type CallInfo } from './api';

/** localStorage flag (diagnostics, tests): `1` sends every packet through TURN. */
export const FORCE_RELAY_KEY = 'comet.calls.forceRelay';
/** How long joining waits for the server to listen for our signals before going on anyway. */
const STREAM_READY_TIMEOUT_MS = 5_000;
/**
 * An offer unanswered this long after it went is made again, with a fresh connection: it
 * was sent before the peer listened (joined from a ringing call), or lost with a connection.
 * Doubled each time, at most `OFFER_ATTEMPTS` offers in all.
 */
const OFFER_RETRY_MS = 4_000;
const OFFER_ATTEMPTS = 6;
/** How long an offer or answer waits for the candidates to be gathered into it. */
const GATHER_WAIT_MS = 1_500;
/** How long a signal refused by the rate limits waits, at most, before its one retry. */
const RATE_LIMIT_WAIT_MS = 15_000;
/** How long the speaker highlight stays after the last loud sound. */
const SPEAKING_HOLD_MS = 1200;
/**
 * The sound each look at a speaker's level sees: about 340 ms at 48 kHz, more than the 200 ms
 * between looks, so that no sound falls between two of them.
 */
const ANALYSER_SAMPLES = 16_384;
/** Loudness is that of the loudest ~20 ms in a look: a short syllable is not averaged away. */
const LOUDNESS_BLOCK = 1_024;
/** The RMS level (full scale 1) above which someone is speaking. */
const SPEAKING_LEVEL = 0.02;

/** The RMS level of the loudest block of `samples`. */
function loudestBlock(samples: Float32Array): number {
  let loudest = 0;
  for (let start = 0; start < samples.length; start += LOUDNESS_BLOCK) {
    const end = Math.min(samples.length, start + LOUDNESS_BLOCK);
    let sum = 0;
    for (let i = start; i < end; i++) sum += samples[i] * samples[i];
    loudest = Math.max(loudest, Math.sqrt(sum / (end - start)));
  }
  return loudest;
}

interface Signal {
  callId: string;
  from: string;
  type: 'offer' | 'answer' | 'candidate' | 'bye';
  sdp?: string;
  candidate?: RTCIceCandidateInit;
}

export interface RemoteTile {
  uid: string;
  stream: MediaStream;
  state: RTCPeerConnectionState;
}

/** How long a DDP refusal of the rate limits says to wait (ms), `null` for another error. */
function rateLimitWait(error: unknown): number | null {
  if (!(error instanceof ApiError) || error.errorType !== 'too-many-requests') return null;
  const details = (error.body as { details?: { timeToReset?: unknown } } | undefined)?.details;
  return typeof details?.timeToReset === 'number' ? details.timeToReset : 1_000;
}

class Peer {
  readonly pc: RTCPeerConnection;
  readonly stream = new MediaStream();
  /** Signals are handled one after the other: an answer must not overtake its offer. */
  private queue: Promise<void> = Promise.resolve();
  private pendingCandidates: RTCIceCandidateInit[] = [];
  /** Whether our offer or answer has gone: candidates found after it are sent one by one. */
  private descriptionSent = false;
  private gathered: () => void = () => {};
  /** When it began: a reading of the call asked for before then cannot speak of it. */
  readonly createdAt = performance.now();

  constructor(
    readonly uid: string,
    configuration: RTCConfiguration,
    private readonly session: CallSession,
  ) {
    this.pc = new RTCPeerConnection(configuration);
    this.pc.ontrack = (event) => {
      if (!this.stream.getTracks().includes(event.track)) this.stream.addTrack(event.track);
      session.touch();
    };
    this.pc.onicecandidate = (event) => {
      if (!event.candidate) {
        this.gathered();
        return;
      }
      // Until the description is sent its SDP carries the candidates; only later ones
      // travel alone.
      if (this.descriptionSent) void session.signal(uid, { type: 'candidate', candidate: event.candidate.toJSON() });
    };
    this.pc.onconnectionstatechange = () => {
      session.touch();
      if (this.pc.connectionState === 'failed') session.reconnect(uid);
    };
  }

  enqueue(work: () => Promise<void>) {
    this.queue = this.queue.then(work).catch(() => {});
    return this.queue;
  }

  /** Sends (or, answering, accepts) the local tracks on one audio and one video transceiver. */
  attachLocal(local: MediaStream, video: MediaStreamTrack | null) {
    const audio = local.getAudioTracks()[0] ?? null;
    const transceivers = this.pc.getTransceivers();
    for (const [kind, track] of [['audio', audio], ['video', video]] as const) {
      const existing = transceivers.find((tr) => tr.receiver.track.kind === kind && tr.currentDirection !== 'stopped');
      if (existing) {
        void existing.sender.replaceTrack(track);
        existing.sender.setStreams?.(local);
        existing.direction = 'sendrecv';
      } else {
        this.pc.addTransceiver(track ?? kind, { direction: 'sendrecv', streams: [local] });
      }
    }
  }

  async offer() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.sendDescription('offer');
  }

  /**
   * Sends our description once the candidates are gathered, or after `GATHER_WAIT_MS` with
   * those found so far (a slow STUN or TURN server), the rest following one by one. One
   * message instead of one per candidate: every signal counts against the server's DDP rate
   * limits (`stream-*` methods: 40 per 40 s per connection by default).
   */
  private async sendDescription(type: 'offer' | 'answer') {
    if (this.pc.iceGatheringState !== 'complete') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, GATHER_WAIT_MS);
        this.gathered = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.gathered = () => {};
    // Read and marked sent at once: a candidate found from here on is not in this SDP.
    const sdp = this.pc.localDescription?.sdp;
    this.descriptionSent = true;
    await this.session.signal(this.uid, { type, sdp });
  }

  async answer(sdp: string, local: MediaStream, video: MediaStreamTrack | null) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    this.attachLocal(local, video);
    await this.flushCandidates();
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await this.sendDescription('answer');
  }

  async accept(sdp: string) {
    if (this.pc.signalingState !== 'have-local-offer') return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    await this.flushCandidates();
  }

  async candidate(candidate: RTCIceCandidateInit) {
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(candidate);
      return;
    }
    // A candidate of an offer that lost a collision belongs to no session here: ignore it.
    await this.pc.addIceCandidate(candidate).catch(() => {});
  }

  private async flushCandidates() {
    const pending = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const candidate of pending) await this.pc.addIceCandidate(candidate).catch(() => {});
  }

  close() {
    this.pc.close();
    for (const track of this.stream.getTracks()) track.stop();
  }
}

export class CallSession {
  /** Remote participants, in the order they connected. */
  tiles = $state<RemoteTile[]>([]);
  local = $state<MediaStream | null>(null);
  micOn = $state(true);
  camOn = $state(true);
  sharing = $state(false);
  info = $state<CallInfo | null>(null);
  /** Readings of the call asked for, and the newest one applied (see `reloadInfo`). */
  private infoReads = 0;
  private infoApplied = 0;
  /** Why the call cannot go on (refused join, no media at all), for the view. */
  error = $state('');
  ended = $state(false);
  /** Who is speaking now (remote users' ids; `me` for the local user). */
  speaking = $state<Record<string, boolean>>({});

  private peers = new Map<string, Peer>();
  private configuration: RTCConfiguration = {};
  private ready: Promise<void>;
  /** Signals still to be handled, in order (see `receive`). */
  private inbox: Promise<void> = Promise.resolve();
  private markReady: () => void = () => {};
  private stops: (() => void)[] = [];
  private camera: MediaStreamTrack | null = null;
  private screen: MediaStreamTrack | null = null;
  private audioContext: AudioContext | null = null;
  /** When each speaker was last heard (`performance.now()`). */
  private lastLoud = new Map<string, number>();
  private analysers = new Map<string, { analyser: AnalyserNode; source: MediaStreamAudioSourceNode; track: MediaStreamTrack }>();
  private left = false;
  /** Offers to make again if unanswered (see `offerTo`). */
  private offerTimers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    readonly callId: string,
    readonly me: string,
  ) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  /** Media, signalling, joining, then an offer to everyone already in the call. */
  async start(alreadyJoined: boolean) {
    this.local = await this.openMedia();
    this.camera = this.local.getVideoTracks()[0] ?? null;
    this.camOn = Boolean(this.camera);
    this.micOn = this.local.getAudioTracks().length > 0;
    this.stops.push(
      api.ddp.stream('stream-notify-user', `${this.me}/webrtc`, (args) => {
        const signal = args[0] as Signal | undefined;
        if (signal?.callId === this.callId && signal.from && signal.from !== this.me) this.receive(signal);
      }),
    );
    // Offers and answers sent to us before the server listens for us would be lost: the peers
    // learn that we are here (join, `present`) only once it does.
    await api.ddp.whenStreamReady('stream-notify-user', `${this.me}/webrtc`, STREAM_READY_TIMEOUT_MS);
    const onUnload = () => this.leaveOnUnload();
    window.addEventListener('pagehide', onUnload);
    this.stops.push(() => window.removeEventListener('pagehide', onUnload));
    try {
      if (!alreadyJoined) await callsApi.join(this.callId, { mic: this.micOn, cam: this.camOn });
      await this.loadIceServers();
      this.info = await callsApi.info(this.callId);
    } catch (error) {
      this.error = error instanceof Error ? error.message : String(error);
      this.stopMedia();
      return;
    }
    this.stops.push(api.ddp.stream('stream-notify-room', `${this.info.rid}/videoconf`, () => void this.reloadInfo()));
    const speakingTimer = setInterval(() => this.measureSpeaking(), 200);
    this.stops.push(() => clearInterval(speakingTimer));
    this.markReady();
    for (const uid of this.info.present ?? []) {
      if (uid !== this.me && !this.peers.has(uid)) this.offerTo(uid);
    }
  }

  private async openMedia(): Promise<MediaStream> {
    for (const constraints of [{ audio: true, video: true }, { audio: true }, { video: true }]) {
      try {
        return await navigator.mediaDevices.getUserMedia(constraints);
      } catch {
        // Try with less: a machine without a camera still joins with its microphone.
      }
    }
    return new MediaStream();
  }

  private localStream(): MediaStream {
    return this.local ?? new MediaStream();
  }

  private sendingVideo(): MediaStreamTrack | null {
    return this.screen ?? this.camera;
  }

  private forceRelay(): boolean {
    try {
      return localStorage.getItem(FORCE_RELAY_KEY) === '1';
    } catch {
      return false;
    }
  }

  /** TURN credentials expire: fetched again at half their lifetime, for every connection. */
  private async loadIceServers() {
    const { iceServers, ttl } = await callsApi.iceServers(this.callId);
    this.configuration = {
      iceServers,
      ...(this.forceRelay() ? { iceTransportPolicy: 'relay' as const } : {}),
    };
    for (const peer of this.peers.values()) {
      try {
        peer.pc.setConfiguration(this.configuration);
      } catch {
        // A closed connection.
      }
    }
    if (ttl > 0 && !this.left) {
      const timer = setTimeout(() => void this.loadIceServers().catch(() => {}), Math.max(30, ttl / 2) * 1000);
      this.stops.push(() => clearTimeout(timer));
    }
  }

  private createPeer(uid: string): Peer {
    const peer = new Peer(uid, this.configuration, this);
    this.peers.set(uid, peer);
    this.tiles = [...this.tiles, { uid, stream: peer.stream, state: peer.pc.connectionState }];
    return peer;
  }

  private dropPeer(uid: string) {
    const peer = this.peers.get(uid);
    if (!peer) return;
    this.peers.delete(uid);
    peer.close();
    this.forgetAnalyser(uid);
    this.tiles = this.tiles.filter((tile) => tile.uid !== uid);
  }

  /**
   * A connection failed (a network change, an expired relay): the user with the smaller id
   * starts a new one with a fresh offer, which the other answers in place of the old.
   */
  reconnect(uid: string) {
    if (this.left || this.me > uid || !this.peers.has(uid)) return;
    this.dropPeer(uid);
    this.offerTo(uid);
  }

  private offerTo(uid: string, attempt = 1) {
    const peer = this.createPeer(uid);
    void peer.enqueue(async () => {
      peer.attachLocal(this.localStream(), this.sendingVideo());
      await peer.offer();
      if (attempt < OFFER_ATTEMPTS && !this.left) this.offerAgainIfUnanswered(peer, attempt);
    });
  }

  private offerAgainIfUnanswered(peer: Peer, attempt: number) {
    const { uid } = peer;
    const timer = setTimeout(
      () => {
        this.offerTimers.delete(timer);
        void peer.enqueue(async () => {
          // Still this connection, and still no answer: offer again. (Their own offer,
          // answered in its place, replaced this connection.)
          if (this.left || this.peers.get(uid) !== peer || peer.pc.signalingState !== 'have-local-offer') return;
          this.dropPeer(uid);
          this.offerTo(uid, attempt + 1);
        });
      },
      OFFER_RETRY_MS * 2 ** (attempt - 1),
    );
    this.offerTimers.add(timer);
  }

  /** Something about a peer changed (tracks, connection state): refresh the tiles. */
  touch() {
    this.tiles = this.tiles.map((tile) => {
      const peer = this.peers.get(tile.uid);
      return peer ? { ...tile, state: peer.pc.connectionState } : tile;
    });
  }

  async signal(to: string, payload: Omit<Signal, 'callId' | 'from'>) {
    if (this.left) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await api.ddp.call('stream-notify-user', `${to}/webrtc`, { callId: this.callId, ...payload });
        return;
      } catch (error) {
        // Refused by the rate limits: once more when they allow. Otherwise the peer left
        // meanwhile: the server refuses, and `<rid>/videoconf` will say so.
        const wait = rateLimitWait(error);
        if (wait === null || attempt > 1 || this.left) return;
        await new Promise((resolve) => setTimeout(resolve, Math.min(wait, RATE_LIMIT_WAIT_MS)));
        if (this.left) return;
      }
    }
  }

  /**
   * One signal at a time, in the order they came: an offer that replaces a connection must be
   * in place before the candidates sent after it are handed to a connection.
   */
  private receive(signal: Signal) {
    this.inbox = this.inbox.then(() => this.onSignal(signal)).catch(() => {});
  }

  private async onSignal(signal: Signal) {
    await this.ready;
    if (this.left) return;
    const { from } = signal;
    if (signal.type === 'bye') {
      this.dropPeer(from);
      return;
    }
    const peer = this.peers.get(from);
    if (signal.type === 'offer') {
      if (peer) {
        // Decided in the peer's queue, after any offer of ours already under way has been
        // set: judged before, an offer still being made looks like none, and both sides
        // would then drop theirs and answer an offer the other has dropped.
        let keepOurs = false;
        await peer.enqueue(async () => {
          keepOurs = peer.pc.signalingState === 'have-local-offer' && this.me < from;
        });
        // Both offered at once: the smaller id keeps its offer, the other answers it.
        if (keepOurs || this.left) return;
        // Otherwise any earlier connection with them is over (they offered anew: a reload).
        this.dropPeer(from);
      }
      const target = this.createPeer(from);
      const sdp = signal.sdp ?? '';
      void target.enqueue(() => target.answer(sdp, this.localStream(), this.sendingVideo()));
      return;
    }
    if (!peer) return;
    if (signal.type === 'answer' && signal.sdp) {
      const sdp = signal.sdp;
      void peer.enqueue(() => peer.accept(sdp));
    } else if (signal.type === 'candidate' && signal.candidate) {
      const candidate = signal.candidate;
      void peer.enqueue(() => peer.candidate(candidate));
    }
  }

  private async reloadInfo() {
    const asked = performance.now();
    const serial = ++this.infoReads;
    let info: CallInfo;
    try {
      info = await callsApi.info(this.callId);
    } catch {
      return;
    }
    // Answers may arrive out of order; only the newest reading counts.
    if (serial < this.infoApplied) return;
    this.infoApplied = serial;
    this.info = info;
    const present = new Set(info.present ?? []);
    // A connection that began after the reading was asked for (their offer overtook it) is
    // not ended by it: the reading predates their join.
    for (const [uid, peer] of [...this.peers]) if (!present.has(uid) && peer.createdAt < asked) this.dropPeer(uid);
    if (this.info.status !== 0 && this.info.status !== 1) this.ended = true;
  }

  toggleMic() {
    this.micOn = !this.micOn;
    for (const track of this.local?.getAudioTracks() ?? []) track.enabled = this.micOn;
  }

  toggleCamera() {
    this.camOn = !this.camOn;
    if (this.camera) this.camera.enabled = this.camOn;
  }

  async toggleScreen() {
    if (this.screen) {
      this.stopScreen();
      return;
    }
    let display: MediaStream;
    try {
      display = await navigator.mediaDevices.getDisplayMedia({ video: true });
    } catch {
      return;
    }
    const track = display.getVideoTracks()[0];
    if (!track) return;
    this.screen = track;
    this.sharing = true;
    // The browser's own "Stop sharing" ends the track.
    track.onended = () => this.stopScreen();
    this.replaceVideo(track);
  }

  private stopScreen() {
    this.screen?.stop();
    this.screen = null;
    this.sharing = false;
    this.replaceVideo(this.camera);
  }

  /** Swaps what every peer sees without renegotiating. */
  private replaceVideo(track: MediaStreamTrack | null) {
    for (const peer of this.peers.values()) {
      const sender = peer.pc.getTransceivers().find((tr) => tr.receiver.track.kind === 'video')?.sender;
      void sender?.replaceTrack(track).catch(() => {});
    }
    const local = this.local;
    if (!local) return;
    const shown = new MediaStream([...local.getAudioTracks(), ...(track ? [track] : [])]);
    this.local = shown;
  }

  private analyserFor(key: string, track: MediaStreamTrack | undefined) {
    const known = this.analysers.get(key);
    if (known && known.track === track) return known.analyser;
    if (known) this.forgetAnalyser(key);
    if (!track || track.readyState !== 'live') return null;
    try {
      this.audioContext ??= new AudioContext();
      const source = this.audioContext.createMediaStreamSource(new MediaStream([track]));
      const analyser = this.audioContext.createAnalyser();
      analyser.fftSize = ANALYSER_SAMPLES;
      source.connect(analyser);
      this.analysers.set(key, { analyser, source, track });
      return analyser;
    } catch {
      return null;
    }
  }

  private forgetAnalyser(key: string) {
    const known = this.analysers.get(key);
    if (!known) return;
    known.source.disconnect();
    this.analysers.delete(key);
  }

  /** The speaker highlight: the loudness of each audio track, several times a second. */
  private measureSpeaking() {
    void this.audioContext?.resume().catch(() => {});
    const next: Record<string, boolean> = {};
    const sources: [string, MediaStreamTrack | undefined, boolean][] = [
      ['me', this.local?.getAudioTracks()[0], this.micOn],
      ...this.tiles.map((tile): [string, MediaStreamTrack | undefined, boolean] => [tile.uid, tile.stream.getAudioTracks()[0], true]),
    ];
    const samples = new Float32Array(ANALYSER_SAMPLES);
    const now = performance.now();
    for (const [key, track, on] of sources) {
      const analyser = this.analyserFor(key, track);
      if (!analyser || !on) continue;
      analyser.getFloatTimeDomainData(samples);
      if (loudestBlock(samples) > SPEAKING_LEVEL) this.lastLoud.set(key, now);
      // The highlight stays a moment after the last loud sound, so that it does not flicker
      // between words.
      next[key] = now - (this.lastLoud.get(key) ?? -Infinity) < SPEAKING_HOLD_MS;
    }
    const changed = Object.keys({ ...next, ...this.speaking }).some((key) => Boolean(next[key]) !== Boolean(this.speaking[key]));
    if (changed) this.speaking = next;
  }

  /** Connection statistics, for the diagnostics hook and the tests. */
  async stats() {
    const result: {
      uid: string;
      state: RTCPeerConnectionState;
      inbound: Record<string, { bytes: number; packets: number; frames?: number }>;
      pair?: { local: string; remote: string };
    }[] = [];
    for (const [uid, peer] of this.peers) {
      const report = await peer.pc.getStats();
      const inbound: Record<string, { bytes: number; packets: number; frames?: number }> = {};
      let pairId: string | undefined;
      report.forEach((entry) => {
        if (entry.type === 'inbound-rtp') {
          inbound[entry.kind] = { bytes: entry.bytesReceived ?? 0, packets: entry.packetsReceived ?? 0, frames: entry.framesDecoded };
        } else if (entry.type === 'transport' && entry.selectedCandidatePairId) {
          pairId = entry.selectedCandidatePairId;
        }
      });
      let pair: { local: string; remote: string } | undefined;
      const selected = pairId ? report.get(pairId) : undefined;
      if (selected) {
        pair = {
          local: report.get(selected.localCandidateId)?.candidateType ?? '',
          remote: report.get(selected.remoteCandidateId)?.candidateType ?? '',
        };
      }
      result.push({ uid, state: peer.pc.connectionState, inbound, pair });
    }
    return result;
  }

  private stopMedia() {
    for (const track of this.local?.getTracks() ?? []) track.stop();
    this.camera?.stop();
    this.screen?.stop();
  }

  private teardown() {
    this.left = true;
    for (const timer of this.offerTimers) clearTimeout(timer);
    this.offerTimers.clear();
    for (const stop of this.stops) stop();
    this.stops = [];
    for (const uid of [...this.peers.keys()]) this.dropPeer(uid);
    for (const key of [...this.analysers.keys()]) this.forgetAnalyser(key);
    void this.audioContext?.close().catch(() => {});
    this.audioContext = null;
    this.stopMedia();
  }

  /** Hang up: tell the peers, leave the call, release camera and microphone. */
  async hangUp() {
    if (this.left) return;
    const peers = [...this.peers.keys()];
    await Promise.all(peers.map((uid) => this.signal(uid, { type: 'bye' })));
    this.teardown();
    try {
      await callsApi.leave(this.callId);
    } catch {
      // Left already (another tab, or the call ended).
    }
  }

  private leaveOnUnload() {
    if (this.left) return;
    this.teardown();
    callsApi.leaveOnUnload(this.callId);
  }
}
