// Invite links in the browser: a room owner copies an invite link from the room menu; a
// newcomer who opens /invite/<token> registers (or someone logs in) and lands in the room; an
// unknown token says so. Also /register/<secret> in Secret URL mode.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openAs, openRoom, createUser, login, rest, withScreenshots, ADMIN, PASSWORD, TIMEOUT,
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

async function anonymousPage() {
  const context = await browser.newContext({ baseURL: server.base });
  context.setDefaultTimeout(TIMEOUT);
  return context.newPage();
}

test('an invite link brings a newcomer and an existing user into the room', async (t) => {
  await rest(server.base, 'groups.create', { method: 'POST', auth: admin, body: { name: 'invite-den' } });
  await createUser(server.base, admin, 'olga', 'Olga Existing');
  const owner = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  const newcomer = await anonymousPage();
  const existing = await anonymousPage();
  t.after(async () => {
    for (const page of [owner, newcomer, existing]) await page.context().close();
  });
  await withScreenshots(t.name, () => [owner, newcomer, existing], async () => {
    await openRoom(owner, 'invite-den');
    await owner.getByTestId('room-menu').click();
    await owner.getByTestId('invite-link').click();
    const toast = owner.getByTestId('toast');
    await toast.filter({ hasText: '/invite/' }).waitFor();
    const url = (await toast.textContent()).match(/https?:\/\/\S+\/invite\/([\w-]+)/);
    assert.ok(url, 'the toast shows the link');
    const token = url[1];

    // A newcomer registers through the link and lands in the room.
    await newcomer.goto(`/invite/${token}`);
    await newcomer.getByTestId('invite-notice').waitFor();
    await newcomer.getByTestId('to-register').click();
    await newcomer.getByTestId('register-name').fill('Nina Newcomer');
    await newcomer.getByTestId('register-email').fill('nina@example.com');
    await newcomer.getByTestId('login-user').fill('nina');
    await newcomer.getByTestId('login-password').fill(PASSWORD);
    await newcomer.getByTestId('auth-submit').click();
    await newcomer.getByTestId('room-title').filter({ hasText: 'invite-den' }).waitFor();
    assert.match(new URL(newcomer.url()).pathname, /^\/group\/invite-den$/);

    // Someone with an account logs in through it.
    await existing.goto(`/invite/${token}`);
    await existing.getByTestId('login-user').fill('olga');
    await existing.getByTestId('login-password').fill(PASSWORD);
    await existing.getByTestId('auth-submit').click();
    await existing.getByTestId('room-title').filter({ hasText: 'invite-den' }).waitFor();

    const listed = await rest(server.base, 'listInvites', { auth: admin });
    assert.equal(listed[0].uses, 2);
  });
});

test('an unknown invite token is reported before anyone logs in', async (t) => {
  const page = await anonymousPage();
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.goto('/invite/not-a-real-token');
    await page.getByTestId('invite-invalid').waitFor();
  });
});

test('/register/<secret> registers in Secret URL mode', async (t) => {
  for (const [id, value] of [['Accounts_RegistrationForm_SecretURL', 'letmein'], ['Accounts_RegistrationForm', 'Secret URL']]) {
    await rest(server.base, `settings/${id}`, { method: 'POST', auth: admin, body: { value } });
  }
  const page = await anonymousPage();
  t.after(async () => {
    await page.context().close();
    await rest(server.base, 'settings/Accounts_RegistrationForm', { method: 'POST', auth: admin, body: { value: 'Public' } });
  });
  await withScreenshots(t.name, () => [page], async () => {
    await page.goto('/register/letmein');
    await page.getByTestId('register-name').fill('Sid Secret');
    await page.getByTestId('register-email').fill('sid@example.com');
    await page.getByTestId('login-user').fill('sid');
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('auth-submit').click();
    await page.getByTestId('room-list').waitFor();
  });
});
