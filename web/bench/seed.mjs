// What tti.mjs and tti-profile.mjs share: the server binary they measure, the data they seed
// (one user with a sidebar of 500 rooms and a room of 10,000 messages, over REST) and the
// page's test of being interactive.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { login, rest, createUser, repo, ADMIN } from '../tests/harness.mjs';

export const ROOMS = 500;
export const MESSAGES = 10_000;

/** Picks target/release/comet when built, else the debug build (unless COMET_BIN says). */
export function chooseServer() {
  const release = join(repo, 'target/release/comet');
  process.env.COMET_BIN ??= existsSync(release) ? release : join(repo, 'target/debug/comet');
}

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

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Seeds the user, their rooms and the big room `big`; answers the session and room count. */
export async function seed(base) {
  const admin = await login(base, ADMIN.username, ADMIN.password);
  const user = await createUser(base, admin, 'bench', 'Bench User');
  let started = Date.now();
  await pool(Array.from({ length: ROOMS - 2 }, (_, i) => `room-${String(i).padStart(3, '0')}`), 8, (name) =>
    rest(base, 'channels.create', { method: 'POST', auth: user, body: { name } }),
  );
  const big = (await rest(base, 'channels.create', { method: 'POST', auth: user, body: { name: 'big' } })).channel._id;
  const seedRooms = Date.now() - started;
  started = Date.now();
  await pool(Array.from({ length: MESSAGES - 1 }, (_, i) => i), 16, (i) =>
    rest(base, 'chat.postMessage', {
      method: 'POST',
      auth: user,
      body: { roomId: big, text: `message ${i} with *some* markdown, a :tada: and a link https://example.com/${i}` },
    }),
  );
  // The newest message last, alone, so the page can tell when it shows the latest.
  await rest(base, 'chat.postMessage', {
    method: 'POST',
    auth: user,
    body: { roomId: big, text: 'the latest message' },
  });
  const seedMessages = Date.now() - started;
  const subs = await rest(base, 'subscriptions.get', { auth: user });
  console.error(`seeded ${subs.update.length} rooms in ${seedRooms} ms, ${MESSAGES} messages in ${seedMessages} ms`);
  return { session: JSON.stringify({ userId: user.userId, token: user.authToken }), rooms: subs.update.length };
}

/**
 * Runs in the page: resolves with `performance.now()` once every room is listed, the newest
 * message is rendered and the composer accepts input.
 */
export const ready = () =>
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
