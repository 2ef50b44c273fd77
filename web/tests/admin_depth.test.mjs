// The administration in depth: settings under their groups and sections with a sentence of help,
// searchable, with a "changed" marker and a reset to the default; deleting users (with the
// last-owner question) and deactivating them; the workspace's deployment; the directory's three
// tabs with counts and its sort order; and a new workspace's setup wizard.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openAs, createUser, login, rest, withScreenshots, axe, ADMIN,
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

const settingValue = async (id) => (await rest(server.base, `settings/${id}`, { auth: admin })).value;

test('settings: groups and sections, help, search, changed marker and reset, masked passwords', async (t) => {
  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.goto('/admin/settings');
    const list = page.getByTestId('admin-settings');
    // Upstream's groups and sections, labelled for people, settings in declaration order.
    const accounts = list.locator('section[data-group="Accounts"]');
    await accounts.getByRole('heading', { name: 'Accounts', level: 2 }).waitFor();
    await accounts.getByRole('heading', { name: 'Registration', level: 3 }).waitFor();
    await accounts.getByRole('heading', { name: 'Password rules', level: 3 }).waitFor();
    const general = list.locator('section[data-group="General"] li[data-setting]');
    assert.deepEqual((await general.evaluateAll((items) => items.slice(0, 2).map((li) => li.dataset.setting))), ['Site_Url', 'Site_Name']);
    // Pictures are changed in the Assets tab, not here.
    assert.equal(await list.locator('li[data-setting="Assets_logo"]').count(), 0);

    // A sentence of help, tied to its control.
    const siteName = list.locator('li[data-setting="Site_Name"]');
    assert.match(await siteName.getByTestId('setting-help').textContent(), /workspace name/i);
    assert.equal(await page.locator('#setting-Site_Name').getAttribute('aria-describedby'), 'setting-Site_Name-help');

    // The search finds settings by their help as well as their id.
    await page.getByTestId('setting-filter').fill('secret link');
    await list.locator('li[data-setting="Accounts_RegistrationForm"]').waitFor();
    assert.equal(await list.locator('li[data-setting="Site_Name"]').count(), 0);
    assert.match(await page.getByTestId('settings-count').textContent(), /^\d+ settings?$/);
    await page.getByTestId('setting-filter').fill('no such setting anywhere');
    await page.getByTestId('settings-none').waitFor();
    await page.getByTestId('setting-filter').fill('Site_Name');

    // Changed from its default: marked, and one click puts the default back.
    assert.equal(await siteName.getByTestId('setting-changed').count(), 0);
    assert.equal(await siteName.getByTestId('setting-reset').count(), 0);
    await page.locator('#setting-Site_Name').fill('Orbit Station');
    await siteName.getByTestId('setting-save').click();
    await siteName.getByTestId('setting-changed').waitFor();
    assert.equal(await settingValue('Site_Name'), 'Orbit Station');
    await axe(page, 'settings with a changed setting');
    await siteName.getByRole('button', { name: 'Reset to default Site_Name' }).click();
    await siteName.getByTestId('setting-changed').waitFor({ state: 'detached' });
    assert.equal(await page.locator('#setting-Site_Name').inputValue(), 'Comet');
    assert.equal(await settingValue('Site_Name'), 'Comet');

    // Passwords and keys are never shown in clear.
    await page.getByTestId('setting-filter').fill('SMTP');
    assert.equal(await page.locator('#setting-SMTP_Password').getAttribute('type'), 'password');
    assert.equal(await page.locator('#setting-SMTP_Host').getAttribute('type'), 'text');
    await page.getByTestId('setting-filter').fill('');
    await axe(page, 'settings');
    assert.deepEqual(page.problems, []);
  });
});

test('users: an admin deletes a user (naming the rooms that change hands) and deactivates another', async (t) => {
  const owner = await createUser(server.base, admin, 'leaving', 'Leaving Owner');
  await createUser(server.base, admin, 'staying', 'Staying Member');
  await createUser(server.base, admin, 'dormant', 'Dormant User');
  await rest(server.base, 'channels.create', { method: 'POST', auth: owner, body: { name: 'handover', members: ['staying'] } });
  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  const leaving = await openAs(browser, server.base, 'leaving');
  t.after(async () => {
    await page.context().close();
    await leaving.context().close();
  });
  await withScreenshots(t.name, () => [page, leaving], async () => {
    await page.goto('/admin/users');
    const row = page.locator('[data-testid="admin-users"] tr[data-username="leaving"]');
    // One's own account has no delete or deactivate button.
    const self = page.locator('[data-testid="admin-users"] tr[data-username="admin"]');
    await self.waitFor();
    assert.equal(await self.getByTestId('delete-user').count(), 0);
    assert.equal(await self.getByTestId('toggle-active').count(), 0);

    // Cancelling the first question deletes nothing.
    await row.getByRole('button', { name: 'Delete leaving' }).click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    await axe(page, 'delete user question');
    await dialog.getByTestId('confirm-cancel').click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await rest(server.base, 'users.info?username=leaving', { auth: admin })).user.username, 'leaving');

    // The user is the last owner of a room: the server refuses, the client names the room.
    await row.getByTestId('delete-user').click();
    await page.getByTestId('confirm-ok').click();
    const lastOwner = page.getByTestId('confirm-dialog').filter({ hasText: 'Rooms that would lose their owner' });
    await lastOwner.waitFor();
    assert.match(await lastOwner.textContent(), /These get a new owner: handover\./);
    await lastOwner.getByTestId('confirm-ok').click();
    await row.waitFor({ state: 'detached' });
    await assert.rejects(rest(server.base, 'users.info?username=leaving', { auth: admin }), /40\d/);
    const { members } = await rest(server.base, 'channels.roles?roomName=handover', { auth: admin }).then(
      (r) => ({ members: r.roles }),
    );
    assert.ok(members.some((m) => m.u.username === 'staying' && m.roles.includes('owner')), JSON.stringify(members));

    // The deleted user's own session ends.
    await leaving.reload();
    await leaving.getByTestId('login-user').waitFor();

    // Deactivating and activating again.
    const dormant = page.locator('[data-testid="admin-users"] tr[data-username="dormant"]');
    await dormant.getByRole('button', { name: 'Deactivate' }).click();
    await dormant.getByRole('button', { name: 'Activate' }).waitFor();
    assert.equal((await rest(server.base, 'users.info?username=dormant', { auth: admin })).user.active, false);
    await dormant.getByRole('button', { name: 'Activate' }).click();
    await dormant.getByRole('button', { name: 'Deactivate' }).waitFor();
    assert.equal((await rest(server.base, 'users.info?username=dormant', { auth: admin })).user.active, true);
    // The one refusal is the server's last-owner answer, which the client turned into its question.
    assert.deepEqual(page.problems.filter((p) => !/status of 400/.test(p)), []);
    assert.equal(page.problems.length, 1, page.problems.join('\n'));
  });
});

test('workspace: version, uptime and the deployment (database, instances)', async (t) => {
  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.goto('/admin/workspace');
    const deployment = page.getByTestId('deployment-info');
    await deployment.locator('[data-stat="deployDatabase"]').filter({ hasText: 'sqlite' }).waitFor();
    await deployment.locator('[data-stat="instances"]').filter({ hasText: /^1$/ }).waitFor();
    assert.equal(await deployment.locator('[data-stat="deployMethod"]').textContent(), 'binary');
    assert.match(await page.getByTestId('server-version').textContent(), /\d+\.\d+/);
    await axe(page, 'workspace information');
  });
});

test('directory: channels, users and teams tabs with counts; names sort both ways', async (t) => {
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'aardvark-club' } });
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'zebra-club' } });
  await rest(server.base, 'teams.create', { method: 'POST', auth: admin, body: { name: 'atlas-team', type: 0 } });
  await createUser(server.base, admin, 'browsing', 'Browsing User');
  await createUser(server.base, admin, 'findable', 'Findable Person');
  const page = await openAs(browser, server.base, 'browsing');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    const totals = {};
    for (const type of ['channels', 'users', 'teams']) {
      totals[type] = (await rest(server.base, `directory?type=${type}&count=1`, { auth: admin })).total;
    }
    await page.getByTestId('create-menu').click();
    await page.getByTestId('open-directory').click();
    const dialog = page.getByTestId('directory-dialog');
    await dialog.getByTestId('directory-tab-channels').filter({ hasText: `Channels (${totals.channels})` }).waitFor();
    await dialog.getByTestId('directory-tab-users').filter({ hasText: `Users (${totals.users})` }).waitFor();
    await dialog.getByTestId('directory-tab-teams').filter({ hasText: `Teams (${totals.teams})` }).waitFor();
    const names = () => dialog.getByTestId('directory-room').evaluateAll((items) => items.map((b) => b.dataset.room));
    await dialog.locator('[data-testid="directory-room"][data-room="zebra-club"]').waitFor();
    const ascending = await names();
    assert.ok(ascending.indexOf('aardvark-club') < ascending.indexOf('zebra-club'), ascending.join());
    await dialog.getByTestId('directory-sort').selectOption('desc');
    await page.waitForFunction(() => document.querySelector('[data-testid="directory-room"]')?.getAttribute('data-room') === 'zebra-club');
    const descending = await names();
    assert.ok(descending.indexOf('zebra-club') < descending.indexOf('aardvark-club'), descending.join());

    // A search narrows every tab's count.
    await page.locator('#directory-input').fill('zebra');
    await dialog.getByTestId('directory-tab-channels').filter({ hasText: 'Channels (1)' }).waitFor();
    await dialog.getByTestId('directory-tab-users').filter({ hasText: 'Users (0)' }).waitFor();
    await page.locator('#directory-input').fill('');

    // Users: the keyboard moves between tabs; a person opens their card.
    await dialog.getByTestId('directory-tab-channels').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await dialog.getByTestId('directory-tab-users').getAttribute('aria-selected'), 'true');
    const person = dialog.locator('[data-testid="directory-user"][data-username="findable"]');
    await person.waitFor();
    await axe(page, 'directory users tab');
    await person.click();
    await page.getByTestId('user-card').filter({ hasText: 'Findable Person' }).waitFor();
    assert.deepEqual(page.problems, []);
  });
});

test('a new workspace walks its first administrator through setup; others never see it', async (t) => {
  const fresh = await startServer({ OVERWRITE_SETTING_Show_Setup_Wizard: 'pending' });
  const freshAdmin = await login(fresh.base, ADMIN.username, ADMIN.password);
  await createUser(fresh.base, freshAdmin, 'member', 'Plain Member');
  const member = await openAs(browser, fresh.base, 'member');
  const page = await openAs(browser, fresh.base, ADMIN.username, ADMIN.password);
  t.after(async () => {
    await member.context().close();
    await page.context().close();
    await fresh.stop();
  });
  const value = async (id) => (await rest(fresh.base, `settings/${id}`, { auth: freshAdmin })).value;
  await withScreenshots(t.name, () => [page, member], async () => {
    const wizard = page.getByTestId('setup-wizard');
    await wizard.waitFor();
    // Started: upstream's "in progress".
    await page.waitForFunction(async () => {
      const r = await fetch('/api/v1/settings.public?_id=Show_Setup_Wizard');
      return (await r.json()).settings[0].value === 'in_progress';
    });
    await axe(page, 'setup wizard, first step');
    assert.match(await wizard.getByTestId('setup-step').textContent(), /Step 1 of 3/);
    await wizard.getByTestId('setup-site-name').fill('Harbor Works');
    await wizard.getByTestId('setup-next').click();
    await wizard.getByTestId('setup-registration').getByLabel('Only people with the secret registration link').check();
    await wizard.getByTestId('setup-manual-approval').check();
    await wizard.getByTestId('setup-next').click();
    await wizard.getByTestId('setup-language').selectOption('es');
    await axe(page, 'setup wizard, last step');
    await wizard.getByTestId('setup-next').click();
    await wizard.waitFor({ state: 'detached' });
    assert.equal(await value('Site_Name'), 'Harbor Works');
    assert.equal(await value('Accounts_RegistrationForm'), 'Secret URL');
    assert.equal(await value('Accounts_ManuallyApproveNewUsers'), true);
    assert.equal(await value('Language'), 'es');
    assert.equal(await value('Show_Setup_Wizard'), 'completed');

    // Not shown again, and never to a member.
    await page.reload();
    await page.getByTestId('room-list').waitFor();
    assert.equal(await page.getByTestId('setup-wizard').count(), 0);
    assert.equal(await member.getByTestId('setup-wizard').count(), 0);
    assert.deepEqual(page.problems, []);
  });
});

test('"Later" puts the setup wizard off until the next visit', async (t) => {
  const fresh = await startServer({ OVERWRITE_SETTING_Show_Setup_Wizard: 'pending' });
  const page = await openAs(browser, fresh.base, ADMIN.username, ADMIN.password);
  t.after(async () => {
    await page.context().close();
    await fresh.stop();
  });
  await withScreenshots(t.name, () => [page], async () => {
    const wizard = page.getByTestId('setup-wizard');
    await wizard.getByTestId('setup-later').click();
    await wizard.waitFor({ state: 'detached' });
    const freshAdmin = await login(fresh.base, ADMIN.username, ADMIN.password);
    assert.notEqual((await rest(fresh.base, 'settings/Show_Setup_Wizard', { auth: freshAdmin })).value, 'completed');
    await page.reload();
    await page.getByTestId('setup-wizard').waitFor();
  });
});

