// Where the first load's main-thread time goes: seeds the same data as tti.mjs (500 rooms, a
// room of 10,000 messages), loads the room three times in one browser context with V8's
// sampling profiler on, and prints each load's requests (start, request sent, first byte and
// end, ms from navigation) and the last load's 40 functions with the most self time. Usage:
// node bench/tti-profile.mjs (COMET_BIN as for tti.mjs). Minified names: look the positions
// up in the built assets.

import { startServer, launchBrowser } from '../tests/harness.mjs';
import { chooseServer, seed, ready, withTimeout } from './seed.mjs';

chooseServer();
const server = await startServer();
const browser = await launchBrowser();
try {
  const { session } = await seed(server.base);

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
