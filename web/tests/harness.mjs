// Test harness: a real comet server on port 0 with a temporary data directory, and Chromium
// through playwright-core (Debian's /usr/bin/chromium; no browser download). Every wait has a
// timeout; failing tests leave screenshots in target/web-test-artifacts.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
export const artifacts = resolve(repo, 'target/web-test-artifacts');
export const ADMIN = { username: 'admin', password: 'Adm1n-Web-Pass!' };
export const PASSWORD = 'Us3r-Web-Pass!';
export const TIMEOUT = 15_000;

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Starts `comet` and resolves once it logs the address it listens on. */
export async function startServer(extraEnv = {}) {
  const binary = process.env.COMET_BIN ?? join(repo, 'target/debug/comet');
  if (!existsSync(binary)) throw new Error(`no comet binary at ${binary}; build it first (cargo build -p comet-server)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'comet-web-'));
  const child = spawn(binary, [], {
    env: {
      ...process.env,
      PORT: '0',
      BIND_IP: '127.0.0.1',
      COMET_DATA_DIR: dataDir,
      COMET_LOG_FORMAT: 'json',
      COMET_LOG: 'warn,comet_server=info',
      COMET_BCRYPT_COST: '4',
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASS: ADMIN.password,
      ADMIN_EMAIL: 'admin@example.com',
      OVERWRITE_SETTING_API_Enable_Rate_Limiter: 'false',
      // Test users register seconds before they upload and post links, at machine speed:
      // Comet's abuse controls for new accounts and floods are tested in crates/server/tests/e2e/abuse.rs.
      OVERWRITE_SETTING_Comet_Abuse_New_Account_Age_Hours: '0',
      OVERWRITE_SETTING_Comet_Abuse_Messages_Per_User_Limit: '0',
      OVERWRITE_SETTING_Comet_Abuse_Room_Creation_Per_Day: '0',
      OVERWRITE_SETTING_DDP_Rate_Limit_Connection_Enabled: 'false',
      // A new workspace asks its administrator for the setup wizard; setup_wizard.test.mjs tests
      // it, the others start from a workspace already set up.
      OVERWRITE_SETTING_Show_Setup_Wizard: 'completed',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const address = await withTimeout(
    new Promise((resolveAddr, reject) => {
      const onData = (chunk) => {
        log += chunk.toString();
        for (const line of log.split('\n')) {
          if (!line.includes('comet listening')) continue;
          try {
            const addr = JSON.parse(line).fields.addr;
            if (addr) resolveAddr(addr);
          } catch {
            // Partial line: wait for more.
          }
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => reject(new Error(`comet exited (${code}) before listening:\n${log}`)));
    }),
    30_000,
    'comet to start',
  );
  const base = `http://${address}`;
  return {
    base,
    child,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      await withTimeout(new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r))), 10_000, 'comet to stop').catch(() => child.kill('SIGKILL'));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath} (Debian: apt-get install chromium)`);
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
    timeout: 30_000,
  });
}

/** REST calls for test setup, as a logged-in user. */
export async function rest(base, path, { method = 'GET', body, auth } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (auth) {
    headers['X-User-Id'] = auth.userId;
    headers['X-Auth-Token'] = auth.authToken;
  }
  const response = await fetch(`${base}/api/v1/${path}`, {
    method,
    headers,
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(TIMEOUT),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

export async function login(base, user, password) {
  const body = await rest(base, 'login', { method: 'POST', body: { user, password } });
  return body.data;
}

export async function createUser(base, admin, username, name = username) {
  await rest(base, 'users.create', {
    method: 'POST',
    auth: admin,
    body: { username, name, email: `${username}@example.com`, password: PASSWORD, verified: true },
  });
  return login(base, username, PASSWORD);
}

export function sha256(text) {
  return createHash('sha256').update(text).digest('hex');
}

/** A browser context logged in as `user` through the login form. */
export async function openAs(browser, base, username, password = PASSWORD, options = {}) {
  const context = await browser.newContext({ baseURL: base, ...options });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(msg.text());
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  page.problems = problems;
  await page.goto('/login');
  await page.getByTestId('login-user').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('auth-submit').click();
  await page.getByTestId('room-list').waitFor();
  return page;
}

/** Runs `body`; on failure saves a screenshot of every page first. */
export async function withScreenshots(name, pages, body) {
  try {
    await body();
  } catch (error) {
    mkdirSync(artifacts, { recursive: true });
    const safe = name.replace(/[^\w-]+/g, '_');
    let i = 0;
    for (const page of pages()) {
      if (!page || page.isClosed()) continue;
      await page.screenshot({ path: join(artifacts, `${safe}-${i++}.png`), fullPage: true }).catch(() => {});
    }
    throw error;
  }
}

export async function openRoom(page, name) {
  await page.locator(`[data-testid="room-link"][data-room="${name}"]`).click();
  await page.getByTestId('room-title').filter({ hasText: name }).waitFor();
  await page.getByTestId('composer').waitFor();
}

export async function send(page, text) {
  const composer = page.getByTestId('composer');
  await composer.fill(text);
  await composer.press('Enter');
}

export function message(page, text) {
  return page.getByTestId('message').filter({ hasText: text });
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core in the page; fails on serious and critical violations. */
export async function axe(page, label) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // @ts-ignore: injected above.
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((x) => x.target.join(' ')) }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${label}: ${JSON.stringify(serious, null, 1)}`);
}
