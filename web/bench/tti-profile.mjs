// Where the first load's main-thread time goes: seeds the same data as tti.mjs (500 rooms, a
// room of 10,000 messages), loads the room three times in one browser context with V8's
// sampling profiler on, and prints each load's REST calls (start and end, ms from navigation)
// and the last load's 40 functions with the most self time. Usage: node bench/tti-profile.mjs
// (COMET_BIN as for tti.mjs). Minified names: look the positions up in the built assets.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchBrowser, login, rest, createUser, repo, ADMIN } from '../tests/harness.mjs';

const ROOMS = 500;
const MESSAGES = 10_000;

const release = join(repo, 'target/release/comet');
process.env.COMET_BIN ??= existsSync(release) ? release : join(repo, 'target/debug/comet');

async function pool(items, width, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i], i);
      }
    }),
  );
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}


const server = await startServer();
const browser = await launchBrowser();
try {
  const admin = await login(server.base, ADMIN.username, ADMIN.password);
  const user = await createUser(server.base, admin, 'bench', 'Bench User');
  let started = Date.now();
  await pool(Array.from({ length: ROOMS - 2 }, (_, i) => `room-${String(i).padStart(3, '0')}`), 8, (name) =>
    rest(server.base, 'channels.create', { method: 'POST', auth: user, body: { name } }),
  );
  const big = (await rest(server.base, 'channels.create', { method: 'POST', auth: user, body: { name: 'big' } })).channel._id;
  const seedRooms = Date.now() - started;
  started = Date.now();
  await pool(Array.from({ length: MESSAGES - 1 }, (_, i) => i), 16, (i) =>
    rest(server.base, 'chat.postMessage', {
      method: 'POST',
      auth: user,
      body: { roomId: big, text: `message ${i} with *some* markdown, a :tada: and a link https://example.com/${i}` },
    }),
  );
  // The newest message last, alone, so the page can tell when it shows the latest.
  await rest(server.base, 'chat.postMessage', {
    method: 'POST',
    auth: user,
    body: { roomId: big, text: 'the latest message' },
  });
  const seedMessages = Date.now() - started;
  const subs = await rest(server.base, 'subscriptions.get', { auth: user });
  console.error(`seeded ${subs.update.length} rooms in ${seedRooms} ms, ${MESSAGES} messages in ${seedMessages} ms`);

  const session = JSON.stringify({ userId: user.userId, token: user.authToken });
  const ready = () =>
    new Promise((resolve) => {
      const check = () => {
        const composer = document.querySelector('[data-testid="composer"]');
        const links = document.querySelectorAll('[data-testid="room-link"]').length;
        const last = [...document.querySelectorAll('[data-testid="message"]')].pop();
        if (composer && !composer.disabled && links >= 500 && last?.textContent?.includes('the latest message')) {
          resolve(performance.now());
        } else {
          requestAnimationFrame(check);
        }
      };
      check();
    });

  const context = await browser.newContext({ baseURL: server.base, viewport: { width: 1280, height: 800 } });
  await context.addInitScript((value) => localStorage.setItem('comet.session', value), session);
  for (let run = 0; run < 3; run++) {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await cdp.send('Profiler.start');
    await page.goto('/channel/big', { waitUntil: 'commit' });
    const t = await withTimeout(page.evaluate(ready), 60_000, 'load');
    const { profile } = await cdp.send('Profiler.stop');
    const timings = await page.evaluate(() => performance.getEntriesByType('resource').map((r) => [r.name.replace(/^https?:\/\/[^/]+/, ''), Math.round(r.startTime), Math.round(r.requestStart), Math.round(r.responseStart), Math.round(r.responseEnd)]));
    console.log('run', run, 'ready', Math.round(t));
    for (const x of timings) console.log('  ', x.join(' '));
    const self = new Map();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const dt = profile.timeDeltas;
    profile.samples.forEach((id, i) => {
      const n = byId.get(id);
      const f = n.callFrame;
      const key = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}:${f.columnNumber}`;
      self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0));
    });
    const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
    if (run === 2) for (const [k, v] of top) console.log((v / 1000).toFixed(1).padStart(8), k);
    await page.close();
  }
  await context.close();
} finally {
  await browser.close();
  await server.stop();
}
