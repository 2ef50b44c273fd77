// Rough edges found by trying the client as a new user would (issue 20's "Bugs seen"): each
// test fails without its fix.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import {
  startServer, launchBrowser, openAs, createUser, login, rest, withScreenshots, openRoom, send, message, ADMIN, PASSWORD,
} from './harness.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let server;
let browser;
let admin;

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

/**
 * Changes something on the server until the page shows it: a page that has just loaded may not
 * have its live subscriptions in place yet, so an event sent at once can go to nobody. Each try
 * uses a new value (`attempt` numbers them) and waits for it with a timeout: no sleeping.
 */
async function untilShown(change, shown, attempts = 5) {
  for (let attempt = 1; ; attempt++) {
    await change(attempt);
    try {
      await shown(attempt, attempt === attempts ? 15_000 : 3_000);
      return;
    } catch (error) {
      if (attempt === attempts) throw error;
    }
  }
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await login(server.base, ADMIN.username, ADMIN.password);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('login and registration errors are sentences in the chosen language', async (t) => {
  await createUser(server.base, admin, 'taken', 'Taken');
  const context = await browser.newContext({ baseURL: server.base });
  t.after(() => context.close());
  const page = await context.newPage();
  await withScreenshots(t.name, () => [page], async () => {
    await page.goto('/login');
    await page.getByTestId('login-user').fill('taken');
    await page.getByTestId('login-password').fill('not-the-password');
    await page.getByTestId('auth-submit').click();
    const error = page.getByTestId('auth-error');
    await error.filter({ hasText: 'Wrong username or password' }).waitFor();
    assert.doesNotMatch(await error.textContent(), /unauthorized/i);

    await page.getByTestId('auth-lang').selectOption('ar');
    await page.waitForFunction(() => document.documentElement.dir === 'rtl');
    await page.getByTestId('to-register').click();
    await page.getByTestId('register-name').fill('Another');
    await page.getByTestId('register-email').fill('taken@example.com');
    await page.getByTestId('login-user').fill('another');
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('auth-submit').click();
    await error.filter({ hasText: 'يوجد حساب بهذا البريد الإلكتروني' }).waitFor();
    await axe(page, 'registration error');
    assert.doesNotMatch(await error.textContent(), /\[403\]|already exists/);

    await page.getByTestId('register-email').fill('fresh@example.com');
    await page.getByTestId('login-user').fill('taken');
    await page.getByTestId('auth-submit').click();
    await error.filter({ hasText: 'اسم المستخدم هذا مستخدم بالفعل' }).waitFor();
  });
});

test('the member count follows joins live, with each language\'s plural forms', async (t) => {
  const owner = await createUser(server.base, admin, 'counter', 'Counter');
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: owner, body: { name: 'counted' } });
  const guests = [];
  for (const name of ['guest1', 'guest2', 'guest3']) guests.push(await createUser(server.base, admin, name));
  const page = await openAs(browser, server.base, 'counter');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'counted');
    const count = page.getByTestId('room-members-count');
    await count.filter({ hasText: /^1 member$/ }).waitFor();
    // The room's stream is live once a message posted elsewhere shows (the notices come that way).
    await untilShown(
      (n) => rest(server.base, 'chat.postMessage', { method: 'POST', auth: owner, body: { roomId: channel._id, text: `probe ${n}` } }),
      (n, timeout) => message(page, `probe ${n}`).waitFor({ timeout }),
    );
    await rest(server.base, 'channels.invite', { method: 'POST', auth: owner, body: { roomId: channel._id, userId: guests[0].userId } });
    await count.filter({ hasText: /^2 members$/ }).waitFor();

    await page.getByTestId('account-menu').click();
    await page.getByTestId('lang-ar').click();
    await page.waitForFunction(() => document.documentElement.lang === 'ar');
    await page.keyboard.press('Escape');
    await count.filter({ hasText: 'عضوان' }).waitFor();
    await rest(server.base, 'channels.invite', { method: 'POST', auth: owner, body: { roomId: channel._id, userId: guests[1].userId } });
    await rest(server.base, 'channels.invite', { method: 'POST', auth: owner, body: { roomId: channel._id, userId: guests[2].userId } });
    // Arabic "few" (3–10): the plural noun, in Arabic digits.
    await count.filter({ hasText: /^(4|٤) أعضاء$/ }).waitFor();
  });
});

/** The `data-testid` of the focused element. */
function focused(page) {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);
}

test('focus goes where typing goes: the room\'s composer, the thread\'s, the search box', async (t) => {
  await createUser(server.base, admin, 'focus', 'Focus');
  const page = await openAs(browser, server.base, 'focus');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    // Opening a room from the keyboard: Enter on its link.
    await page.locator('[data-testid="room-link"][data-room="general"]').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('room-title').filter({ hasText: 'general' }).waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'composer');
    await page.keyboard.type('typed straight away');
    await page.keyboard.press('Enter');
    await message(page, 'typed straight away').waitFor();

    await message(page, 'typed straight away').hover();
    await message(page, 'typed straight away').getByTestId('reply-button').click();
    await page.getByTestId('panel-thread').waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'thread-composer');
    await page.keyboard.type('a reply typed without clicking');
    await page.keyboard.press('Enter');
    await page.getByTestId('thread-messages').getByText('a reply typed without clicking').waitFor();
    assert.equal(await page.getByTestId('panel-thread').count(), 1, 'Enter sent the reply, it did not close the panel');

    await page.getByTestId('open-search').click();
    await page.getByTestId('panel-search').waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'search-input');
    assert.equal(await focused(page), 'search-input');
  });
});

test('deleting a message, leaving and deleting a room ask in the client\'s own dialog', async (t) => {
  await createUser(server.base, admin, 'asker', 'Asker');
  // Created by the admin: the last owner of a room may not leave it.
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'leaving-soon', members: ['asker'] } });
  const page = await openAs(browser, server.base, 'asker');
  t.after(() => page.context().close());
  const native = [];
  page.on('dialog', (dialog) => {
    native.push(dialog.message());
    void dialog.dismiss();
  });
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'leaving-soon');
    await send(page, 'a message to delete');
    await page.waitForFunction(() => !document.querySelector('.message.pending'));
    const doomed = message(page, 'a message to delete');
    await doomed.hover();
    await doomed.getByTestId('delete-button').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.getByText('Delete this message?').waitFor();
    // Cancel is where the focus starts, and keeps the message.
    assert.equal(await focused(page), 'confirm-cancel');
    await axe(page, 'confirm dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await doomed.count(), 1);
    await doomed.hover();
    await doomed.getByTestId('delete-button').click();
    await page.getByTestId('confirm-ok').click();
    await doomed.waitFor({ state: 'detached' });

    await page.getByTestId('room-menu').click();
    await page.getByTestId('leave-room').click();
    await dialog.getByText('Leave leaving-soon?').waitFor();
    await page.getByTestId('confirm-ok').click();
    await page.locator('[data-testid="room-link"][data-room="leaving-soon"]').waitFor({ state: 'detached' });
    assert.deepEqual(native, [], 'no browser confirm()');
  });

  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'to-be-deleted' } });
  const boss = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(() => boss.context().close());
  boss.on('dialog', (dialog) => {
    native.push(dialog.message());
    void dialog.dismiss();
  });
  await withScreenshots(`${t.name}-admin`, () => [boss], async () => {
    await boss.goto('/admin/rooms');
    const row = boss.locator('[data-testid="admin-rooms"] tr[data-room="to-be-deleted"]');
    await row.getByTestId('admin-room-delete').click();
    await boss.getByTestId('confirm-dialog').getByText(/Delete to-be-deleted/).waitFor();
    await boss.getByTestId('confirm-ok').click();
    await row.waitFor({ state: 'detached' });
    assert.deepEqual(native, [], 'no browser confirm()');
  });
});

test('the site name set in the administration names the client', async (t) => {
  await rest(server.base, 'settings/Site_Name', { method: 'POST', auth: admin, body: { value: 'Orbit Works' } });
  const context = await browser.newContext({ baseURL: server.base });
  t.after(() => context.close());
  const anon = await context.newPage();
  await withScreenshots(t.name, () => [anon], async () => {
    await anon.goto('/login');
    await anon.getByRole('heading', { name: 'Welcome to Orbit Works' }).waitFor();
    await anon.waitForFunction(() => document.title === 'Orbit Works');
    await createUser(server.base, admin, 'namer', 'Namer');
    await anon.getByTestId('login-user').fill('namer');
    await anon.getByTestId('login-password').fill(PASSWORD);
    await anon.getByTestId('auth-submit').click();
    await anon.getByTestId('room-list').waitFor();
    await anon.reload();
    await anon.getByTestId('room-list').waitFor();
    await anon.waitForFunction(() => /Orbit Works$/.test(document.title));
    // A change while the client is open shows without a reload.
    await untilShown(
      (n) => rest(server.base, 'settings/Site_Name', { method: 'POST', auth: admin, body: { value: `Orbit Labs ${n}` } }),
      (n, timeout) => anon.waitForFunction((name) => document.title.endsWith(name), `Orbit Labs ${n}`, { timeout }),
    );
  });
});

test('Log out is in sight in the account menu of a 1366×800 screen', async (t) => {
  for (const name of ['In a meeting', 'Commuting', 'Focus time', 'On holiday']) {
    await rest(server.base, 'custom-user-status.create', { method: 'POST', auth: admin, body: { name, statusType: 'busy' } });
  }
  await createUser(server.base, admin, 'laptop', 'Laptop');
  const page = await openAs(browser, server.base, 'laptop', PASSWORD, { viewport: { width: 1366, height: 800 } });
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.getByTestId('account-menu').click();
    const logout = page.getByTestId('logout');
    await logout.waitFor();
    await axe(page, 'account menu');
    const box = await logout.boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= 800, `Log out within the screen: ${JSON.stringify(box)}`);
    // Not merely inside the viewport but visible: nothing (the menu's own scrolling) hides it.
    const hit = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.closest('[data-testid]')?.getAttribute('data-testid'), { x: box.x + box.width / 2, y: box.y + box.height / 2 });
    assert.equal(hit, 'logout');
    await logout.click();
    await page.getByTestId('login-user').waitFor();
  });
});

test('renamed by an administrator, one\'s own header follows', async (t) => {
  const user = await createUser(server.base, admin, 'renamee', 'Old Name');
  const page = await openAs(browser, server.base, 'renamee');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.getByTestId('me-name').filter({ hasText: 'Old Name' }).waitFor();
    await untilShown(
      (n) => rest(server.base, 'users.update', { method: 'POST', auth: admin, body: { userId: user.userId, data: { name: `New Name ${n}` } } }),
      (n, timeout) => page.getByTestId('me-name').filter({ hasText: `New Name ${n}` }).waitFor({ timeout }),
    );
  });
});

test('a toast shows above the composer, not over it', async (t) => {
  const owner = await createUser(server.base, admin, 'toaster', 'Toaster');
  await rest(server.base, 'channels.create', { method: 'POST', auth: owner, body: { name: 'toasts' } });
  const page = await openAs(browser, server.base, 'toaster');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'toasts');
    await page.getByTestId('room-menu').click();
    await page.getByTestId('invite-link').click();
    const toast = page.getByTestId('toast');
    await toast.waitFor();
    const toastBox = await toast.boundingBox();
    const composerBox = await page.getByTestId('composer').boundingBox();
    assert.ok(toastBox && composerBox);
    assert.ok(toastBox.y + toastBox.height <= composerBox.y, `toast ${JSON.stringify(toastBox)} above composer ${JSON.stringify(composerBox)}`);
    // And typing still works while it shows.
    await page.getByTestId('composer').click();
    await page.keyboard.type('typing under a toast');
    assert.equal(await page.getByTestId('composer').inputValue(), 'typing under a toast');
  });
});

test('icon buttons have a name and a tooltip; favourite and starred messages look different', async (t) => {
  const owner = await createUser(server.base, admin, 'icons', 'Icons');
  await rest(server.base, 'channels.create', { method: 'POST', auth: owner, body: { name: 'iconic' } });
  const page = await openAs(browser, server.base, 'icons');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'iconic');
    await send(page, 'hover me');
    await message(page, 'hover me').hover();
    await message(page, 'hover me').getByTestId('react-button').waitFor();
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll('button')]
        .filter((b) => b.offsetParent !== null && !b.textContent?.trim())
        .filter((b) => !b.getAttribute('aria-label') || !b.title)
        .map((b) => b.outerHTML.slice(0, 120)),
    );
    assert.deepEqual(unnamed, [], 'every icon-only button has aria-label and title');
    const icon = (id) => page.getByTestId(id).locator('svg path').getAttribute('d');
    assert.notEqual(await icon('favorite'), await icon('open-starred'));
    assert.equal(await page.getByTestId('favorite').getAttribute('title'), 'Favourite');
    assert.equal(await page.getByTestId('open-starred').getAttribute('title'), 'Starred messages');
    await axe(page, 'room header');
  });
});

test('copy: sizes in words, a conversation names the other person, hints for names, private groups', async (t) => {
  await createUser(server.base, admin, 'writer', 'Wren Writer');
  await createUser(server.base, admin, 'reader', 'Rhea Reader');
  const writer = await login(server.base, 'writer', PASSWORD);
  await rest(server.base, 'im.create', { method: 'POST', auth: writer, body: { username: 'reader' } });
  await rest(server.base, 'groups.create', { method: 'POST', auth: writer, body: { name: 'secret' } });
  const page = await openAs(browser, server.base, 'writer');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'reader');
    await page.getByTestId('room-start').filter({ hasText: 'This is the start of your conversation with Rhea Reader (@reader).' }).waitFor();
    await page.getByTestId('file-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.alloc(604, 'a') });
    await page.getByTestId('upload-dialog').getByText('604 bytes').waitFor();
    await page.getByTestId('upload-send').click();
    await message(page, 'notes.txt').getByText('604 bytes').waitFor();

    await openRoom(page, 'secret');
    assert.equal(await page.getByTestId('composer').getAttribute('placeholder'), 'Message the private group secret');
    await page.getByTestId('room-start').filter({ hasText: 'This is the start of the private group secret.' }).waitFor();

    await page.getByTestId('create-menu').click();
    await page.getByTestId('new-channel').click();
    await page.getByTestId('room-name').fill('two words');
    await page.getByTestId('create-room-submit').click();
    const hint = await page.getByTestId('room-name').evaluate((input) => input.validationMessage);
    assert.equal(hint, 'A name without spaces, # or @, for example project-alpha.');
  });
});

test('on a phone the room header leaves room for the room\'s name', async (t) => {
  const owner = await createUser(server.base, admin, 'phoner', 'Phoner');
  await rest(server.base, 'channels.create', { method: 'POST', auth: owner, body: { name: 'quarterly-planning' } });
  const page = await openAs(browser, server.base, 'phoner', PASSWORD, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'quarterly-planning');
    const title = page.getByTestId('room-title');
    const fits = await title.evaluate((h) => h.scrollWidth <= h.clientWidth);
    const box = await title.boundingBox();
    assert.ok(fits && box && box.width >= 150, `the whole name shows (width ${box?.width}, fits ${fits})`);
    // The panels whose buttons made way are in the room menu.
    await page.getByTestId('room-menu').click();
    await page.getByTestId('menu-pinned').click();
    await page.getByTestId('pinned-results').waitFor();
    await axe(page, 'phone room with panel');
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= 390, `no horizontal scrolling (${scrollWidth})`);
  });
});

/** The horizontal extent of the text inside `locator`'s first element, and of the message's column. */
async function textEdges(locator) {
  return locator.evaluate((p) => {
    const range = document.createRange();
    range.selectNodeContents(p);
    const text = range.getBoundingClientRect();
    const column = p.closest('.md').getBoundingClientRect();
    return { left: text.left, right: text.right, columnLeft: column.left, columnRight: column.right, direction: getComputedStyle(p).direction };
  });
}

test('message text of the other direction sits next to its author', async (t) => {
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'bidi' } });
  await createUser(server.base, admin, 'amal', 'أمل');
  await createUser(server.base, admin, 'ed', 'Ed');
  for (const who of ['amal', 'ed']) {
    const { user } = await rest(server.base, `users.info?username=${who}`, { auth: admin });
    await rest(server.base, 'channels.invite', { method: 'POST', auth: admin, body: { roomId: channel._id, userId: user._id } });
  }
  const amal = await openAs(browser, server.base, 'amal');
  const ed = await openAs(browser, server.base, 'ed');
  t.after(async () => {
    await amal.context().close();
    await ed.context().close();
  });
  await withScreenshots(t.name, () => [amal, ed], async () => {
    await amal.getByTestId('account-menu').click();
    await amal.getByTestId('lang-ar').click();
    await amal.waitForFunction(() => document.documentElement.dir === 'rtl');
    await amal.keyboard.press('Escape');
    await openRoom(amal, 'bidi');
    await openRoom(ed, 'bidi');
    await send(ed, 'Short English line');
    await send(amal, 'سطر عربي قصير');

    // In the Arabic interface an English paragraph stays left-to-right but starts at the right,
    // under its author.
    const english = await textEdges(message(amal, 'Short English line').locator('.md p'));
    assert.equal(english.direction, 'ltr');
    assert.ok(english.columnRight - english.right < 4, `English text at the author's side: ${JSON.stringify(english)}`);
    // In the English interface an Arabic paragraph is right-to-left, at the left.
    const arabic = await textEdges(message(ed, 'سطر عربي قصير').locator('.md p'));
    assert.equal(arabic.direction, 'rtl');
    assert.ok(arabic.left - arabic.columnLeft < 4, `Arabic text at the author's side: ${JSON.stringify(arabic)}`);
  });
});

test('search results, pinned messages and message links open at the message, far back in its room', async (t) => {
  const owner = await createUser(server.base, admin, 'digger', 'Digger');
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: owner, body: { name: 'haystack' } });
  const { message: needle } = await rest(server.base, 'chat.postMessage', { method: 'POST', auth: owner, body: { roomId: channel._id, text: 'the needle is here' } });
  for (let i = 0; i < 160; i++) {
    await rest(server.base, 'chat.postMessage', { method: 'POST', auth: owner, body: { roomId: channel._id, text: `hay ${i}` } });
  }
  await rest(server.base, 'chat.pinMessage', { method: 'POST', auth: owner, body: { messageId: needle._id } });
  const page = await openAs(browser, server.base, 'digger');
  t.after(() => page.context().close());
  const timelineNeedle = () => page.getByTestId('messages').locator(`[data-id="${needle._id}"]`);
  const inView = (locator) => locator.evaluate((el) => {
    const box = el.getBoundingClientRect();
    const list = el.closest('[data-testid="messages"]').getBoundingClientRect();
    return box.top >= list.top && box.bottom <= list.bottom;
  });
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'haystack');
    await message(page, 'hay 159').waitFor();
    assert.equal(await timelineNeedle().count(), 0, 'the needle is beyond the first page');

    await page.getByTestId('open-search').click();
    await page.getByTestId('search-input').fill('needle');
    await page.getByTestId('search-input').press('Enter');
    const result = page.getByTestId('search-results').getByTestId('found-message').first();
    await result.waitFor();
    await axe(page, 'search results');
    // The hover toolbar of the first result is not cut off by the panel.
    await result.getByTestId('message').hover();
    const toolbar = await result.getByTestId('react-button').boundingBox();
    const panel = await page.getByTestId('search-results').boundingBox();
    assert.ok(toolbar && panel && toolbar.y >= panel.y, `toolbar ${JSON.stringify(toolbar)} inside ${JSON.stringify(panel)}`);
    await result.getByTestId('jump-to-message').click();
    await page.getByTestId('messages').locator(`[data-id="${needle._id}"].highlighted`).waitFor();
    await page.waitForFunction((id) => {
      const el = document.querySelector(`[data-testid="messages"] [data-id="${id}"]`);
      const list = document.querySelector('[data-testid="messages"]');
      if (!el || !list) return false;
      const a = el.getBoundingClientRect();
      const b = list.getBoundingClientRect();
      return a.top >= b.top && a.bottom <= b.bottom;
    }, needle._id);
    // The run from the needle to the newest message is whole: nothing in between is missing.
    await message(page, 'hay 0').waitFor();
    await message(page, 'hay 80').waitFor();
    assert.ok(await inView(timelineNeedle()));

    // From the pinned list, after scrolling away.
    await page.getByTestId('messages').evaluate((list) => (list.scrollTop = list.scrollHeight));
    await page.getByTestId('open-pinned').click();
    const pinned = page.getByTestId('pinned-results').getByTestId('found-message').first();
    await pinned.getByTestId('jump-to-message').click();
    await page.waitForFunction((id) => {
      const el = document.querySelector(`[data-testid="messages"] [data-id="${id}"]`);
      const list = document.querySelector('[data-testid="messages"]');
      if (!el || !list) return false;
      const a = el.getBoundingClientRect();
      const b = list.getBoundingClientRect();
      return a.top >= b.top && a.bottom <= b.bottom;
    }, needle._id);

    // A message link, in a fresh page.
    await page.goto(`/channel/haystack?msg=${needle._id}`);
    await page.getByTestId('messages').locator(`[data-id="${needle._id}"].highlighted`).waitFor();
  });
});

test('one user picker: invite box, new channel members and direct messages find people as you type', async (t) => {
  const owner = await createUser(server.base, admin, 'picker', 'Picker');
  await createUser(server.base, admin, 'pickme', 'Pim Kemper');
  await rest(server.base, 'channels.create', { method: 'POST', auth: owner, body: { name: 'picking' } });
  const page = await openAs(browser, server.base, 'picker');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'picking');
    await page.getByTestId('open-members').click();
    const invite = page.getByTestId('invite-input');
    assert.equal(await invite.getAttribute('role'), 'combobox');
    await invite.fill('Kemp');
    await page.getByTestId('panel-members').getByTestId('user-picker-match').filter({ hasText: '@pickme' }).waitFor();
    await invite.press('ArrowDown');
    await axe(page, 'user picker');
    await invite.press('Enter');
    assert.equal(await invite.inputValue(), 'pickme, ');
    await page.getByTestId('invite-submit').click();
    await page.getByTestId('members').locator('li[data-username="pickme"]').waitFor();

    await page.getByTestId('create-menu').click();
    await page.getByTestId('new-channel').click();
    const members = page.getByTestId('room-members');
    assert.equal(await members.getAttribute('role'), 'combobox');
    await members.fill('pim');
    await page.getByTestId('create-room-dialog').getByTestId('user-picker-match').filter({ hasText: '@pickme' }).click();
    assert.equal(await members.inputValue(), 'pickme, ');
    // The matches are closed after a pick: Escape closes the dialog itself.
    await page.keyboard.press('Escape');
    await page.getByTestId('create-room-dialog').waitFor({ state: 'detached' });

    await page.getByTestId('create-menu').click();
    await page.getByTestId('new-dm').click();
    const dm = page.getByTestId('dm-user');
    assert.equal(await dm.getAttribute('role'), 'combobox');
    await dm.fill('Pim');
    await page.getByTestId('dm-dialog').getByTestId('user-picker-match').filter({ hasText: '@pickme' }).click();
    await page.getByTestId('room-title').filter({ hasText: 'pickme' }).waitFor();
  });
});

test('emoji are drawn from the images shipped with the client', async (t) => {
  await createUser(server.base, admin, 'emojier', 'Emojier');
  const page = await openAs(browser, server.base, 'emojier');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'general');
    await send(page, 'shortcode :tada: and typed 👍 and ❤️ here');
    const body = message(page, 'shortcode').locator('.md');
    await body.waitFor();
    const images = await body.locator('.twemoji').evaluateAll((spans) =>
      spans.map((s) => ({ text: s.textContent, image: getComputedStyle(s).backgroundImage, color: getComputedStyle(s).color })),
    );
    assert.deepEqual(images.map((i) => i.text), ['🎉', '👍', '❤️']);
    for (const image of images) {
      assert.match(image.image, /\/emoji\/[0-9a-f-]+\.svg"?\)$/, JSON.stringify(image));
      assert.equal(image.color, 'rgba(0, 0, 0, 0)', 'the font glyph is not drawn over the picture');
    }
    // The pictures load (from this server: nothing external) and are SVG.
    const loaded = await body.locator('.twemoji').evaluateAll((spans) =>
      Promise.all(
        spans.map((s) => {
          const url = getComputedStyle(s).backgroundImage.replace(/^url\("?|"?\)$/g, '');
          return new Promise((resolve) => {
            const img = new Image();
            img.onload = () => resolve({ url, ok: img.naturalWidth > 0 });
            img.onerror = () => resolve({ url, ok: false });
            img.src = url;
          });
        }),
      ),
    );
    for (const image of loaded) {
      assert.ok(image.ok, `loads: ${image.url}`);
      assert.ok(image.url.startsWith(server.base), image.url);
    }
    // Their licence's credit is served beside them.
    const credit = await fetch(`${server.base}/emoji/ATTRIBUTION.txt`);
    assert.equal(credit.status, 200);
    assert.match(await credit.text(), /Twemoji.*CC-BY 4\.0/s);
    // The text still reads as the emoji (copying, finding).
    assert.match(await body.textContent(), /🎉.*👍.*❤️/u);

    // Reactions and the picker use the same pictures.
    const posted = message(page, 'shortcode');
    await posted.hover();
    await posted.getByTestId('react-button').click();
    await page.locator('[data-emoji="tada"]').first().click();
    const reaction = posted.getByTestId('reaction').first();
    await reaction.waitFor();
    assert.match(await reaction.locator('.twemoji').evaluate((s) => getComputedStyle(s).backgroundImage), /\/emoji\/1f389\.svg/);
    assert.deepEqual(page.problems, []);
  });
});

/** The scripts the first screen loads before it runs: the entry and its module preloads. */
async function firstScreenScripts() {
  const html = await (await fetch(`${server.base}/`, { headers: { Accept: 'text/html' } })).text();
  const paths = [...html.matchAll(/<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="([^"]+\.js)"/g)].map((m) => m[1]);
  assert.ok(paths.length > 0, html);
  return Promise.all(paths.map(async (path) => Buffer.from(await (await fetch(`${server.base}${path}`)).arrayBuffer())));
}

test('the first screen\'s JavaScript stays under 80 KB gzip', async () => {
  const { gzipSync, constants } = await import('node:zlib');
  const scripts = await firstScreenScripts();
  let total = 0;
  for (const body of scripts) total += gzipSync(body, { level: constants.Z_BEST_COMPRESSION }).length;
  assert.ok(total < 80 * 1024, `first screen: ${(total / 1024).toFixed(1)} KB gzip in ${scripts.length} files`);
});

test('no first-screen script asks for an English text that loads after it', async () => {
  const more = readFileSync(new URL('../src/lib/locales/en.more.ts', import.meta.url), 'utf8');
  const keys = [...more.matchAll(/^\s+'([^']+)':/gm)].map((m) => m[1]);
  assert.ok(keys.length > 100);
  const code = (await firstScreenScripts()).map((b) => b.toString('utf8')).join('\n');
  // A key is asked for by its whole name, by a family (`i18n.plural('room.members_count')`)
  // or by a template prefix (`sys.${type}`).
  const asked = (key) => {
    const parts = key.split('.');
    const names = parts.map((_, i) => parts.slice(0, i + 1).join('.')).slice(1);
    return names.some((name) => ['"', "'", '`'].some((q) => code.includes(`${q}${name}${q}`)))
      || parts.slice(0, -1).some((_, i) => code.includes(`\`${parts.slice(0, i + 1).join('.')}.\${`));
  };
  assert.deepEqual(keys.filter(asked), [], 'move these keys from en.more.ts to en.ts');
});
