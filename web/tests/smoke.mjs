import { startServer, launchBrowser, openAs, ADMIN, send, openRoom } from './harness.mjs';
const server = await startServer();
const browser = await launchBrowser();
try {
  const page = await openAs(browser, server.base, ADMIN.username, ADMIN.password);
  await page.screenshot({ path: '/tmp/s1.png' });
  await openRoom(page, 'general');
  await send(page, 'Hello *world* with `code` and :tada: and @admin https://example.com');
  await page.waitForTimeout(800);
  await page.screenshot({ path: '/tmp/s2.png' });
  console.log('problems', page.problems);
} finally {
  await browser.close();
  await server.stop();
}
