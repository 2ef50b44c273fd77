// Automatic translation in Chromium against a real comet running its built-in engine with real
// models (Firefox Translations' English<->Portuguese pair; scripts/test-web.sh points
// COMET_TRANSLATION_MODELS at them): the admin turns it on in the settings screen, a member
// reads a room in Portuguese and flips a message back to its original, and translates one
// message of a room they do not read translated.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import {
  startServer, launchBrowser, openAs, createUser, login, rest, withScreenshots, openRoom, send, message, ADMIN,
} from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** No serious or critical accessibility violation on the page (axe-core). */
async function axe(page, label) {
  // Evaluated through the devtools protocol: the page's CSP rightly refuses inline scripts.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // @ts-ignore: injected above.
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${label}: ${JSON.stringify(serious, null, 1)}`);
}

// A translation takes a moment on a debug build's first use of a model (it loads it).
const TRANSLATED = 60_000;

let server;
let browser;
let admin;

before(async () => {
  if (!process.env.COMET_TRANSLATION_MODELS) {
    throw new Error('COMET_TRANSLATION_MODELS is unset: run through scripts/test-web.sh (it fetches the models)');
  }
  server = await startServer();
  browser = await launchBrowser();
  admin = await login(server.base, ADMIN.username, ADMIN.password);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function noProblems(...list) {
  for (const page of list) assert.deepEqual(page.problems, [], 'console errors or CSP violations');
}

async function autoTranslateEnabled() {
  const body = await (await fetch(`${server.base}/api/v1/settings.public?_id=AutoTranslate_Enabled`)).json();
  return body.settings?.[0]?.value === true;
}

test('admin enables auto-translate; a member reads a room in Portuguese, toggles the original, and translates one message', async (t) => {
  // Members choose for themselves (upstream's default keeps `auto-translate` to admins).
  await rest(server.base, 'permissions.update', {
    method: 'POST',
    auth: admin,
    body: { permissions: [{ _id: 'auto-translate', roles: ['admin', 'user'] }] },
  });
  const annAuth = await createUser(server.base, admin, 'ann', 'Ann Author');
  const benAuth = await createUser(server.base, admin, 'ben', 'Ben Reader');
  await rest(server.base, 'channels.create', { method: 'POST', auth: annAuth, body: { name: 'translated', members: ['ben'] } });
  await rest(server.base, 'channels.create', { method: 'POST', auth: annAuth, body: { name: 'plain', members: ['ben'] } });

  // Ben is already in when the setting changes: the menu item appears live.
  const ben = await openAs(browser, server.base, 'ben');
  const boss = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  const ann = await openAs(browser, server.base, 'ann');
  t.after(async () => {
    for (const page of [ben, boss, ann]) await page.context().close();
  });
  await withScreenshots(t.name, () => [ben, boss, ann], async () => {
    await openRoom(ben, 'translated');
    await ben.getByTestId('room-menu').click();
    await ben.getByTestId('set-topic').or(ben.getByTestId('leave-room')).first().waitFor();
    assert.equal(await ben.getByTestId('open-translation').count(), 0, 'no translation item while disabled');

    // The admin finds the AutoTranslate settings (with their group) and turns it on.
    await boss.getByTestId('account-menu').click();
    await boss.getByTestId('open-admin').click();
    await boss.getByTestId('admin-tab-settings').click();
    await boss.getByTestId('setting-filter').fill('AutoTranslate');
    await boss.locator('#setting-AutoTranslate_ServiceProvider').waitFor();
    assert.equal(await boss.locator('#setting-AutoTranslate_ServiceProvider').inputValue(), 'comet-builtin');
    const providers = await boss.locator('#setting-AutoTranslate_ServiceProvider option').allTextContents();
    assert.ok(providers.includes('libre-translate'), `provider choices: ${providers}`);
    await boss.getByTestId('admin-settings').getByTestId('setting-group').filter({ hasText: 'AutoTranslate' }).first().waitFor();
    await boss.locator('#setting-AutoTranslate_Enabled').check();
    await boss.getByTestId('toast').waitFor();
    assert.ok(await autoTranslateEnabled(), 'AutoTranslate_Enabled saved');

    // Ben picks Portuguese for the room and switches translation on.
    await ben.getByTestId('open-translation').click();
    const panel = ben.getByTestId('panel-translation');
    await panel.getByTestId('translation-language').locator('option[value="pt"]').waitFor({ state: 'attached' });
    await panel.getByTestId('translation-language').selectOption('pt');
    await panel.getByTestId('translation-switch').check();
    const rid = await roomId('translated');
    await waitFor(async () => {
      const { subscription } = await rest(server.base, `subscriptions.getOne?roomId=${rid}`, { auth: benAuth });
      return subscription.autoTranslate === true && subscription.autoTranslateLanguage === 'pt';
    }, 'the subscription to translate into Portuguese');
    assert.equal(await panel.getByTestId('translation-language').inputValue(), 'pt');

    // Ann writes in English; Ben reads it in Portuguese, and can flip to the original.
    const english = 'Good morning, how are you today?';
    await openRoom(ann, 'translated');
    await send(ann, english);
    await message(ann, english).waitFor();
    const body = ben.locator('[data-testid="message-body"][data-translated="pt"]');
    await body.waitFor({ timeout: TRANSLATED });
    const portuguese = (await body.innerText()).toLowerCase();
    assert.ok(portuguese.includes('bom dia'), `not Portuguese: ${portuguese}`);
    assert.equal(await body.getAttribute('lang'), 'pt');
    const translatedMessage = ben.getByTestId('message').filter({ has: body });
    await translatedMessage.locator('[data-testid="translation-note"][data-showing="translation"]').filter({ hasText: 'Translated' }).waitFor();
    await translatedMessage.getByTestId('translation-toggle').click();
    await message(ben, english).locator('[data-testid="translation-note"][data-showing="original"]').waitFor();
    assert.equal(await ben.locator('[data-translated="pt"]').count(), 0, 'the original shows');
    await message(ben, english).getByTestId('translation-toggle').click();
    await body.waitFor();
    await axe(ben, 'translation panel and a translated message');
    // Ann, who did not choose a language, keeps reading her own words.
    assert.equal(await ann.locator('[data-translated]').count(), 0);

    // A room Ben does not read translated: "Translate" on one Portuguese message.
    const original = 'Bom dia, como você está?';
    await openRoom(ann, 'plain');
    await send(ann, original);
    await openRoom(ben, 'plain');
    const posted = message(ben, original);
    await posted.waitFor();
    await posted.hover();
    await posted.getByTestId('translate-button').click();
    const english2 = ben.locator('[data-testid="message-body"][data-translated="en"]');
    await english2.waitFor({ timeout: TRANSLATED });
    const translatedText = (await english2.innerText()).toLowerCase();
    assert.ok(translatedText.includes('good morning'), `not English: ${translatedText}`);
    const onDemand = ben.getByTestId('message').filter({ has: english2 });
    await onDemand.getByTestId('translation-toggle').click();
    await message(ben, original).locator('[data-testid="translation-note"][data-showing="original"]').waitFor();
    noProblems(ben, boss, ann);
  });
});

test('in Arabic the panel and the translated message read right to left', async (t) => {
  // The first test left AutoTranslate_Enabled on and `auto-translate` with users.
  assert.ok(await autoTranslateEnabled());
  const authorAuth = await createUser(server.base, admin, 'omar', 'Omar');
  const readerAuth = await createUser(server.base, admin, 'layla', 'ليلى');
  const { channel } = await rest(server.base, 'channels.create', { method: 'POST', auth: authorAuth, body: { name: 'rtl-translated', members: ['layla'] } });
  await rest(server.base, 'autotranslate.saveSettings', {
    method: 'POST',
    auth: readerAuth,
    body: { roomId: channel._id, field: 'autoTranslate', value: true, defaultLanguage: 'pt' },
  });
  await rest(server.base, 'chat.postMessage', { method: 'POST', auth: authorAuth, body: { roomId: channel._id, text: 'Thank you very much' } });
  const layla = await openAs(browser, server.base, 'layla', undefined, { locale: 'ar' });
  t.after(async () => {
    await layla.context().close();
  });
  await withScreenshots(t.name, () => [layla], async () => {
    assert.equal(await layla.evaluate(() => document.documentElement.dir), 'rtl');
    await openRoom(layla, 'rtl-translated');
    const body = layla.locator('[data-testid="message-body"][data-translated="pt"]');
    await body.waitFor({ timeout: TRANSLATED });
    assert.ok((await body.innerText()).toLowerCase().includes('obrigad'));
    const note = layla.getByTestId('message').filter({ has: body }).getByTestId('translation-note');
    await note.filter({ hasText: 'مترجمة' }).waitFor();
    await note.getByTestId('translation-toggle').filter({ hasText: 'عرض الأصل' }).waitFor();
    await layla.getByTestId('room-menu').click();
    await layla.getByTestId('open-translation').filter({ hasText: 'الترجمة' }).click();
    await layla.getByTestId('panel-translation').getByTestId('translation-switch').waitFor();
    assert.equal(await layla.getByTestId('translation-switch').isChecked(), true);
    assert.equal(await layla.getByTestId('translation-language').inputValue(), 'pt');
    // Languages are named in the interface's language (the server names them in English).
    const named = await layla.getByTestId('translation-language').locator('option[value="pt"]').innerText();
    assert.match(named, /البرتغالية/);
    await axe(layla, 'translation in Arabic');

    // Turned off by the admin: the panel closes and the original shows, live.
    await rest(server.base, 'settings/AutoTranslate_Enabled', { method: 'POST', auth: admin, body: { value: false } });
    await layla.getByTestId('panel-translation').waitFor({ state: 'detached' });
    await message(layla, 'Thank you very much').waitFor();
    assert.equal(await layla.locator('[data-translated]').count(), 0);
    noProblems(layla);
  });
});

async function roomId(name) {
  const { room } = await rest(server.base, `rooms.info?roomName=${name}`, { auth: admin });
  return room._id;
}

async function waitFor(check, what, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}
