// The web client's mail flows, in Chromium against a real comet whose mail goes to a real
// SMTP server on loopback (scripts/smtp_sink.py, as the server's e2e mail tests use): signing
// up and following the verification link, "Forgot your password?" and the reset link (a
// password the server refuses, then a good one; the old one refused afterwards), and codes
// by email as the second factor (turned on in the profile, asked at login, mailed again on
// request, and asked again to turn them off). Every link and code is read from the mail.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launchBrowser, login, rest, withScreenshots, repo, ADMIN, PASSWORD, TIMEOUT } from './harness.mjs';

const MAIL_TIMEOUT = 20_000;

let sink;
let server;
let browser;
const pages = [];

/** The test mail server: `$SMTP_SERVER_BIN`, else the one scripts/smtp-test-server.sh installs. */
function sinkBinary() {
  if (process.env.SMTP_SERVER_BIN) return process.env.SMTP_SERVER_BIN;
  return execFileSync('bash', [join(repo, 'scripts/smtp-test-server.sh')], { encoding: 'utf8', timeout: 300_000 }).trim();
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function waitFor(check, what, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startSink() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'comet-web-mail-'));
  const child = spawn(sinkBinary(), ['--port', String(port), '--dir', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const listening = () =>
    new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
  await waitFor(listening, 'the SMTP server to listen', 30_000);
  const seen = new Set();
  return {
    port,
    /** The next message to `to` not read yet, decoded: `{to, subject, text}`; others are skipped. */
    async next(to) {
      return waitFor(
        () => {
          for (const file of readdirSync(dir).filter((f) => f.endsWith('.eml') && !seen.has(f)).sort()) {
            seen.add(file);
            const mail = parseMail(readFileSync(join(dir, file), 'utf8'));
            if (mail.to === to) return mail;
          }
          return null;
        },
        `a mail to ${to}`,
        MAIL_TIMEOUT,
      );
    },
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function splitPart(raw) {
  const at = raw.search(/\r?\n\r?\n/);
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function decodeBody(headers, body) {
  const encoding = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/** The plain-text part of a message (MIME enough for Comet's mails). */
function plainText({ headers, body }) {
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith('--')) break;
      const text = plainText(splitPart(chunk.replace(/^\r?\n/, '')));
      if (text) return text;
    }
    return '';
  }
  return /^text\/plain/i.test(type) ? decodeBody(headers, body).replace(/\r\n/g, '\n') : '';
}

function parseMail(raw) {
  const part = splitPart(raw);
  return { to: part.headers['x-envelope-to'] ?? '', subject: part.headers.subject ?? '', text: plainText(part) };
}

/** The token of the `/<path>/<token>` link in a mail. */
function linkToken(mail, path) {
  const match = new RegExp(`/${path}/([A-Za-z0-9_-]+)`).exec(mail.text);
  assert.ok(match, `no /${path}/ link in ${JSON.stringify(mail.text)}`);
  return match[1];
}

function mailedCode(mail) {
  // Mailed as `123-456`; the server reads the digits.
  const match = /Your code: (\d{3}-?\d{3})/.exec(mail.text);
  assert.ok(match, `no code in ${JSON.stringify(mail.text)}`);
  return match[1];
}

before(async () => {
  sink = await startSink();
  server = await startServer({
    OVERWRITE_SETTING_SMTP_Host: '127.0.0.1',
    OVERWRITE_SETTING_SMTP_Port: String(sink.port),
    OVERWRITE_SETTING_From_Email: 'comet@example.com',
    OVERWRITE_SETTING_Accounts_EmailVerification: 'true',
    OVERWRITE_SETTING_Accounts_TwoFactorAuthentication_By_Email_Enabled: 'true',
    // Upstream spares accounts younger than this from sensitive-change checks; the test's are
    // seconds old.
    OVERWRITE_SETTING_Accounts_TwoFactorAuthentication_RememberFor: '0',
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  sink?.stop();
});

async function newPage() {
  const context = await browser.newContext({ baseURL: server.base });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.problems = problems;
  pages.push(page);
  return page;
}

async function submitLogin(page, user, password) {
  await page.goto('/login');
  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('auth-submit').click();
}

async function refusedLogin(user, password) {
  await assert.rejects(login(server.base, user, password), /401/);
}

test('signing up mails a link that verifies the address and logs in', async () => {
  await withScreenshots('mail-verify', () => pages, async () => {
    const page = await newPage();
    await page.goto('/register');
    await page.getByTestId('register-name').fill('Vera Web');
    await page.getByTestId('register-email').fill('vera@example.com');
    await page.getByTestId('login-user').fill('vera');
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('auth-submit').click();
    // Unverified, the account cannot log in yet: the page says a link was mailed.
    await page.getByTestId('verification-sent').waitFor();
    await refusedLogin('vera', PASSWORD);

    const mail = await sink.next('vera@example.com');
    const token = linkToken(mail, 'verify-email');

    await page.goto(`/verify-email/${token}`);
    await page.getByTestId('room-list').waitFor();
    assert.match(await page.getByTestId('toast').innerText(), /verified/i);
    assert.equal(new URL(page.url()).pathname, '/');
    // The address is verified: the password logs in now.
    const session = await login(server.base, 'vera', PASSWORD);
    const me = await rest(server.base, 'me', { auth: session });
    assert.equal(me.emails[0].verified, true);

    // The link works once.
    const again = await newPage();
    await again.goto(`/verify-email/${token}`);
    assert.match(await again.getByTestId('link-error').innerText(), /invalid|expired/i);
    await again.getByTestId('to-login').click();
    await again.getByTestId('login-user').waitFor();
    assert.deepEqual(page.problems, []);
  });
});

test('forgot password: the mailed link sets a new password and logs in; the old one is refused', async () => {
  await withScreenshots('mail-reset', () => pages, async () => {
    const admin = await login(server.base, ADMIN.username, ADMIN.password);
    await rest(server.base, 'users.create', {
      method: 'POST',
      auth: admin,
      body: { username: 'rhea', name: 'Rhea', email: 'rhea@example.com', password: PASSWORD, verified: true },
    });

    const page = await newPage();
    await page.goto('/login');
    await page.getByTestId('to-forgot').click();
    assert.equal(new URL(page.url()).pathname, '/forgot-password');
    await page.getByTestId('forgot-email').fill('rhea@example.com');
    await page.getByTestId('forgot-submit').click();
    await page.getByTestId('forgot-sent').waitFor();
    const mail = await sink.next('rhea@example.com');
    const token = linkToken(mail, 'reset-password');

    await page.goto(`/reset-password/${token}`);
    // Two different entries are caught before anything is sent.
    await page.getByTestId('reset-password').fill('N3w-Web-Pass!');
    await page.getByTestId('reset-confirm').fill('N3w-Web-Pass?');
    await page.getByTestId('reset-submit').click();
    assert.match(await page.getByTestId('link-error').innerText(), /differ/i);
    // A password the server's policy refuses: its words, and the link still works.
    await page.getByTestId('reset-password').fill(' ');
    await page.getByTestId('reset-confirm').fill(' ');
    await page.getByTestId('reset-submit').click();
    await page.getByTestId('link-error').filter({ hasText: /password policy/i }).waitFor();
    await page.getByTestId('reset-password').fill('N3w-Web-Pass!');
    await page.getByTestId('reset-confirm').fill('N3w-Web-Pass!');
    await page.getByTestId('reset-submit').click();
    await page.getByTestId('room-list').waitFor();
    assert.match(await page.getByTestId('toast').innerText(), /password/i);

    await refusedLogin('rhea', PASSWORD);
    await login(server.base, 'rhea', 'N3w-Web-Pass!');

    // A used link says so and offers a new one.
    const again = await newPage();
    await again.goto(`/reset-password/${token}`);
    await again.getByTestId('reset-password').fill('An0ther-Web-Pass!');
    await again.getByTestId('reset-confirm').fill('An0ther-Web-Pass!');
    await again.getByTestId('reset-submit').click();
    assert.match(await again.getByTestId('link-error').innerText(), /invalid|expired/i);
    await again.getByTestId('link-request-new').click();
    await again.getByTestId('forgot-email').waitFor();
    assert.deepEqual(page.problems, []);
  });
});

test('codes by email: turned on in the profile, asked at login, mailed again, asked to turn off', async () => {
  await withScreenshots('mail-2fa', () => pages, async () => {
    const admin = await login(server.base, ADMIN.username, ADMIN.password);
    await rest(server.base, 'users.create', {
      method: 'POST',
      auth: admin,
      body: { username: 'emil', name: 'Emil', email: 'emil@example.com', password: PASSWORD, verified: true },
    });

    const page = await newPage();
    await submitLogin(page, 'emil', PASSWORD);
    await page.getByTestId('room-list').waitFor();
    await page.getByTestId('account-menu').click();
    await page.getByTestId('open-profile').click();
    await page.getByTestId('profile-dialog').waitFor();
    const status = page.getByTestId('twofa-email-status');
    assert.equal(await status.getAttribute('data-enabled'), 'false');
    await page.getByTestId('twofa-email-enable').click();
    await page.locator('[data-testid="twofa-email-status"][data-enabled="true"]').waitFor();

    // The password alone is not enough now: a code is mailed and asked for.
    const next = await newPage();
    await submitLogin(next, 'emil', PASSWORD);
    await next.getByTestId('login-code').waitFor();
    assert.equal(await next.getByTestId('login-code-hint').getAttribute('data-method'), 'email');
    assert.match(await next.getByTestId('login-code-hint').innerText(), /emailed/i);
    const first = await sink.next('emil@example.com');
    mailedCode(first);

    // "Send the code again" mails a new one, which logs in.
    await next.getByTestId('login-code-resend').click();
    await next.getByTestId('login-code-notice').waitFor();
    const second = await sink.next('emil@example.com');
    await next.getByTestId('login-code').fill(mailedCode(second).replace(/-/g, '') === '000000' ? '111111' : '000000');
    await next.getByTestId('auth-submit').click();
    await next.getByTestId('auth-error').waitFor();
    await next.getByTestId('login-code').fill(mailedCode(second));
    await next.getByTestId('auth-submit').click();
    await next.getByTestId('room-list').waitFor();

    // Turning codes off asks for one, by mail.
    await next.getByTestId('account-menu').click();
    await next.getByTestId('open-profile').click();
    await next.getByTestId('twofa-email-disable').click();
    await next.getByTestId('twofa-email-code').waitFor();
    const third = await sink.next('emil@example.com');
    await next.getByTestId('twofa-email-code').fill(mailedCode(third));
    await next.getByTestId('twofa-email-confirm').click();
    await next.locator('[data-testid="twofa-email-status"][data-enabled="false"]').waitFor();

    // The password alone logs in again.
    const last = await newPage();
    await submitLogin(last, 'emil', PASSWORD);
    await last.getByTestId('room-list').waitFor();
    assert.deepEqual(next.problems, []);
  });
});
