// Compatibility suite: drives a real Comet server with the UNCHANGED npm package
// @rocket.chat/ddp-client (exact version pinned in package.json), the realtime
// SDK Rocket.Chat publishes for its own clients. REST set-up goes through plain
// fetch. Every expectation is that of a real Rocket.Chat 8.x server.
//
// Facts about @rocket.chat/ddp-client 1.1.2 the tests rely on (read from dist/):
//
// * DDPSDK.create(url) takes the server's http(s) URL; the connection strips the
//   scheme and opens ws(s)://host/websocket with the global `WebSocket` (Node 20
//   needs --experimental-websocket; Node >= 22 has it by default). It sends
//   {msg:"connect", version:"1", support:["1","pre2","pre1"]};
//   sdk.connection.connect() resolves on `connected` and stores `session`.
// * sdk.account.loginWithPassword(username, digest) sends method `login` with
//   {user:{username}, password:{digest, algorithm:"sha-256"}}; the caller passes
//   the sha-256 hex digest (README: "The password must be hashed as sha-256").
//   It reads result.id / result.token / result.tokenExpires.$date into
//   sdk.account.uid / sdk.account.user. loginWithToken(token) sends {resume}.
//   logout() sends `logout`. Login/logout are "wait" methods.
// * sdk.call(method, ...params) = client.callAsync: resolves with `result`,
//   rejects with the DDP `error` object.
// * sdk.stream(name, key, cb) subscribes `stream-<name>` with params
//   [key, {useCollection:false, args:[undefined]}] and calls cb(...fields.args)
//   for every `changed` frame of that collection whose fields.eventName === key.
//   The returned subscription has ready() (resolves on `ready`, rejects on a
//   `nosub` with error) and stop() (sends `unsub`).
// * sdk.rest is an @rocket.chat/api-client RestClient on <url>/api that sends
//   X-User-Id / X-Auth-Token from the DDP login.
// * The SDK has no typing helper; typing goes through the streamer's method
//   `stream-notify-room` ["<rid>/user-activity", username, activities, extras],
//   which is what Rocket.Chat's web client calls.
// * sdk.connection.close() does not stop the SDK's heartbeat/timeout timers
//   (TimeoutControl only stops on 'disconnected'/'close', which close() does not
//   emit), so teardown also calls the public sdk.timeoutControl.stop().

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

import ddpClient from '@rocket.chat/ddp-client';

const { DDPSDK } = ddpClient;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
const COMET_BIN = process.env.COMET_BIN || path.join(REPO_ROOT, 'target', 'debug', 'comet');

// Same credentials as compat/python/conftest.py (they satisfy the strictest
// default password policy).
const ADMIN_USERNAME = 'admin';
const ADMIN_PASS = 'Adm1n!Compat-Pw#42';
const ADMIN_EMAIL = 'admin@example.com';
const USER_PASS = 'Us3r!Compat-Pw#17';

const WAIT_MS = 10_000; // every single wait on the server or the client
const READY_MS = 20_000; // server start-up
const STOP_MS = 10_000;
const QUIET_MS = 1_000; // "nothing arrives" window

// --- helpers -------------------------------------------------------------------

const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex');
const unique = (prefix = 'compat') => `${prefix}-${randomBytes(5).toString('hex')}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves/rejects like `promise`, or rejects after `ms` naming `what`. */
async function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Collects callback invocations; next(pred) waits for a matching one. */
function collector() {
  const seen = [];
  const waiters = [];
  return {
    seen,
    push(...args) {
      seen.push(args);
      for (const w of [...waiters]) {
        if (w.pred(args)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(args);
        }
      }
    },
    next(pred, what) {
      const hit = seen.find(pred);
      if (hit) return Promise.resolve(hit);
      let waiter;
      const p = new Promise((resolve) => {
        waiter = { pred, resolve };
        waiters.push(waiter);
      });
      return within(p, what).finally(() => {
        const i = waiters.indexOf(waiter);
        if (i !== -1) waiters.splice(i, 1);
      });
    },
  };
}

/** A real RGB PNG of `width`×`height` (the server decodes avatars to resize them). */
function tinyPng(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (kind, data) => {
    const body = Buffer.concat([Buffer.from(kind, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) row.set([x * 5, y * 7, 90], 1 + x * 3);
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// --- the server ------------------------------------------------------------------

class CometServer {
  async start() {
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.tmp = mkdtempSync(path.join(tmpdir(), 'comet-compat-node-'));
    const dataDir = path.join(this.tmp, 'data');
    mkdirSync(dataDir);
    this.logPath = path.join(this.tmp, 'server.log');
    this.logFd = openSync(this.logPath, 'w');
    const env = {
      ...process.env,
      PORT: String(this.port),
      COMET_DATA_DIR: dataDir,
      ROOT_URL: this.url,
      ADMIN_USERNAME,
      ADMIN_PASS,
      ADMIN_EMAIL,
      ADMIN_NAME: 'Administrator',
      OVERWRITE_SETTING_API_Enable_Rate_Limiter: 'false',
      // Test users register seconds before they upload and post links, at machine speed:
      // Comet's abuse controls for new accounts and floods are tested in crates/server/tests/e2e/abuse.rs.
      OVERWRITE_SETTING_Comet_Abuse_New_Account_Age_Hours: '0',
      OVERWRITE_SETTING_Comet_Abuse_Messages_Per_User_Limit: '0',
      OVERWRITE_SETTING_Comet_Abuse_Room_Creation_Per_Day: '0',
      COMET_BCRYPT_COST: '4',
    };
    this.proc = spawn(COMET_BIN, [], { env, stdio: ['ignore', this.logFd, this.logFd] });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => resolve({ code, signal }));
      this.proc.once('error', (error) => resolve({ error }));
    });
    await this.waitReady();
    return this;
  }

  logTail(n = 60) {
    try {
      return readFileSync(this.logPath, 'utf8')
        .replace(/\x1b\[[0-9;]*m/g, '') // tracing's ANSI colours
        .split('\n')
        .slice(-n)
        .join('\n');
    } catch {
      return '<no log>';
    }
  }

  async waitReady() {
    const deadline = Date.now() + READY_MS;
    let last = 'no answer';
    let gone = null;
    this.exited.then((how) => {
      gone = how;
    });
    while (Date.now() < deadline) {
      if (gone) {
        throw new Error(`comet (${COMET_BIN}) exited before it was ready: ${JSON.stringify(gone)}\n${this.logTail()}`);
      }
      try {
        const r = await fetch(`${this.url}/api/info`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        if (r.status === 200) return;
        last = `HTTP ${r.status}`;
      } catch (e) {
        last = String(e?.cause?.code ?? e);
      }
      await sleep(200);
    }
    await this.stop();
    throw new Error(`comet not ready after ${READY_MS} ms (last: ${last})\n${this.logTail()}`);
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      let timer;
      const stopped = await Promise.race([
        this.exited.then(() => true),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(false), STOP_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!stopped) {
        this.proc.kill('SIGKILL');
        await within(this.exited, 'comet to die after SIGKILL', STOP_MS);
      }
    }
    if (this.logFd !== undefined) {
      closeSync(this.logFd);
      this.logFd = undefined;
    }
  }

  cleanup() {
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }

  /** A REST call with fetch; returns {status, body}. */
  async rest(method, endpoint, { auth, body, query } = {}) {
    const url = new URL(`/api/v1/${endpoint}`, this.url);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    const headers = { Accept: 'application/json' };
    if (auth) {
      headers['X-User-Id'] = auth.userId;
      headers['X-Auth-Token'] = auth.authToken;
    }
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await within(
      fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(WAIT_MS),
      }),
      `${method} ${endpoint}`,
    );
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = { unparsable: text };
    }
    return { status: r.status, body: json };
  }

  async restOk(method, endpoint, opts) {
    const { status, body } = await this.rest(method, endpoint, opts);
    assert.equal(status, 200, `${method} ${endpoint}: HTTP ${status} ${JSON.stringify(body)}`);
    assert.equal(body.success, true, `${method} ${endpoint}: ${JSON.stringify(body)}`);
    return body;
  }

  /** Registers a fresh user over users.register and logs it in over /api/v1/login. */
  async newUser(prefix) {
    const username = unique(prefix);
    const email = `${username}@example.com`;
    const reg = await this.restOk('POST', 'users.register', {
      body: { username, email, pass: USER_PASS, name: `Compat ${username}` },
    });
    const login = await this.restOk('POST', 'login', { body: { username, password: USER_PASS } });
    assert.equal(login.status, 'success');
    assert.equal(login.data.userId, reg.user._id);
    return {
      id: reg.user._id,
      username,
      password: USER_PASS,
      auth: { userId: login.data.userId, authToken: login.data.authToken },
    };
  }
}

// --- SDK lifecycle ---------------------------------------------------------------

const sdks = new Set();

/** A connected DDPSDK (no automatic reconnect: a dropped socket must fail the test). */
async function connectedSdk(server) {
  const sdk = DDPSDK.create(server.url, { retryCount: 0, retryTime: 100 });
  sdks.add(sdk);
  await within(sdk.connection.connect(), 'DDP connected');
  return sdk;
}

function closeSdk(sdk) {
  if (!sdks.delete(sdk)) return;
  sdk.connection.close();
  sdk.timeoutControl.stop();
}

// --- the suite ---------------------------------------------------------------------

describe('@rocket.chat/ddp-client against Comet', () => {
  const server = new CometServer();
  let alice; // DDP user under test
  let bob; // the "other user" posting over REST
  let sdkA; // alice, password login
  let roomMessages; // alice's room-messages stream of GENERAL
  const general = collector();

  /** Wraps a test body so a failure carries the server's log tail. */
  const withLog = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (e) {
      if (e && typeof e === 'object') {
        e.message = `${e.message}\n--- comet log tail ---\n${server.logTail(30)}`;
      }
      throw e;
    }
  };

  before(async () => {
    assert.equal(
      typeof WebSocket,
      'function',
      'no global WebSocket: run Node >= 22, or Node 20 with --experimental-websocket',
    );
    await server.start();
    alice = await server.newUser('ddp-alice');
    bob = await server.newUser('ddp-bob');
  });

  after(async () => {
    for (const sdk of [...sdks]) closeSdk(sdk);
    await server.stop();
    server.cleanup();
  });

  test('connects to /websocket and gets a DDP session', withLog(async () => {
    sdkA = await connectedSdk(server);
    assert.equal(sdkA.connection.status, 'connected');
    assert.equal(typeof sdkA.connection.session, 'string');
    assert.ok(sdkA.connection.session.length > 0);
  }));

  test('anonymous subscriptions/get and rooms/get answer an empty list', withLog(async () => {
    assert.deepEqual(await within(sdkA.call('subscriptions/get'), 'subscriptions/get'), []);
    assert.deepEqual(await within(sdkA.call('rooms/get'), 'rooms/get'), []);
  }));

  test('a wrong password is refused with a 403 Meteor.Error', withLog(async () => {
    await assert.rejects(
      within(sdkA.account.loginWithPassword(alice.username, sha256(`${alice.password}x`)), 'login error'),
      (err) => {
        assert.equal(err.error, 403, JSON.stringify(err));
        assert.equal(err.errorType, 'Meteor.Error', JSON.stringify(err));
        assert.equal(typeof err.reason, 'string');
        return true;
      },
    );
    assert.equal(sdkA.account.uid, undefined);
  }));

  test('loginWithPassword (sha-256 digest) logs in', withLog(async () => {
    await within(sdkA.account.loginWithPassword(alice.username, sha256(alice.password)), 'login');
    assert.equal(sdkA.account.uid, alice.id);
    const { user } = sdkA.account;
    assert.equal(user.id, alice.id);
    assert.equal(typeof user.token, 'string');
    assert.ok(user.token.length > 0);
    assert.ok(user.tokenExpires instanceof Date);
    assert.ok(user.tokenExpires.getTime() > Date.now(), `tokenExpires ${user.tokenExpires}`);
  }));

  test("the SDK's REST client works with the DDP login token", withLog(async () => {
    const me = await within(sdkA.rest.get('/v1/me'), 'GET /v1/me');
    assert.equal(me._id, alice.id);
    assert.equal(me.username, alice.username);
    assert.equal(me.success, true);
  }));

  test('subscriptions/get and rooms/get list the user\'s rooms', withLog(async () => {
    const subs = await within(sdkA.call('subscriptions/get'), 'subscriptions/get');
    assert.ok(Array.isArray(subs), JSON.stringify(subs));
    const sub = subs.find((s) => s.rid === 'GENERAL');
    assert.ok(sub, `no GENERAL subscription in ${JSON.stringify(subs)}`);
    assert.equal(sub.u._id, alice.id);
    assert.equal(sub.t, 'c');
    assert.ok(sub._updatedAt && typeof sub._updatedAt.$date === 'number', JSON.stringify(sub));

    const since = await within(sdkA.call('subscriptions/get', { $date: 0 }), 'subscriptions/get since');
    assert.ok(Array.isArray(since.update), JSON.stringify(since));
    assert.ok(Array.isArray(since.remove), JSON.stringify(since));
    assert.ok(since.update.some((s) => s.rid === 'GENERAL'));

    const rooms = await within(sdkA.call('rooms/get'), 'rooms/get');
    assert.ok(Array.isArray(rooms), JSON.stringify(rooms));
    const room = rooms.find((r) => r._id === 'GENERAL');
    assert.ok(room, `no GENERAL in ${JSON.stringify(rooms)}`);
    assert.equal(room.t, 'c');
    assert.equal(room.name, 'general');
  }));

  test('an unknown method is a 404 Meteor.Error', withLog(async () => {
    await assert.rejects(within(sdkA.call('comet/no-such-method'), 'unknown method'), (err) => {
      assert.equal(err.error, 404, JSON.stringify(err));
      assert.equal(err.reason, "Method 'comet/no-such-method' not found", JSON.stringify(err));
      return true;
    });
  }));

  test('room-messages stream delivers a message another user posts over REST', withLog(async () => {
    roomMessages = sdkA.stream('room-messages', 'GENERAL', (...args) => general.push(...args));
    await within(roomMessages.ready(), 'stream-room-messages ready');
    const text = `over rest ${unique()}`;
    const { message: sent } = await server.restOk('POST', 'chat.postMessage', {
      auth: bob.auth,
      body: { roomId: 'GENERAL', text },
    });
    const [m] = await general.next(([msg]) => msg?._id === sent._id, 'pushed message');
    assert.equal(m.rid, 'GENERAL');
    assert.equal(m.msg, text);
    assert.equal(m.u._id, bob.id);
    assert.equal(m.u.username, bob.username);
    // DDP carries EJSON dates.
    assert.equal(typeof m.ts.$date, 'number', JSON.stringify(m.ts));
    assert.equal(m.ts.$date, Date.parse(sent.ts));
    assert.equal(typeof m._updatedAt.$date, 'number', JSON.stringify(m));
  }));

  test('sendMessage over DDP is pushed to the stream and visible over REST', withLog(async () => {
    const id = randomBytes(9).toString('hex').slice(0, 17);
    const text = `over ddp ${unique()}`;
    const result = await within(sdkA.call('sendMessage', { _id: id, rid: 'GENERAL', msg: text }), 'sendMessage');
    assert.equal(result._id, id);
    assert.equal(result.rid, 'GENERAL');
    assert.equal(result.msg, text);
    assert.equal(result.u._id, alice.id);
    assert.equal(result.u.username, alice.username);
    assert.equal(typeof result.ts.$date, 'number', JSON.stringify(result.ts));

    // The sender's own connection gets the message on its room stream too.
    const [pushed] = await general.next(([msg]) => msg?._id === id, 'own message on the stream');
    assert.equal(pushed.msg, text);

    const history = await server.restOk('GET', 'channels.history', {
      auth: bob.auth,
      query: { roomId: 'GENERAL', count: '20' },
    });
    const seen = history.messages.find((msg) => msg._id === id);
    assert.ok(seen, `message ${id} not in channels.history`);
    assert.equal(seen.msg, text);
    assert.equal(seen.u._id, alice.id);
    assert.equal(typeof seen.ts, 'string'); // REST carries ISO dates
    assert.equal(Date.parse(seen.ts), result.ts.$date);
  }));

  test('saveRoomSettings and getRoomByTypeAndName answer as Rocket.Chat', withLog(async () => {
    const name = `ddp-settings-${unique()}`;
    const { channel } = await server.restOk('POST', 'channels.create', { auth: alice.auth, body: { name } });
    const saved = await within(
      sdkA.call('saveRoomSettings', channel._id, 'roomTopic', 'set over ddp'),
      'saveRoomSettings',
    );
    assert.deepEqual(saved, { result: true, rid: channel._id });
    const room = await within(sdkA.call('getRoomByTypeAndName', 'c', name), 'getRoomByTypeAndName');
    assert.equal(room._id, channel._id);
    assert.equal(room.topic, 'set over ddp');
    await assert.rejects(within(sdkA.call('saveRoomSettings', channel._id, 'nope', 1), 'unknown setting'), (err) => {
      assert.equal(err.error, 'error-invalid-settings', JSON.stringify(err));
      assert.equal(err.reason, 'Invalid settings provided', JSON.stringify(err));
      return true;
    });
  }));

  let sdkA2; // alice again, resumed with the token of sdkA
  let sdkB; // bob, resumed with his REST token

  test('loginWithToken resumes the DDP token in a second SDK', withLog(async () => {
    sdkA2 = await connectedSdk(server);
    const result = await within(sdkA2.account.loginWithToken(sdkA.account.user.token), 'resume login');
    assert.equal(result.id, alice.id);
    assert.equal(result.token, sdkA.account.user.token);
    assert.equal(typeof result.tokenExpires.$date, 'number');
    assert.equal(sdkA2.account.uid, alice.id);
    const subs = await within(sdkA2.call('subscriptions/get'), 'subscriptions/get');
    assert.ok(subs.some((s) => s.rid === 'GENERAL'));
  }));

  test('loginWithToken accepts a REST login token', withLog(async () => {
    sdkB = await connectedSdk(server);
    const result = await within(sdkB.account.loginWithToken(bob.auth.authToken), 'resume login');
    assert.equal(result.id, bob.id);
    assert.equal(sdkB.account.uid, bob.id);
  }));

  test('a bogus resume token is refused with a 403 Meteor.Error', withLog(async () => {
    const sdk = await connectedSdk(server);
    try {
      await assert.rejects(within(sdk.account.loginWithToken('not-a-real-token'), 'resume error'), (err) => {
        assert.equal(err.error, 403, JSON.stringify(err));
        return true;
      });
      assert.equal(sdk.account.uid, undefined);
    } finally {
      closeSdk(sdk);
    }
  }));

  test('typing via stream-notify-room reaches another member', withLog(async () => {
    const activity = collector();
    const legacy = collector();
    const s1 = sdkB.stream('notify-room', 'GENERAL/user-activity', (...args) => activity.push(...args));
    const s2 = sdkB.stream('notify-room', 'GENERAL/typing', (...args) => legacy.push(...args));
    try {
      await within(s1.ready(), 'notify-room user-activity ready');
      await within(s2.ready(), 'notify-room typing ready');

      const started = await within(
        sdkA.call('stream-notify-room', 'GENERAL/user-activity', alice.username, ['user-typing'], {}),
        'stream-notify-room (typing)',
      );
      assert.ok(started === undefined || started === null || started === true, JSON.stringify(started));
      const [who, what, extras] = await activity.next(
        ([u, acts]) => u === alice.username && Array.isArray(acts) && acts.includes('user-typing'),
        'user-activity typing event',
      );
      assert.equal(who, alice.username);
      assert.deepEqual(what, ['user-typing']);
      assert.deepEqual(extras, {});
      await legacy.next(([u, typing]) => u === alice.username && typing === true, 'legacy typing=true');

      await within(
        sdkA.call('stream-notify-room', 'GENERAL/user-activity', alice.username, [], {}),
        'stream-notify-room (stop typing)',
      );
      await activity.next(([u, acts]) => u === alice.username && Array.isArray(acts) && acts.length === 0, 'stop typing event');
      await legacy.next(([u, typing]) => u === alice.username && typing === false, 'legacy typing=false');
    } finally {
      s1.stop();
      s2.stop();
    }
  }));

  test('notify-user subscriptions-changed and rooms-changed for a DM', withLog(async () => {
    const subsChanged = collector();
    const roomsChanged = collector();
    const s1 = sdkA.stream('notify-user', `${alice.id}/subscriptions-changed`, (...a) => subsChanged.push(...a));
    const s2 = sdkA.stream('notify-user', `${alice.id}/rooms-changed`, (...a) => roomsChanged.push(...a));
    try {
      await within(s1.ready(), 'notify-user subscriptions-changed ready');
      await within(s2.ready(), 'notify-user rooms-changed ready');
      // Upstream createDirectRoom: notifyOnSubscriptionChangedByRoomIdAndUserId(rid, uid, 'inserted')
      // for each new member subscription.
      const { room } = await server.restOk('POST', 'im.create', { auth: bob.auth, body: { username: alice.username } });
      const rid = room._id ?? room.rid;
      assert.ok(rid, JSON.stringify(room));
      const [action, sub] = await subsChanged.next(([, s]) => s?.rid === rid, 'subscriptions-changed for the DM');
      assert.equal(action, 'inserted');
      assert.equal(sub.u._id, alice.id);
      assert.equal(sub.t, 'd');
      assert.equal(sub.name, bob.username);
      // (Upstream's rooms-changed 'inserted' for the new DM is emitted before the
      // subscriptions exist, so whether a member sees it is a race; not checked.)
      // A message in the DM updates the room (lastMessage): rooms-changed 'updated'.
      const text = `dm ${unique()}`;
      const { message } = await server.restOk('POST', 'chat.postMessage', { auth: bob.auth, body: { roomId: rid, text } });
      const [raction, r] = await roomsChanged.next(
        ([, x]) => x?._id === rid && x?.lastMessage?._id === message._id,
        'rooms-changed for the DM message',
      );
      assert.equal(raction, 'updated');
      assert.equal(r.t, 'd');
      assert.equal(r.lastMessage.msg, text);
    } finally {
      s1.stop();
      s2.stop();
    }
  }));

  test('another user cannot listen to my notify-user events', withLog(async () => {
    // Upstream's streamer throws MeteorError('not-allowed') from the
    // publication, i.e. `nosub` with that error; the SDK's ready() rejects.
    const s = sdkB.stream('notify-user', `${alice.id}/subscriptions-changed`, () => {});
    try {
      await assert.rejects(within(s.ready(), 'nosub for a foreign notify-user stream'), (err) => {
        assert.equal(err?.error, 'not-allowed', JSON.stringify(err));
        return true;
      });
    } finally {
      s.stop();
    }
  }));

  test('after unsub the server stops sending room messages', withLog(async () => {
    const raw = [];
    const off = sdkA.client.onCollection('stream-room-messages', (data) => raw.push(data));
    try {
      roomMessages.stop();
      // A method round trip after `unsub`: the server handles one connection's
      // frames in order, so the unsub has been applied.
      await within(sdkA.call('subscriptions/get'), 'round trip after unsub');
      const text = `after unsub ${unique()}`;
      await server.restOk('POST', 'chat.postMessage', { auth: bob.auth, body: { roomId: 'GENERAL', text } });
      await sleep(QUIET_MS);
      const leaked = raw.filter((d) => d.fields?.args?.[0]?.msg === text);
      assert.deepEqual(leaked, []);
    } finally {
      off();
    }
  }));

  test('notify-logged updateAvatar reaches others when a user sets or resets an avatar', withLog(async () => {
    const events = collector();
    const stream = sdkA.stream('notify-logged', 'updateAvatar', (...args) => events.push(...args));
    await within(stream.ready(), 'stream-notify-logged updateAvatar ready');
    try {
      const form = new FormData();
      form.append('image', new Blob([tinyPng(40, 30)], { type: 'image/png' }), 'me.png');
      const r = await within(
        fetch(new URL('/api/v1/users.setAvatar', server.url), {
          method: 'POST',
          headers: { 'X-User-Id': bob.auth.userId, 'X-Auth-Token': bob.auth.authToken },
          body: form,
          signal: AbortSignal.timeout(WAIT_MS),
        }),
        'users.setAvatar',
      );
      assert.equal(r.status, 200, await r.text());
      const [set] = await events.next(([e]) => e?.username === bob.username && e.etag, 'updateAvatar after set');
      assert.equal(typeof set.etag, 'string');
      const avatar = await within(fetch(new URL(`/avatar/${bob.username}`, server.url)), 'GET /avatar');
      assert.equal(avatar.status, 200);
      assert.equal(avatar.headers.get('etag'), `"${set.etag}"`);

      await server.restOk('POST', 'users.resetAvatar', { auth: bob.auth, body: { username: bob.username } });
      const [reset] = await events.next(
        ([e]) => e?.username === bob.username && e.etag === undefined,
        'updateAvatar after reset',
      );
      assert.deepEqual(reset, { username: bob.username });
    } finally {
      stream.stop();
    }
  }));

  test('sendFileMessage posts a file uploaded with rooms.media', withLog(async () => {
    const form = new FormData();
    form.append('file', new Blob(['compat notes\n'], { type: 'text/plain' }), 'notes.txt');
    const r = await within(
      fetch(new URL('/api/v1/rooms.media/GENERAL', server.url), {
        method: 'POST',
        headers: { 'X-User-Id': sdkA.account.uid, 'X-Auth-Token': sdkA.account.user.token },
        body: form,
        signal: AbortSignal.timeout(WAIT_MS),
      }),
      'rooms.media',
    );
    const uploaded = await r.json();
    assert.equal(r.status, 200, JSON.stringify(uploaded));
    const fileId = uploaded.file._id;
    const text = `file ${unique()}`;
    const message = await within(
      sdkA.call('sendFileMessage', 'GENERAL', undefined, { _id: fileId, description: 'minutes' }, { msg: text }),
      'sendFileMessage',
    );
    assert.equal(message.msg, text);
    assert.equal(message.file._id, fileId);
    assert.equal(message.attachments[0].title, 'notes.txt');
    assert.equal(message.attachments[0].description, 'minutes');
    assert.equal(message.attachments[0].title_link, `/file-upload/${fileId}/notes.txt`);
    const history = await server.restOk('GET', 'channels.history', {
      auth: bob.auth,
      query: { roomId: 'GENERAL', count: '5' },
    });
    const seen = history.messages.find((msg) => msg._id === message._id);
    assert.ok(seen, `message ${message._id} not in channels.history`);
    assert.equal(seen.file._id, fileId);
  }));

  test('a direct call rings over notify-user video-conference, as the web client rings', withLog(async () => {
    // Rocket.Chat's client: video-conference.start with allowRinging in a DM of two answers a
    // direct call; the caller then writes {action:'call'} to the callee's
    // `<uid>/video-conference` through the method stream-notify-user, the callee answers
    // 'accepted' to the caller's, and the caller confirms. The server checks every write
    // against the call (upstream's validateAction).
    const { room } = await server.restOk('POST', 'im.create', { auth: alice.auth, body: { username: bob.username } });
    const rid = room._id ?? room.rid;
    const started = await within(
      sdkA.rest.post('/v1/video-conference.start', { roomId: rid, allowRinging: true }),
      'video-conference.start',
    );
    assert.equal(started.success, true, JSON.stringify(started));
    assert.equal(started.data.type, 'direct', JSON.stringify(started));
    assert.equal(started.data.calleeId, bob.id);
    const callId = started.data.callId;

    const atBob = collector();
    const atAlice = collector();
    const sBob = sdkB.stream('notify-user', `${bob.id}/video-conference`, (...a) => atBob.push(...a));
    const sAlice = sdkA.stream('notify-user', `${alice.id}/video-conference`, (...a) => atAlice.push(...a));
    try {
      await within(sBob.ready(), "bob's video-conference stream ready");
      await within(sAlice.ready(), "alice's video-conference stream ready");

      const call = { uid: alice.id, rid, callId };
      await within(
        sdkA.call('stream-notify-user', `${bob.id}/video-conference`, { action: 'call', params: call }),
        'stream-notify-user call',
      );
      const [ring] = await atBob.next(([e]) => e?.action === 'call', 'the ring at the callee');
      assert.deepEqual(ring, { action: 'call', params: call });

      const answer = { uid: bob.id, rid, callId };
      await within(
        sdkB.call('stream-notify-user', `${alice.id}/video-conference`, { action: 'accepted', params: answer }),
        'stream-notify-user accepted',
      );
      const [accepted] = await atAlice.next(([e]) => e?.action === 'accepted', 'the answer at the caller');
      assert.deepEqual(accepted, { action: 'accepted', params: answer });

      // A write about a call that is not the writer's is refused, and nothing arrives.
      await assert.rejects(
        within(
          sdkA.call('stream-notify-user', `${bob.id}/video-conference`, { action: 'call', params: { ...call, callId: 'no-such-call' } }),
          'forged stream-notify-user',
        ),
        (err) => {
          assert.equal(err?.error, 'error-not-allowed', JSON.stringify(err));
          return true;
        },
      );
      await sleep(QUIET_MS);
      assert.equal(atBob.seen.filter(([e]) => e?.params?.callId === 'no-such-call').length, 0);

      // The caller hangs up while it still rings: cancel answers success and the call is declined.
      const cancelled = await within(sdkA.rest.post('/v1/video-conference.cancel', { callId }), 'video-conference.cancel');
      assert.equal(cancelled.success, true, JSON.stringify(cancelled));
      const info = await within(sdkB.rest.get('/v1/video-conference.info', { callId }), 'video-conference.info');
      assert.equal(info.status, 4, JSON.stringify(info)); // declined
      assert.equal(info.ringing, false);
    } finally {
      sBob.stop();
      sAlice.stop();
    }
  }));

  test('logout ends the DDP login but keeps the connection', withLog(async () => {
    await within(sdkA2.account.logout(), 'logout');
    assert.equal(sdkA2.account.uid, undefined);
    assert.equal(sdkA2.connection.status, 'connected');
    // The token is gone server side: a resume with it is refused.
    const sdk = await connectedSdk(server);
    try {
      await assert.rejects(within(sdk.account.loginWithToken(sdkA.account.user.token), 'resume after logout'), (err) => {
        assert.equal(err.error, 403, JSON.stringify(err));
        return true;
      });
    } finally {
      closeSdk(sdk);
    }
  }));

  test('disconnects cleanly', withLog(async () => {
    for (const sdk of [sdkA, sdkA2, sdkB].filter(Boolean)) {
      const status = collector();
      const off = sdk.connection.on('connection', (s) => status.push(s));
      closeSdk(sdk);
      await status.next(([s]) => s === 'closed', 'closed status');
      off();
      assert.equal(sdk.connection.status, 'closed');
    }
    // The server is still healthy after the clients left.
    const { status } = await server.rest('GET', 'me', { auth: bob.auth });
    assert.equal(status, 200);
  }));
});
