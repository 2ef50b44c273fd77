// Right-to-left, administration, accessibility (axe-core), themes and the phone layout.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import {
  startServer, launchBrowser, openAs, createUser, login, withScreenshots, openRoom, send, message, ADMIN,
} from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

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

/** Runs axe-core in the page; fails on serious and critical violations. */
async function axe(page, label) {
  // Evaluated through the devtools protocol: the page's CSP rightly refuses inline scripts.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // @ts-ignore: injected above.
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${label}: ${JSON.stringify(serious, null, 1)}`);
}

test('an Arabic conversation, right to left', async (t) => {
  await createUser(server.base, admin, 'layla', 'ليلى');
  await createUser(server.base, admin, 'dan', 'Dan');
  const layla = await openAs(browser, server.base, 'layla');
  const dan = await openAs(browser, server.base, 'dan');
  t.after(async () => {
    await layla.context().close();
    await dan.context().close();
  });
  await withScreenshots(t.name, () => [layla, dan], async () => {
    await layla.getByTestId('account-menu').click();
    await layla.getByTestId('lang-ar').click();
    await layla.waitForFunction(() => document.documentElement.dir === 'rtl' && document.documentElement.lang === 'ar');
    await layla.keyboard.press('Escape');
    // The whole layout mirrors: the sidebar is on the right.
    const box = await layla.getByTestId('room-list').boundingBox();
    const width = layla.viewportSize()?.width ?? 1280;
    assert.ok(box && box.x > width / 2, `sidebar should be on the right, x=${box?.x}`);
    await layla.getByText('القنوات').waitFor();

    await openRoom(layla, 'general');
    await openRoom(dan, 'general');
    assert.equal(await layla.getByTestId('composer').getAttribute('dir'), 'auto');
    await send(layla, 'مرحبا يا دان! كيف حالك؟');
    await send(dan, 'Hi Layla, I am fine');
    await send(layla, 'رائع، نلتقي في Comet غداً الساعة 10');

    const arabic = message(dan, 'مرحبا يا دان').locator('.md p');
    await arabic.waitFor();
    assert.equal(await arabic.evaluate((p) => getComputedStyle(p).direction), 'rtl');
    const english = message(layla, 'Hi Layla').locator('.md p');
    await english.waitFor();
    assert.equal(await english.evaluate((p) => getComputedStyle(p).direction), 'ltr');
    // Mixed text keeps its Latin run in order inside an RTL paragraph.
    const mixed = message(dan, 'نلتقي').locator('.md p');
    assert.equal(await mixed.evaluate((p) => getComputedStyle(p).direction), 'rtl');
    assert.match(await mixed.textContent(), /Comet/);
    // Dan's English UI is unaffected.
    assert.equal(await dan.evaluate(() => document.documentElement.dir), 'ltr');
    await axe(layla, 'rtl room');
    assert.deepEqual(layla.problems, []);
  });
});

test('Hebrew and Persian UIs, and mixed-direction messages isolated', async (t) => {
  await createUser(server.base, admin, 'noa', 'נועה');
  const page = await openAs(browser, server.base, 'noa');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.getByTestId('account-menu').click();
    await page.getByTestId('lang-he').click();
    await page.waitForFunction(() => document.documentElement.dir === 'rtl' && document.documentElement.lang === 'he');
    await page.keyboard.press('Escape');
    await page.getByText('ערוצים').waitFor();
    assert.equal(await page.getByTestId('room-filter').getAttribute('placeholder'), 'סינון חדרים');
    const box = await page.getByTestId('room-list').boundingBox();
    assert.ok(box && box.x > (page.viewportSize()?.width ?? 1280) / 2, `sidebar on the right, x=${box?.x}`);

    await openRoom(page, 'general');
    assert.equal(await page.getByTestId('composer').getAttribute('placeholder'), 'הודעה אל #general');
    // A Hebrew sentence with an English name and a number: the paragraph is RTL, and the
    // author's name sits in its own isolate so it cannot reorder the surrounding text.
    await send(page, 'שלום @noa, הפגישה עם Acme Corp ב־3 אחה״צ');
    const p = message(page, 'Acme Corp').locator('.md p');
    await p.waitFor();
    assert.equal(await p.evaluate((el) => getComputedStyle(el).direction), 'rtl');
    const name = message(page, 'Acme Corp').getByText('נועה').first();
    assert.equal(await name.evaluate((el) => {
      const style = getComputedStyle(el);
      return el.tagName === 'BDI' || style.unicodeBidi === 'isolate' || el.getAttribute('dir') === 'auto';
    }), true, 'the author name is bidi-isolated');
    const mention = p.locator('.mention');
    assert.equal(await mention.textContent(), '@noa');
    assert.equal(await mention.evaluate((el) => getComputedStyle(el).unicodeBidi), 'isolate');
    await send(page, 'Deploy v2.1 done — עלה לאוויר');
    const ltr = message(page, 'Deploy v2.1').locator('.md p');
    await ltr.waitFor();
    assert.equal(await ltr.evaluate((el) => getComputedStyle(el).direction), 'ltr');
    await page.waitForFunction(() => !document.querySelector('.message.pending'));
    await axe(page, 'hebrew room');

    await page.getByTestId('account-menu').click();
    await page.getByTestId('lang-fa').click();
    await page.waitForFunction(() => document.documentElement.dir === 'rtl' && document.documentElement.lang === 'fa');
    await page.keyboard.press('Escape');
    await page.getByText('کانال‌ها').waitFor();
    assert.equal(await page.getByTestId('composer').getAttribute('placeholder'), 'پیام به #general');
    await send(page, 'سلام! جلسه با Acme ساعت ۱۰ است');
    const fa = message(page, 'جلسه با Acme').locator('.md p');
    await fa.waitFor();
    assert.equal(await fa.evaluate((el) => getComputedStyle(el).direction), 'rtl');
    // The choice survives a reload.
    await page.reload();
    await page.getByText('کانال‌ها').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'fa');
    await axe(page, 'persian room');
    assert.deepEqual(page.problems, []);
  });
});

test('administration: users, rooms, settings, roles', async (t) => {
  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.getByTestId('account-menu').click();
    await page.getByTestId('open-admin').click();
    await page.getByTestId('admin-users').getByText('@admin').waitFor();
    await page.getByTestId('admin-new-user').click();
    await page.getByTestId('new-user-username').fill('created-by-admin');
    await page.getByTestId('new-user-name').fill('Created By Admin');
    await page.getByTestId('new-user-email').fill('created@example.com');
    await page.getByTestId('new-user-password').fill('Cr3ated-Pass!');
    await page.getByTestId('new-user-submit').click();
    const row = page.locator('tr[data-username="created-by-admin"]');
    await row.waitFor();
    await row.getByTestId('toggle-admin').click();
    await row.getByText('admin').first().waitFor();
    await axe(page, 'admin users');

    await page.getByTestId('admin-tab-rooms').click();
    await page.getByTestId('admin-rooms').getByText('general').waitFor();

    await page.getByTestId('admin-tab-settings').click();
    await page.getByTestId('setting-filter').fill('Site_Name');
    const input = page.locator('#setting-Site_Name');
    await input.fill('Acme Chat');
    await input.press('Enter');
    await page.getByTestId('toast').waitFor();
    const check = await (await fetch(`${server.base}/api/v1/settings.public?_id=Site_Name`)).json();
    assert.ok(JSON.stringify(check).includes('Acme Chat'));

    await page.getByTestId('admin-tab-roles').click();
    await page.getByTestId('admin-roles').getByText('admin', { exact: true }).waitFor();
  });
});

test('administration: edit users and rooms, the permissions matrix, paging and search', async (t) => {
  const { rest } = await import('./harness.mjs');
  for (let i = 0; i < 27; i++) {
    await rest(server.base, 'users.create', {
      method: 'POST',
      auth: admin,
      body: { username: `pager-${String(i).padStart(2, '0')}`, name: `Pager ${i}`, email: `pager${i}@example.com`, password: 'Pager-Pass-1!' },
    });
  }
  for (let i = 0; i < 26; i++) {
    await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: `room-${String(i).padStart(2, '0')}` } });
  }
  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.goto('/admin/users');
    const users = page.getByTestId('admin-users');
    await users.locator('tr[data-username]').first().waitFor();
    // Paging: 25 a page.
    assert.equal(await users.locator('tr[data-username]').count(), 25);
    assert.match(await page.getByTestId('users-range').textContent(), /^1–25 of \d+$/);
    assert.equal(await page.getByTestId('users-prev').isDisabled(), true);
    await page.getByTestId('users-next').click();
    await page.getByTestId('users-range').filter({ hasText: /^26–/ }).waitFor();
    assert.equal(await page.getByTestId('users-prev').isDisabled(), false);
    // Search.
    await page.getByTestId('user-filter').fill('pager-07');
    await page.getByTestId('user-filter').press('Enter');
    await page.getByTestId('users-range').filter({ hasText: /^1–1 of 1$/ }).waitFor();
    const row = users.locator('tr[data-username="pager-07"]');
    await row.waitFor();

    // Edit: name, username, email, roles, active.
    await row.getByTestId('edit-user').click();
    const dialog = page.getByTestId('edit-user-dialog');
    await dialog.waitFor();
    await axe(page, 'edit user dialog');
    await dialog.getByTestId('edit-user-name').fill('Renamed Seven');
    await dialog.getByTestId('edit-user-username').fill('seven');
    await dialog.getByTestId('edit-user-email').fill('seven@example.com');
    assert.equal(await dialog.locator('input[data-role="user"]').isChecked(), true);
    await dialog.locator('input[data-role="bot"]').check();
    await dialog.getByTestId('edit-user-active').uncheck();
    await dialog.getByTestId('edit-user-password').fill(ADMIN.password);
    await dialog.getByTestId('edit-user-save').click();
    await dialog.waitFor({ state: 'detached' });
    const info = await rest(server.base, 'users.info?username=seven', { auth: admin });
    assert.equal(info.user.name, 'Renamed Seven');
    assert.equal(info.user.emails[0].address, 'seven@example.com');
    assert.deepEqual([...info.user.roles].sort(), ['bot', 'user']);
    assert.equal(info.user.active, false);

    // Rooms: paging, search, edit name, topic, read-only, archived.
    await page.getByTestId('admin-tab-rooms').click();
    const rooms = page.getByTestId('admin-rooms');
    await rooms.locator('tbody tr').first().waitFor();
    assert.equal(await rooms.locator('tbody tr').count(), 25);
    await page.getByTestId('rooms-next').click();
    await page.getByTestId('rooms-range').filter({ hasText: /^26–/ }).waitFor();
    await page.getByTestId('room-admin-filter').fill('room-13');
    await page.getByTestId('room-admin-filter').press('Enter');
    const roomRow = rooms.locator('tr[data-room="room-13"]');
    await page.getByTestId('rooms-range').filter({ hasText: /^1–1 of 1$/ }).waitFor();
    await roomRow.getByTestId('edit-room').click();
    const roomDialog = page.getByTestId('edit-room-dialog');
    await roomDialog.waitFor();
    await axe(page, 'edit room dialog');
    await roomDialog.getByTestId('edit-room-name').fill('thirteen');
    await roomDialog.getByTestId('edit-room-topic').fill('Lucky number');
    await roomDialog.getByTestId('edit-room-readonly').check();
    await roomDialog.getByTestId('edit-room-archived').check();
    await roomDialog.getByTestId('edit-room-save').click();
    await roomDialog.waitFor({ state: 'detached' });
    const room = (await rest(server.base, 'channels.info?roomName=thirteen', { auth: admin })).channel;
    assert.equal(room.topic, 'Lucky number');
    assert.equal(room.ro, true);
    assert.equal(room.archived, true);

    // Permissions matrix: grant and revoke.
    await page.getByTestId('admin-tab-permissions').click();
    await page.getByTestId('permission-filter').fill('view-statistics');
    const perm = page.locator('tr[data-permission="view-statistics"]');
    await perm.waitFor();
    const cell = perm.locator('input[data-role="user"]');
    assert.equal(await cell.isChecked(), false);
    await axe(page, 'permissions');
    await cell.check();
    const granted = async () => (await rest(server.base, 'permissions.listAll', { auth: admin })).update.find((p) => p._id === 'view-statistics').roles;
    for (let i = 0; i < 50 && !(await granted()).includes('user'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await granted()).includes('user'));
    await cell.uncheck();
    for (let i = 0; i < 50 && (await granted()).includes('user'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!(await granted()).includes('user'));
    assert.ok((await granted()).includes('admin'));
    assert.deepEqual(page.problems, []);
  });
});

test('accessible in both themes: login, room, dialogs; keyboard reaches the composer', async (t) => {
  await createUser(server.base, admin, 'ada', 'Ada');
  const context = await browser.newContext({ baseURL: server.base, colorScheme: 'light' });
  t.after(() => context.close());
  const anon = await context.newPage();
  await withScreenshots(t.name, () => [anon], async () => {
    await anon.goto('/login');
    await anon.getByTestId('login-user').waitFor();
    await axe(anon, 'login');
  });
  for (const scheme of ['light', 'dark']) {
    const page = await openAs(browser, server.base, 'ada', undefined, { colorScheme: scheme });
    await withScreenshots(`${t.name}-${scheme}`, () => [page], async () => {
      await openRoom(page, 'general');
      await send(page, `**Hello** in ${scheme} mode with a [link](https://example.com) and \`code\``);
      await message(page, `${scheme} mode`).waitFor();
      await page.waitForFunction(() => !document.querySelector('.message.pending'));
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(background === 'rgb(255, 255, 255)', scheme === 'light', `body ${background} in ${scheme}`);
      await axe(page, `room ${scheme}`);
      await page.getByTestId('open-search').click();
      await axe(page, `search ${scheme}`);
      await page.getByTestId('open-starred').click();
      await page.getByTestId('starred-results').waitFor();
      await axe(page, `starred ${scheme}`);
      await page.getByTestId('emoji-button').click();
      await page.getByTestId('emoji-picker').waitFor();
      await axe(page, `emoji picker ${scheme}`);
      await page.keyboard.press('Escape');
      await page.getByTestId('create-menu').click();
      await page.getByTestId('new-channel').click();
      await page.getByTestId('create-room-dialog').waitFor();
      await axe(page, `dialog ${scheme}`);
      await page.keyboard.press('Escape');
      await page.getByTestId('create-room-dialog').waitFor({ state: 'detached' });
    });
    await page.context().close();
  }
  // Keyboard only: from the top of the page, Tab reaches the room list, the messages and the composer.
  const page = await openAs(browser, server.base, 'ada');
  t.after(() => page.context().close());
  await withScreenshots(`${t.name}-keyboard`, () => [page], async () => {
    await openRoom(page, 'general');
    await page.reload();
    await page.getByTestId('composer').waitFor();
    const seen = new Set();
    for (let i = 0; i < 40 && !seen.has('composer'); i++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);
      seen.add(id);
    }
    assert.ok(seen.has('room-link'), `tab order: ${[...seen]}`);
    assert.ok(seen.has('A'), `the skip link comes first: ${[...seen]}`);
    assert.ok(seen.has('messages'), `tab order: ${[...seen]}`);
    assert.ok(seen.has('composer'), `tab order: ${[...seen]}`);
    // Arrow keys move through messages; the focused message shows its actions.
    await page.getByTestId('messages').focus();
    await page.keyboard.press('End');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'message');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowDown');
    assert.ok(await page.getByTestId('message').last().getByTestId('react-button').isVisible());
    await page.keyboard.press('Tab');
    const inside = await page.evaluate(() => Boolean(document.activeElement?.closest('[data-testid="message"]')));
    assert.ok(inside, 'Tab moves into the focused message (its links and actions)');
  });
});

test('a phone-sized screen shows one pane at a time', async (t) => {
  await createUser(server.base, admin, 'phil', 'Phil');
  const page = await openAs(browser, server.base, 'phil', undefined, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.getByTestId('room-list').waitFor();
    await openRoom(page, 'general');
    assert.equal(await page.getByTestId('room-list').isVisible(), false);
    await send(page, 'from my phone');
    await message(page, 'from my phone').waitFor();
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= 390, `no horizontal scrolling (${scrollWidth})`);
    await page.getByRole('button', { name: 'Back' }).click();
    await page.getByTestId('room-list').waitFor();
    await axe(page, 'phone');
  });
});

test('the server serves the client with the right headers', async () => {
  const index = await fetch(`${server.base}/channel/general`, { headers: { Accept: 'text/html' } });
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const html = await index.text();
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, html);
  const js = await fetch(`${server.base}${asset}`);
  assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  const api = await fetch(`${server.base}/api/v1/nothing-here`);
  assert.equal(api.status, 404);
  assert.match(api.headers.get('content-type') ?? '', /json/);
});
