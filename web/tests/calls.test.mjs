// Calls: the built-in provider's WebRTC mesh between two browser contexts (Chromium's fake
// camera and microphone), once directly and once forced through a real TURN server (Debian's
// coturn on loopback, `$TURNSERVER_BIN` or scripts/coturn.sh); ringing a direct call
// (accept, decline, cancel); and a Jitsi call opening the configured Jitsi domain.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { startServer, login, createUser, openAs, openRoom, rest, withScreenshots, repo, ADMIN, TIMEOUT } from './harness.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let server;
let browser;
let admin;
let alice;
let bob;
let turn;
const pages = [];

/** Chromium with a fake camera and microphone that needs no permission prompt. */
async function launchMediaBrowser() {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath} (Debian: apt-get install chromium)`);
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-dev-shm-usage',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ],
    timeout: 30_000,
  });
}

/** Runs axe-core in the page; fails on serious and critical violations. */
async function axe(page, label) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // @ts-ignore: injected above.
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${label}: ${JSON.stringify(serious, null, 1)}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function waitFor(check, what, ms = TIMEOUT) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** coturn on loopback with REST-API credentials (`use-auth-secret`), as an operator runs it. */
async function startTurn() {
  const binary =
    process.env.TURNSERVER_BIN ||
    execFileSync('bash', [join(repo, 'scripts/coturn.sh')], { encoding: 'utf8', timeout: 600_000 }).trim();
  const port = await freePort();
  const secret = randomBytes(16).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'comet-web-turn-'));
  const child = spawn(
    binary,
    [
      '-n',
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=comet.test',
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--allow-loopback-peers',
      `--db=${join(dir, 'turndb')}`,
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      '--log-file=stdout',
      '--simple-log',
      '--verbose',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (chunk) => (log += chunk));
  child.stderr.on('data', (chunk) => (log += chunk));
  await waitFor(
    () => child.exitCode === null && /listener opened on|Total UDP servers|IPv4. UDP listener/i.test(log),
    `coturn to listen (log: ${log.slice(-500)})`,
    20_000,
  ).catch((error) => {
    throw new Error(`${error.message}\n${log}`);
  });
  return {
    port,
    secret,
    log: () => log,
    // A relayed call shows in coturn's log as allocations for the test users.
    allocated: () => /ALLOCATE processed, success/.test(log),
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

before(async () => {
  server = await startServer();
  browser = await launchMediaBrowser();
  admin = await login(server.base, ADMIN.username, ADMIN.password);
  alice = await createUser(server.base, admin, 'alice', 'Alice Caller');
  bob = await createUser(server.base, admin, 'bob', 'Bob Callee');
  await rest(server.base, 'channels.create', { method: 'POST', auth: alice, body: { name: 'standup', members: ['bob'] } });
  await rest(server.base, 'im.create', { method: 'POST', auth: alice, body: { username: 'bob' } });
  await rest(server.base, 'im.create', { method: 'POST', auth: bob, body: { username: 'alice' } });
});

after(async () => {
  for (const page of pages) await page.context().close().catch(() => {});
  await browser?.close();
  await server?.stop();
  turn?.stop();
});

async function open(username, { relay = false } = {}) {
  const page = await openAs(browser, server.base, username);
  pages.push(page);
  if (relay) await page.evaluate(() => localStorage.setItem('comet.calls.forceRelay', '1'));
  return page;
}

async function setSetting(id, value) {
  await rest(server.base, `settings/${id}`, { method: 'POST', auth: admin, body: { value } });
}

/** The call's statistics for the connection with `peerId`, as the page sees them. */
function peerStats(page, peerId) {
  return page.evaluate(async (uid) => {
    // @ts-ignore: the call view's diagnostics hook.
    const all = (await window.cometCall?.stats()) ?? [];
    return all.find((peer) => peer.uid === uid) ?? null;
  }, peerId);
}

/** Each side plays the other's audio and video, with bytes and frames still arriving. */
async function assertMediaFlows(page, peerId, what) {
  let seen = null;
  const first = await waitFor(
    async () => {
      const stats = await peerStats(page, peerId);
      seen = stats;
      return stats?.inbound.audio?.bytes > 0 && stats?.inbound.video?.bytes > 0 ? stats : null;
    },
    `${what}: audio and video from the peer`,
    45_000,
  ).catch((error) => {
    throw new Error(`${error.message}; the connection last seen: ${JSON.stringify(seen)}`);
  });
  const later = await waitFor(
    async () => {
      const stats = await peerStats(page, peerId);
      return stats &&
        stats.inbound.audio.bytes > first.inbound.audio.bytes &&
        stats.inbound.video.bytes > first.inbound.video.bytes &&
        (stats.inbound.video.frames ?? 0) > (first.inbound.video.frames ?? 0)
        ? stats
        : null;
    },
    `${what}: bytes received rising`,
    20_000,
  );
  const kinds = await page.evaluate((uid) => {
    const video = document.querySelector(`[data-testid="call-tile"][data-uid="${uid}"] video`);
    const stream = video?.srcObject;
    return stream ? stream.getTracks().filter((t) => t.readyState === 'live').map((t) => t.kind).sort() : [];
  }, peerId);
  assert.deepEqual(kinds, ['audio', 'video'], `${what}: the peer's tile plays an audio and a video track`);
  return later;
}

async function callMessage(page) {
  const message = page.getByTestId('call-message').last();
  await message.waitFor();
  return message;
}

async function roomCall(t, { relay }) {
  const a = await open('alice', { relay });
  const b = await open('bob', { relay });
  await withScreenshots(t.name, () => [a, b], async () => {
    await openRoom(a, 'standup');
    await a.getByTestId('start-call').click();
    await a.getByTestId('call-view').waitFor();
    const callId = await a.getByTestId('call-view').getAttribute('data-call-id');
    assert.match(a.url(), new RegExp(`/call/${callId}$`));

    await openRoom(b, 'standup');
    const message = await callMessage(b);
    assert.equal(await message.getAttribute('data-call-id'), callId);
    if (!relay) await axe(b, 'call message');
    await message.getByTestId('call-join').click();
    await b.getByTestId('call-view').waitFor();

    await a.locator(`[data-testid="call-tile"][data-uid="${bob.userId}"]`).waitFor();
    await b.locator(`[data-testid="call-tile"][data-uid="${alice.userId}"]`).waitFor();
    const fromBob = await assertMediaFlows(a, bob.userId, 'alice receives bob');
    const fromAlice = await assertMediaFlows(b, alice.userId, 'bob receives alice');
    if (!relay) {
      await axe(b, 'call view');
      // The speaker highlight follows the fake microphone's beeps.
      await a.locator(`[data-testid="call-tile"][data-uid="${bob.userId}"][data-speaking="true"]`).waitFor();
      // Mute, camera and screen sharing switch without renegotiating; media keeps flowing.
      for (const control of ['call-mic', 'call-camera', 'call-screen']) {
        await b.getByTestId(control).click();
        await waitFor(async () => (await b.getByTestId(control).getAttribute('aria-pressed')) === 'true', `${control} pressed`);
      }
      await assertMediaFlows(a, bob.userId, 'alice receives bob sharing his screen');
      for (const control of ['call-mic', 'call-camera', 'call-screen']) {
        await b.getByTestId(control).click();
        await waitFor(async () => (await b.getByTestId(control).getAttribute('aria-pressed')) === 'false', `${control} released`);
      }
    }
    if (relay) {
      assert.deepEqual(fromBob.pair, { local: 'relay', remote: 'relay' }, 'alice talks to bob through TURN');
      assert.deepEqual(fromAlice.pair, { local: 'relay', remote: 'relay' }, 'bob talks to alice through TURN');
      assert.ok(turn.allocated(), 'coturn allocated relays');
    } else {
      assert.ok(fromBob.pair, 'a candidate pair was selected');
    }

    // Hanging up: alice with the button; bob by closing his tab (a keepalive `leave` on
    // pagehide). The last one out ends the call, and the message says so, with both avatars.
    await a.getByTestId('call-hangup').click();
    await a.getByTestId('call-view').waitFor({ state: 'detached' });
    await b.locator(`[data-testid="call-tile"][data-uid="${alice.userId}"]`).waitFor({ state: 'detached' });
    await b.close();
    const ended = await callMessage(a);
    await waitFor(async () => (await ended.getAttribute('data-status')) === 'ended', 'the call to end when the last one leaves');
    assert.equal(await ended.getByTestId('call-join').count(), 0);
    assert.equal(await ended.getByTestId('call-joined').locator('li').count(), 2);
    const info = await rest(server.base, `video-conference.info?callId=${callId}`, { auth: alice });
    assert.equal(info.status, 3);
    assert.deepEqual(info.present ?? [], []);
  });
  await a.context().close();
  await b.context().close();
}

test('a built-in room call: each side receives the other\'s audio and video', async (t) => {
  await roomCall(t, { relay: false });
});

test('the same call relayed by a TURN server (coturn, iceTransportPolicy relay)', async (t) => {
  turn = await startTurn();
  await setSetting('Comet_Calls_ICE_Servers', `turn:127.0.0.1:${turn.port}?transport=udp`);
  await setSetting('Comet_Calls_TURN_Secret', turn.secret);
  const ice = await rest(server.base, 'video-conference.capabilities', { auth: alice });
  assert.equal(ice.providerName, 'comet');
  await roomCall(t, { relay: true });
  await setSetting('Comet_Calls_ICE_Servers', '');
});

test('ringing a direct call: accept, decline, cancel', async (t) => {
  const a = await open('alice');
  const b = await open('bob');
  await withScreenshots(t.name, () => [a, b], async () => {
    const dm = async (page, other) => {
      await page.locator(`[data-testid="room-link"][data-room="${other}"]`).click();
      await page.getByTestId('composer').waitFor();
    };
    await dm(a, 'bob');
    await dm(b, 'alice');

    // Accept: the callee rings with a sound; both land in the call.
    await a.getByTestId('start-call').click();
    await a.getByTestId('outgoing-call').waitFor();
    const ringingMessage = b.getByTestId('call-message').last();
    await waitFor(async () => (await ringingMessage.getAttribute('data-status')) === 'calling', 'the DM call message, ringing');
    const incoming = b.getByTestId('incoming-call');
    await incoming.waitFor();
    assert.equal(await incoming.getAttribute('data-sound'), 'incoming');
    await axe(b, 'incoming call');
    await axe(a, 'outgoing call');
    await b.getByTestId('accept-call').click();
    await a.getByTestId('call-view').waitFor();
    await b.getByTestId('call-view').waitFor();
    assert.equal(await a.getByTestId('outgoing-call').count(), 0);
    assert.equal(await incoming.count(), 0);
    await assertMediaFlows(b, alice.userId, 'direct call');
    await a.getByTestId('call-hangup').click();
    await b.getByTestId('call-hangup').click();
    await b.getByTestId('call-view').waitFor({ state: 'detached' });
    await a.getByTestId('call-view').waitFor({ state: 'detached' });

    // Decline: the caller stops ringing and is told; the call is over unanswered.
    await a.getByTestId('start-call').click();
    await b.getByTestId('incoming-call').waitFor();
    await b.getByTestId('decline-call').click();
    await a.getByTestId('outgoing-call').waitFor({ state: 'detached' });
    await a.getByTestId('toast').filter({ hasText: 'declined' }).waitFor();
    assert.equal(await b.getByTestId('incoming-call').count(), 0);
    assert.equal(await a.getByTestId('call-view').count(), 0);
    // The conversation's call message shows it unanswered, on both sides, without a Join button.
    for (const page of [a, b]) {
      const declined = page.getByTestId('call-message').last();
      await waitFor(async () => (await declined.getAttribute('data-status')) === 'missed', 'a missed call message');
      assert.equal(await declined.getByTestId('call-join').count(), 0);
    }

    // Cancel: the callee stops ringing at once.
    await a.getByTestId('start-call').click();
    await b.getByTestId('incoming-call').waitFor();
    await a.getByTestId('cancel-call').click();
    await b.getByTestId('incoming-call').waitFor({ state: 'detached' });
    assert.equal(await a.getByTestId('outgoing-call').count(), 0);
  });
  await a.context().close();
  await b.context().close();
});

test('a direct call connects each time it is accepted, though both sides offer at once', async (t) => {
  const a = await open('alice');
  const b = await open('bob');
  // Accepted, both join at the same moment and offer to each other; the smaller id keeps its
  // offer. Its page runs slowed down, so that the other's offer arrives while its own is
  // still being made.
  const [smaller] = alice.userId < bob.userId ? [a, b] : [b, a];
  const cdp = await smaller.context().newCDPSession(smaller);
  await withScreenshots(t.name, () => [a, b], async () => {
    for (const [page, other] of [[a, 'bob'], [b, 'alice']]) {
      await page.locator(`[data-testid="room-link"][data-room="${other}"]`).click();
      await page.getByTestId('composer').waitFor();
    }
    for (let round = 1; round <= 3; round++) {
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: round === 1 ? 1 : 8 });
      await a.getByTestId('start-call').click();
      await b.getByTestId('incoming-call').waitFor();
      await b.getByTestId('accept-call').click();
      await a.getByTestId('call-view').waitFor();
      await b.getByTestId('call-view').waitFor();
      await assertMediaFlows(b, alice.userId, `round ${round}: bob receives alice`);
      await assertMediaFlows(a, bob.userId, `round ${round}: alice receives bob`);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
      await a.getByTestId('call-hangup').click();
      await b.getByTestId('call-hangup').click();
      await a.getByTestId('call-view').waitFor({ state: 'detached' });
      await b.getByTestId('call-view').waitFor({ state: 'detached' });
    }
  });
  await a.context().close();
  await b.context().close();
});

test('a Jitsi call opens the configured Jitsi domain', async (t) => {
  await setSetting('Jitsi_Domain', 'meet.example.test');
  await setSetting('Jitsi_Enabled', true);
  await setSetting('VideoConf_Default_Provider', 'jitsi');
  const a = await open('alice');
  await withScreenshots(t.name, () => [a], async () => {
    // The Jitsi site is not reached: the test answers for it.
    await a.context().route('https://meet.example.test/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>Jitsi</title>' }));
    await openRoom(a, 'standup');
    const popup = a.context().waitForEvent('page', { timeout: TIMEOUT });
    await a.getByTestId('start-call').click();
    const jitsi = await popup;
    assert.match(jitsi.url(), /^https:\/\/meet\.example\.test\/[^/#?]+/);
    assert.equal(await a.getByTestId('call-view').count(), 0, 'no built-in call view for Jitsi');
    const message = await callMessage(a);
    await waitFor(async () => (await message.getAttribute('data-status')) === 'ongoing', 'the Jitsi call message');
  });
  await a.context().close();
  await setSetting('VideoConf_Default_Provider', '');
  await setSetting('Jitsi_Enabled', false);
});

test('every call text is translated in every locale', () => {
  const keys = (file) => {
    const text = readFileSync(join(repo, 'web/src/lib/locales', file), 'utf8');
    return new Set([...text.matchAll(/^\s*'(call\.[\w.]+)':/gm)].map((m) => m[1]));
  };
  // English is in two files: the first screen's texts and the rest.
  const english = new Set([...keys('en.ts'), ...keys('en.more.ts')]);
  assert.ok(english.size > 20);
  const locales = readdirSync(join(repo, 'web/src/lib/locales')).filter((f) => f.endsWith('.ts') && !f.startsWith('en.'));
  assert.ok(locales.length >= 11);
  for (const locale of locales) {
    const missing = [...english].filter((key) => !keys(locale).has(key));
    assert.deepEqual(missing, [], `${locale} lacks call texts`);
  }
});
