// A message's "more" menu in the browser: quoting (the server turns the link into a quote the
// other person sees, which leads back to the message), copying the message's link, forwarding
// to another room, marking the room unread from a message (the sidebar and the "new messages"
// line), going between a thread and its room, who read a message, and code in colour.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, createUser, login, rest, send, openRoom, message, withScreenshots, ADMIN, axe } from './harness.mjs';

let server;
let browser;
let admin;

before(async () => {
  server = await startServer({ OVERWRITE_SETTING_Message_Read_Receipt_Enabled: 'true' });
  browser = await launchBrowser();
  admin = await login(server.base, ADMIN.username, ADMIN.password);
  await createUser(server.base, admin, 'quinn', 'Quinn Quote');
  await createUser(server.base, admin, 'fern', 'Fern Forward');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function openMenu(page, text) {
  // The first such message: a quote of it carries its text too.
  const item = message(page, text).first();
  await item.hover();
  await item.getByTestId('more-button').click();
  const menu = item.getByTestId('message-menu');
  await menu.waitFor();
  return menu;
}

function noProblems(...pages) {
  for (const page of pages) assert.deepEqual(page.problems, [], 'no errors in the console');
}

test('quote, copy link and forward: the other person sees the quote and the forward', async (t) => {
  const quinnAuth = await login(server.base, 'quinn', 'Us3r-Web-Pass!');
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'act-room', members: ['quinn', 'fern'] } });
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'act-other', members: ['quinn', 'fern'] } });
  const { channel } = await rest(server.base, 'channels.info?roomName=act-room', { auth: quinnAuth });
  const posted = await rest(server.base, 'chat.sendMessage', { method: 'POST', auth: quinnAuth, body: { message: { rid: channel._id, msg: 'quote me please' } } });
  const id = posted.message._id;

  const fern = await openAs(browser, server.base, 'fern');
  const quinn = await openAs(browser, server.base, 'quinn');
  await fern.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
  t.after(async () => {
    await fern.context().close();
    await quinn.context().close();
  });
  await withScreenshots(t.name, () => [fern, quinn], async () => {
    await openRoom(fern, 'act-room');
    await openRoom(quinn, 'act-room');

    // The menu: keyboard reachable, named, axe clean; Escape gives the focus back.
    const menu = await openMenu(fern, 'quote me please');
    assert.equal(await fern.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'menu-quote');
    await fern.keyboard.press('ArrowDown');
    assert.equal(await fern.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'menu-copy-link');
    await axe(fern, 'message menu');
    await fern.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    assert.equal(await fern.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'more-button');

    // Quote: the link goes before the text; the other person sees the quoted message.
    await (await openMenu(fern, 'quote me please')).getByTestId('menu-quote').click();
    const composer = fern.getByTestId('composer');
    assert.equal(await composer.inputValue(), `[ ](http://localhost:3000/channel/act-room?msg=${id}) `);
    assert.equal(await fern.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'composer');
    await composer.press('End');
    await composer.type('agreed');
    await composer.press('Enter');
    const quoted = message(quinn, 'agreed');
    await quoted.getByTestId('quote').filter({ hasText: 'quote me please' }).waitFor();
    // The link itself stays out of the text.
    assert.equal(await quoted.getByTestId('message-body').locator('a').count(), 0);
    await quoted.getByTestId('quote-open').click();
    await quinn.locator(`[data-testid="message"].highlighted[data-id="${id}"]`).waitFor();

    // Copy link: the permalink on the clipboard, and a notice.
    await (await openMenu(fern, 'quote me please')).getByTestId('menu-copy-link').click();
    await fern.getByTestId('toast').filter({ hasText: 'Link copied' }).waitFor();
    assert.equal(await fern.evaluate(() => navigator.clipboard.readText()), `http://localhost:3000/channel/act-room?msg=${id}`);

    // Forward to another room, with a comment.
    await (await openMenu(fern, 'quote me please')).getByTestId('menu-forward').click();
    const dialog = fern.getByTestId('forward-dialog');
    await dialog.waitFor();
    await dialog.getByTestId('forward-preview').filter({ hasText: 'quote me please' }).waitFor();
    await dialog.getByTestId('forward-to').fill('act-oth');
    await dialog.locator('[data-testid="forward-match"][data-room="act-other"]').waitFor();
    await dialog.getByTestId('forward-to').press('ArrowDown');
    await dialog.getByTestId('forward-to').press('Enter');
    await dialog.getByTestId('forward-comment').fill('look at this');
    await axe(fern, 'forward dialog');
    await dialog.getByTestId('forward-send').click();
    await dialog.waitFor({ state: 'detached' });
    await fern.getByTestId('toast').filter({ hasText: 'Forwarded to 1 room' }).waitFor();
    await openRoom(quinn, 'act-other');
    await message(quinn, 'look at this').getByTestId('quote').filter({ hasText: 'quote me please' }).waitFor();
    noProblems(fern, quinn);
  });
});

test('mark unread: the room shows unread in the sidebar and the new-messages line is at that message', async (t) => {
  const quinnAuth = await login(server.base, 'quinn', 'Us3r-Web-Pass!');
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'unread-room', members: ['quinn', 'fern'] } });
  for (const text of ['first one', 'second one', 'third one']) {
    await rest(server.base, 'chat.sendMessage', { method: 'POST', auth: quinnAuth, body: { message: { rid: channel._id, msg: text } } });
    await new Promise((r) => setTimeout(r, 5));
  }
  const fern = await openAs(browser, server.base, 'fern');
  t.after(async () => {
    await fern.context().close();
  });
  await withScreenshots(t.name, () => [fern], async () => {
    await openRoom(fern, 'unread-room');
    await message(fern, 'third one').waitFor();
    const link = fern.locator('[data-testid="room-link"][data-room="unread-room"]');
    await fern.waitForFunction(() => !document.querySelector('[data-testid="room-link"][data-room="unread-room"]')?.classList.contains('unread'));
    // One's own messages have no such action.
    await send(fern, 'my own words');
    const own = await openMenu(fern, 'my own words');
    assert.equal(await own.getByTestId('menu-mark-unread').count(), 0);
    await fern.keyboard.press('Escape');

    await (await openMenu(fern, 'second one')).getByTestId('menu-mark-unread').click();
    await fern.getByTestId('toast').waitFor();
    await fern.getByTestId('room-title').waitFor({ state: 'detached' });
    await fern.locator('[data-testid="room-link"][data-room="unread-room"].unread').waitFor();
    await link.click();
    await message(fern, 'third one').waitFor();
    const line = fern.locator('[data-unread]');
    await line.waitFor();
    // The line sits right before "second one".
    const next = await line.evaluate((el) => {
      let node = el.nextElementSibling;
      while (node && !node.querySelector('[data-testid="message"]') && !node.matches('[data-testid="message"]')) node = node.nextElementSibling;
      return (node?.matches('[data-testid="message"]') ? node : node?.querySelector('[data-testid="message"]'))?.textContent ?? '';
    });
    assert.match(next, /second one/);
    noProblems(fern);
  });
});

test('threads: a reply shown in the room opens its thread, and the thread leads back to the room', async (t) => {
  const quinnAuth = await login(server.base, 'quinn', 'Us3r-Web-Pass!');
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'thread-acts', members: ['quinn', 'fern'] } });
  const parent = await rest(server.base, 'chat.sendMessage', { method: 'POST', auth: quinnAuth, body: { message: { rid: channel._id, msg: 'the parent message' } } });
  await rest(server.base, 'chat.sendMessage', { method: 'POST', auth: quinnAuth, body: { message: { rid: channel._id, msg: 'a reply also in the room', tmid: parent.message._id, tshow: true } } });
  const fern = await openAs(browser, server.base, 'fern');
  t.after(async () => {
    await fern.context().close();
  });
  await withScreenshots(t.name, () => [fern], async () => {
    await openRoom(fern, 'thread-acts');
    const reply = message(fern, 'a reply also in the room').first();
    await reply.getByTestId('in-thread-link').click();
    const panel = fern.getByTestId('panel-thread');
    await panel.getByText('the parent message').first().waitFor();
    // From the thread: the message in the room.
    const inThread = panel.getByTestId('message').filter({ hasText: 'a reply also in the room' });
    await inThread.hover();
    await inThread.getByTestId('more-button').click();
    await inThread.getByTestId('menu-show-in-room').click();
    await fern.locator(`[data-testid="message"].highlighted[data-id="${parent.message._id}"]`).first().waitFor();
    await panel.getByTestId('close-panel').click();
    await panel.waitFor({ state: 'detached' });
    // The parent's menu in the room opens its thread too.
    await (await openMenu(fern, 'the parent message')).getByTestId('menu-open-thread').click();
    await panel.waitFor();
    noProblems(fern);
  });
});

test('read receipts: the author sees who read the message', async (t) => {
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'receipts-room', members: ['quinn', 'fern'] } });
  const quinn = await openAs(browser, server.base, 'quinn');
  let fern;
  t.after(async () => {
    await quinn.context().close();
    await fern?.context().close();
  });
  await withScreenshots(t.name, () => [quinn, fern], async () => {
    await openRoom(quinn, 'receipts-room');
    await send(quinn, 'did you read this');
    const mine = message(quinn, 'did you read this');
    await mine.locator('[data-testid="read-tick"][data-read="false"]').waitFor();
    fern = await openAs(browser, server.base, 'fern');
    await openRoom(fern, 'receipts-room');
    await message(fern, 'did you read this').waitFor();
    // Fern's client tells the server it read the room a moment after showing it.
    const quinnAuth = await login(server.base, 'quinn', 'Us3r-Web-Pass!');
    const { messages } = await rest(server.base, `channels.messages?roomId=${channel._id}`, { auth: quinnAuth });
    const mid = messages.find((m) => m.msg === 'did you read this')._id;
    for (let i = 0; i < 50; i++) {
      const { receipts } = await rest(server.base, `chat.getMessageReadReceipts?messageId=${mid}`, { auth: quinnAuth });
      if (receipts.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await (await openMenu(quinn, 'did you read this')).getByTestId('menu-read-by').click();
    const dialog = quinn.getByTestId('read-receipts-dialog');
    await dialog.locator('[data-testid="read-receipt"][data-username="fern"]').waitFor();
    await axe(quinn, 'read receipts dialog');
    await quinn.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    noProblems(quinn, fern);
  });
});

test('code blocks are highlighted once the highlighter loads', async (t) => {
  await rest(server.base, 'channels.create', { method: 'POST', auth: admin, body: { name: 'code-room', members: ['quinn'] } });
  const quinn = await openAs(browser, server.base, 'quinn');
  t.after(async () => {
    await quinn.context().close();
  });
  await withScreenshots(t.name, () => [quinn], async () => {
    const scripts = [];
    quinn.on('request', (request) => {
      if (request.resourceType() === 'script') scripts.push(request.url());
    });
    await openRoom(quinn, 'code-room');
    await send(quinn, 'no code here');
    await message(quinn, 'no code here').waitFor();
    assert.ok(!scripts.some((url) => /highlight/.test(url)), 'the highlighter waits for a code block');
    const composer = quinn.getByTestId('composer');
    await composer.fill('```js\nconst answer = 42; // the answer\n```');
    await composer.press('Enter');
    const code = message(quinn, 'const answer').locator('pre code');
    await code.and(quinn.locator('[data-highlighted="js"]')).waitFor();
    await code.locator('.hljs-keyword', { hasText: 'const' }).waitFor();
    await code.locator('.hljs-comment').waitFor();
    assert.equal(await code.textContent(), 'const answer = 42; // the answer');
    await axe(quinn, 'highlighted code');
    noProblems(quinn);
  });
});

test('read ticks: one\'s own message turns read only once the other person has opened the room', async (t) => {
  const tess = await createUser(server.base, admin, 'tess', 'Tess Ticks');
  await createUser(server.base, admin, 'ulla', 'Ulla Reader');
  await rest(server.base, 'im.create', { method: 'POST', auth: tess, body: { username: 'ulla' } });
  const sender = await openAs(browser, server.base, 'tess');
  let reader;
  t.after(async () => {
    await sender.context().close();
    await reader?.context().close();
  });
  await withScreenshots(t.name, () => [sender, reader], async () => {
    await openRoom(sender, 'ulla');
    await send(sender, 'tick me when read');
    const tick = message(sender, 'tick me when read').locator('[data-testid="read-tick"]');
    await tick.waitFor();
    assert.equal(await tick.getAttribute('data-read'), 'false');
    // Tess's client has read her room past her own message (so she holds nothing back)…
    const { messages } = await rest(server.base, 'im.messages?username=ulla', { auth: tess });
    const sent = messages.find((m) => m.msg === 'tick me when read');
    for (let i = 0; ; i++) {
      const { subscription } = await rest(server.base, `subscriptions.getOne?roomId=${sent.rid}`, { auth: tess });
      if (Date.parse(subscription.ls) >= Date.parse(sent.ts)) break;
      assert.ok(i < 50, 'the sender\'s last read passes her own message');
      await new Promise((r) => setTimeout(r, 200));
    }
    // …and still her message is not read by anyone else: Ulla has not opened the room.
    await sender.waitForTimeout(1000);
    assert.equal(await tick.getAttribute('data-read'), 'false');
    const unread = await rest(server.base, `chat.getMessage?msgId=${sent._id}`, { auth: tess });
    assert.equal(unread.message.unread, true);

    // Ulla opens the conversation: the tick turns read, live.
    reader = await openAs(browser, server.base, 'ulla');
    await openRoom(reader, 'tess');
    await message(reader, 'tick me when read').waitFor();
    await message(sender, 'tick me when read').locator('[data-testid="read-tick"][data-read="true"]').waitFor();
    noProblems(sender, reader);
  });
});

test('forward to a person with no conversation yet: the conversation is created and they get the forward', async (t) => {
  const wes = await createUser(server.base, admin, 'wes', 'Wes Forwarder');
  await createUser(server.base, admin, 'vera', 'Vera Newcontact');
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: wes, body: { name: 'fwd-source' } });
  await rest(server.base, 'chat.sendMessage', { method: 'POST', auth: wes, body: { message: { rid: channel._id, msg: 'pass this along' } } });
  const sender = await openAs(browser, server.base, 'wes');
  const vera = await openAs(browser, server.base, 'vera');
  t.after(async () => {
    await sender.context().close();
    await vera.context().close();
  });
  await withScreenshots(t.name, () => [sender, vera], async () => {
    // Neither has a conversation with the other yet.
    assert.equal(await vera.locator('[data-testid="room-link"][data-room="wes"]').count(), 0);
    await openRoom(sender, 'fwd-source');
    await (await openMenu(sender, 'pass this along')).getByTestId('menu-forward').click();
    const dialog = sender.getByTestId('forward-dialog');
    await dialog.waitFor();
    // Rooms offer no Vera: she is found among people.
    await dialog.getByTestId('forward-to').fill('vera');
    assert.equal(await dialog.getByTestId('forward-match').count(), 0);
    await dialog.getByTestId('forward-to').fill('');
    await dialog.getByTestId('forward-person').fill('ver');
    await dialog.locator('[data-testid="user-picker-match"][data-username="vera"]').waitFor();
    await axe(sender, 'forward dialog with people');
    await dialog.getByTestId('forward-person').press('ArrowDown');
    await dialog.getByTestId('forward-person').press('Enter');
    await dialog.locator('[data-testid="forward-chosen"][data-target="@vera"]').waitFor();
    assert.equal(await dialog.getByTestId('forward-person').inputValue(), '');
    await dialog.getByTestId('forward-comment').fill('thought you should see this');
    await dialog.getByTestId('forward-send').click();
    await dialog.waitFor({ state: 'detached' });
    await sender.getByTestId('toast').filter({ hasText: 'Forwarded to 1 room' }).waitFor();

    // Vera: a new conversation with Wes, holding the forward.
    await vera.locator('[data-testid="room-link"][data-room="wes"]').waitFor();
    await openRoom(vera, 'wes');
    await message(vera, 'thought you should see this').getByTestId('quote').filter({ hasText: 'pass this along' }).waitFor();
    noProblems(sender, vera);
  });
});
