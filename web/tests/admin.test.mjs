// Administration by permission, not by role name: a user who is not an admin but holds a role
// granting `view-user-administration` gets the admin entry and the users screen (and nothing
// more); a user without any administration permission gets no entry and no screen.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openAs, createUser, login, rest, withScreenshots, ADMIN,
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

/** Opens the account menu and tells whether it offers the administration entry. */
async function adminEntryShown(page) {
  await page.getByTestId('account-menu').click();
  await page.getByTestId('open-profile').waitFor();
  const shown = (await page.getByTestId('open-admin').count()) > 0;
  await page.keyboard.press('Escape');
  return shown;
}

/** A custom role holding `permission` (besides whichever roles already hold it). */
async function roleWith(name, permission) {
  const { role } = await rest(server.base, 'roles.create', { method: 'POST', auth: admin, body: { name } });
  const { update } = await rest(server.base, 'permissions.listAll', { auth: admin });
  const holders = update.find((p) => p._id === permission).roles;
  await rest(server.base, 'permissions.update', {
    method: 'POST',
    auth: admin,
    body: { permissions: [{ _id: permission, roles: [...holders, role._id] }] },
  });
  return role;
}

test('a role holding view-user-administration shows the users screen; no permission, no entry', async (t) => {
  const role = await roleWith('user-auditor', 'view-user-administration');
  await createUser(server.base, admin, 'auditor', 'Audrey Auditor');
  await createUser(server.base, admin, 'plain', 'Plain User');
  const auditor = await openAs(browser, server.base, 'auditor');
  const plain = await openAs(browser, server.base, 'plain');
  t.after(async () => {
    await auditor.context().close();
    await plain.context().close();
  });
  await withScreenshots(t.name, () => [auditor, plain], async () => {
    // Neither holds an administration permission yet.
    assert.equal(await adminEntryShown(auditor), false, 'no admin entry before the role');
    assert.equal(await adminEntryShown(plain), false, 'no admin entry for a plain user');

    // The role arrives live: the entry appears without a reload.
    await rest(server.base, 'roles.addUserToRole', {
      method: 'POST',
      auth: admin,
      body: { roleId: role._id, username: 'auditor' },
    });
    await auditor.getByTestId('account-menu').click();
    await auditor.getByTestId('open-admin').click();
    await auditor.waitForURL(/\/admin\/users$/);
    const users = auditor.getByTestId('admin-users');
    await users.locator('tr[data-username="plain"]').waitFor();
    await users.locator('tr[data-username="admin"]').waitFor();
    // Only the section the role opens, and no actions the server would refuse.
    assert.equal(await auditor.getByTestId('admin-tab-users').count(), 1);
    for (const other of ['rooms', 'settings', 'roles', 'permissions']) {
      assert.equal(await auditor.getByTestId(`admin-tab-${other}`).count(), 0, `no ${other} tab`);
    }
    assert.equal(await auditor.getByTestId('admin-new-user').count(), 0);
    assert.equal(await auditor.getByTestId('toggle-admin').count(), 0);
    await auditor.goto('/admin/rooms');
    await auditor.getByTestId('admin-forbidden').waitFor();
    assert.equal(await auditor.getByTestId('admin-rooms').count(), 0);

    // After a reload the permission comes from permissions.listAll and the user's roles.
    await auditor.goto('/admin/users');
    await auditor.getByTestId('admin-users').locator('tr[data-username="plain"]').waitFor();
    await auditor.goto('/');
    await auditor.getByTestId('room-list').waitFor();
    assert.equal(await adminEntryShown(auditor), true, 'admin entry after a reload');

    // The plain user reaches no administration screen, not even by its address.
    assert.equal(await adminEntryShown(plain), false);
    await plain.goto('/admin/users');
    await plain.getByTestId('admin-forbidden').waitFor();
    assert.equal(await plain.getByTestId('admin-users').count(), 0);
    assert.equal(await plain.locator('[data-testid^="admin-tab-"]').count(), 0);

    assert.deepEqual(auditor.problems, []);
    assert.deepEqual(plain.problems, []);
  });
});

test('taking the permission away from the role hides the entry live', async (t) => {
  const role = await roleWith('room-auditor', 'view-room-administration');
  await createUser(server.base, admin, 'roomwatcher', 'Room Watcher');
  await rest(server.base, 'roles.addUserToRole', {
    method: 'POST',
    auth: admin,
    body: { roleId: role._id, username: 'roomwatcher' },
  });
  const page = await openAs(browser, server.base, 'roomwatcher');
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    // The entry opens the first section the user may see: rooms.
    await page.getByTestId('account-menu').click();
    await page.getByTestId('open-admin').click();
    await page.waitForURL(/\/admin\/rooms$/);
    await page.getByTestId('admin-rooms').locator('tr[data-room="general"]').waitFor();
    assert.equal(await page.getByTestId('admin-tab-users').count(), 0);

    const { update } = await rest(server.base, 'permissions.listAll', { auth: admin });
    const holders = update.find((p) => p._id === 'view-room-administration').roles;
    await rest(server.base, 'permissions.update', {
      method: 'POST',
      auth: admin,
      body: { permissions: [{ _id: 'view-room-administration', roles: holders.filter((r) => r !== role._id) }] },
    });
    await page.getByTestId('admin-forbidden').waitFor();
    assert.equal(await page.locator('[data-testid^="admin-tab-"]').count(), 0);
    assert.equal(await adminEntryShown(page), false);
    assert.deepEqual(page.problems, []);
  });
});
