// Two-factor authentication in the web client, in Chromium against a real comet: enrolling
// from the profile dialog (QR code, key, a first code, backup codes shown once), the login
// screen asking for the code after the password (a wrong code refused, the right one
// accepted), a backup code logging in, and turning it off again. TOTP codes are computed
// here (RFC 6238) from the key the page shows.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startServer, launchBrowser, createUser, login, withScreenshots, ADMIN, PASSWORD, TIMEOUT, axe } from './harness.mjs';


let server;
let browser;
let admin;
const pages = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await login(server.base, ADMIN.username, ADMIN.password);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The six-digit TOTP code of a base32 secret, `offset` 30-second steps from now. */
function totp(secret, offset = 0) {
  const counter = Math.floor(Date.now() / 1000 / 30) + offset;
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', base32Decode(secret)).update(message).digest();
  const at = digest[digest.length - 1] & 0x0f;
  const binary = (digest.readUInt32BE(at) & 0x7fffffff) % 1_000_000;
  return String(binary).padStart(6, '0');
}

function wrongCode(secret) {
  const accepted = [-2, -1, 0, 1, 2].map((o) => totp(secret, o));
  for (let n = 1; ; n++) {
    const code = String((n * 7919) % 1_000_000).padStart(6, '0');
    if (!accepted.includes(code)) return code;
  }
}


async function newPage() {
  const context = await browser.newContext({ baseURL: server.base });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  pages.push(page);
  return page;
}

async function submitPassword(page, username) {
  await page.goto('/login');
  await page.getByTestId('login-user').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('auth-submit').click();
}

test('enrol with the QR code, log in with the code, then with a backup code, then turn it off', async () => {
  await withScreenshots('twofa', () => pages, async () => {
    await createUser(server.base, admin, 'tess');
    const page = await newPage();
    await submitPassword(page, 'tess');
    await page.getByTestId('room-list').waitFor();

    await page.getByTestId('account-menu').click();
    await page.getByTestId('open-profile').click();
    await page.getByTestId('profile-dialog').waitFor();
    assert.match(await page.getByTestId('twofa-status').innerText(), /off/i);
    await page.getByTestId('twofa-enable').click();
    const qr = page.getByTestId('twofa-qr');
    await qr.waitFor();
    // A real QR code: square, with modules drawn.
    const box = await qr.boundingBox();
    assert.ok(box && box.width > 100 && Math.abs(box.width - box.height) < 1, JSON.stringify(box));
    assert.ok((await qr.locator('path').getAttribute('d')).length > 1000);
    const secret = (await page.getByTestId('twofa-secret').innerText()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await axe(page, 'two-factor enrolment');

    // A wrong code is refused with the server's word, the right one enables.
    await page.getByTestId('twofa-code').fill(wrongCode(secret));
    await page.getByTestId('twofa-confirm').click();
    await page.getByTestId('twofa-error').waitFor();
    await page.getByTestId('twofa-code').fill(totp(secret));
    await page.getByTestId('twofa-confirm').click();
    const codes = page.getByTestId('twofa-backup-codes').locator('code');
    await codes.first().waitFor();
    assert.equal(await codes.count(), 12);
    const backup = (await codes.first().innerText()).trim();
    await page.getByTestId('twofa-done').click();
    assert.match(await page.getByTestId('twofa-status').innerText(), /on/i);

    // Logging in again asks for the code after the password.
    const again = await newPage();
    await submitPassword(again, 'tess');
    await again.getByTestId('login-code').waitFor();
    await axe(again, 'login code step');
    await again.getByTestId('login-code').fill(wrongCode(secret));
    await again.getByTestId('auth-submit').click();
    await again.getByTestId('auth-error').waitFor();
    await again.getByTestId('login-code').fill(totp(secret));
    await again.getByTestId('auth-submit').click();
    await again.getByTestId('room-list').waitFor();

    // A backup code works in place of the app's code.
    const third = await newPage();
    await submitPassword(third, 'tess');
    await third.getByTestId('login-code').fill(backup);
    await third.getByTestId('auth-submit').click();
    await third.getByTestId('room-list').waitFor();

    // Turning it off takes a code; then the password alone logs in.
    await third.getByTestId('account-menu').click();
    await third.getByTestId('open-profile').click();
    await third.getByTestId('twofa-code').fill(totp(secret));
    await third.getByTestId('twofa-disable').click();
    await third.getByTestId('twofa-enable').waitFor();
    const last = await newPage();
    await submitPassword(last, 'tess');
    await last.getByTestId('room-list').waitFor();
  });
});
