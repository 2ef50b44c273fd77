// The moderation console: reported messages grouped by author and reported users, with
// one-click actions (delete the reported messages, dismiss), shown to holders of
// view-moderation-console only.

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

async function post(auth, text) {
  const { message } = await rest(server.base, 'chat.postMessage', {
    method: 'POST',
    auth,
    body: { roomId: 'GENERAL', text },
  });
  return message;
}

test('a moderator deletes reported messages and dismisses user reports in one click', async (t) => {
  const spammer = await createUser(server.base, admin, 'spammer', 'Sam Spammer');
  const reporter = await createUser(server.base, admin, 'reporter', 'Rita Reporter');
  const troll = await createUser(server.base, admin, 'troll', 'Tom Troll');
  const spam = await post(spammer, 'buy cheap watches');
  const kept = await post(spammer, 'an innocent message');
  for (const description of ['spam', 'more spam']) {
    await rest(server.base, 'chat.reportMessage', {
      method: 'POST',
      auth: reporter,
      body: { messageId: spam._id, description },
    });
  }
  await rest(server.base, 'moderation.reportUser', {
    method: 'POST',
    auth: reporter,
    body: { userId: troll.userId, description: 'rude profile' },
  });

  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  const plain = await openAs(browser, server.base, 'reporter');
  t.after(async () => {
    await page.context().close();
    await plain.context().close();
  });
  await withScreenshots(t.name, () => [page, plain], async () => {
    await page.goto('/admin/moderation');
    const authors = page.getByTestId('reported-authors');
    const row = authors.locator('tr[data-username="spammer"]');
    await row.waitFor();
    assert.match(await row.innerText(), /buy cheap watches/);
    assert.match(await row.innerText(), /\b2\b/, 'two reports');

    // The author's reported messages open under the row.
    await row.getByTestId('show-reported-messages').click();
    const messages = page.getByTestId('reported-messages');
    await messages.waitFor();
    assert.match(await messages.innerText(), /buy cheap watches/);
    assert.doesNotMatch(await messages.innerText(), /innocent/);

    // Delete the reported messages: the message goes, the reports close, the rest stays.
    await row.getByTestId('delete-reported-messages').click();
    await page.getByTestId('no-reported-messages').waitFor();
    const { total } = await rest(server.base, 'moderation.reportsByUsers', { auth: admin });
    assert.equal(total, 0);
    await assert.rejects(
      rest(server.base, `chat.getMessage?msgId=${spam._id}`, { auth: admin }),
      /400/,
    );
    await rest(server.base, `chat.getMessage?msgId=${kept._id}`, { auth: admin });

    // Reported users: dismiss.
    const users = page.getByTestId('reported-users');
    const trollRow = users.locator('tr[data-username="troll"]');
    await trollRow.waitFor();
    await trollRow.getByTestId('dismiss-user-reports').click();
    await page.getByTestId('no-reported-users').waitFor();
    const userReports = await rest(server.base, 'moderation.userReports', { auth: admin });
    assert.equal(userReports.total, 0);

    // Without view-moderation-console there is no tab and no console.
    await plain.goto('/admin/moderation');
    await plain.getByTestId('admin-forbidden').waitFor();
    assert.equal(await plain.getByTestId('admin-tab-moderation').count(), 0);
    assert.equal(await plain.getByTestId('reported-authors').count(), 0);
    assert.deepEqual(page.problems, []);
  });
});
