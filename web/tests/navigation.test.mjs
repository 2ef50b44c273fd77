// Navigation in the browser: the quick switcher (Ctrl/⌘+K) over the user's rooms, people and
// public rooms, by keyboard, starting a DM the other person receives; the sidebar's sort,
// unread-on-top and group-by-type options, saved in the user's preferences on the server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, createUser, login, rest, send, message, openRoom, withScreenshots, ADMIN, PASSWORD, axe } from './harness.mjs';


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


const title = (page, name) => page.getByTestId('room-title').filter({ hasText: name });
const option = (page, kind, name) => page.locator(`[data-testid="switcher-option"][data-kind="${kind}"][data-name="${name}"]`);

/** The rooms of a sidebar section, top to bottom. */
async function sectionRooms(page, section) {
  return page.locator(`[data-testid="room-section"][data-section="${section}"] [data-testid="room-link"]`).evaluateAll((links) => links.map((a) => a.dataset.room));
}

test('Ctrl+K: keyboard to a room, to a person (a DM they receive), to a public room; Escape gives focus back', async (t) => {
  await createUser(server.base, admin, 'sasha', 'Sasha Switcher');
  await createUser(server.base, admin, 'quincy', 'Quincy Quick');
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'nav-alpha', members: ['sasha'] } });
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'nav-public' } });
  const sasha = await openAs(browser, server.base, 'sasha');
  let quincy;
  t.after(async () => {
    await sasha.context().close();
    await quincy?.context().close();
  });
  await withScreenshots(t.name, () => [sasha, quincy], async () => {
    // A room of one's own, by keyboard only.
    await sasha.keyboard.press('Control+k');
    const dialog = sasha.getByTestId('quick-switcher');
    await dialog.waitFor();
    const input = sasha.getByTestId('switcher-input');
    assert.ok(await input.evaluate((el) => el === document.activeElement), 'the search field has the focus');
    await input.fill('nav-al');
    await option(sasha, 'sub', 'nav-alpha').waitFor();
    await axe(sasha, 'quick switcher open');
    await input.press('Enter');
    await title(sasha, 'nav-alpha').waitFor();
    await dialog.waitFor({ state: 'detached' });

    // A person without a DM yet: arrows reach them, Enter starts the DM.
    await sasha.keyboard.press('Control+k');
    await input.fill('quinc');
    await option(sasha, 'user', 'quincy').waitFor();
    const kinds = await sasha.getByTestId('switcher-option').evaluateAll((els) => els.map((e) => e.dataset.kind));
    for (let i = 0; i < kinds.indexOf('user'); i++) await input.press('ArrowDown');
    assert.equal(await option(sasha, 'user', 'quincy').getAttribute('aria-selected'), 'true');
    assert.equal(await input.getAttribute('aria-activedescendant'), await option(sasha, 'user', 'quincy').getAttribute('id'));
    await input.press('Enter');
    await title(sasha, 'quincy').waitFor();
    await sasha.getByTestId('composer').waitFor();
    await send(sasha, 'found you through the switcher');

    quincy = await openAs(browser, server.base, 'quincy', PASSWORD);
    await quincy.locator('[data-testid="room-link"][data-room="sasha"]').click();
    await message(quincy, 'found you through the switcher').waitFor();

    // The DM is now one of sasha's rooms: the switcher offers it as such, not as a new DM.
    await sasha.keyboard.press('Control+k');
    await input.fill('quinc');
    await option(sasha, 'sub', 'quincy').waitFor();
    assert.equal(await option(sasha, 'user', 'quincy').count(), 0);

    // A public room sasha has not joined: opens its preview with the offer to join.
    await input.fill('nav-pub');
    await option(sasha, 'room', 'nav-public').click();
    await sasha.getByTestId('join-room').waitFor();

    // Escape closes; the focus returns where it was.
    await sasha.getByTestId('room-filter').focus();
    await sasha.keyboard.press('Control+k');
    await dialog.waitFor();
    await sasha.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.ok(await sasha.getByTestId('room-filter').evaluate((el) => el === document.activeElement), 'focus back on the filter');

    // The sidebar button opens it too.
    await sasha.getByTestId('open-switcher').click();
    await dialog.waitFor();
    await sasha.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.deepEqual(sasha.problems, []);
  });
});

test('sidebar: activity or name order, unread on top, group by type; saved in the preferences', async (t) => {
  const ola = await createUser(server.base, admin, 'ola', 'Ola Order');
  await createUser(server.base, admin, 'una', 'Una Unread');
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'zz-busy', members: ['ola', 'una'] } });
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'aa-quiet', members: ['ola', 'una'] } });
  await rest(server.base, 'chat.postMessage', { method: 'POST', auth: admin, body: { channel: '#zz-busy', text: 'activity here' } });
  const page = await openAs(browser, server.base, 'ola');
  let una;
  t.after(async () => {
    await page.context().close();
    await una?.context().close();
  });
  await withScreenshots(t.name, () => [page, una], async () => {
    const order = async () => (await sectionRooms(page, 'channels')).filter((n) => n === 'zz-busy' || n === 'aa-quiet');
    // Upstream's default: latest activity first.
    assert.deepEqual(await order(), ['zz-busy', 'aa-quiet']);

    // Ola reads the busy room: only what arrives later is unread.
    await openRoom(page, 'zz-busy');
    await page.locator('[data-testid="room-link"][data-room="zz-busy"].unread').waitFor({ state: 'detached' });
    await page.getByTestId('sidebar-options').click();
    await page.getByTestId('sidebar-options-menu').waitFor();
    assert.equal(await page.getByTestId('sidebar-sort-activity').getAttribute('aria-checked'), 'true');
    await axe(page, 'sidebar options open');
    await page.getByTestId('sidebar-sort-alphabetical').click();
    await page.waitForFunction(() => {
      const rooms = [...document.querySelectorAll('[data-section="channels"] [data-testid="room-link"]')].map((a) => a.dataset.room);
      return rooms.indexOf('aa-quiet') < rooms.indexOf('zz-busy');
    });
    const saved = await rest(server.base, 'users.getPreferences', { auth: ola });
    assert.equal(saved.preferences.sidebarSortby, 'alphabetical');

    // Unread on top: a message from another person moves the room to the Unread section.
    await page.getByTestId('sidebar-unread-first').click();
    assert.equal(await page.getByTestId('sidebar-unread-first').getAttribute('aria-checked'), 'true');
    una = await openAs(browser, server.base, 'una');
    await una.locator('[data-testid="room-link"][data-room="aa-quiet"]').click();
    await una.getByTestId('composer').waitFor();
    await send(una, 'anyone here?');
    await page.locator('[data-section="unread"] [data-testid="room-link"][data-room="aa-quiet"]').waitFor();
    assert.ok(!(await sectionRooms(page, 'channels')).includes('aa-quiet'));

    // One list instead of one per kind.
    await page.getByTestId('sidebar-group-by-type').click();
    await page.locator('[data-section="conversations"] [data-testid="room-link"][data-room="zz-busy"]').waitFor();
    assert.equal(await page.locator('[data-section="channels"]').count(), 0);
    await page.keyboard.press('Escape');
    await page.getByTestId('sidebar-options-menu').waitFor({ state: 'detached' });

    const stored = (await rest(server.base, 'users.getPreferences', { auth: ola })).preferences;
    assert.equal(stored.sidebarShowUnread, true);
    assert.equal(stored.sidebarGroupByType, false);

    // Another session of the same user (a reload) lists rooms the same way.
    await page.reload();
    await page.getByTestId('room-list').waitFor();
    await page.locator('[data-section="unread"] [data-testid="room-link"][data-room="aa-quiet"]').waitFor();
    await page.locator('[data-section="conversations"] [data-testid="room-link"][data-room="zz-busy"]').waitFor();
    await page.getByTestId('sidebar-options').click();
    assert.equal(await page.getByTestId('sidebar-sort-alphabetical').getAttribute('aria-checked'), 'true');
    assert.deepEqual(page.problems, []);
  });
});
