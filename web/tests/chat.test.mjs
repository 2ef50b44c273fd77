// The web client in Chromium against a real comet: two people chatting live, threads,
// reactions, edits and deletions, search, rooms, direct messages, XSS safety.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openAs, createUser, login, rest, withScreenshots, openRoom, send, message, ADMIN, TIMEOUT,
} from './harness.mjs';

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

let n = 0;
/** Two fresh users, each in their own browser context. */
async function pair(t) {
  n++;
  const a = `alice${n}`;
  const b = `bob${n}`;
  const aliceAuth = await createUser(server.base, admin, a, `Alice ${n}`);
  const bobAuth = await createUser(server.base, admin, b, `Bob ${n}`);
  const alice = await openAs(browser, server.base, a);
  const bob = await openAs(browser, server.base, b);
  pages.push(alice, bob);
  t.after(async () => {
    await alice.context().close();
    await bob.context().close();
  });
  return { alice, bob, a, b, aliceAuth, bobAuth };
}

function noProblems(...list) {
  for (const page of list) assert.deepEqual(page.problems, [], 'console errors or CSP violations');
}

test('two people chat live, with typing indicators and unread badges', async (t) => {
  const { alice, bob, a, b } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await openRoom(alice, 'general');
    await openRoom(bob, 'general');
    await send(alice, `hello from ${a}`);
    await message(bob, `hello from ${a}`).waitFor();
    await send(bob, `hi ${a}, **bold** and \`code\``);
    await message(alice, `hi ${a}`).locator('strong', { hasText: 'bold' }).waitFor();
    await message(alice, `hi ${a}`).locator('code', { hasText: 'code' }).waitFor();

    // Typing shows on the other side and clears when the message arrives.
    await alice.getByTestId('composer').pressSequentially('typing somet', { delay: 20 });
    await bob.getByTestId('typing').filter({ hasText: a }).waitFor();
    await alice.getByTestId('composer').press('Enter');
    await message(bob, 'typing somet').waitFor();
    await bob.getByTestId('typing').filter({ hasText: /^$/ }).waitFor();

    // A direct message and a mention raise badges in the other person's sidebar.
    await alice.getByTestId('create-menu').click();
    await alice.getByTestId('new-dm').click();
    await alice.getByTestId('dm-user').fill(b);
    await alice.getByTestId('dm-submit').click();
    await alice.getByTestId('room-title').filter({ hasText: b }).waitFor();
    await send(alice, `psst @${b}`);
    const dmLink = bob.locator(`[data-testid="room-link"][data-room="${a}"]`);
    await dmLink.getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
    await dmLink.getByTestId('mention-badge').waitFor();
    // Presence: Alice is online in Bob's sidebar.
    await dmLink.locator('.dot.online').waitFor();
    await dmLink.click();
    await message(bob, `psst @${b}`).waitFor();
    await dmLink.getByTestId('unread-badge').waitFor({ state: 'detached' });
    noProblems(alice, bob);
  });
});

test('threads: reply, see the count, read the replies', async (t) => {
  const { alice, bob, a } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await openRoom(alice, 'general');
    await openRoom(bob, 'general');
    const root = `thread root ${a}`;
    await send(alice, root);
    await message(bob, root).waitFor();
    await message(bob, root).hover();
    await message(bob, root).getByTestId('reply-button').click();
    await bob.getByTestId('panel-thread').waitFor();
    const composer = bob.getByTestId('thread-composer');
    await composer.fill('a reply in the thread');
    await composer.press('Enter');
    await bob.getByTestId('thread-messages').getByText('a reply in the thread').waitFor();
    // The reply stays out of the main timeline and shows as a count on the root.
    await message(alice, root).getByTestId('thread-link').filter({ hasText: '1' }).waitFor();
    assert.equal(await alice.getByTestId('messages').getByText('a reply in the thread').count(), 0);
    await message(alice, root).getByTestId('thread-link').click();
    await alice.getByTestId('thread-messages').getByText('a reply in the thread').waitFor();
    // The room's thread list has it too.
    await alice.getByTestId('open-threads').click();
    await alice.getByTestId('threads-results').getByText(root).waitFor();
    noProblems(alice, bob);
  });
});

test('reactions: add, see live, join, remove', async (t) => {
  const { alice, bob, a } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await openRoom(alice, 'general');
    await openRoom(bob, 'general');
    const text = `react to me ${a}`;
    await send(alice, text);
    await message(bob, text).waitFor();
    await message(alice, text).hover();
    await message(alice, text).getByTestId('react-button').click();
    await message(alice, text).locator('[data-emoji="tada"]').click();
    const bobReaction = message(bob, text).locator('[data-testid="reaction"][data-emoji=":tada:"]');
    await bobReaction.locator('.count', { hasText: '1' }).waitFor();
    await bobReaction.click();
    await message(alice, text).locator('[data-testid="reaction"][data-emoji=":tada:"] .count', { hasText: '2' }).waitFor();
    assert.equal(await bobReaction.getAttribute('aria-pressed'), 'true');
    await bobReaction.click();
    await message(alice, text).locator('[data-testid="reaction"][data-emoji=":tada:"] .count', { hasText: '1' }).waitFor();
    noProblems(alice, bob);
  });
});

test('edit and delete one’s own messages', async (t) => {
  const { alice, bob, a } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await openRoom(alice, 'general');
    await openRoom(bob, 'general');
    const text = `original text ${a}`;
    await send(alice, text);
    await message(bob, text).waitFor();
    // Others' messages offer no edit.
    await message(bob, text).hover();
    assert.equal(await message(bob, text).getByTestId('edit-button').count(), 0);

    await message(alice, text).hover();
    await message(alice, text).getByTestId('edit-button').click();
    const editor = alice.getByTestId('edit-input');
    await editor.fill(`edited text ${a}`);
    await editor.press('Enter');
    await message(bob, `edited text ${a}`).getByText('(edited)').waitFor();

    // Up-arrow in an empty composer edits the last own message.
    await alice.getByTestId('composer').press('ArrowUp');
    await alice.getByTestId('edit-input').fill(`edited twice ${a}`);
    await alice.getByTestId('edit-input').press('Enter');
    await message(bob, `edited twice ${a}`).waitFor();

    await message(alice, `edited twice ${a}`).hover();
    await message(alice, `edited twice ${a}`).getByTestId('delete-button').click();
    await alice.getByTestId('confirm-ok').click();
    await message(bob, `edited twice ${a}`).waitFor({ state: 'detached' });
    await message(alice, `edited twice ${a}`).waitFor({ state: 'detached' });
    noProblems(alice, bob);
  });
});

test('pin and star, search', async (t) => {
  const { alice, bob, b, aliceAuth } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    // Pinning needs a room role (owner, moderator): Alice's own channel.
    const room = `pins-${n}`;
    await rest(server.base, 'channels.create', { method: 'POST', auth: aliceAuth, body: { name: room, members: [b] } });
    await openRoom(alice, room);
    const needle = `zebracorn${n}`;
    await send(alice, `the ${needle} is here`);
    await send(alice, 'something unrelated');
    await message(alice, 'something unrelated').waitFor();
    await alice.waitForFunction(() => !document.querySelector('.message.pending'));

    await message(alice, needle).hover();
    await message(alice, needle).getByTestId('star-button').click();
    await message(alice, needle).locator('.tag.star').waitFor();
    await message(alice, needle).hover();
    await message(alice, needle).getByTestId('pin-button').click();
    await message(alice, needle).locator('.tag').first().waitFor();
    await alice.getByTestId('open-pinned').click();
    await alice.getByTestId('pinned-results').getByText(needle).waitFor();
    // The starred panel lists Alice's starred message only.
    await alice.getByTestId('open-starred').click();
    await alice.getByTestId('starred-results').getByText(needle).waitFor();
    assert.equal(await alice.getByTestId('starred-results').getByText('something unrelated').count(), 0);

    await openRoom(bob, room);
    // Only room owners and moderators get the pin action.
    await message(bob, needle).hover();
    assert.equal(await message(bob, needle).getByTestId('pin-button').count(), 0);
    await bob.getByTestId('open-search').click();
    await bob.getByTestId('search-input').fill(needle);
    await bob.getByTestId('search-input').press('Enter');
    await bob.getByTestId('search-results').getByText(`the ${needle} is here`).waitFor();
    assert.equal(await bob.getByTestId('search-results').getByText('something unrelated').count(), 0);
    noProblems(alice, bob);
  });
});

test('mentions autocomplete in the composer', async (t) => {
  const { alice, bob, b } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await openRoom(alice, 'general');
    await openRoom(bob, 'general');
    const composer = alice.getByTestId('composer');
    await composer.pressSequentially(`hey @${b.slice(0, 4)}`, { delay: 15 });
    await alice.getByTestId('suggestions').getByText(`@${b}`).waitFor();
    // Pick it with the keyboard.
    const options = alice.getByTestId('suggestions').getByRole('option');
    const count = await options.count();
    for (let i = 0; i < count; i++) {
      if ((await options.nth(i).getAttribute('aria-selected')) === 'true' && (await options.nth(i).textContent()).includes(`@${b}`)) break;
      await composer.press('ArrowDown');
    }
    await composer.press('Enter');
    assert.equal(await composer.inputValue(), `hey @${b} `);
    await composer.pressSequentially(':tad', { delay: 15 });
    await alice.getByTestId('suggestions').getByText(':tada:').waitFor();
    await composer.press('Tab');
    await composer.press('Enter');
    await message(bob, 'hey').locator('.mention.me', { hasText: `@${b}` }).waitFor();
    await message(bob, 'hey').locator('.emoji[aria-label=":tada:"]').waitFor();
  });
});

test('create a channel, invite, set the topic, leave', async (t) => {
  const { alice, bob, b } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    const name = `project-${n}`;
    await alice.getByTestId('create-menu').click();
    await alice.getByTestId('new-channel').click();
    await alice.getByTestId('room-name').fill(name);
    await alice.getByTestId('create-room-submit').click();
    await alice.getByTestId('room-title').filter({ hasText: name }).waitFor();

    await alice.getByTestId('open-members').click();
    await alice.getByTestId('invite-input').fill(b);
    await alice.getByTestId('invite-input').press('Enter');
    await alice.getByTestId('members').getByText(`@${b}`).waitFor();
    // The invitation reaches Bob's sidebar live.
    await bob.locator(`[data-testid="room-link"][data-room="${name}"]`).waitFor();

    await alice.getByTestId('room-menu').click();
    await alice.getByTestId('set-topic').click();
    await alice.getByTestId('topic-input').fill('Ship it');
    await alice.getByTestId('topic-input').press('Enter');
    await alice.getByTestId('room-topic').filter({ hasText: 'Ship it' }).waitFor();
    // Favourites get their own sidebar section.
    await alice.getByTestId('favorite').click();
    await alice.getByRole('heading', { name: 'Favorites' }).waitFor();
    assert.equal(await alice.getByTestId('favorite').getAttribute('aria-pressed'), 'true');

    await openRoom(bob, name);
    await bob.getByTestId('room-topic').filter({ hasText: 'Ship it' }).waitFor();
    await bob.getByTestId('room-menu').click();
    await bob.getByTestId('leave-room').click();
    await bob.getByTestId('confirm-ok').click();
    await bob.locator(`[data-testid="room-link"][data-room="${name}"]`).waitFor({ state: 'detached' });

    // A private group is private.
    await alice.getByTestId('create-menu').click();
    await alice.getByTestId('new-group').click();
    await alice.getByTestId('room-name').fill(`secret-${n}`);
    await alice.getByTestId('room-members').fill(b);
    await alice.getByTestId('create-room-submit').click();
    await alice.getByTestId('room-title').filter({ hasText: `secret-${n}` }).waitFor();
    await bob.locator(`[data-testid="room-link"][data-room="secret-${n}"]`).waitFor();
    noProblems(alice, bob);
  });
});

test('message text never becomes markup', async (t) => {
  const { alice, bob } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await openRoom(alice, 'general');
    await openRoom(bob, 'general');
    const attacks = [
      '<img src=x onerror="window.__xss=1">',
      '[click](javascript:window.__xss=2)',
      '<script>window.__xss=3</script>',
      '**<b onmouseover="window.__xss=4">bold</b>**',
    ];
    for (const text of attacks) await send(alice, text);
    await message(bob, '<script>').waitFor();
    await message(bob, 'onmouseover').waitFor();
    const body = bob.getByTestId('messages');
    assert.equal(await body.locator('img:not([data-testid="avatar-img"])').count(), 0);
    assert.equal(await body.locator('script').count(), 0);
    assert.equal(await body.locator('b[onmouseover]').count(), 0);
    assert.equal(await body.locator('a[href^="javascript"]').count(), 0);
    for (const link of await body.locator('.md a').all()) {
      assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
    }
    assert.equal(await bob.evaluate(() => window.__xss), undefined);
    await message(bob, '<img src=x').getByText('<img src=x onerror="window.__xss=1">').waitFor();
  });
});

test('a message sent while offline goes out after the reconnection', async (t) => {
  const { alice, bob, a } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await openRoom(alice, 'general');
    await openRoom(bob, 'general');
    // Bob drops off; Alice talks; Bob comes back and catches up.
    await bob.evaluate(() => window.dispatchEvent(new Event('offline')));
    await bob.context().setOffline(true);
    await send(alice, `while you were away ${a}`);
    await message(alice, `while you were away ${a}`).waitFor();
    await bob.waitForTimeout(300);
    await bob.context().setOffline(false);
    await message(bob, `while you were away ${a}`).waitFor({ timeout: TIMEOUT * 2 });
  });
});

test('registration through the form', async (t) => {
  const context = await browser.newContext({ baseURL: server.base });
  t.after(() => context.close());
  const page = await context.newPage();
  await withScreenshots(t.name, () => [page], async () => {
    await page.goto('/');
    await page.getByTestId('to-register').click();
    await page.getByTestId('register-name').fill('Nora New');
    await page.getByTestId('register-email').fill('nora@example.com');
    await page.getByTestId('login-user').fill('nora');
    await page.getByTestId('login-password').fill('N0ra-Pass-word!');
    await page.getByTestId('auth-submit').click();
    await page.locator('[data-testid="room-link"][data-room="general"]').waitFor();
    await page.getByTestId('account-menu').click();
    await page.getByTestId('logout').click();
    await page.getByTestId('login-user').waitFor();
    // And back in with the new password.
    await page.getByTestId('login-user').fill('nora');
    await page.getByTestId('login-password').fill('wrong-password');
    await page.getByTestId('auth-submit').click();
    await page.getByTestId('auth-error').waitFor();
    await page.getByTestId('login-password').fill('N0ra-Pass-word!');
    await page.getByTestId('auth-submit').click();
    await page.getByTestId('room-list').waitFor();
  });
});

test('profile and status', async (t) => {
  const { alice, bob, a, b, aliceAuth } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await alice.getByTestId('account-menu').click();
    await alice.getByTestId('status-busy').click();
    // Bob sees Alice busy once they share a direct message.
    await rest(server.base, 'chat.postMessage', { method: 'POST', auth: aliceAuth, body: { channel: `@${b}`, text: 'are you there?' } });
    await bob.locator(`[data-testid="room-link"][data-room="${a}"] .dot.busy`).waitFor();

    await alice.getByTestId('account-menu').click();
    await alice.getByTestId('open-profile').click();
    await alice.getByTestId('profile-name').fill('Alice Renamed');
    await alice.getByTestId('profile-current').fill('Us3r-Web-Pass!');
    await alice.getByTestId('profile-save').click();
    await alice.getByTestId('profile-dialog').waitFor({ state: 'hidden' });
    await alice.getByTestId('account-menu').getByText('Alice Renamed').waitFor();

    // A new password, confirmed with the current one (sent as the password second factor;
    // the server skips that check for accounts younger than Accounts_TwoFactorAuthentication_RememberFor).
    await alice.getByTestId('account-menu').click();
    await alice.getByTestId('open-profile').click();
    await alice.getByTestId('profile-new-password').fill('N3w-Passw0rd!');
    await alice.getByTestId('profile-current').fill('Us3r-Web-Pass!');
    await alice.getByTestId('profile-save').click();
    await alice.getByTestId('profile-dialog').waitFor({ state: 'hidden' });
    await login(server.base, a, 'N3w-Passw0rd!');
    noProblems(alice, bob);
  });
});


test('desktop notifications: the system notification when allowed, a toast otherwise', async (t) => {
  const { alice, bob, a, b, bobAuth } = await pair(t);
  // Bob's browser grants notifications; the Notification API is recorded, not shown.
  const carol = `carol${n}`;
  await createUser(server.base, admin, carol, `Carol ${n}`);
  const context = await browser.newContext({ baseURL: server.base });
  await context.addInitScript(() => {
    window.__notes = [];
    window.Notification = class {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      constructor(title, options) {
        window.__notes.push({ title, body: options?.body });
      }
    };
  });
  t.after(() => context.close());
  await withScreenshots(t.name, () => [alice, bob], async () => {
    // Alice (no permission asked yet): a direct message from Bob arrives as a toast that opens it.
    await openRoom(alice, 'general');
    // The account menu offers to enable notifications while the browser has not been asked.
    if ((await alice.evaluate(() => Notification.permission)) === 'default') {
      await alice.getByTestId('account-menu').click();
      await alice.getByTestId('enable-notifications').waitFor();
      await alice.keyboard.press('Escape');
    }
    const dm = await rest(server.base, 'im.create', { method: 'POST', auth: bobAuth, body: { username: a } });
    await rest(server.base, 'chat.sendMessage', { method: 'POST', auth: bobAuth, body: { message: { rid: dm.room._id, msg: 'ping from bob' } } });
    const toast = alice.getByTestId('toast-open');
    await toast.filter({ hasText: 'ping from bob' }).waitFor();
    await toast.click();
    await message(alice, 'ping from bob').waitFor();

    // Carol's browser allows notifications: a mention in a channel she is not looking at.
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.goto('/login');
    await page.getByTestId('login-user').fill(carol);
    await page.getByTestId('login-password').fill('Us3r-Web-Pass!');
    await page.getByTestId('auth-submit').click();
    await page.getByTestId('room-list').waitFor();
    // The stream subscription may still be on its way right after login: mention until heard.
    for (let i = 0; i < 10; i++) {
      await rest(server.base, 'chat.postMessage', { method: 'POST', auth: bobAuth, body: { channel: '#general', text: `hello @${carol}` } });
      const heard = await page.waitForFunction(() => window.__notes.length > 0, null, { timeout: 1_500 }).then(() => true, () => false);
      if (heard) break;
    }
    const notes = await page.evaluate(() => window.__notes);
    assert.equal(notes[0].title, '#general');
    assert.match(notes[0].body, new RegExp(`${b}: hello @${carol}`));
    assert.equal(await page.getByTestId('toast').count(), 0);
    noProblems(alice, bob);
  });
});

test('the emoji picker inserts at the caret, by mouse and by keyboard', async (t) => {
  const { alice, bob } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await openRoom(alice, 'general');
    await openRoom(bob, 'general');
    const composer = alice.getByTestId('composer');
    await composer.fill('nice work');
    await composer.press('End');
    await composer.press('ArrowLeft');
    await composer.press('ArrowLeft');
    await composer.press('ArrowLeft');
    await composer.press('ArrowLeft');
    await alice.getByTestId('emoji-button').click();
    await alice.getByTestId('emoji-picker').waitFor();
    await alice.locator('[data-testid="emoji-picker"] [data-emoji="tada"]').click();
    await alice.getByTestId('emoji-picker').waitFor({ state: 'detached' });
    assert.equal(await composer.inputValue(), 'nice 🎉work');
    // Keyboard: open, the first emoji (the one used last) has focus, arrows move, Enter
    // inserts, Escape closes.
    await composer.press('End');
    await alice.getByTestId('emoji-button').focus();
    await alice.keyboard.press('Enter');
    await alice.getByTestId('emoji-picker').waitFor();
    assert.equal(await alice.evaluate(() => document.activeElement?.getAttribute('data-recent')), 'tada');
    await alice.keyboard.press('ArrowRight');
    assert.equal(await alice.evaluate(() => document.activeElement?.getAttribute('data-emoji')), 'grinning');
    await alice.keyboard.press('ArrowRight');
    await alice.keyboard.press('Enter');
    assert.equal(await composer.inputValue(), 'nice 🎉work😃');
    assert.equal(await alice.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'composer');
    await alice.getByTestId('emoji-button').click();
    // Escape once the open picker holds the focus, as someone sees it open before pressing.
    await alice.waitForFunction(() => Boolean(document.activeElement?.closest('[data-testid="emoji-picker"]')));
    await alice.keyboard.press('Escape');
    await alice.getByTestId('emoji-picker').waitFor({ state: 'detached' });
    assert.equal(await alice.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'emoji-button');
    await composer.press('Enter');
    await message(bob, 'nice 🎉work😃').waitFor();
    noProblems(alice, bob);
  });
});

test('slash commands: the popup offers them, they run on the server, and answers show only to the caller', async (t) => {
  const { alice, bob, a } = await pair(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await openRoom(alice, 'general');
    await openRoom(bob, 'general');
    const composer = alice.getByTestId('composer');

    // Typing `/` at the start offers the commands; choosing one completes it.
    await composer.pressSequentially('/shr', { delay: 20 });
    const option = alice.getByTestId('suggestions').getByRole('option').filter({ hasText: '/shrug' });
    await option.waitFor();
    await option.filter({ hasText: 'your message (optional)' }).waitFor();
    await composer.press('Enter');
    assert.equal(await composer.inputValue(), '/shrug ');
    await composer.pressSequentially(`so it goes ${a}`);
    await composer.press('Enter');
    await message(bob, `so it goes ${a}`).filter({ hasText: '(ツ)' }).waitFor();

    // /me posts action text for everyone.
    await send(alice, `/me waves at ${a}`);
    await message(bob, `waves at ${a}`).locator('em').waitFor();

    // A command's answer is an ephemeral message only the caller sees.
    await send(alice, '/join #nowhere-at-all');
    const answer = message(alice, 'does not exist').filter({ hasText: '#nowhere-at-all' });
    await answer.waitFor();
    await answer.getByTestId('private-note').waitFor();
    assert.equal(await answer.getByTestId('react-button').count(), 0, 'no actions on an ephemeral message');

    // A command the user may not run is refused here, as upstream's client does.
    await send(alice, '/invite @nobody-here');
    await message(alice, 'You do not have enough permissions to execute command').filter({ hasText: '/invite' }).waitFor();

    // An unknown command is refused here and never posted.
    await send(alice, '/frobnicate now');
    await message(alice, 'No such command').filter({ hasText: '/frobnicate' }).waitFor();
    await send(alice, `after the commands ${a}`);
    await message(bob, `after the commands ${a}`).waitFor();
    assert.equal(await message(bob, 'nowhere-at-all').count(), 0);
    assert.equal(await message(bob, 'enough permissions').count(), 0);
    assert.equal(await message(bob, 'frobnicate').count(), 0);
    noProblems(alice, bob);
  });
});
