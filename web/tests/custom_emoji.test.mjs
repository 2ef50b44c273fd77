// Custom emoji, custom user statuses and custom sounds in the web client: an admin uploads an
// emoji from the administration screen; a user writes `:name:` (and an alias) and sees the
// image, reacts with it from the picker; deleting it turns messages back into text, live.
// A custom status from the admin screen appears in the user's status menu and sets
// presence and message; a sound uploads and lists.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openAs, createUser, login, rest, withScreenshots, openRoom, send, message, ADMIN,
} from './harness.mjs';

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

/** A 1×1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

function noProblems(...list) {
  for (const page of list) assert.deepEqual(page.problems, [], 'console errors or CSP violations');
}

test('an admin uploads a custom emoji; messages, reactions and pickers show it; deleting it turns it back to text', async (t) => {
  await createUser(server.base, admin, 'emojifan', 'Emoji Fan');
  const boss = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  const fan = await openAs(browser, server.base, 'emojifan');
  t.after(async () => {
    await boss.context().close();
    await fan.context().close();
  });
  await withScreenshots(t.name, () => [boss, fan], async () => {
    await openRoom(fan, 'general');
    await boss.getByTestId('account-menu').click();
    await boss.getByTestId('open-admin').click();
    await boss.getByTestId('admin-tab-custom-emoji').click();
    await boss.getByTestId('emoji-new').click();
    await boss.getByTestId('emoji-name').fill('blob_party');
    await boss.getByTestId('emoji-aliases').fill('blobby');
    await boss.getByTestId('emoji-file').setInputFiles({ name: 'blob.png', mimeType: 'image/png', buffer: PNG });
    await boss.getByTestId('emoji-create').click();
    await boss.locator('[data-emoji-name="blob_party"] img[alt=":blob_party:"]').waitFor();

    // The other session learnt of it live: the name and the alias render as the image.
    await send(fan, 'party time :blob_party: and :blobby:');
    const posted = message(fan, 'party time');
    const image = posted.locator('.md img[alt=":blob_party:"]');
    await image.waitFor();
    assert.equal(await image.getAttribute('title'), ':blob_party:');
    assert.match(await image.getAttribute('src'), /^\/emoji-custom\/blob_party\.png/);
    await posted.locator('.md img[alt=":blobby:"]').waitFor();
    assert.equal(await image.evaluate((img) => img.complete && img.naturalWidth), 1, 'the image loads');
    const height = await image.evaluate((img) => img.getBoundingClientRect().height);
    assert.ok(height > 10 && height < 40, `sized like text emoji (${height}px)`);

    // The reaction picker lists it under Custom; the reaction shows the image.
    await posted.hover();
    await posted.getByTestId('react-button').click();
    await posted.getByTestId('picker-custom').waitFor();
    await posted.locator('[role="dialog"] [data-emoji="blob_party"]').click();
    const reaction = posted.locator('[data-testid="reaction"][data-emoji=":blob_party:"]');
    await reaction.locator('img[alt=":blob_party:"]').waitFor();
    await reaction.locator('.count', { hasText: '1' }).waitFor();

    // The composer's picker inserts its shortcode.
    await fan.getByTestId('emoji-button').click();
    await fan.locator('[data-testid="emoji-picker"] [data-emoji="blob_party"]').click();
    assert.match(await fan.getByTestId('composer').inputValue(), /:blob_party: $/);
    await fan.getByTestId('composer').fill('');

    // Deleted: the message and the reaction show the text again, without a reload.
    await boss.locator('[data-emoji-name="blob_party"]').getByTestId('emoji-delete').click();
    await boss.getByTestId('confirm-ok').click();
    await boss.locator('[data-emoji-name="blob_party"]').waitFor({ state: 'detached' });
    await posted.locator('.md img').waitFor({ state: 'detached' });
    assert.match(await posted.locator('.md').innerText(), /party time :blob_party: and :blobby:/);
    await reaction.filter({ hasText: ':blob_party:' }).waitFor();
    noProblems(boss, fan);
  });
});

test('custom user statuses from the admin screen are offered in the status menu', async (t) => {
  const fanAuth = await createUser(server.base, admin, 'statusfan', 'Status Fan');
  const boss = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  const fan = await openAs(browser, server.base, 'statusfan');
  t.after(async () => {
    await boss.context().close();
    await fan.context().close();
  });
  await withScreenshots(t.name, () => [boss, fan], async () => {
    await boss.goto('/admin/user-status');
    await boss.getByTestId('user-status-name').fill('In a meeting');
    await boss.locator('#new-status-type').selectOption('busy');
    await boss.getByTestId('user-status-create').click();
    await boss.locator('[data-status-name="In a meeting"]').waitFor();

    await fan.getByTestId('account-menu').click();
    const choice = fan.getByRole('menuitemradio', { name: 'In a meeting' });
    await choice.click();
    let me;
    for (let i = 0; i < 50; i++) {
      me = await rest(server.base, 'me', { auth: fanAuth });
      if (me.statusText === 'In a meeting') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(me.statusText, 'In a meeting');
    assert.equal(me.status, 'busy');
    await fan.getByTestId('account-menu').click();
    assert.equal(await choice.getAttribute('aria-checked'), 'true');
    noProblems(boss, fan);
  });
});

test('an admin uploads and deletes a custom sound', async (t) => {
  const boss = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(() => boss.context().close());
  await withScreenshots(t.name, () => [boss], async () => {
    await boss.goto('/admin/sounds');
    await boss.getByTestId('sound-name').fill('ding');
    const mp3 = Buffer.from([0x49, 0x44, 0x33, 0x03, 0, 0, 0, 0, 0, 0, 0xff, 0xfb, 0x90, 0x00]);
    await boss.getByTestId('sound-file').setInputFiles({ name: 'ding.mp3', mimeType: 'audio/mpeg', buffer: mp3 });
    await boss.getByTestId('sound-create').click();
    const row = boss.locator('[data-sound-name="ding"]');
    await row.waitFor();
    const src = await row.locator('audio').getAttribute('src');
    const served = await fetch(`${server.base}${src}`);
    assert.equal(served.status, 200);
    await row.getByRole('button', { name: 'Delete ding' }).click();
    await boss.getByTestId('confirm-ok').click();
    await row.waitFor({ state: 'detached' });
    noProblems(boss);
  });
});
