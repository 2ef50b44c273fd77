// The interface languages beyond English and the right-to-left three: switching from the
// account menu, Urdu's right-to-left layout, and the browser's language chosen on first visit.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, createUser, login, withScreenshots, openRoom, ADMIN } from './harness.mjs';

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

test('French from the account menu, then Urdu right to left; Log out stays in sight', async (t) => {
  await createUser(server.base, admin, 'claire', 'Claire');
  const page = await openAs(browser, server.base, 'claire', undefined, { viewport: { width: 1366, height: 800 } });
  t.after(() => page.context().close());
  await withScreenshots(t.name, () => [page], async () => {
    await page.getByTestId('account-menu').click();
    // All twelve languages are offered, each in its own name and language.
    for (const [code, name] of [['fr', 'Français'], ['es', 'Español'], ['pt-BR', 'Português (Brasil)'], ['de', 'Deutsch'], ['tr', 'Türkçe'], ['ru', 'Русский'], ['zh', '中文（简体）'], ['ur', 'اردو']]) {
      const item = page.getByTestId(`lang-${code}`);
      assert.equal((await item.textContent())?.trim(), name);
      assert.equal(await item.getAttribute('lang'), code);
    }
    assert.ok(await page.getByTestId('logout').isVisible(), 'Log out is visible with twelve languages listed');
    await page.getByTestId('lang-fr').click();
    await page.waitForFunction(() => document.documentElement.lang === 'fr' && document.documentElement.dir === 'ltr');
    await page.keyboard.press('Escape');
    await page.getByText('Canaux', { exact: true }).first().waitFor();
    assert.equal(await page.getByTestId('room-filter').getAttribute('placeholder'), 'Filtrer les salons');
    await openRoom(page, 'general');
    assert.equal(await page.getByTestId('composer').getAttribute('placeholder'), 'Message dans #general');

    await page.getByTestId('account-menu').click();
    await page.getByTestId('lang-ur').click();
    await page.waitForFunction(() => document.documentElement.lang === 'ur' && document.documentElement.dir === 'rtl');
    await page.keyboard.press('Escape');
    await page.getByText('چینلز', { exact: true }).first().waitFor();
    const box = await page.getByTestId('room-list').boundingBox();
    assert.ok(box && box.x > (page.viewportSize()?.width ?? 1366) / 2, `sidebar on the right, x=${box?.x}`);
    assert.equal(await page.getByTestId('composer').getAttribute('placeholder'), '#general میں پیغام لکھیں');
    // The choice survives a reload.
    await page.reload();
    await page.getByText('چینلز', { exact: true }).first().waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dir), 'rtl');
    assert.deepEqual(page.problems, []);
  });
});

test('a first visit follows the browser: pt-PT gets Brazilian Portuguese, zh-CN Chinese', async (t) => {
  await createUser(server.base, admin, 'joao', 'João');
  await createUser(server.base, admin, 'wei', 'Wei');
  const pt = await openAs(browser, server.base, 'joao', undefined, { locale: 'pt-PT' });
  const zh = await openAs(browser, server.base, 'wei', undefined, { locale: 'zh-CN' });
  t.after(async () => {
    await pt.context().close();
    await zh.context().close();
  });
  await withScreenshots(t.name, () => [pt, zh], async () => {
    assert.equal(await pt.evaluate(() => document.documentElement.lang), 'pt-BR');
    assert.equal(await pt.getByTestId('room-filter').getAttribute('placeholder'), 'Filtrar salas');
    assert.equal(await zh.evaluate(() => document.documentElement.lang), 'zh');
    assert.equal(await zh.getByTestId('room-filter').getAttribute('placeholder'), '筛选房间');
    await openRoom(zh, 'general');
    assert.equal(await zh.getByTestId('composer').getAttribute('placeholder'), '发消息到 #general');
  });
});
