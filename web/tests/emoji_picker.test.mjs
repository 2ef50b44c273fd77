// The emoji picker of the composer and of reactions: search, categories, recently used emoji
// (kept in the browser), skin tones (a kept preference) that the other person sees, keyboard
// use, and axe checks in both themes.

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
  await createUser(server.base, admin, 'emma', 'Emma Emoji');
  await createUser(server.base, admin, 'toby', 'Toby Tone');
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'emoji-room', members: ['emma', 'toby'] } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const focused = (page, attribute) => page.evaluate((name) => document.activeElement?.getAttribute(name), attribute);

test('search, categories, recent emoji and skin tones; the other person sees the toned emoji', async (t) => {
  const emma = await openAs(browser, server.base, 'emma');
  const toby = await openAs(browser, server.base, 'toby');
  t.after(async () => {
    await emma.context().close();
    await toby.context().close();
  });
  await withScreenshots(t.name, () => [emma, toby], async () => {
    await openRoom(emma, 'emoji-room');
    await openRoom(toby, 'emoji-room');
    const composer = emma.getByTestId('composer');
    const picker = emma.getByTestId('emoji-picker');

    // Categories: a button for each, going to its section.
    await emma.getByTestId('emoji-button').click();
    await picker.waitFor();
    assert.equal(await focused(emma, 'data-emoji'), '+1');
    assert.deepEqual(
      await picker.getByTestId('emoji-tab').evaluateAll((tabs) => tabs.map((tab) => tab.getAttribute('data-tab'))),
      ['people', 'nature', 'food', 'activities', 'objects', 'symbols'],
    );
    await picker.locator('[data-testid="emoji-tab"][data-tab="symbols"]').click();
    assert.equal(await focused(emma, 'data-emoji'), 'heart');
    await axe(emma, 'emoji picker');

    // Search: only what matches; Enter on the first result inserts it.
    await picker.getByTestId('emoji-search').fill('rock');
    assert.deepEqual(await picker.locator('[data-emoji]').evaluateAll((b) => b.map((x) => x.getAttribute('data-emoji'))), ['rocket']);
    await picker.getByTestId('emoji-search').press('ArrowDown');
    assert.equal(await focused(emma, 'data-emoji'), 'rocket');
    await emma.keyboard.press('Enter');
    await picker.waitFor({ state: 'detached' });
    assert.equal(await composer.inputValue(), '🚀');
    await emma.getByTestId('emoji-button').click();
    await picker.getByTestId('emoji-search').fill('zzzzqq');
    await picker.getByRole('status').filter({ hasText: 'No emoji found' }).waitFor();
    await emma.keyboard.press('Escape');
    await picker.waitFor({ state: 'detached' });
    assert.equal(await focused(emma, 'data-testid'), 'emoji-button');

    // Skin tone: hands take it, and the choice is kept.
    await emma.getByTestId('emoji-button').click();
    await picker.locator('[data-recent="rocket"]').waitFor();
    await picker.getByTestId('emoji-tone').selectOption('3');
    await picker.locator('[data-emoji="+1_tone3"]').click();
    assert.equal(await composer.inputValue(), '🚀👍🏽');
    await composer.press('Enter');
    const sent = message(toby, '🚀');
    await sent.waitFor();
    // The other person sees the toned hand's own picture.
    await toby.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid="message"] .twemoji')].some((s) => getComputedStyle(s).backgroundImage.includes('/emoji/1f44d-1f3fd.svg')),
    );

    // After a reload: the tone and the recent emoji are still there, newest first.
    await emma.reload();
    await openRoom(emma, 'emoji-room');
    await emma.getByTestId('emoji-button').click();
    await picker.waitFor();
    assert.equal(await picker.getByTestId('emoji-tone').inputValue(), '3');
    assert.deepEqual(await picker.locator('[data-recent]').evaluateAll((b) => b.map((x) => x.getAttribute('data-recent'))), ['+1_tone3', 'rocket']);
    await emma.keyboard.press('Escape');
    assert.deepEqual(emma.problems, []);
    assert.deepEqual(toby.problems, []);
  });
});

test('the same picker reacts; the reaction with a skin tone reaches the other person', async (t) => {
  const emmaAuth = await login(server.base, 'emma', 'Us3r-Web-Pass!');
  const { channel } = await rest(server.base, 'channels.info?roomName=emoji-room', { auth: emmaAuth });
  await rest(server.base, 'chat.sendMessage', { method: 'POST', auth: emmaAuth, body: { message: { rid: channel._id, msg: 'react to me' } } });
  const emma = await openAs(browser, server.base, 'emma');
  const toby = await openAs(browser, server.base, 'toby', undefined, { colorScheme: 'dark' });
  t.after(async () => {
    await emma.context().close();
    await toby.context().close();
  });
  await withScreenshots(t.name, () => [emma, toby], async () => {
    await openRoom(emma, 'emoji-room');
    await openRoom(toby, 'emoji-room');
    const item = message(toby, 'react to me');
    await item.hover();
    await item.getByTestId('react-button').click();
    const picker = item.getByRole('dialog', { name: 'Add reaction' });
    await picker.waitFor();
    await axe(toby, 'reaction picker, dark');
    await picker.getByTestId('emoji-tone').selectOption('5');
    await picker.getByTestId('emoji-search').fill('clap');
    await picker.locator('[data-emoji="clap_tone5"]').click();
    await picker.waitFor({ state: 'detached' });
    const reaction = message(emma, 'react to me').locator('[data-testid="reaction"][data-emoji=":clap_tone5:"]');
    await reaction.waitFor();
    assert.match(await reaction.locator('.twemoji').evaluate((s) => getComputedStyle(s).backgroundImage), /\/emoji\/1f44f-1f3ff\.svg/);
    // Escape closes the reaction picker and gives the focus back to its button.
    await item.hover();
    await item.getByTestId('react-button').click();
    await picker.waitFor();
    await toby.keyboard.press('Escape');
    await picker.waitFor({ state: 'detached' });
    assert.equal(await focused(toby, 'data-testid'), 'react-button');
    assert.deepEqual(emma.problems, []);
    assert.deepEqual(toby.problems, []);
  });
});
