// The room information panel: the room's topic, announcement and description; its files (type,
// size, uploader, a download), the user's mentions, threads and discussions, each in its tab;
// starting a discussion with someone, who sees it arrive; and editing the room's settings, which
// the other member sees live, while a plain member is offered no editing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, createUser, login, rest, send, openRoom, message, withScreenshots, ADMIN, PASSWORD, TIMEOUT, axe } from './harness.mjs';

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

async function upload(auth, rid, name, type, body, msg) {
  const form = new FormData();
  form.append('file', new Blob([body], { type }), name);
  if (msg) form.append('msg', msg);
  const response = await fetch(`${server.base}/api/v1/rooms.upload/${rid}`, {
    method: 'POST',
    headers: { 'X-User-Id': auth.userId, 'X-Auth-Token': auth.authToken },
    body: form,
    signal: AbortSignal.timeout(TIMEOUT),
  });
  assert.equal(response.status, 200, await response.text());
}

async function openInfo(page) {
  // On a phone the header's panel buttons make way for the room's name: the room menu has it.
  if (await page.getByTestId('open-room-info').isVisible()) {
    await page.getByTestId('open-room-info').click();
  } else {
    await page.getByTestId('room-menu').click();
    await page.getByTestId('menu-info').click();
  }
  const panel = page.getByTestId('room-info');
  await panel.waitFor();
  return panel;
}

test('the room information panel shows what the room is about, its files, mentions and threads', async (t) => {
  const rina = await createUser(server.base, admin, 'rina', 'Rina Owner');
  const sam = await createUser(server.base, admin, 'sam', 'Sam Member');
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: rina, body: { name: 'info-room', members: ['sam'] } });
  const rid = channel._id;
  await rest(server.base, 'rooms.saveRoomSettings', {
    method: 'POST',
    auth: rina,
    body: { rid, roomTopic: 'All about info', roomAnnouncement: 'Meeting on Friday', roomDescription: 'A room to test the information panel' },
  });
  await upload(sam, rid, 'notes.txt', 'text/plain', 'some notes, forty bytes long, more or less', 'the notes');
  const { message: root } = await rest(server.base, 'chat.sendMessage', { method: 'POST', auth: sam, body: { message: { rid, msg: 'a thread starts here' } } });
  await rest(server.base, 'chat.sendMessage', { method: 'POST', auth: rina, body: { message: { rid, msg: 'a reply in the thread', tmid: root._id } } });

  const page = await openAs(browser, server.base, 'rina');
  let other;
  t.after(async () => {
    await page.context().close();
    await other?.context().close();
  });
  await withScreenshots(t.name, () => [page, other], async () => {
    await openRoom(page, 'info-room');
    const panel = await openInfo(page);
    assert.equal(await page.getByTestId('open-room-info').getAttribute('aria-pressed'), 'true');
    assert.equal(await panel.getByTestId('info-topic').textContent(), 'All about info');
    assert.equal(await panel.getByTestId('info-announcement').textContent(), 'Meeting on Friday');
    assert.equal(await panel.getByTestId('info-description').textContent(), 'A room to test the information panel');
    await axe(page, 'room information, about');

    // Files: the type's icon, the size, who sent it, and a download that works.
    await panel.getByTestId('info-tab-files').click();
    const file = panel.getByTestId('info-file').filter({ hasText: 'notes.txt' });
    await file.waitFor();
    assert.equal(await file.getAttribute('data-type'), 'file');
    const text = await file.textContent();
    assert.match(text, /\d+ bytes/);
    assert.match(text, /Uploaded by sam/);
    const href = await file.getByTestId('info-file-download').getAttribute('href');
    const download = await page.request.get(href);
    assert.equal(download.status(), 200);
    assert.equal(await download.text(), 'some notes, forty bytes long, more or less');
    await axe(page, 'room information, files');

    // An image sent now appears in the open tab, with the image icon.
    await upload(sam, rid, 'dot.png', 'image/png', Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'));
    await panel.locator('[data-testid="info-file"][data-type="image"]').filter({ hasText: 'dot.png' }).waitFor();

    // Mentions: someone names the user in another browser; the tab lists it.
    other = await openAs(browser, server.base, 'sam');
    await openRoom(other, 'info-room');
    await send(other, 'hey @rina look at this');
    await message(page, 'hey @rina look at this').waitFor();
    await panel.getByTestId('info-tab-mentions').click();
    await panel.getByTestId('info-message').filter({ hasText: 'hey @rina look at this' }).waitFor();
    assert.equal(await panel.getByTestId('info-message').filter({ hasText: 'the notes' }).count(), 0);

    // Threads: the list opens a thread in the side panel.
    await panel.getByTestId('info-tab-threads').click();
    const thread = panel.getByTestId('info-message').filter({ hasText: 'a thread starts here' });
    await thread.waitFor();
    await axe(page, 'room information, threads');
    await thread.getByTestId('info-open-thread').click();
    await page.getByTestId('panel-thread').getByText('a reply in the thread').waitFor();

    // The tabs answer the arrow keys, as a tab list does.
    await page.getByTestId('open-room-info').click();
    const again = page.getByTestId('room-info');
    await again.getByTestId('info-tab-about').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await again.getByTestId('info-tab-files').getAttribute('aria-selected'), 'true');
    assert.ok(await again.getByTestId('info-tab-files').evaluate((el) => el === document.activeElement));
    await page.keyboard.press('End');
    assert.equal(await again.getByTestId('info-tab-discussions').getAttribute('aria-selected'), 'true');
    assert.deepEqual(page.problems, []);
    assert.deepEqual(other.problems, []);
  });
});

test('a discussion started from the panel reaches the person invited, and lists under its parent', async (t) => {
  const owner = await createUser(server.base, admin, 'dana', 'Dana Starter');
  await createUser(server.base, admin, 'finn', 'Finn Invited');
  await rest(server.base, 'channels.create', { method: 'POST', auth: owner, body: { name: 'talk-room', members: ['finn'] } });
  const dana = await openAs(browser, server.base, 'dana');
  const finn = await openAs(browser, server.base, 'finn');
  t.after(async () => {
    await dana.context().close();
    await finn.context().close();
  });
  await withScreenshots(t.name, () => [dana, finn], async () => {
    await openRoom(dana, 'talk-room');
    const panel = await openInfo(dana);
    await panel.getByTestId('info-tab-discussions').click();
    await panel.getByTestId('info-panel-discussions').getByText('No discussions yet.').waitFor();
    await panel.getByTestId('start-discussion').click();
    const form = panel.getByTestId('discussion-form');
    assert.equal(await form.getByTestId('discussion-parent').locator('option:checked').textContent(), 'talk-room');
    await form.getByTestId('discussion-name').fill('Launch plans');
    await form.getByTestId('discussion-members').fill('fin');
    await dana.getByRole('option', { name: /finn/ }).click();
    await form.getByTestId('discussion-message').fill('Where do we start?');
    await axe(dana, 'start a discussion');
    await form.getByTestId('discussion-create').click();

    // The starter lands in the discussion; the invited person sees it arrive with its first message.
    await dana.getByTestId('room-title').filter({ hasText: 'Launch plans' }).waitFor();
    const link = finn.getByTestId('room-link').filter({ hasText: 'Launch plans' });
    await link.click();
    await message(finn, 'Where do we start?').waitFor();

    // The parent room lists it, and the list opens it.
    await openRoom(finn, 'talk-room');
    const finnPanel = await openInfo(finn);
    await finnPanel.getByTestId('info-tab-discussions').click();
    const entry = finnPanel.getByTestId('info-discussion').filter({ hasText: 'Launch plans' });
    await entry.waitFor();
    await axe(finn, 'discussions list');
    await entry.getByTestId('info-open-discussion').click();
    await finn.getByTestId('room-title').filter({ hasText: 'Launch plans' }).waitFor();
    assert.deepEqual(dana.problems, []);
    assert.deepEqual(finn.problems, []);
  });
});

test('the owner edits the room from the panel; the member sees it live and may not edit', async (t) => {
  const owner = await createUser(server.base, admin, 'omar', 'Omar Owner');
  await createUser(server.base, admin, 'mia', 'Mia Member');
  await rest(server.base, 'channels.create', { method: 'POST', auth: owner, body: { name: 'edit-room', members: ['mia'] } });
  const omar = await openAs(browser, server.base, 'omar');
  const mia = await openAs(browser, server.base, 'mia', PASSWORD, { viewport: { width: 420, height: 800 } });
  t.after(async () => {
    await omar.context().close();
    await mia.context().close();
  });
  await withScreenshots(t.name, () => [omar, mia], async () => {
    await openRoom(mia, 'edit-room');
    const miaPanel = await openInfo(mia);
    await miaPanel.getByTestId('info-topic').filter({ hasText: 'Not set' }).waitFor();
    assert.equal(await miaPanel.getByTestId('room-edit').count(), 0, 'a plain member is offered no editing');
    await axe(mia, 'room information on a phone');

    await openRoom(omar, 'edit-room');
    const panel = await openInfo(omar);
    await panel.getByTestId('room-edit').click();
    const form = panel.getByTestId('room-edit-form');
    await form.getByTestId('room-edit-topic').fill('Fresh topic');
    await form.getByTestId('room-edit-announcement').fill('Big news');
    await form.getByTestId('room-edit-description').fill('What this room is for');
    await form.getByTestId('room-edit-readonly').check();
    await axe(omar, 'room settings form');
    await form.getByTestId('room-edit-save').click();
    await form.waitFor({ state: 'detached' });
    assert.equal(await panel.getByTestId('info-topic').textContent(), 'Fresh topic');
    await panel.getByTestId('info-readonly').waitFor();

    // The member's panel and header follow without a reload; read-only closes their composer.
    await miaPanel.getByTestId('info-topic').filter({ hasText: 'Fresh topic' }).waitFor();
    await miaPanel.getByTestId('info-announcement').filter({ hasText: 'Big news' }).waitFor();
    await miaPanel.getByTestId('info-description').filter({ hasText: 'What this room is for' }).waitFor();
    await miaPanel.getByTestId('info-readonly').waitFor();
    const info = await rest(server.base, 'rooms.info?roomName=edit-room', { auth: owner });
    assert.equal(info.room.ro, true);
    assert.equal(info.room.announcement, 'Big news');

    // A new name moves the room to its new address.
    await panel.getByTestId('room-edit').click();
    await form.getByTestId('room-edit-name').fill('edited-room');
    await form.getByTestId('room-edit-save').click();
    await omar.getByTestId('room-title').filter({ hasText: 'edited-room' }).waitFor();
    await omar.waitForURL(/\/channel\/edited-room$/);
    assert.deepEqual(omar.problems, []);
    assert.deepEqual(mia.problems, []);
  });
});

test('the panel in Arabic reads right to left', async (t) => {
  await createUser(server.base, admin, 'amal', 'أمل');
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'rtl-room', members: ['amal'] } });
  const page = await openAs(browser, server.base, 'amal', PASSWORD, { locale: 'ar' });
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'rtl-room');
    const panel = await openInfo(page);
    assert.equal(await page.evaluate(() => document.documentElement.dir), 'rtl');
    assert.equal(await panel.getByTestId('info-tab-about').textContent(), 'حول');
    // The arrow keys follow the reading direction: the left arrow goes to the next tab.
    await panel.getByTestId('info-tab-about').focus();
    await page.keyboard.press('ArrowLeft');
    assert.equal(await panel.getByTestId('info-tab-files').getAttribute('aria-selected'), 'true');
    await panel.getByTestId('info-panel-files').getByText('لا توجد ملفات في هذه الغرفة بعد.').waitFor();
    await axe(page, 'room information in Arabic');
    assert.deepEqual(page.problems, []);
  });
});

test('files and discussions beyond the first page load as one scrolls, or with Load more', async (t) => {
  const owner = await createUser(server.base, admin, 'pager', 'Pia Pager');
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: owner, body: { name: 'paged-room' } });
  const rid = channel._id;
  const many = 57; // more than the panel's page of 50
  for (let i = 0; i < many; i++) await upload(owner, rid, `file-${String(i).padStart(2, '0')}.txt`, 'text/plain', `file number ${i}`);
  for (let i = 0; i < many; i++) {
    await rest(server.base, 'rooms.createDiscussion', { method: 'POST', auth: owner, body: { prid: rid, t_name: `topic ${String(i).padStart(2, '0')}` } });
  }
  const page = await openAs(browser, server.base, 'pager');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'paged-room');
    const panel = await openInfo(page);

    // Files: the first page, then the rest when the end of the list comes into view.
    await panel.getByTestId('info-tab-files').click();
    await panel.getByTestId('info-files').waitFor();
    await panel.getByRole('status').filter({ hasText: `Showing 50 of ${many}` }).waitFor();
    await axe(page, 'room information, files with more to load');
    await panel.getByTestId('info-load-more').scrollIntoViewIfNeeded();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="info-file"]').length === n, many);
    assert.equal(await panel.getByTestId('info-load-more').count(), 0);
    const names = await panel.getByTestId('info-file').locator('.file-name').allTextContents();
    assert.equal(new Set(names).size, many, 'each file once');
    assert.ok(names.includes('file-00.txt') && names.includes(`file-${many - 1}.txt`));

    // Discussions: the button loads the next page.
    await panel.getByTestId('info-tab-discussions').click();
    await panel.getByTestId('info-discussions').waitFor();
    await panel.getByRole('status').filter({ hasText: `Showing 50 of ${many}` }).waitFor();
    assert.equal(await panel.getByTestId('info-discussion').count(), 50);
    // The button works by keyboard too; if the list's end already came into view, it loaded by itself.
    const button = panel.getByTestId('info-load-more');
    if (await button.isVisible()) await button.click().catch(() => undefined);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="info-discussion"]').length === n, many);
    const topics = await panel.getByTestId('info-discussion').locator('.file-name').allTextContents();
    assert.equal(new Set(topics).size, many, 'each discussion once');
    assert.deepEqual(page.problems, []);
  });
});
