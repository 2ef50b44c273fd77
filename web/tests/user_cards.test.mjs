// User cards in the browser: a message's author opens their card (name, username, status,
// local time, roles); the room's owner gives and takes room roles and removes the member, who
// sees the room go; a plain member sees no such actions and starts a DM from the card.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, createUser, login, rest, send, openRoom, message, withScreenshots, ADMIN, axe } from './harness.mjs';


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


async function openCard(page, text) {
  await message(page, text).getByTestId('author').click();
  const card = page.getByTestId('user-card');
  await card.waitFor();
  return card;
}

async function roomRolesOf(roomId, username) {
  const { roles } = await rest(server.base, `channels.roles?roomId=${roomId}`, { auth: admin });
  return roles.find((r) => r.u.username === username)?.roles ?? [];
}

test("the owner opens a member's card, makes them moderator and leader, then removes them", async (t) => {
  await createUser(server.base, admin, 'dora', 'Dora Card');
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'card-room', members: ['dora'] } });
  // Dora's browser is in India: her client reports UTC+5:30, which her card shows.
  const dora = await openAs(browser, server.base, 'dora', undefined, { timezoneId: 'Asia/Kolkata' });
  let owner;
  t.after(async () => {
    await dora.context().close();
    await owner?.context().close();
  });
  await withScreenshots(t.name, () => [dora, owner], async () => {
    await openRoom(dora, 'card-room');
    await send(dora, 'hello from dora');

    owner = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
    await openRoom(owner, 'card-room');
    const card = await openCard(owner, 'hello from dora');
    await card.getByTestId('card-name').filter({ hasText: 'Dora Card' }).waitFor();
    assert.equal(await card.getByTestId('card-username').textContent(), '@dora');
    await card.getByTestId('card-status').filter({ hasText: 'Online' }).waitFor();
    const localTime = await card.getByTestId('card-local-time').textContent();
    assert.match(localTime, /\(UTC\+5:30\)$/);
    const kolkata = new Intl.DateTimeFormat('en', { hour: 'numeric', minute: '2-digit', timeZone: 'Asia/Kolkata' });
    const near = [0, -60_000, 60_000].map((shift) => kolkata.format(Date.now() + shift));
    assert.ok(near.some((time) => localTime.startsWith(time)), `${localTime} is not now in Kolkata (${near})`);
    await card.locator('[data-testid="card-role"][data-role="user"]').waitFor();
    await axe(owner, 'user card with room actions');

    await card.getByTestId('card-toggle-moderator').click();
    await card.locator('[data-testid="card-room-role"][data-role="moderator"]').waitFor();
    assert.deepEqual(await roomRolesOf(channel._id, 'dora'), ['moderator']);
    await card.getByTestId('card-toggle-leader').click();
    await card.locator('[data-testid="card-room-role"][data-role="leader"]').waitFor();
    assert.equal(await card.getByTestId('card-toggle-leader').getAttribute('aria-pressed'), 'true');
    await card.getByTestId('card-toggle-moderator').click();
    await card.locator('[data-testid="card-room-role"][data-role="moderator"]').waitFor({ state: 'detached' });
    assert.deepEqual(await roomRolesOf(channel._id, 'dora'), ['leader']);

    // Removal asks first; the member sees the room leave their sidebar.
    await card.getByTestId('card-remove').click();
    await owner.getByTestId('confirm-ok').click();
    await card.waitFor({ state: 'detached' });
    await dora.locator('[data-testid="room-link"][data-room="card-room"]').waitFor({ state: 'detached' });
    const { members } = await rest(server.base, `channels.members?roomId=${channel._id}`, { auth: admin });
    assert.ok(!members.some((m) => m.username === 'dora'));
    assert.deepEqual(owner.problems, []);
  });
});

test("a plain member sees no room actions on a card, and starts a DM from it that the other person gets", async (t) => {
  await createUser(server.base, admin, 'milo', 'Milo Member');
  await createUser(server.base, admin, 'nell', 'Nell Neighbour');
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'plain-room', members: ['milo', 'nell'] } });
  const nell = await openAs(browser, server.base, 'nell');
  let milo;
  t.after(async () => {
    await nell.context().close();
    await milo?.context().close();
  });
  await withScreenshots(t.name, () => [nell, milo], async () => {
    await openRoom(nell, 'plain-room');
    await send(nell, 'nell was here');
    milo = await openAs(browser, server.base, 'milo');
    await openRoom(milo, 'plain-room');
    // The avatar opens the card too.
    await message(milo, 'nell was here').getByTestId('author-avatar').click();
    const card = milo.getByTestId('user-card');
    await card.getByTestId('card-name').filter({ hasText: 'Nell Neighbour' }).waitFor();
    assert.equal(await card.getByTestId('card-toggle-owner').count(), 0);
    assert.equal(await card.getByTestId('card-toggle-moderator').count(), 0);
    assert.equal(await card.getByTestId('card-remove').count(), 0);
    await axe(milo, 'user card without room actions');

    await card.getByTestId('card-message').click();
    await milo.getByTestId('room-title').filter({ hasText: 'nell' }).waitFor();
    await send(milo, 'a word in private');
    await nell.locator('[data-testid="room-link"][data-room="milo"]').click();
    await message(nell, 'a word in private').waitFor();

    // Escape closes a card; the focus goes back to the author's name.
    await openRoom(milo, 'plain-room');
    const author = message(milo, 'nell was here').getByTestId('author');
    await author.click();
    await card.waitFor();
    await milo.keyboard.press('Escape');
    await card.waitFor({ state: 'detached' });
    assert.ok(await author.evaluate((el) => el === document.activeElement));
    assert.deepEqual(milo.problems, []);
  });
});

test('names in messages and in the members list open cards from the keyboard; the focus comes back', async (t) => {
  await createUser(server.base, admin, 'kira', 'Kira Keys');
  await createUser(server.base, admin, 'lev', 'Lev Listed');
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'keys-room', members: ['kira', 'lev'] } });
  // Lev's clock is in São Paulo, UTC-3 all year (Brazil dropped daylight saving).
  const lev = await openAs(browser, server.base, 'lev', undefined, { timezoneId: 'America/Sao_Paulo' });
  let kira;
  t.after(async () => {
    await lev.context().close();
    await kira?.context().close();
  });
  await withScreenshots(t.name, () => [lev, kira], async () => {
    await openRoom(lev, 'keys-room');
    await send(lev, 'lev speaks first');
    kira = await openAs(browser, server.base, 'kira');
    await openRoom(kira, 'keys-room');
    const item = message(kira, 'lev speaks first');
    await item.waitFor();

    // The message list is one stop; the arrow keys reach the message, Tab its author's name.
    await kira.getByTestId('messages').focus();
    await kira.keyboard.press('End');
    await kira.keyboard.press('Tab');
    const author = item.getByTestId('author');
    assert.ok(await author.evaluate((el) => el === document.activeElement), 'Tab reaches the author');
    await kira.keyboard.press('Enter');
    const card = kira.getByTestId('user-card');
    await card.getByTestId('card-name').filter({ hasText: 'Lev Listed' }).waitFor();
    await card.getByTestId('card-local-time').filter({ hasText: '(UTC-3)' }).waitFor();
    await axe(kira, 'user card opened from the keyboard');
    await kira.keyboard.press('Escape');
    await card.waitFor({ state: 'detached' });
    assert.ok(await author.evaluate((el) => el === document.activeElement), 'the focus returns to the name');
    await kira.keyboard.press('Space');
    await card.getByTestId('card-name').filter({ hasText: 'Lev Listed' }).waitFor();
    await kira.keyboard.press('Escape');
    await card.waitFor({ state: 'detached' });

    // The members list: each member is a button that opens their card.
    await kira.getByTestId('open-members').click();
    const member = kira.locator('[data-testid="members"] li[data-username="lev"]').getByTestId('member-card');
    await member.waitFor();
    await member.focus();
    await kira.keyboard.press('Enter');
    await card.getByTestId('card-name').filter({ hasText: 'Lev Listed' }).waitFor();
    await kira.keyboard.press('Escape');
    await card.waitFor({ state: 'detached' });
    assert.ok(await member.evaluate((el) => el === document.activeElement), 'the focus returns to the member');
    await axe(kira, 'members list with card buttons');
    assert.deepEqual(kira.problems, []);
    assert.deepEqual(lev.problems, []);
  });
});
