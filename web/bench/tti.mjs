// Time to interactive of the web client in Chromium: a room with 10,000 messages and a sidebar
// of 500 rooms, first load (empty cache) and warm (reload), plus the JavaScript the first
// screen ships (gzip). Usage: node bench/tti.mjs [runs]  (COMET_BIN picks the server binary;
// default target/release/comet, else target/debug/comet).
//
// "Interactive" here: the room's latest messages are rendered, the sidebar lists every room
// and the composer accepts input, measured from navigation start with performance.now().

import { startServer, launchBrowser } from '../tests/harness.mjs';
import { chooseServer, seed, ready, withTimeout, MESSAGES } from './seed.mjs';

const RUNS = Number(process.argv[2] ?? 5);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

chooseServer();
const server = await startServer();
const browser = await launchBrowser();
try {
  const { session, rooms } = await seed(server.base);

  const first = [];
  const warm = [];
  let firstScreenJs = 0;
  let firstScreenCss = 0;
  /** Every script and style sheet the first load fetched, with its gzip size. */
  const firstScreenFiles = [];
  for (let run = 0; run < RUNS; run++) {
    const context = await browser.newContext({ baseURL: server.base, viewport: { width: 1280, height: 800 } });
    await context.addInitScript((value) => localStorage.setItem('comet.session', value), session);
    const page = await context.newPage();
    await page.goto('/channel/big', { waitUntil: 'commit' });
    first.push(await withTimeout(page.evaluate(ready), 60_000, 'first load'));
    if (run === 0) {
      const resources = await page.evaluate(() =>
        performance.getEntriesByType('resource').map((r) => ({ name: r.name, type: r.initiatorType })),
      );
      for (const { name } of resources) {
        const url = new URL(name);
        if (!url.pathname.startsWith('/assets/')) continue;
        const response = await fetch(`${server.base}${url.pathname}`, { headers: { 'Accept-Encoding': 'gzip' } });
        // Content-Length is the compressed size (fetch itself hands back the decoded body).
        const bytes = Number(response.headers.get('content-length'));
        await response.arrayBuffer();
        firstScreenFiles.push({ path: url.pathname, gzipBytes: bytes });
        if (url.pathname.endsWith('.js')) firstScreenJs += bytes;
        if (url.pathname.endsWith('.css')) firstScreenCss += bytes;
      }
    }
    await page.reload({ waitUntil: 'commit' });
    warm.push(await withTimeout(page.evaluate(ready), 60_000, 'warm load'));
    await context.close();
  }
  const result = {
    rooms,
    messages: MESSAGES,
    runs: RUNS,
    firstLoadMs: { median: Math.round(median(first)), all: first.map(Math.round) },
    warmLoadMs: { median: Math.round(median(warm)), all: warm.map(Math.round) },
    firstScreenJsGzipBytes: firstScreenJs,
    firstScreenFiles,
    firstScreenCssGzipBytes: firstScreenCss,
    server: process.env.COMET_BIN,
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
  await server.stop();
}
