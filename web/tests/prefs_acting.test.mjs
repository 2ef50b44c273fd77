// The client acting on saved notification preferences, with another person writing from their
// own browser: desktop notifications by the room's level (else the account's), muted group
// mentions, muted rooms; the new-message sound by the room's choice (else the account's), none
// for a muted room; a hidden unread count left out of the tab title. The receiving browser
// grants notifications; its Notification API and Web Audio oscillators are recorded, not played.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, createUser, login, rest, send, openRoom, withScreenshots, ADMIN, PASSWORD, TIMEOUT, axe } from './harness.mjs';

let server;
let browser;
let admin;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await login(server.base, ADMIN.username, ADMIN.password);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A logged-in page whose notifications and sounds are recorded in `window.__notes` and `__sounds`. */
async function openRecorded(username) {
  const context = await browser.newContext({ baseURL: server.base });
  await context.grantPermissions(['notifications']);
  await context.addInitScript(() => {
    window.__notes = [];
    window.__sounds = [];
    window.Notification = class {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      constructor(title, options) {
        window.__notes.push({ title, body: options?.body ?? '' });
      }
    };
    // One sound is the oscillators started in one go: record the first one's wave and pitch.
    let playing = false;
    const create = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () {
      const oscillator = create.call(this);
      const start = oscillator.start.bind(oscillator);
      oscillator.start = (...args) => {
        if (!playing) {
          playing = true;
          window.__sounds.push({ wave: oscillator.type, hz: oscillator.frequency.value });
          queueMicrotask(() => (playing = false));
        }
        return start(...args);
      };
      return oscillator;
    };
  });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(msg.text());
  });
  page.problems = problems;
  await page.goto('/login');
  await page.getByTestId('login-user').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('auth-submit').click();
  await page.getByTestId('room-list').waitFor();
  return page;
}

const notes = (page) => page.evaluate(() => window.__notes);
const sounds = (page) => page.evaluate(() => window.__sounds);

async function waitForNote(page, text) {
  await page.waitForFunction((wanted) => window.__notes.some((n) => n.body.includes(wanted)), text, { timeout: TIMEOUT });
}

async function waitForSounds(page, count) {
  await page.waitForFunction((n) => window.__sounds.length >= n, count, { timeout: TIMEOUT });
}

async function roomPreferences(page, room, change) {
  await openRoom(page, room);
  await page.getByTestId('room-menu').click();
  await page.getByTestId('open-room-notifications').click();
  const dialog = page.getByTestId('room-notifications');
  await dialog.waitFor();
  await change(page);
  await page.getByTestId('notif-save').click();
  await dialog.waitFor({ state: 'detached' });
}

const CHIME = { wave: 'sine', hz: 880 };
const BEEP = { wave: 'square', hz: 1000 };

test('desktop notifications and sounds follow the room and account preferences', async (t) => {
  await createUser(server.base, admin, 'nora', 'Nora Notified');
  const ottoAuth = await createUser(server.base, admin, 'otto', 'Otto Writer');
  for (const name of ['calm-room', 'busy-room', 'desk-room']) {
    await rest(server.base, 'channels.create', { method: 'POST', auth: ottoAuth, body: { name, members: ['nora'] } });
  }
  const nora = await openRecorded('nora');
  const otto = await openAs(browser, server.base, 'otto');
  t.after(async () => {
    await nora.context().close();
    await otto.context().close();
  });
  await withScreenshots(t.name, () => [nora, otto], async () => {
    await openRoom(nora, 'desk-room');
    await openRoom(otto, 'calm-room');

    // Account defaults: every message of a small room notifies, with the chime.
    await send(otto, 'first plain words');
    await waitForNote(nora, 'first plain words');
    await waitForSounds(nora, 1);
    assert.deepEqual((await sounds(nora))[0], CHIME);
    assert.equal((await notes(nora))[0].title, '#calm-room');

    // The room: mentions only, group mentions muted, its own sound.
    await roomPreferences(nora, 'calm-room', async (page) => {
      await page.getByTestId('notif-desktop').selectOption('mentions');
      await page.getByTestId('notif-sound').selectOption('beep');
      await page.getByTestId('notif-mute-group').check();
      await axe(page, 'room notification preferences with mute');
    });
    await openRoom(nora, 'desk-room');
    const soundsBefore = (await sounds(nora)).length;
    await send(otto, 'second plain words');
    await send(otto, 'hello @all of you');
    await send(otto, 'and you @nora in particular');
    await waitForNote(nora, 'and you @nora in particular');
    let bodies = (await notes(nora)).map((n) => n.body);
    assert.ok(!bodies.some((b) => b.includes('second plain words')), 'a plain message is no mention');
    assert.ok(!bodies.some((b) => b.includes('hello @all')), 'group mentions are muted');
    await waitForSounds(nora, soundsBefore + 1);
    const roomSounds = (await sounds(nora)).slice(soundsBefore);
    assert.ok(roomSounds.every((s) => s.wave === BEEP.wave && s.hz === BEEP.hz), JSON.stringify(roomSounds));

    // A muted room: no notification and no sound, even for a mention; other rooms still ring.
    await roomPreferences(nora, 'calm-room', async (page) => {
      await page.getByTestId('notif-mute-room').check();
    });
    await openRoom(nora, 'desk-room');
    const mutedFrom = (await sounds(nora)).length;
    await send(otto, 'muted mention @nora');
    await openRoom(otto, 'busy-room');
    await send(otto, 'busy room news');
    await waitForNote(nora, 'busy room news');
    await waitForSounds(nora, mutedFrom + 1);
    bodies = (await notes(nora)).map((n) => n.body);
    assert.ok(!bodies.some((b) => b.includes('muted mention')), 'a muted room does not notify');
    assert.deepEqual((await sounds(nora)).slice(mutedFrom), [CHIME], 'only the busy room rang');

    // The account's sound "none" silences rooms that follow it, not a room with its own.
    await nora.getByTestId('account-menu').click();
    await nora.getByTestId('open-preferences').click();
    const prefs = nora.getByTestId('account-preferences');
    await prefs.waitFor();
    await prefs.getByTestId('pref-sound').selectOption('none');
    await prefs.getByTestId('pref-save').click();
    await prefs.waitFor({ state: 'detached' });
    await roomPreferences(nora, 'calm-room', async (page) => {
      await page.getByTestId('notif-mute-room').uncheck();
    });
    await openRoom(nora, 'desk-room');
    const quietFrom = (await sounds(nora)).length;
    await send(otto, 'busy but silent');
    await waitForNote(nora, 'busy but silent');
    await openRoom(otto, 'calm-room');
    await send(otto, 'calm beeps @nora');
    await waitForNote(nora, 'calm beeps @nora');
    await waitForSounds(nora, quietFrom + 1);
    assert.deepEqual((await sounds(nora)).slice(quietFrom), [BEEP]);
    assert.deepEqual(nora.problems, []);
    assert.deepEqual(otto.problems, []);
  });
});

test('a hidden unread count stays out of the tab title; muted group mentions show no badge', async (t) => {
  await createUser(server.base, admin, 'hana', 'Hana Hidden');
  const ivoAuth = await createUser(server.base, admin, 'ivo', 'Ivo Writer');
  for (const name of ['hidden-room', 'shown-room', 'home-room']) {
    await rest(server.base, 'channels.create', { method: 'POST', auth: ivoAuth, body: { name, members: ['hana'] } });
  }
  const hana = await openAs(browser, server.base, 'hana');
  const ivo = await openAs(browser, server.base, 'ivo');
  t.after(async () => {
    await hana.context().close();
    await ivo.context().close();
  });
  await withScreenshots(t.name, () => [hana, ivo], async () => {
    await roomPreferences(hana, 'hidden-room', async (page) => {
      await page.getByTestId('notif-hide-unread').check();
      await page.getByTestId('notif-mute-group').check();
    });
    await openRoom(hana, 'home-room');
    const counted = () => hana.evaluate(() => Number(/^\((\d+)\) /.exec(document.title)?.[1] ?? 0));
    const before = await counted();
    await openRoom(ivo, 'hidden-room');
    await send(ivo, 'news for @all here');
    await openRoom(ivo, 'shown-room');
    await send(ivo, 'visible news');
    await hana.locator('[data-testid="room-link"][data-room="shown-room"].unread').waitFor();
    // Only the room that shows its unread status is counted in the title.
    await hana.waitForFunction((n) => document.title.startsWith(`(${n}) `), before + 1, { timeout: TIMEOUT });
    const hidden = hana.locator('[data-testid="room-link"][data-room="hidden-room"]');
    assert.equal(await hidden.evaluate((el) => el.classList.contains('unread')), false);
    assert.equal(await counted(), before + 1);
    assert.equal(await hidden.getByTestId('mention-badge').count(), 0, 'group mentions are muted here');
    assert.deepEqual(hana.problems, []);
  });
});
