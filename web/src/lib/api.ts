// The one client for Comet's public APIs: REST v1 over fetch and DDP over a WebSocket.
//
// DDP reconnects with exponential backoff and jitter, logs in again with the resume token,
// restores every stream subscription and then tells listeners (`onReconnect`) so the app can
// fetch what it missed while away. Method calls made while offline wait for the connection.

import { sha256Hex } from './sha256';
import {
  fromEjson,
  type Message,
  type PresenceStatus,
  type Role,
  type Room,
  type Setting,
  type SlashCommand,
  type Subscription,
  type User,
  type RoomType,
  type ReportedAuthor,
  type ReportedMessage,
  type ReportedUserGroup,
  type AuditEntry,
  type AuditFilter,
  type RoomRoleHolder,
  type Statistics,
  type TranslationStatus,
  type ServerInfo,
  type Invite,
  type Team,
  type TeamMember,
} from './types';

export interface Session {
  userId: string;
  token: string;
}

/** A refusal from the server: its `error` text, and the `errorType` when it has one. */
export class ApiError extends Error {
  status: number;
  errorType?: string;
  body: unknown;
  constructor(message: string, status: number, errorType?: string, body?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.errorType = errorType;
    this.body = body;
  }
}

/** The error of a refused REST call, from its `{success:false, error, errorType}` envelope. */
export function errorFromEnvelope(status: number, body: Record<string, unknown>, statusText = ''): ApiError {
  const message =
    (typeof body.error === 'string' && body.error) ||
    (typeof body.message === 'string' && body.message) ||
    statusText ||
    'error';
  return new ApiError(message, status, body.errorType as string | undefined, body);
}

type Params = Record<string, string | number | boolean | undefined | null>;

const SESSION_KEY = 'comet.session';

function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<Session>;
    return parsed.userId && parsed.token ? { userId: parsed.userId, token: parsed.token } : null;
  } catch {
    return null;
  }
}

/**
 * Mirrors the session into `rc_uid`/`rc_token` cookies, as upstream's web client does, so
 * plain `<img>`, `<audio>`, `<video>` and download links to `/file-upload/…` authenticate
 * without ever putting the token in a URL. SameSite=Strict keeps other sites from using them.
 */
export function syncAuthCookies(session: Session | null) {
  if (typeof document === 'undefined') return;
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  const attributes = `; Path=/; SameSite=Strict${secure}`;
  if (session) {
    document.cookie = `rc_uid=${encodeURIComponent(session.userId)}${attributes}`;
    document.cookie = `rc_token=${encodeURIComponent(session.token)}${attributes}`;
  } else {
    document.cookie = `rc_uid=; Max-Age=0${attributes}`;
    document.cookie = `rc_token=; Max-Age=0${attributes}`;
  }
}

/** REST v1 with the caller's credentials. */
export class Rest {
  session: Session | null = loadSession();
  /** Called when the server says the credentials are no longer valid. */
  onUnauthorized: () => void = () => {};

  constructor() {
    // A resumed session (page load) sets the cookies again: the browser may have dropped them.
    syncAuthCookies(this.session);
  }

  setSession(session: Session | null) {
    this.session = session;
    syncAuthCookies(session);
    try {
      if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
      else localStorage.removeItem(SESSION_KEY);
    } catch {
      // Private mode without storage: the session lives for this page only.
    }
  }

  /** The credentials as headers, for requests made outside `request` (uploads). */
  authHeaders(): Record<string, string> {
    return this.session ? { 'X-User-Id': this.session.userId, 'X-Auth-Token': this.session.token } : {};
  }

  private headers(extra?: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { Accept: 'application/json', ...extra };
    if (this.session) {
      headers['X-User-Id'] = this.session.userId;
      headers['X-Auth-Token'] = this.session.token;
    }
    return headers;
  }

  async request<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    params?: Params | Record<string, unknown> | FormData,
    extraHeaders?: Record<string, string>,
  ): Promise<T> {
    let url = `/api/v1/${path}`;
    const init: RequestInit = { method, headers: this.headers(extraHeaders) };
    if (params instanceof FormData) {
      // The browser writes the multipart Content-Type with its boundary.
      init.body = params;
    } else if (method === 'GET' && params) {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(params)) {
        if (value !== undefined && value !== null) query.set(key, String(value));
      }
      const text = query.toString();
      if (text) url += `?${text}`;
    } else if (params) {
      (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
      init.body = JSON.stringify(params);
    }
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError('network', 0);
    }
    let body: Record<string, unknown> = {};
    try {
      body = (await response.json()) as Record<string, unknown>;
    } catch {
      // Not JSON: fall through with an empty body.
    }
    if (!response.ok || body.success === false || body.status === 'error') {
      if (response.status === 401 && this.session && path !== 'login') this.onUnauthorized();
      throw errorFromEnvelope(response.status, body, response.statusText);
    }
    return body as T;
  }

  get<T>(path: string, params?: Params) {
    return this.request<T>('GET', path, params);
  }

  post<T>(path: string, body?: Record<string, unknown>, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body ?? {}, headers);
  }
}

type Listener = (args: unknown[]) => void;
export type ConnectionState = 'connecting' | 'connected' | 'offline';

interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface StreamSub {
  id: string;
  name: string;
  params: unknown[];
  /** The server has said `ready` for it (since the last time it was sent). */
  ready?: boolean;
  /** Waiting for `ready` or `nosub` (see `whenStreamReady`); told `true` when ready. */
  waiters?: ((ready: boolean) => void)[];
}

/** A DDP connection to `/websocket` that keeps itself alive. */
export class Ddp {
  state: ConnectionState = 'offline';
  private ws: WebSocket | null = null;
  private nextId = 1;
  private calls = new Map<string, PendingCall>();
  private subs = new Map<string, StreamSub>();
  private listeners = new Map<string, Set<Listener>>();
  private stateListeners = new Set<(state: ConnectionState) => void>();
  private reconnectListeners = new Set<() => void>();
  private waiting: (() => void)[] = [];
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private lastSeen = 0;
  private everConnected = false;
  private stopped = true;
  private resumeToken: string | null = null;

  constructor(private url: () => string) {}

  start(resumeToken: string) {
    this.resumeToken = resumeToken;
    this.stopped = false;
    this.open();
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this.wake);
      document.addEventListener('visibilitychange', this.wake);
    }
  }

  stop() {
    this.stopped = true;
    this.resumeToken = null;
    this.subs.clear();
    this.everConnected = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.ws?.close();
    this.ws = null;
    this.setState('offline');
    for (const [, call] of this.calls) call.reject(new ApiError('disconnected', 0));
    this.calls.clear();
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this.wake);
      document.removeEventListener('visibilitychange', this.wake);
    }
  }

  /** Reconnect at once when the network or the tab comes back. */
  private wake = () => {
    if (this.stopped || this.state !== 'offline' || document.visibilityState === 'hidden') return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.open();
  };

  onState(listener: (state: ConnectionState) => void) {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Called after every reconnection that followed a lost connection. */
  onReconnect(listener: () => void) {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  private setState(state: ConnectionState) {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private open() {
    if (this.stopped) return;
    this.setState('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.send({ msg: 'connect', version: '1', support: ['1', 'pre2', 'pre1'] });
    };
    ws.onmessage = (event) => {
      this.lastSeen = Date.now();
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(String(event.data)) as Record<string, unknown>;
      } catch {
        return;
      }
      void this.handle(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.setState('offline');
      this.scheduleRetry();
    };
    ws.onerror = () => ws.close();
  }

  private scheduleRetry() {
    if (this.stopped) return;
    // 0.5 s, 1 s, 2 s … capped at 30 s, with jitter so a restarted server is not stampeded.
    const base = Math.min(30_000, 500 * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  private send(frame: Record<string, unknown>) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private async handle(frame: Record<string, unknown>) {
    switch (frame.msg) {
      case 'connected':
        await this.afterConnect();
        break;
      case 'ping':
        this.send(frame.id ? { msg: 'pong', id: frame.id } : { msg: 'pong' });
        break;
      case 'result': {
        const call = this.calls.get(String(frame.id));
        if (!call) return;
        this.calls.delete(String(frame.id));
        clearTimeout(call.timer);
        if (frame.error) {
          const error = frame.error as Record<string, unknown>;
          call.reject(
            new ApiError(
              String(error.reason ?? error.message ?? error.error ?? 'error'),
              Number(error.error) || 400,
              typeof error.error === 'string' ? error.error : undefined,
              error,
            ),
          );
        } else {
          call.resolve(fromEjson(frame.result));
        }
        break;
      }
      case 'ready':
        for (const id of (frame.subs ?? []) as string[]) this.settleSub(id, true);
        break;
      case 'nosub':
        this.settleSub(String(frame.id), false);
        break;
      case 'changed': {
        const fields = (frame.fields ?? {}) as { eventName?: string; args?: unknown[] };
        const key = `${frame.collection}|${fields.eventName ?? ''}`;
        const args = fromEjson(fields.args ?? []);
        for (const listener of this.listeners.get(key) ?? []) listener(args);
        break;
      }
      default:
        break;
    }
  }

  private async afterConnect() {
    const reconnected = this.everConnected;
    try {
      if (this.resumeToken) await this.rawCall('login', [{ resume: this.resumeToken }], true);
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        // The token is gone: the app logs out.
        for (const listener of this.listeners.get('client|logged-out') ?? []) listener([]);
        this.stop();
        return;
      }
      this.ws?.close();
      return;
    }
    this.attempt = 0;
    this.everConnected = true;
    for (const sub of this.subs.values()) {
      sub.ready = false;
      this.send({ msg: 'sub', id: sub.id, name: sub.name, params: sub.params });
    }
    this.setState('connected');
    this.lastSeen = Date.now();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastSeen > 60_000) {
        this.ws?.close();
      } else if (Date.now() - this.lastSeen > 25_000) {
        this.send({ msg: 'ping' });
      }
    }, 10_000);
    const waiting = this.waiting;
    this.waiting = [];
    for (const resume of waiting) resume();
    if (reconnected) for (const listener of this.reconnectListeners) listener();
  }

  private rawCall(method: string, params: unknown[], bypassWait = false): Promise<unknown> {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const go = () => {
        const timer = setTimeout(() => {
          this.calls.delete(id);
          reject(new ApiError('timeout', 0));
        }, 20_000);
        this.calls.set(id, { resolve, reject, timer });
        this.send({ msg: 'method', id, method, params });
      };
      if (bypassWait || this.state === 'connected') go();
      else this.waiting.push(go);
    });
  }

  /** Calls a DDP method; waits for the connection when offline. */
  call<T>(method: string, ...params: unknown[]): Promise<T> {
    return this.rawCall(method, params) as Promise<T>;
  }

  /** Listens to one event of a stream; the subscription lasts until the returned function. */
  stream(name: string, eventName: string, listener: Listener, extra?: unknown): () => void {
    const key = `${name}|${eventName}`;
    let set = this.listeners.get(key);
    const first = !set || set.size === 0;
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    let subId: string | null = null;
    if (first) {
      subId = `s${this.nextId++}`;
      const sub: StreamSub = {
        id: subId,
        name,
        params: [eventName, extra ?? { useCollection: false, args: [] }],
      };
      this.subs.set(key, sub);
      if (this.state === 'connected') this.send({ msg: 'sub', id: sub.id, name, params: sub.params });
    }
    return () => {
      set.delete(listener);
      if (set.size === 0) {
        const sub = this.subs.get(key);
        this.subs.delete(key);
        for (const waiter of sub?.waiters ?? []) waiter(false);
        if (sub && this.state === 'connected') this.send({ msg: 'unsub', id: sub.id });
      }
    };
  }

  private settleSub(id: string, ready: boolean) {
    for (const sub of this.subs.values()) {
      if (sub.id !== id) continue;
      sub.ready = ready;
      const waiters = sub.waiters ?? [];
      sub.waiters = [];
      for (const waiter of waiters) waiter(ready);
    }
  }

  /**
   * Whether the server has started sending a stream's event to this connection: `false` when
   * it refused, the listener is gone, or `timeoutMs` passed first. What others send before
   * then is not delivered, so a peer must not be asked to answer until this says `true`.
   */
  whenStreamReady(name: string, eventName: string, timeoutMs: number): Promise<boolean> {
    const sub = this.subs.get(`${name}|${eventName}`);
    if (!sub) return Promise.resolve(false);
    if (sub.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      (sub.waiters ??= []).push((ready) => {
        clearTimeout(timer);
        resolve(ready);
      });
    });
  }

  /** Listens to a client-side event (`logged-out`). */
  on(event: string, listener: Listener) {
    const key = `client|${event}`;
    const set = this.listeners.get(key) ?? new Set();
    set.add(listener);
    this.listeners.set(key, set);
  }

  /** Adds users to this connection's presence watch list. */
  watchPresence(uids: string[]) {
    if (uids.length === 0) return;
    const id = `p${this.nextId++}`;
    const params = ['', { added: uids }];
    this.subs.set(`presence|${id}`, { id, name: 'stream-user-presence', params });
    if (this.state === 'connected') this.send({ msg: 'sub', id, name: 'stream-user-presence', params });
  }

  /** Emits an event through a stream (`stream-notify-room` typing). */
  notify(stream: string, eventName: string, ...args: unknown[]) {
    if (this.state !== 'connected') return;
    this.send({ msg: 'method', id: String(this.nextId++), method: stream, params: [eventName, ...args] });
  }
}

const historyFamily: Record<RoomType, string> = { c: 'channels', p: 'groups', d: 'im', l: 'channels' };

export interface LoginResult {
  userId: string;
  authToken: string;
  me: User;
}

/** Comet's API: the typed operations the web client performs. */
export class Api {
  rest = new Rest();
  ddp = new Ddp(() => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/websocket`);

  get session() {
    return this.rest.session;
  }

  /** Logs in; with TOTP on, the server refuses with `totp-required` until `code` is given. */
  async login(user: string, password: string, code?: string): Promise<LoginResult> {
    const body = await this.rest.post<{ data: LoginResult }>('login', {
      user,
      password: { digest: sha256Hex(password), algorithm: 'sha-256' },
      ...(code ? { code } : {}),
    });
    this.rest.setSession({ userId: body.data.userId, token: body.data.authToken });
    return body.data;
  }

  async logout() {
    try {
      await this.rest.post('logout');
    } catch {
      // Logged out locally either way.
    }
    this.ddp.stop();
    this.rest.setSession(null);
  }

  /**
   * A DDP method over REST (`method.callAnon`), for the pages a mailed link opens before
   * anyone is logged in (there is no DDP connection then). Answers the method's result.
   */
  async callAnon<T>(method: string, ...params: unknown[]): Promise<T> {
    const message = JSON.stringify({ msg: 'method', id: '1', method, params });
    const body = await this.rest.post<{ message?: string }>(`method.callAnon/${encodeURIComponent(method)}`, { message });
    let answer: { result?: unknown; error?: Record<string, unknown> };
    try {
      answer = JSON.parse(body.message ?? '{}') as typeof answer;
    } catch {
      throw new ApiError('error', 400);
    }
    if (answer.error) {
      const error = answer.error;
      const kind = typeof error.error === 'string' ? error.error : String(error.error ?? '');
      throw new ApiError(String(error.reason ?? error.message ?? kind ?? 'error'), Number(error.error) || 400, kind, error);
    }
    return fromEjson(answer.result) as T;
  }

  /** Logs in with the answer of a DDP method that logs in (`verifyEmail`, `resetPassword`). */
  private adoptDdpLogin(result: { id?: string; token?: string }) {
    if (!result?.id || !result.token) throw new ApiError('error', 400);
    this.rest.setSession({ userId: result.id, token: result.token });
  }

  /** Meteor's `verifyEmail`: the token of a mailed verification link; logs its owner in. */
  async verifyEmail(token: string) {
    this.adoptDdpLogin(await this.callAnon<{ id?: string; token?: string }>('verifyEmail', token));
  }

  /**
   * Meteor's `resetPassword`: the token of a mailed reset link and the new password, sent as
   * typed so that the server checks it against the password policy; logs the user in.
   */
  async resetPassword(token: string, password: string) {
    this.adoptDdpLogin(await this.callAnon<{ id?: string; token?: string }>('resetPassword', token, password));
  }

  /** `users.forgotPassword`: mails a reset link if an account has `email` (succeeds either way). */
  forgotPassword(email: string) {
    return this.rest.post('users.forgotPassword', { email });
  }

  /** `users.2fa.sendEmailCode`: mails a new second-factor code to the account. */
  sendEmailCode(emailOrUsername: string) {
    return this.rest.post('users.2fa.sendEmailCode', { emailOrUsername });
  }

  /** `users.2fa.enableEmail`: codes by email as second factor (the user's other sessions end). */
  enableEmailTwoFactor() {
    return this.rest.post('users.2fa.enableEmail');
  }

  /**
   * `users.2fa.disableEmail`: asks for a second factor; without `code` the server answers
   * `totp-required` (and mails a code when email is the method).
   */
  disableEmailTwoFactor(code?: string, method?: string) {
    const headers: Record<string, string> = {};
    if (code) headers['X-2fa-Code'] = method === 'password' ? sha256Hex(code) : code;
    if (code && method) headers['X-2fa-Method'] = method;
    return this.rest.post('users.2fa.disableEmail', {}, headers);
  }

  /** `2fa:enable`: a new TOTP secret and its `otpauth://` URL, waiting for a first code. */
  enableTotp() {
    return this.ddp.call<{ secret: string; url: string }>('2fa:enable');
  }

  /** `2fa:validateTempToken`: confirms the enrolment; answers the backup codes. */
  confirmTotp(code: string) {
    return this.ddp.call<{ codes: string[] }>('2fa:validateTempToken', code);
  }

  /** `2fa:disable`: false when the code is wrong. */
  disableTotp(code: string) {
    return this.ddp.call<boolean>('2fa:disable', code);
  }

  /** `2fa:regenerateCodes`: new backup codes, or nothing when the code is wrong. */
  regenerateTotpCodes(code: string) {
    return this.ddp.call<{ codes: string[] } | null | undefined>('2fa:regenerateCodes', code);
  }

  register(user: { username: string; email: string; pass: string; name: string; secret?: string }) {
    return this.rest.post<{ user: User }>('users.register', user);
  }

  /** Whether an invite link's token may be used now (no login needed). */
  async validateInviteToken(token: string): Promise<boolean> {
    const body = await this.rest.post<{ valid: boolean }>('validateInviteToken', { token });
    return body.valid;
  }

  /** Joins the invite's room; answers the room's id, type and name. */
  async useInviteToken(token: string) {
    const body = await this.rest.post<{ room: { rid: string; t: string; name?: string } }>('useInviteToken', { token });
    return body.room;
  }

  /** The caller's invite link to a room (a new token each time). */
  findOrCreateInvite(rid: string, days: number, maxUses: number) {
    return this.rest.post<{ _id: string; url: string; inviteToken: string; expires: string | null }>('findOrCreateInvite', { rid, days, maxUses });
  }

  me() {
    return this.rest.get<User & { success: boolean }>('me');
  }

  /** Every public setting: the server caps a page (`API_Upper_Count_Limit`), so read them all. */
  async publicSettings(): Promise<{ settings: Setting[] }> {
    const settings: Setting[] = [];
    for (let page = 0; page < 50; page++) {
      const body = await this.rest.get<{ settings: Setting[]; total?: number }>('settings.public', { offset: settings.length, count: 100 });
      settings.push(...body.settings);
      if (body.settings.length === 0 || settings.length >= (body.total ?? settings.length)) break;
    }
    return { settings };
  }

  /** The languages messages can be translated into, named in `targetLanguage`. */
  supportedLanguages(targetLanguage: string) {
    return this.rest.get<{ languages: { language: string; name: string }[] }>('autotranslate.getSupportedLanguages', { targetLanguage });
  }

  /** The user's translation choice in a room: on/off, or the language to read it in. */
  saveAutoTranslate(roomId: string, field: 'autoTranslate' | 'autoTranslateLanguage', value: boolean | string, defaultLanguage?: string) {
    return this.rest.post('autotranslate.saveSettings', { roomId, field, value, ...(defaultLanguage ? { defaultLanguage } : {}) });
  }

  /** Translates one message now; answers it with its translations. */
  translateMessage(messageId: string, targetLanguage: string) {
    return this.rest.post<{ message: Message }>('autotranslate.translateMessage', { messageId, targetLanguage });
  }

  subscriptions(updatedSince?: string) {
    return this.rest.get<{ update: Subscription[]; remove: Subscription[] }>(
      'subscriptions.get',
      updatedSince ? { updatedSince } : undefined,
    );
  }

  rooms(updatedSince?: string) {
    return this.rest.get<{ update: Room[]; remove: Room[] }>(
      'rooms.get',
      updatedSince ? { updatedSince } : undefined,
    );
  }

  roomInfo(roomId: string) {
    return this.rest.get<{ room: Room }>('rooms.info', { roomId });
  }

  roomByName(roomName: string) {
    return this.rest.get<{ room: Room }>('rooms.info', { roomName });
  }

  /** Main-room history, newest first, older than `latest`. */
  history(room: { _id: string; t: RoomType }, latest?: string, count = 50) {
    return this.rest.get<{ messages: Message[] }>(`${historyFamily[room.t]}.history`, {
      roomId: room._id,
      latest,
      count,
      showThreadMessages: false,
    });
  }

  /** What changed in a room since `lastUpdate`: the reconnect catch-up. */
  syncMessages(roomId: string, lastUpdate: string) {
    return this.rest.get<{ result: { updated: Message[]; deleted: { _id: string }[] } }>(
      'chat.syncMessages',
      { roomId, lastUpdate },
    );
  }

  /** Posts the message for a file stored by `rooms.media` (see uploads.svelte.ts). */
  confirmMedia(rid: string, fileId: string, fields: { msg?: string; description?: string; tmid?: string }) {
    return this.rest.post<{ message: Message }>(
      `rooms.mediaConfirm/${encodeURIComponent(rid)}/${encodeURIComponent(fileId)}`,
      fields,
    );
  }

  markRead(rid: string) {
    return this.rest.post('subscriptions.read', { rid });
  }

  sendMessage(message: { _id: string; rid: string; msg: string; tmid?: string; tshow?: boolean }) {
    return this.rest.post<{ message: Message }>('chat.sendMessage', { message });
  }

  updateMessage(roomId: string, msgId: string, text: string) {
    return this.rest.post<{ message: Message }>('chat.update', { roomId, msgId, text });
  }

  deleteMessage(roomId: string, msgId: string) {
    return this.rest.post('chat.delete', { roomId, msgId });
  }

  react(messageId: string, emoji: string, shouldReact?: boolean) {
    return this.rest.post('chat.react', { messageId, emoji, shouldReact });
  }

  pin(messageId: string, pinned: boolean) {
    return this.rest.post(pinned ? 'chat.pinMessage' : 'chat.unPinMessage', { messageId });
  }

  star(messageId: string, starred: boolean) {
    return this.rest.post(starred ? 'chat.starMessage' : 'chat.unStarMessage', { messageId });
  }

  /** Marks a thread as read: it leaves the subscription's unread threads (`tunread`). */
  readThread(tmid: string) {
    return this.ddp.call<void>('readThreads', tmid);
  }

  threadMessages(tmid: string, count = 100) {
    return this.rest.get<{ messages: Message[] }>('chat.getThreadMessages', {
      tmid,
      count,
      sort: JSON.stringify({ ts: 1 }),
    });
  }

  /** `loadNextMessages`: up to `limit` main-timeline messages after `afterMs`, oldest first. */
  async nextMessages(rid: string, afterMs: number, limit: number): Promise<{ messages: Message[] }> {
    const answer = await this.ddp.call<{ messages?: Message[] }>('loadNextMessages', rid, { $date: afterMs }, limit);
    return { messages: answer?.messages ?? [] };
  }

  getMessage(msgId: string) {
    return this.rest.get<{ message: Message }>('chat.getMessage', { msgId });
  }

  search(roomId: string, searchText: string, count = 50) {
    return this.rest.get<{ messages: Message[] }>('chat.search', { roomId, searchText, count });
  }

  threadsList(rid: string, count = 50) {
    return this.rest.get<{ threads: Message[]; total: number }>('chat.getThreadsList', { rid, count });
  }

  favorite(roomId: string, favorite: boolean) {
    return this.rest.post('rooms.favorite', { roomId, favorite });
  }

  pinnedMessages(roomId: string) {
    return this.rest.get<{ messages: Message[] }>('chat.getPinnedMessages', { roomId, count: 50 });
  }

  starredMessages(roomId: string) {
    return this.rest.get<{ messages: Message[] }>('chat.getStarredMessages', { roomId, count: 50 });
  }

  commands() {
    return this.rest.get<{ commands: SlashCommand[] }>('commands.list', { count: 200 });
  }

  runCommand(command: string, params: string, roomId: string, tmid?: string) {
    return this.rest.post('commands.run', { command, params, roomId, ...(tmid ? { tmid } : {}) });
  }

  spotlight(query: string) {
    return this.rest.get<{
      users: { _id: string; username: string; name?: string; status?: PresenceStatus }[];
      rooms: { _id: string; name: string; t: RoomType }[];
    }>('spotlight', { query });
  }

  members(room: { _id: string; t: RoomType }, count = 100) {
    return this.rest.get<{ members: User[]; total: number }>(`${historyFamily[room.t]}.members`, {
      roomId: room._id,
      count,
    });
  }

  createRoom(kind: 'c' | 'p', name: string, members: string[], readOnly = false, teamId?: string) {
    const family = kind === 'c' ? 'channels' : 'groups';
    return this.rest
      .post<{ channel?: Room; group?: Room }>(`${family}.create`, { name, members, readOnly, ...(teamId ? { extraData: { teamId } } : {}) })
      .then((body) => (body.channel ?? body.group) as Room);
  }

  // Teams (upstream's `v1/teams.ts`).

  createTeam(name: string, privateTeam: boolean, members: string[], readOnly = false) {
    return this.rest
      .post<{ team: Team }>('teams.create', { name, type: privateTeam ? 1 : 0, members, room: { readOnly } })
      .then((body) => body.team);
  }

  teamInfo(teamId: string) {
    return this.rest.get<{ teamInfo: Team }>('teams.info', { teamId });
  }

  teamMembers(teamId: string, count = 100) {
    return this.rest.get<{ members: TeamMember[]; total: number }>('teams.members', { teamId, count });
  }

  addTeamMembers(teamId: string, userIds: string[]) {
    return this.rest.post('teams.addMembers', { teamId, members: userIds.map((userId) => ({ userId })) });
  }

  /** `teams.updateMember`: replaces the member's team roles (and their roles in the main room). */
  setTeamMemberRoles(teamId: string, userId: string, roles: string[]) {
    return this.rest.post('teams.updateMember', { teamId, member: { userId, roles } });
  }

  removeTeamMember(teamId: string, userId: string) {
    return this.rest.post('teams.removeMember', { teamId, userId });
  }

  /** The team's rooms the caller may see (not its main room); `filter` matches names. */
  teamRooms(teamId: string, filter = '', count = 100) {
    return this.rest.get<{ rooms: Room[]; total: number }>('teams.listRooms', { teamId, filter: filter || undefined, count });
  }

  /** The team's rooms `userId` belongs to; `isLastOwner` marks where they are the only owner. */
  teamRoomsOfUser(teamId: string, userId: string, canUserDelete = false) {
    return this.rest.get<{ rooms: (Room & { isLastOwner?: boolean })[] }>('teams.listRoomsOfUser', {
      teamId,
      userId,
      canUserDelete: canUserDelete || undefined,
      count: 100,
    });
  }

  addTeamRooms(teamId: string, rooms: string[]) {
    return this.rest.post<{ rooms: Room[] }>('teams.addRooms', { teamId, rooms });
  }

  removeTeamRoom(teamId: string, roomId: string) {
    return this.rest.post<{ room: Room }>('teams.removeRoom', { teamId, roomId });
  }

  setTeamRoomAutoJoin(roomId: string, isDefault: boolean) {
    return this.rest.post<{ room: Room }>('teams.updateRoom', { roomId, isDefault });
  }

  /** Leaves the team, and the listed team rooms with it. */
  leaveTeam(teamId: string, rooms: string[]) {
    return this.rest.post('teams.leave', { teamId, ...(rooms.length ? { rooms } : {}) });
  }

  /** Deletes the team; the listed rooms are deleted too, the others return to the workspace. */
  deleteTeam(teamId: string, roomsToRemove: string[]) {
    return this.rest.post('teams.delete', { teamId, roomsToRemove });
  }

  /** The team becomes a plain room again; the listed team rooms are deleted. */
  teamToChannel(teamId: string, roomsToRemove: string[]) {
    return this.rest.post('teams.convertToChannel', { teamId, roomsToRemove });
  }

  roomToTeam(room: { _id: string; t: RoomType }) {
    return room.t === 'p'
      ? this.rest.post<{ team: Team }>('groups.convertToTeam', { roomId: room._id })
      : this.rest.post<{ team: Team }>('channels.convertToTeam', { channelId: room._id });
  }

  createDirect(username: string) {
    return this.rest.post<{ room: { _id: string; rid: string } }>('im.create', { username });
  }

  invite(room: { _id: string; t: RoomType }, username: string) {
    return this.rest.post(`${historyFamily[room.t]}.invite`, { roomId: room._id, username });
  }

  setTopic(room: { _id: string; t: RoomType }, topic: string) {
    return this.rest.post(`${historyFamily[room.t]}.setTopic`, { roomId: room._id, topic });
  }

  leave(roomId: string) {
    return this.rest.post('rooms.leave', { roomId });
  }

  join(roomId: string) {
    return this.rest.post('channels.join', { roomId });
  }

  directory(text: string, type: 'channels' | 'users' | 'teams' = 'channels', count = 50, descending = false) {
    return this.rest.get<{ result: (Room & User)[]; total?: number }>('directory', {
      text,
      type,
      count,
      ...(descending ? { sort: JSON.stringify({ name: -1 }) } : {}),
    });
  }

  setStatus(status: PresenceStatus, message?: string) {
    return this.rest.post('users.setStatus', { status, message });
  }

  /** Changes the caller's own profile; the current password is the second factor. */
  updateOwnProfile(
    userId: string,
    data: { name?: string; username?: string; email?: string; password?: string; statusText?: string },
    currentPassword: string,
  ) {
    return this.rest.post<{ user: User }>(
      'users.update',
      { userId, data },
      { 'X-2fa-Code': sha256Hex(currentPassword), 'X-2fa-Method': 'password' },
    );
  }

  /** Sets the caller's avatar from an image file (the server checks type and size again). */
  setAvatar(image: File) {
    const form = new FormData();
    form.append('image', image, image.name);
    return this.rest.request<Record<string, never>>('POST', 'users.setAvatar', form);
  }

  /** Back to generated initials (upstream requires the user even for oneself). */
  resetAvatar(userId: string) {
    return this.rest.post('users.resetAvatar', { userId });
  }

  /** `rooms.saveNotification`: the caller's notification preferences for one room (strings). */
  saveNotification(roomId: string, notifications: Record<string, string>) {
    return this.rest.post('rooms.saveNotification', { roomId, notifications });
  }

  /** `users.setPreferences` for the caller: only the keys given change. */
  setPreferences(data: Record<string, unknown>) {
    return this.rest.post<{ user: { _id: string; settings: { preferences: Record<string, unknown> } } }>('users.setPreferences', { data });
  }

  userInfo(username: string) {
    return this.rest.get<{ user: User }>('users.info', { username });
  }

  userPresence(userId: string) {
    return this.rest.get<{ presence: PresenceStatus }>('users.getPresence', { userId });
  }

  // Administration.

  listUsers(offset = 0, count = 50, query?: string) {
    return this.rest.get<{ users: User[]; total: number }>('users.list', {
      offset,
      count,
      query: query ? JSON.stringify({ username: { $regex: query } }) : undefined,
      sort: JSON.stringify({ username: 1 }),
    });
  }

  createUser(user: { username: string; name: string; email: string; password: string; roles?: string[] }) {
    return this.rest.post<{ user: User }>('users.create', user);
  }

  /** `users.update`; the admin's password answers the server's two-factor check when it asks. */
  adminUpdateUser(userId: string, data: Record<string, unknown>, adminPassword: string) {
    const headers: Record<string, string> | undefined = adminPassword
      ? { 'X-2fa-Code': sha256Hex(adminPassword), 'X-2fa-Method': 'password' }
      : undefined;
    return this.rest.post<{ user: User }>('users.update', { userId, data }, headers);
  }

  /** Users matching `text` (username, name), paged: the directory, which admins see in full. */
  searchUsers(text: string, offset = 0, count = 25) {
    return this.rest.get<{ result: User[]; total: number }>('directory', {
      text,
      type: 'users',
      offset,
      count,
      sort: JSON.stringify({ username: 1 }),
    });
  }

  setActive(userId: string, activeStatus: boolean, confirmRelinquish = false) {
    return this.rest.post('users.setActiveStatus', { userId, activeStatus, ...(confirmRelinquish ? { confirmRelinquish } : {}) });
  }

  /** `users.delete`; with `confirmRelinquish`, rooms the user is the last owner of change hands. */
  deleteUser(userId: string, confirmRelinquish = false) {
    return this.rest.post('users.delete', { userId, ...(confirmRelinquish ? { confirmRelinquish } : {}) });
  }

  /** The moderation console: reported messages grouped by author (newest report first). */
  /** The audit log, newest first (`view-audit-log`). */
  auditLog(filter: AuditFilter, offset = 0, count = 25) {
    return this.rest.get<{ entries: AuditEntry[]; count: number; offset: number; total: number }>('audit.log', {
      ...filter,
      offset,
      count,
    });
  }

  /**
   * Every entry the filters select, oldest first, as JSON lines. Fetched with the session
   * headers (the export is not a cookie-authenticated download) and handed back as a Blob.
   */
  async auditExport(filter: AuditFilter): Promise<Blob> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) if (value) query.set(key, value);
    const text = query.toString();
    let response: Response;
    try {
      response = await fetch(`/api/v1/audit.export${text ? `?${text}` : ''}`, { headers: this.rest.authHeaders() });
    } catch {
      throw new ApiError('network', 0);
    }
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      throw errorFromEnvelope(response.status, body, response.statusText);
    }
    return response.blob();
  }

  /** Gives or takes a room role (`channels.addOwner`, `groups.removeLeader`, …). */
  setRoomRole(room: { _id: string; t: RoomType }, userId: string, role: 'owner' | 'moderator' | 'leader', on: boolean) {
    const name = role[0].toUpperCase() + role.slice(1);
    return this.rest.post(`${historyFamily[room.t]}.${on ? 'add' : 'remove'}${name}`, { roomId: room._id, userId });
  }

  /** Removes a member from a channel or group (`channels.kick`, `groups.kick`). */
  kick(room: { _id: string; t: RoomType }, userId: string) {
    return this.rest.post(`${historyFamily[room.t]}.kick`, { roomId: room._id, userId });
  }

  /** The members holding room roles (owners, moderators, leaders) of a channel or group. */
  roomRoles(room: { _id: string; t: RoomType }) {
    return this.rest.get<{ roles: RoomRoleHolder[] }>(`${historyFamily[room.t]}.roles`, { roomId: room._id });
  }

  reportsByUsers(selector = '', offset = 0, count = 50) {
    return this.rest.get<{ reports: ReportedAuthor[]; total: number }>('moderation.reportsByUsers', {
      selector,
      offset,
      count,
    });
  }

  /** The moderation console: reported users. */
  userReports(selector = '', offset = 0, count = 50) {
    return this.rest.get<{ reports: ReportedUserGroup[]; total: number }>('moderation.userReports', {
      selector,
      offset,
      count,
    });
  }

  /** One author's reported messages, each once. */
  reportedMessages(userId: string) {
    return this.rest.get<{ messages: ReportedMessage[]; total: number }>('moderation.user.reportedMessages', {
      userId,
      count: 100,
    });
  }

  deleteReportedMessages(userId: string) {
    return this.rest.post('moderation.user.deleteReportedMessages', { userId });
  }

  dismissAuthorReports(userId: string) {
    return this.rest.post('moderation.dismissReports', { userId });
  }

  dismissUserReports(userId: string) {
    return this.rest.post('moderation.dismissUserReports', { userId });
  }

  /** Deactivates a user from the moderation console, handing over rooms they alone own. */
  deactivateForModeration(userId: string) {
    return this.rest.post('users.setActiveStatus', { userId, activeStatus: false, confirmRelinquish: true });
  }

  adminRooms(filter = '', offset = 0, count = 50) {
    return this.rest.get<{ rooms: Room[]; total: number }>('rooms.adminRooms', {
      filter,
      offset,
      count,
    });
  }

  saveRoomSettings(rid: string, settings: { roomName?: string; roomTopic?: string; readOnly?: boolean }) {
    return this.rest.post('rooms.saveRoomSettings', { rid, ...settings });
  }

  setArchived(room: { _id: string; t: RoomType }, archived: boolean) {
    return this.rest.post(`${historyFamily[room.t]}.${archived ? 'archive' : 'unarchive'}`, { roomId: room._id });
  }

  deleteRoom(room: { _id: string; t: RoomType }) {
    return this.rest.post(`${historyFamily[room.t]}.delete`, { roomId: room._id });
  }

  settings(offset = 0, count = 100) {
    return this.rest.get<{ settings: Setting[]; total: number }>('settings', { offset, count });
  }

  /** Every setting with its group, section, type and choices (the admin's DDP method). */
  privateSettings() {
    return this.ddp.call<Setting[]>('private-settings/get');
  }

  saveSetting(id: string, value: unknown) {
    return this.rest.post(`settings/${encodeURIComponent(id)}`, { value });
  }

  roles() {
    return this.rest.get<{ roles: Role[] }>('roles.list');
  }

  addUserToRole(roleId: string, username: string) {
    return this.rest.post('roles.addUserToRole', { roleId, roleName: roleId, username });
  }

  removeUserFromRole(roleId: string, username: string) {
    return this.rest.post('roles.removeUserFromRole', { roleId, roleName: roleId, username });
  }

  usersInRole(role: string) {
    return this.rest.get<{ users: User[]; total: number }>('roles.getUsersInRole', { role, count: 100 });
  }

  permissions() {
    return this.rest.get<{ update: { _id: string; roles: string[] }[] }>('permissions.listAll');
  }

  updatePermissions(permissions: { _id: string; roles: string[] }[]) {
    return this.rest.post<{ permissions: { _id: string; roles: string[] }[] }>('permissions.update', { permissions });
  }

  // The workspace: statistics, invite links, assets.

  /** `GET /api/info` (outside `/api/v1`): build details for `view-statistics` holders. */
  async serverInfo(): Promise<ServerInfo> {
    const response = await fetch('/api/info', { headers: { Accept: 'application/json', ...this.rest.authHeaders() } });
    if (!response.ok) throw new ApiError(response.statusText || 'error', response.status);
    return (await response.json()) as ServerInfo;
  }

  /** Automatic translation's record (`edit-privileged-setting`). */
  translationStatus() {
    return this.rest.get<TranslationStatus>('autotranslate.status');
  }

  /** The instances serving this workspace (`view-statistics`). */
  instances() {
    return this.rest.get<{ instances: { instanceRecord?: { _id: string; extraInformation?: { conns?: number } }; currentStatus?: { connected?: boolean; local?: boolean } }[] }>('instances.get');
  }

  /** The newest statistics snapshot; `refresh` takes a new one. */
  statistics(refresh = false) {
    return this.rest.get<Statistics>('statistics', refresh ? { refresh: 'true' } : undefined);
  }

  /** Every invite link the caller may see (a bare array). */
  listInvites() {
    return this.rest.get<Invite[]>('listInvites');
  }

  removeInvite(inviteId: string) {
    return this.rest.request<boolean>('DELETE', `removeInvite/${encodeURIComponent(inviteId)}`);
  }

  userInfoById(userId: string) {
    return this.rest.get<{ user: User }>('users.info', { userId });
  }

  /** Replaces a workspace asset (`logo`, `favicon`, …) with an image file. */
  setAsset(assetName: string, file: File) {
    const form = new FormData();
    form.append('asset', file, file.name);
    form.append('assetName', assetName);
    return this.rest.request<Record<string, never>>('POST', 'assets.setAsset', form);
  }

  unsetAsset(assetName: string) {
    return this.rest.post('assets.unsetAsset', { assetName });
  }

  /** Tells the server the user's offset from UTC in hours (others' user cards show it). */
  setUtcOffset(hours: number) {
    return this.ddp.call<void>('userSetUtcOffset', hours);
  }
}

export const api = new Api();

/** A random 17-character id in Meteor's alphabet, for optimistic sends. */
export function randomId(): string {
  const alphabet = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz';
  const bytes = new Uint8Array(17);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}
