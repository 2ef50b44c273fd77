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
    assert.equal(await focused(emma, 'data-emoji'), 'grinning');
    assert.deepEqual(
      await picker.getByTestId('emoji-tab').evaluateAll((tabs) => tabs.map((tab) => tab.getAttribute('data-tab'))),
      ['smileys', 'people', 'nature', 'food', 'travel', 'activities', 'objects', 'symbols', 'flags'],
    );
    await picker.locator('[data-testid="emoji-tab"][data-tab="symbols"]').click();
    assert.equal(await focused(emma, 'data-emoji'), 'atm');
    await axe(emma, 'emoji picker');

    // Search: only what matches, names first; Enter on the first result inserts it.
    await picker.getByTestId('emoji-search').fill('rocket');
    const found = await picker.locator('[data-emoji]').evaluateAll((b) => b.map((x) => x.getAttribute('data-emoji')));
    assert.equal(found[0], 'rocket');
    // Then those whose keywords match (the astronauts' include "rocket").
    assert.ok(found.includes('astronaut') && !found.includes('grinning'), found.join(' '));
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

test('every Unicode emoji: the full catalogue loads on demand, renders names only it knows, and offers them in the picker', async (t) => {
  const emmaAuth = await login(server.base, 'emma', 'Us3r-Web-Pass!');
  const tobyAuth = await login(server.base, 'toby', 'Us3r-Web-Pass!');
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'full-emoji', members: ['emma', 'toby'] } });
  const { channel } = await rest(server.base, 'channels.info?roomName=full-emoji', { auth: emmaAuth });
  const post = (auth, msg) => rest(server.base, 'chat.sendMessage', { method: 'POST', auth, body: { message: { rid: channel._id, msg } } });
  await post(emmaAuth, 'short table only :tada:');
  const toby = await openAs(browser, server.base, 'toby');
  const emma = await openAs(browser, server.base, 'emma');
  t.after(async () => {
    await emma.context().close();
    await toby.context().close();
  });
  const catalogueRequests = [];
  toby.on('request', (request) => {
    if (/\/assets\/emojiCatalogue-[^/]*\.js$/.test(request.url())) catalogueRequests.push(request.url());
  });
  const picture = (locator) => locator.evaluate((s) => getComputedStyle(s).backgroundImage);
  await withScreenshots(t.name, () => [emma, toby], async () => {
    // Emoji of the short table alone: the catalogue stays on the server.
    await openRoom(toby, 'full-emoji');
    await message(toby, 'short table only').locator('.twemoji').waitFor();
    assert.deepEqual(catalogueRequests, []);

    // A name only the full set knows (and a typed character only it knows): drawn once it loads.
    const { message: sent } = await post(emmaAuth, 'a bird :flamingo: and a sloth 🦥 and :flag_jp:');
    const bird = message(toby, 'a bird');
    await bird.locator('[aria-label=":flamingo:"]').waitFor();
    assert.match(await picture(bird.locator('[aria-label=":flamingo:"]')), /\/emoji\/1f9a9\.svg/);
    assert.match(await picture(bird.locator('[aria-label=":sloth:"]')), /\/emoji\/1f9a5\.svg/);
    assert.match(await picture(bird.locator('[aria-label=":flag_jp:"]')), /\/emoji\/1f1ef-1f1f5\.svg/);
    assert.equal(catalogueRequests.length, 1);
    // The picture is shipped.
    assert.equal((await toby.request.get(`${server.base}/emoji/1f9a9.svg`)).status(), 200);

    // A reaction named only in the full set, on a fresh page: its picture, not its name.
    await rest(server.base, 'chat.react', { method: 'POST', auth: tobyAuth, body: { messageId: sent._id, emoji: ':ninja_tone2:', shouldReact: true } });
    await openRoom(emma, 'full-emoji');
    const reaction = message(emma, 'a bird').locator('[data-testid="reaction"][data-emoji=":ninja_tone2:"]');
    await reaction.locator('.twemoji').waitFor();
    assert.match(await picture(reaction.locator('.twemoji')), /\/emoji\/1f977-1f3fc\.svg/);

    // The picker offers the whole set: flags, keywords, skin tones of emoji beyond the hands.
    await emma.getByTestId('emoji-button').click();
    const picker = emma.getByTestId('emoji-picker');
    await picker.waitFor();
    assert.ok((await picker.locator('[data-emoji]').count()) > 1800, 'every emoji is offered');
    await picker.locator('[data-testid="emoji-tab"][data-tab="flags"]').click();
    assert.equal(await picker.locator('[data-section="flags"] [data-emoji="flag_jp"]').count(), 1);
    await picker.getByTestId('emoji-search').fill('japan');
    await picker.locator('[data-emoji="flag_jp"]').waitFor();
    await picker.getByTestId('emoji-tone').selectOption('2');
    await picker.getByTestId('emoji-search').fill('ninja');
    await picker.locator('[data-emoji="ninja_tone2"]').click();
    await picker.waitFor({ state: 'detached' });
    const composer = emma.getByTestId('composer');
    assert.equal(await composer.inputValue(), '🥷🏼');
    // `:` suggestions know the full set's names too.
    await composer.fill(':flaming');
    await emma.getByRole('option', { name: /:flamingo:/ }).waitFor();
    await composer.fill('');

    // Toby reacts with one through the picker; Emma sees its picture.
    const item = message(toby, 'a bird');
    await item.hover();
    await item.getByTestId('react-button').click();
    const reactionPicker = item.getByRole('dialog', { name: 'Add reaction' });
    await reactionPicker.getByTestId('emoji-search').fill('sloth');
    await reactionPicker.locator('[data-emoji="sloth"]').click();
    const sloth = message(emma, 'a bird').locator('[data-testid="reaction"][data-emoji=":sloth:"] .twemoji');
    await sloth.waitFor();
    assert.match(await picture(sloth), /\/emoji\/1f9a5\.svg/);
    assert.deepEqual(emma.problems, []);
    assert.deepEqual(toby.problems, []);
  });
});
