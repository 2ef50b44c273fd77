// The workspace's administration in Chromium against a real comet: the statistics and server
// information (and "Refresh" taking a new snapshot), the invite links of every room (made from
// a room's menu, listed, deleted), and the assets (a logo uploaded from the console shows on
// the sidebar at once and on the login page after logging out; removing it brings back the
// built-in one).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { startServer, launchBrowser, openAs, openRoom, createUser, login, rest, withScreenshots, ADMIN, axe } from './harness.mjs';


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

// A minimal PNG encoder: RGB, no filter, one IDAT.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
function png(width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  const row = 1 + width * 3;
  const raw = Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set([20, 90, 200], y * row + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}


/** Whether an <img> finished loading a real image. */
function loaded(img) {
  return img.evaluate((el) => {
    const image = /** @type {HTMLImageElement} */ (el);
    if (image.complete) return image.naturalWidth > 0;
    return new Promise((resolve) => {
      image.addEventListener('load', () => resolve(image.naturalWidth > 0), { once: true });
      image.addEventListener('error', () => resolve(false), { once: true });
    });
  });
}

test('the admin sees the statistics and server information and refreshes them', async (t) => {
  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.getByTestId('account-menu').click();
    await page.getByTestId('open-admin').click();
    await page.getByTestId('admin-tab-workspace').click();
    await page.waitForURL(/\/admin\/workspace$/);
    const totalUsers = page.locator('[data-stat="totalUsers"]');
    await totalUsers.waitFor();
    const before = Number((await totalUsers.textContent()).replace(/\D/g, ''));
    assert.ok(before >= 1, `users counted: ${before}`);
    await page.getByTestId('server-version').filter({ hasText: /\d+\.\d+\.\d+/ }).waitFor();
    assert.match(await page.getByTestId('server-uptime').textContent(), /\d/);
    await page.locator('[data-stat="uploadsTotalSize"]').waitFor();
    await page.locator('[data-stat="databaseSize"]').waitFor();

    // A new user shows only in a new snapshot: "Refresh" takes one.
    await createUser(server.base, admin, 'stats-newcomer');
    await page.getByTestId('statistics-refresh').click();
    await totalUsers.filter({ hasText: String(before + 1) }).waitFor();
    await axe(page, 'workspace statistics');
    assert.deepEqual(page.problems, []);
  });
});

test('the admin sees what automatic translation did and its last failure', async (t) => {
  // A provider that cannot be reached: nothing listens on the discard port.
  const set = (id, value) => rest(server.base, `settings/${id}`, { method: 'POST', auth: admin, body: { value } });
  await set('AutoTranslate_Enabled', true);
  await set('AutoTranslate_ServiceProvider', 'libre-translate');
  await set('AutoTranslate_LibreTranslateAPIURL', 'http://127.0.0.1:9');
  t.after(() => set('AutoTranslate_Enabled', false));
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'translate-hall' } });
  const posted = await rest(server.base, 'chat.postMessage', { method: 'POST', auth: admin, body: { channel: '#translate-hall', text: 'Good morning' } });
  const refused = await fetch(`${server.base}/api/v1/autotranslate.translateMessage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'X-User-Id': admin.userId, 'X-Auth-Token': admin.authToken },
    body: JSON.stringify({ messageId: posted.message._id, targetLanguage: 'pt' }),
    signal: AbortSignal.timeout(30_000),
  });
  assert.equal(refused.status, 400);

  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.getByTestId('account-menu').click();
    await page.getByTestId('open-admin').click();
    await page.getByTestId('admin-tab-workspace').click();
    await page.waitForURL(/\/admin\/workspace$/);
    const card = page.getByTestId('translation-status');
    await card.waitFor();
    await card.locator('[data-stat="translationProvider"]').filter({ hasText: 'libre-translate' }).waitFor();
    await card.locator('[data-stat="translationFailures"]').filter({ hasText: /[1-9]/ }).waitFor();
    await card.getByTestId('translation-last-failure').filter({ hasText: 'translation provider failed' }).waitFor();
    await axe(page, 'workspace translation status');
    assert.deepEqual(page.problems, []);
  });
});

test('an invite made from a room is listed in Invites and deleted there', async (t) => {
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'invite-hall' } });
  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'invite-hall');
    await page.getByTestId('room-menu').click();
    await page.getByTestId('invite-link').click();
    await page.getByTestId('toast').filter({ hasText: '/invite/' }).waitFor();

    await page.goto('/admin/invites');
    const row = page.locator('[data-testid="invite-row"][data-room="invite-hall"]');
    await row.waitFor();
    assert.match(await row.textContent(), /@admin/);
    assert.match(await row.getByTestId('invite-uses').textContent(), /0 \/ ∞/);
    // Upstream's room-menu default: seven days.
    assert.doesNotMatch(await row.getByTestId('invite-expires').textContent(), /Never/);
    await axe(page, 'invites');

    await row.getByTestId('invite-delete').click();
    await page.getByTestId('confirm-ok').click();
    await row.waitFor({ state: 'detached' });
    await page.getByTestId('invites-empty').waitFor();
    assert.deepEqual(await rest(server.base, 'listInvites', { auth: admin }), []);
    assert.deepEqual(page.problems, []);
  });
});

test('a logo uploaded in Assets shows in the sidebar and on the login page until removed', async (t) => {
  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    assert.equal(await page.getByTestId('sidebar-logo').count(), 0);
    await page.goto('/admin/assets');
    const logo = page.locator('[data-testid="asset-row"][data-asset="logo"]');
    await logo.waitFor();
    // Every asset the server lists has a row, the favicon among them.
    await page.locator('[data-testid="asset-row"][data-asset="favicon"]').waitFor();
    assert.equal(await logo.getByTestId('asset-preview').count(), 0);

    await logo.getByTestId('asset-file').setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: png(120, 40) });
    const preview = logo.getByTestId('asset-preview');
    await preview.waitFor();
    assert.ok(await loaded(preview), 'the preview shows the uploaded file');
    assert.match(await preview.getAttribute('src'), /^\/assets\/logo\.png\?/);
    // The sidebar follows at once.
    const sidebarLogo = page.getByTestId('sidebar-logo');
    await sidebarLogo.waitFor();
    assert.ok(await loaded(sidebarLogo));
    await axe(page, 'assets');

    // Logged out, the login page shows it.
    await page.getByTestId('account-menu').click();
    await page.getByTestId('logout').click();
    const authLogo = page.getByTestId('auth-logo');
    await authLogo.waitFor();
    assert.ok(await loaded(authLogo), 'the login page shows the logo');

    // Removed, the built-in mark is back.
    await rest(server.base, 'assets.unsetAsset', { method: 'POST', auth: admin, body: { assetName: 'logo' } });
    await page.reload();
    await page.getByTestId('login-user').waitFor();
    assert.equal(await page.getByTestId('auth-logo').count(), 0);
    assert.deepEqual(page.problems, []);
  });
});

test('removing the logo from Assets takes it off the sidebar live', async (t) => {
  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  const watcher = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(async () => {
    await page.context().close();
    await watcher.context().close();
  });
  await withScreenshots(t.name, () => [page, watcher], async () => {
    await page.goto('/admin/assets');
    const logo = page.locator('[data-testid="asset-row"][data-asset="logo"]');
    await logo.getByTestId('asset-file').setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: png(60, 20) });
    await logo.getByTestId('asset-preview').waitFor();
    // Another session sees it through the settings stream, without a reload.
    await watcher.getByTestId('sidebar-logo').waitFor();

    await logo.getByTestId('asset-remove').click();
    await logo.getByTestId('asset-preview').waitFor({ state: 'detached' });
    await watcher.getByTestId('sidebar-logo').waitFor({ state: 'detached' });
    await page.getByTestId('sidebar-logo').waitFor({ state: 'detached' });
    const { settings } = await rest(server.base, 'settings.public?_id=Assets_logo');
    const setting = settings.find((s) => s._id === 'Assets_logo');
    assert.ok(setting, 'Assets_logo is public');
    assert.equal(setting.value.url, undefined);
    assert.deepEqual(page.problems, []);
    assert.deepEqual(watcher.problems, []);
  });
});
