// The audit log in the web client (view-audit-log only): filters that map onto audit.log's
// parameters, before/after of each entry, and the JSON lines export; and transparency for
// members: a room shows its owners and moderators, and a message a moderator removed says
// who removed it and when.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, launchBrowser, openAs, createUser, login, rest, withScreenshots, openRoom, send, message, ADMIN, TIMEOUT, axe } from './harness.mjs';


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

/** A datetime-local value (the browser's local time) `minutes` from now. */
function localInput(minutes) {
  const at = new Date(Date.now() + minutes * 60_000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

test('an admin finds a privileged action in the audit log, filters it and exports it', async (t) => {
  await createUser(server.base, admin, 'victim', 'Vic Tim');
  await createUser(server.base, admin, 'bystander', 'Bea Stander');

  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password, { acceptDownloads: true });
  const plain = await openAs(browser, server.base, 'bystander');
  t.after(async () => {
    await page.context().close();
    await plain.context().close();
  });
  await withScreenshots(t.name, () => [page, plain], async () => {
    // The privileged action, through the administration screen.
    await page.goto('/admin/users');
    const row = page.locator('[data-testid="admin-users"] tr[data-username="victim"]');
    await row.getByRole('button', { name: 'Deactivate' }).click();
    await row.getByRole('button', { name: 'Activate' }).waitFor();

    await page.getByTestId('admin-tab-audit').click();
    await page.getByTestId('audit-entries').waitFor();
    // Unfiltered, the admin's own login is there too.
    await page.locator('[data-testid="audit-entry"][data-action="user.login"]').first().waitFor();

    // Filtered by actor and action: only the deactivation.
    await page.getByTestId('audit-actor').fill('admin');
    await page.getByTestId('audit-action').fill('user.deactivate');
    await page.getByTestId('audit-apply').click();
    await page.getByTestId('audit-range').filter({ hasText: /^1–1 of 1$/ }).waitFor();
    const entries = page.getByTestId('audit-entry');
    assert.equal(await entries.count(), 1);
    const entry = entries.first();
    assert.equal(await entry.getAttribute('data-action'), 'user.deactivate');
    assert.equal(await entry.getAttribute('data-actor'), 'admin');
    assert.match(await entry.innerText(), /victim/);
    assert.match(await entry.innerText(), /127\.0\.0\.1/, 'the client address');

    // Before and after open under the entry.
    await entry.getByTestId('audit-toggle').click();
    assert.deepEqual(JSON.parse(await page.getByTestId('audit-before').innerText()), { active: true });
    assert.deepEqual(JSON.parse(await page.getByTestId('audit-after').innerText()), { active: false });
    await axe(page, 'audit log with an entry open');

    // A family prefix and a target select it too; a time range that ended before it does not.
    await page.getByTestId('audit-action').fill('user.');
    await page.getByTestId('audit-target').fill('victim');
    await page.getByTestId('audit-apply').click();
    await page.locator('[data-testid="audit-entry"][data-action="user.deactivate"]').waitFor();
    await page.getByTestId('audit-until').fill(localInput(-60));
    await page.getByTestId('audit-apply').click();
    await page.getByTestId('audit-empty').waitFor();
    await page.getByTestId('audit-until').fill('');
    await page.getByTestId('audit-since').fill(localInput(-60));
    await page.getByTestId('audit-action').fill('user.deactivate');
    await page.getByTestId('audit-apply').click();
    await page.locator('[data-testid="audit-entry"][data-action="user.deactivate"]').waitFor();

    // The export carries the same filters, as JSON lines with the chain's links.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('audit-export').click()]);
    assert.match(download.suggestedFilename(), /\.ndjson$/);
    const text = await readFile(await download.path(), 'utf8');
    const lines = text.trim().split('\n').map((line) => JSON.parse(line));
    assert.equal(lines.length, 1, text);
    assert.equal(lines[0].action, 'user.deactivate');
    assert.equal(lines[0].actor.username, 'admin');
    assert.equal(lines[0].target.name, 'victim');
    assert.match(lines[0].hash, /^[0-9a-f]{64}$/);
    assert.match(lines[0].prevHash, /^[0-9a-f]{64}$/);

    // Clearing the filters shows everything again.
    await page.getByTestId('audit-clear').click();
    await page.locator('[data-testid="audit-entry"][data-action="user.login"]').first().waitFor();

    // Without view-audit-log there is no tab and no log.
    await plain.goto('/admin/audit');
    await plain.getByTestId('admin-forbidden').waitFor();
    assert.equal(await plain.getByTestId('admin-tab-audit').count(), 0);
    assert.equal(await plain.getByTestId('audit-entries').count(), 0);
    assert.deepEqual(page.problems, []);
    assert.deepEqual(plain.problems, []);
  });
});

test('members see who owns and moderates a room, and who removed a message and when', async (t) => {
  const moderator = await createUser(server.base, admin, 'modmia', 'Mia Moderator');
  await createUser(server.base, admin, 'member', 'Max Member');
  const { channel } = await rest(server.base, 'channels.create', {
    method: 'POST',
    auth: admin,
    body: { name: 'townhall', members: ['modmia', 'member'] },
  });
  await rest(server.base, 'channels.addModerator', {
    method: 'POST',
    auth: admin,
    body: { roomId: channel._id, userId: moderator.userId },
  });
  await rest(server.base, 'settings/Message_ShowDeletedStatus', {
    method: 'POST',
    auth: admin,
    body: { value: true },
  });

  const page = await openAs(browser, server.base, 'member');
  t.after(async () => {
    await page.context().close();
  });
  await withScreenshots(t.name, () => [page], async () => {
    await openRoom(page, 'townhall');
    await page.getByTestId('open-members').click();
    const roles = page.getByTestId('room-roles');
    await roles.waitFor();
    await page.locator('[data-testid="room-owners"] li[data-username="admin"]').waitFor();
    await page.locator('[data-testid="room-moderators"] li[data-username="modmia"]').waitFor();
    assert.equal(await page.locator('[data-testid="room-owners"] li[data-username="member"]').count(), 0);
    assert.equal(await page.locator('[data-testid="room-moderators"] li[data-username="member"]').count(), 0);
    await page.locator('[data-testid="members"] li[data-username="modmia"] [data-testid="member-role"][data-role="moderator"]').waitFor();
    await axe(page, 'members panel with room roles');

    // A role given while the panel is open shows without reopening it.
    const member = await login(server.base, 'member', 'Us3r-Web-Pass!');
    await rest(server.base, 'channels.addModerator', {
      method: 'POST',
      auth: admin,
      body: { roomId: channel._id, userId: member.userId },
    });
    await page.locator('[data-testid="room-moderators"] li[data-username="member"]').waitFor();
    await page.getByTestId('close-panel').click();

    // The moderator removes the member's message: the member sees who and when.
    await send(page, 'an off-topic remark');
    await message(page, 'an off-topic remark').waitFor();
    // The page shows the message before the server has stored it: wait for the stored copy.
    let remark;
    for (const deadline = Date.now() + TIMEOUT; !remark && Date.now() < deadline; ) {
      const { messages } = await rest(server.base, `channels.history?roomId=${channel._id}&count=5`, { auth: admin });
      remark = messages.find((m) => m.msg === 'an off-topic remark');
      if (!remark) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(remark, 'the remark was posted');
    await rest(server.base, 'chat.delete', {
      method: 'POST',
      auth: moderator,
      body: { roomId: channel._id, msgId: remark._id },
    });
    const removed = page.locator(`[data-testid="removed-message"][data-id="${remark._id}"]`);
    await removed.waitFor();
    assert.match(await removed.getByTestId('removed-by').innerText(), /@modmia/);
    assert.match(await removed.getByTestId('removed-by').innerText(), /\d/, 'when');
    assert.equal(await message(page, 'an off-topic remark').count(), 0);
    await axe(page, 'timeline with a removed message');
    assert.deepEqual(page.problems, []);
  });

  // The deletion is in the audit log under the moderator's name.
  const { entries } = await rest(server.base, 'audit.log?actor=modmia&action=message.delete', { auth: admin });
  assert.equal(entries.length, 1);
});
