// Notification preferences in the browser: a room's own (rooms.saveNotification: desktop,
// mobile, email, sound, mute @all/@here, hide the unread count, which the sidebar then honours
// when another person writes), back to the account's; and the account's (users.setPreferences).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, createUser, login, rest, send, openRoom, withScreenshots, ADMIN, axe } from './harness.mjs';


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


const link = (page, name) => page.locator(`[data-testid="room-link"][data-room="${name}"]`);

test("a room's notification preferences: saved on the subscription, the hidden unread count honoured, back to default", async (t) => {
  const pia = await createUser(server.base, admin, 'pia', 'Pia Prefs');
  await createUser(server.base, admin, 'rex', 'Rex Writer');
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'quiet-room', members: ['pia', 'rex'] } });
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'loud-room', members: ['pia', 'rex'] } });
  const page = await openAs(browser, server.base, 'pia');
  let rex;
  t.after(async () => {
    await page.context().close();
    await rex?.context().close();
  });
  await withScreenshots(t.name, () => [page, rex], async () => {
    await openRoom(page, 'quiet-room');
    await page.getByTestId('room-menu').click();
    await page.getByTestId('open-room-notifications').click();
    const dialog = page.getByTestId('room-notifications');
    await dialog.waitFor();
    assert.equal(await page.getByTestId('notif-desktop').inputValue(), 'default');
    await axe(page, 'room notification preferences');
    await page.getByTestId('notif-desktop').selectOption('nothing');
    await page.getByTestId('notif-mobile').selectOption('mentions');
    await page.getByTestId('notif-email').selectOption('all');
    await page.getByTestId('notif-sound').selectOption('none');
    await page.getByTestId('notif-mute-group').check();
    await page.getByTestId('notif-hide-unread').check();
    await page.getByTestId('notif-save').click();
    await dialog.waitFor({ state: 'detached' });

    const { subscription } = await rest(server.base, `subscriptions.getOne?roomId=${channel._id}`, { auth: pia });
    assert.equal(subscription.desktopNotifications, 'nothing');
    assert.equal(subscription.mobilePushNotifications, 'mentions');
    assert.equal(subscription.emailNotifications, 'all');
    assert.equal(subscription.audioNotificationValue, 'none');
    assert.equal(subscription.muteGroupMentions, true);
    assert.equal(subscription.hideUnreadStatus, true);

    // Another person writes in both rooms while pia is elsewhere: only the other room shows
    // its count.
    await page.goto('/');
    await page.getByTestId('room-list').waitFor();
    rex = await openAs(browser, server.base, 'rex');
    await openRoom(rex, 'quiet-room');
    await send(rex, 'psst, quiet room');
    await openRoom(rex, 'loud-room');
    await send(rex, 'hello loud room');
    // Channel messages without a mention mark the room (upstream's default Unread_Count counts
    // only mentions): the loud room turns bold, the quiet one stays as it was.
    await page.locator('[data-testid="room-link"][data-room="loud-room"].unread').waitFor();
    const deadline = Date.now() + 10_000;
    while (!(await rest(server.base, `subscriptions.getOne?roomId=${channel._id}`, { auth: pia })).subscription.alert) {
      assert.ok(Date.now() < deadline, 'the quiet room never marked the message');
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.waitForTimeout(300);
    assert.equal(await link(page, 'quiet-room').evaluate((a) => a.classList.contains('unread')), false);
    assert.equal(await link(page, 'quiet-room').getByTestId('unread-badge').count(), 0);

    // The form shows what was saved; Default gives the choice back to the account.
    await openRoom(page, 'quiet-room');
    await page.getByTestId('room-menu').click();
    await page.getByTestId('open-room-notifications').click();
    await dialog.waitFor();
    assert.equal(await page.getByTestId('notif-desktop').inputValue(), 'nothing');
    assert.ok(await page.getByTestId('notif-hide-unread').isChecked());
    await page.getByTestId('notif-desktop').selectOption('default');
    await page.getByTestId('notif-save').click();
    await dialog.waitFor({ state: 'detached' });
    const after = (await rest(server.base, `subscriptions.getOne?roomId=${channel._id}`, { auth: pia })).subscription;
    assert.equal(after.desktopNotifications, undefined);
    assert.equal(after.mobilePushNotifications, 'mentions');
    assert.deepEqual(page.problems, []);
  });
});

test("the account's notification preferences are saved with users.setPreferences and shown again", async (t) => {
  const quinn = await createUser(server.base, admin, 'quill', 'Quill Account');
  const page = await openAs(browser, server.base, 'quill');
  t.after(async () => {
    await page.context().close();
  });
  await withScreenshots(t.name, () => [page], async () => {
    await page.getByTestId('account-menu').click();
    await page.getByTestId('open-preferences').click();
    const dialog = page.getByTestId('account-preferences');
    await dialog.waitFor();
    await axe(page, 'account preferences');
    await page.getByTestId('pref-desktop').selectOption('mentions');
    await page.getByTestId('pref-push').selectOption('nothing');
    await page.getByTestId('pref-email').selectOption('nothing');
    await page.getByTestId('pref-sound').selectOption('ding');
    await page.getByTestId('pref-unread-alert').uncheck();
    await page.getByTestId('pref-save').click();
    await dialog.waitFor({ state: 'detached' });

    const { preferences } = await rest(server.base, 'users.getPreferences', { auth: quinn });
    assert.equal(preferences.desktopNotifications, 'mentions');
    assert.equal(preferences.pushNotifications, 'nothing');
    assert.equal(preferences.emailNotificationMode, 'nothing');
    assert.equal(preferences.newMessageNotification, 'ding');
    assert.equal(preferences.unreadAlert, false);

    await page.reload();
    await page.getByTestId('room-list').waitFor();
    await page.getByTestId('account-menu').click();
    await page.getByTestId('open-preferences').click();
    await dialog.waitFor();
    assert.equal(await page.getByTestId('pref-desktop').inputValue(), 'mentions');
    assert.equal(await page.getByTestId('pref-sound').inputValue(), 'ding');
    assert.equal(await page.getByTestId('pref-unread-alert').isChecked(), false);
    assert.deepEqual(page.problems, []);
  });
});
