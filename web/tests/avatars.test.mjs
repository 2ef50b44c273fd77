// Avatars in the web client, in Chromium against a real comet: setting one from the profile
// dialog, seeing it as a real image next to one's messages, another person
// seeing it change live (the `updateAvatar` event, no reload) in the timeline and the sidebar,
// removing it (back to the server's SVG initials), and a refused file showing the server's
// own error text.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { startServer, launchBrowser, openAs, createUser, login, rest, withScreenshots, openRoom, message, ADMIN, TIMEOUT, axe } from './harness.mjs';


let server;
let browser;
let admin;
const pages = [];

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
/** A square PNG: a diagonal split of two colours, so it is plainly not the initials. */
function png(side) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 8;
  header[9] = 2;
  const row = 1 + side * 3;
  const raw = Buffer.alloc(row * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) raw.set(x > y ? [230, 120, 20] : [20, 90, 200], y * row + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}


/** What an avatar <img> shows: its URL, whether it loaded, and the type the server sent. */
async function inspect(img) {
  await img.waitFor();
  return img.evaluate(async (el) => {
    const image = /** @type {HTMLImageElement} */ (el);
    if (!image.complete || image.naturalWidth === 0) {
      await new Promise((resolve) => {
        image.addEventListener('load', resolve, { once: true });
        image.addEventListener('error', resolve, { once: true });
        setTimeout(resolve, 10_000);
      });
    }
    const response = await fetch(image.src, { credentials: 'include' });
    return {
      src: image.getAttribute('src'),
      alt: image.getAttribute('alt'),
      width: image.getAttribute('width'),
      height: image.getAttribute('height'),
      loading: image.getAttribute('loading'),
      naturalWidth: image.naturalWidth,
      type: response.headers.get('content-type') ?? '',
    };
  });
}

async function me(auth) {
  return rest(server.base, 'me', { auth });
}

test('set an avatar, see it everywhere, others see it live, remove it; refusals show the server text', async (t) => {
  const a = `ava${Date.now() % 100000}`;
  const b = `avb${Date.now() % 100000}`;
  const room = `avatars-${Date.now() % 100000}`;
  const aliceAuth = await createUser(server.base, admin, a, 'Alice Avatar');
  const bobAuth = await createUser(server.base, admin, b, 'Bob Avatar');
  await rest(server.base, 'channels.create', { method: 'POST', auth: aliceAuth, body: { name: room, members: [b] } });
  await rest(server.base, 'im.create', { method: 'POST', auth: bobAuth, body: { username: a } });
  const text = `hello from ${a}`;
  await rest(server.base, 'chat.postMessage', { method: 'POST', auth: aliceAuth, body: { channel: `#${room}`, text } });

  const alice = await openAs(browser, server.base, a);
  const bob = await openAs(browser, server.base, b);
  pages.push(alice, bob);
  await withScreenshots(t.name, () => pages, async () => {
    await openRoom(alice, room);
    await openRoom(bob, room);
    const aliceImg = message(alice, text).locator('[data-testid="avatar-img"]');
    const bobImg = message(bob, text).locator('[data-testid="avatar-img"]');
    const bobDmImg = bob.locator(`[data-testid="room-link"][data-room="${a}"] [data-testid="avatar-img"]`);

    // Before: the server's initials, decorative, with its box reserved and loaded lazily.
    const before = await inspect(bobImg);
    assert.match(before.type, /svg/, 'no avatar yet: the generated initials');
    assert.equal(before.alt, '');
    assert.equal(before.width, '36');
    assert.equal(before.height, '36');
    assert.equal(before.loading, 'lazy');
    assert.ok(before.naturalWidth > 0);
    assert.match((await inspect(bobDmImg)).type, /svg/);

    // Alice sets one from the profile dialog. The picker's button is a native button the
    // keyboard reaches; the file goes straight into the (hidden) input, as a picker would put it.
    await alice.getByTestId('account-menu').click();
    await alice.getByTestId('open-profile').click();
    await alice.getByTestId('profile-dialog').waitFor();
    await alice.getByTestId('avatar-change').focus();
    assert.equal(await alice.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'avatar-change');
    await alice.getByTestId('avatar-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(64) });
    await alice.getByTestId('avatar-remove').waitFor();
    await axe(alice, 'profile dialog with an avatar');
    const etag = (await me(aliceAuth)).avatarETag;
    assert.ok(etag, 'the server has the avatar');

    // The dialog, the header and the timeline all show the image (no reload).
    await alice.getByTestId('profile-dialog').locator(`[data-testid="avatar-img"][src*="etag=${etag}"]`).waitFor();
    await alice.getByTestId('account-menu').locator(`[data-testid="avatar-img"][src*="etag=${etag}"]`).waitFor();
    await alice.keyboard.press('Escape');
    await alice.getByTestId('profile-dialog').waitFor({ state: 'detached' });
    await message(alice, text).locator(`[data-testid="avatar-img"][src*="etag=${etag}"]`).waitFor();
    const mine = await inspect(aliceImg);
    assert.ok(mine.naturalWidth > 0, 'the image loaded');
    assert.match(mine.type, /^image\/(png|jpeg|webp|gif)/, `the uploaded image, not the SVG initials (${mine.type})`);

    // Bob sees it live, through the event: in the timeline and next to the DM in the sidebar.
    await message(bob, text).locator(`[data-testid="avatar-img"][src*="etag=${etag}"]`).waitFor();
    const seen = await inspect(bobImg);
    assert.ok(seen.naturalWidth > 0);
    assert.match(seen.type, /^image\/(png|jpeg|webp|gif)/);
    await bob.locator(`[data-testid="room-link"][data-room="${a}"] [data-testid="avatar-img"][src*="etag=${etag}"]`).waitFor();

    // Alice removes it: back to initials for both, the URL changes so no cache holds the image.
    await alice.getByTestId('account-menu').click();
    await alice.getByTestId('open-profile').click();
    await alice.getByTestId('avatar-remove').click();
    await alice.getByTestId('avatar-remove').waitFor({ state: 'detached' });
    await alice.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'avatar-change', null, { timeout: TIMEOUT });
    assert.equal((await me(aliceAuth)).avatarETag, undefined);
    await message(bob, text).locator('[data-testid="avatar-img"]:not([src*="etag=' + etag + '"])').waitFor();
    const reset = await inspect(bobImg);
    assert.match(reset.type, /svg/, 'initials again');
    assert.notEqual(reset.src, before.src, 'a fresh URL, past the cached image');
    assert.match((await inspect(aliceImg)).type, /svg/);

    // A text file named .png passes the client's check and is refused by the server: its words show.
    const form = new FormData();
    form.append('image', new Blob(['not an image at all'], { type: 'image/png' }), 'fake.png');
    const refused = await fetch(`${server.base}/api/v1/users.setAvatar`, {
      method: 'POST',
      headers: { 'X-User-Id': aliceAuth.userId, 'X-Auth-Token': aliceAuth.authToken },
      body: form,
      signal: AbortSignal.timeout(TIMEOUT),
    }).then((r) => r.json());
    assert.equal(refused.success, false);
    assert.ok(refused.error);
    await alice.getByTestId('avatar-file').setInputFiles({ name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('not an image at all') });
    await alice.getByTestId('avatar-error').filter({ hasText: refused.error }).waitFor();
    assert.equal(await alice.getByTestId('avatar-remove').count(), 0, 'still no avatar');

    // The client's own check: not an image type at all, no request.
    await alice.getByTestId('avatar-file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hi') });
    await alice.getByTestId('avatar-error').filter({ hasText: 'PNG, JPEG, GIF or WebP' }).waitFor();
    await axe(alice, 'profile dialog with an error');

    assert.deepEqual(alice.problems.filter((p) => !p.includes('400')), [], 'console errors');
    assert.deepEqual(bob.problems, [], 'console errors');
  });
});
