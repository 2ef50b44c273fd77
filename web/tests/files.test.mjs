// Files in the web client, in Chromium against a real comet: the attach button, drag-and-drop
// and paste open the pre-send dialog; uploads show progress and can be cancelled; images show
// in the timeline with their space reserved and load through the rc_uid/rc_token cookies;
// other files become download cards whose link yields the same bytes; refusals (the server's,
// and the client's own check of the public settings) post nothing; thread uploads carry tmid.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { startServer, launchBrowser, openAs, createUser, login, rest, withScreenshots, openRoom, send, message, ADMIN, TIMEOUT, axe } from './harness.mjs';


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

// A PNG encoder small enough to live here: RGB, no filter, one IDAT.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
/** A width × height PNG; `noise` makes it incompressible (large, for progress tests). */
function png(width, height, { noise = false, colour = [70, 67, 196] } = {}) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const row = 1 + width * 3;
  const raw = noise ? randomBytes(row * height) : Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) {
    raw[y * row] = 0; // filter: none
    if (!noise) for (let x = 0; x < width; x++) raw.set(colour, y * row + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: noise ? 0 : 6 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** One second of a 440 Hz tone as 8 kHz 16-bit mono PCM WAV. */
function wav() {
  const rate = 8000;
  const data = Buffer.alloc(rate * 2);
  for (let i = 0; i < rate; i++) data.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 8000), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

let n = 0;
/** Two fresh users in a fresh channel, each in their own browser, both looking at it. */
async function pairInRoom(t) {
  n++;
  const a = `fa${n}`;
  const b = `fb${n}`;
  const room = `files-${n}`;
  const aliceAuth = await createUser(server.base, admin, a, `Alice ${n}`);
  const bobAuth = await createUser(server.base, admin, b, `Bob ${n}`);
  const created = await rest(server.base, 'channels.create', { method: 'POST', auth: aliceAuth, body: { name: room, members: [b] } });
  const alice = await openAs(browser, server.base, a);
  const bob = await openAs(browser, server.base, b);
  pages.push(alice, bob);
  t.after(async () => {
    await alice.context().close();
    await bob.context().close();
  });
  await openRoom(alice, room);
  await openRoom(bob, room);
  return { alice, bob, a, b, aliceAuth, bobAuth, room, rid: created.channel._id };
}

/** The room's messages carrying files, newest first, through REST. */
async function fileMessages(auth, rid) {
  const { messages } = await rest(server.base, `channels.history?roomId=${rid}&count=100`, { auth });
  return messages.filter((m) => m.files?.length || m.attachments?.length);
}

/** Slows uploads down (Chrome's network emulation) so progress and cancel can be seen. */
async function throttleUploads(page, bytesPerSecond) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
  return async () => {
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  };
}

/** Waits until the image under `locator` has decoded (naturalWidth > 0). */
async function imageLoaded(locator) {
  await locator.waitFor();
  const handle = await locator.elementHandle();
  await locator.page().waitForFunction((img) => img.complete && img.naturalWidth > 0, handle, { timeout: TIMEOUT });
  return locator.evaluate((img) => ({ naturalWidth: img.naturalWidth, width: img.getAttribute('width'), height: img.getAttribute('height'), src: img.getAttribute('src') }));
}

/** A DataTransfer holding `files` ({name, type, base64}) inside the page. */
function dataTransfer(page, files) {
  return page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) {
      const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], f.name, { type: f.type }));
    }
    return dt;
  }, files);
}


function noProblems(...list) {
  for (const page of list) assert.deepEqual(page.problems, [], 'console errors or CSP violations');
}

test('the attach button: dialog with preview, progress, then an image both people see', async (t) => {
  const { alice, bob, aliceAuth, rid } = await pairInRoom(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    const image = png(400, 300, { noise: true });
    const restore = await throttleUploads(alice, 120 * 1024);
    const [chooser] = await Promise.all([alice.waitForEvent('filechooser'), alice.getByTestId('attach').click()]);
    await chooser.setFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: image });

    const dialog = alice.getByTestId('upload-dialog');
    await dialog.waitFor();
    await imageLoaded(dialog.getByTestId('upload-preview'));
    assert.equal(await dialog.getByTestId('upload-name').inputValue(), 'sunset.png');
    await dialog.getByTestId('upload-description').fill('the **evening** sky');
    await axe(alice, 'upload dialog');
    await dialog.getByTestId('upload-send').click();
    await dialog.waitFor({ state: 'detached' });

    // Progress shows while the bytes go out.
    const progress = alice.getByTestId('upload-progress');
    await progress.waitFor();
    await alice.waitForFunction(() => {
      const bar = document.querySelector('[data-testid="upload-progress"]');
      return bar instanceof HTMLProgressElement && bar.value > 0 && bar.value < 100;
    }, null, { timeout: TIMEOUT });
    await restore();
    await alice.getByTestId('upload-tray').waitFor({ state: 'detached' });

    // The message: the image with its space reserved from the stored dimensions, the
    // description as markdown, loaded with the cookies (no token in the URL) on both sides.
    for (const page of [alice, bob]) {
      const item = page.getByTestId('message').filter({ has: page.getByTestId('attachment-image') }).last();
      const img = item.locator('img.full');
      const loaded = await imageLoaded(img);
      assert.ok(loaded.naturalWidth === 400, `naturalWidth ${loaded.naturalWidth}`);
      assert.equal(loaded.width, '360');
      assert.equal(loaded.height, '270');
      // A plain URL: the cookies authenticate it, no token rides along.
      assert.match(loaded.src, /^http:\/\/[^/]+\/file-upload\/[^/?]+\/sunset\.png$/);
      await item.getByTestId('attachment-description').locator('strong', { hasText: 'evening' }).waitFor();
    }
    // The cookies mirror the page's own session.
    const session = await alice.evaluate(() => JSON.parse(localStorage.getItem('comet.session') ?? 'null'));
    const cookies = await alice.context().cookies();
    const token = cookies.find((c) => c.name === 'rc_token');
    const uid = cookies.find((c) => c.name === 'rc_uid');
    assert.equal(token?.value, session.token);
    assert.equal(uid?.value, aliceAuth.userId);
    assert.equal(token?.sameSite, 'Strict');
    assert.equal(token?.path, '/');

    // Full size in a lightbox; Escape closes it.
    await alice.getByTestId('attachment-image').last().click();
    const lightbox = alice.getByTestId('lightbox');
    await imageLoaded(lightbox.locator('img'));
    await axe(alice, 'lightbox');
    await alice.keyboard.press('Escape');
    await lightbox.waitFor({ state: 'detached' });

    const [posted] = await fileMessages(aliceAuth, rid);
    assert.equal(posted.files[0].name, 'sunset.png');
    assert.equal(posted.attachments[0].description, 'the **evening** sky');
    await axe(alice, 'timeline with an image');
    noProblems(alice, bob);

    // Logging out clears the cookies: the same URL no longer loads.
    const src = await alice.getByTestId('attachment-image').last().locator('img.full').getAttribute('src');
    await alice.getByTestId('account-menu').click();
    await alice.getByTestId('logout').click();
    await alice.getByTestId('login-user').waitFor();
    const left = (await alice.context().cookies()).filter((c) => c.name === 'rc_uid' || c.name === 'rc_token');
    assert.deepEqual(left, []);
    const status = await alice.evaluate(async (url) => (await fetch(url, { credentials: 'same-origin', cache: 'no-store' })).status, src);
    assert.ok(status === 403 || status === 401 || status === 404, `status ${status}`);
  });
});

test('an image reserves its space and shows image_preview blurred until it loads', async (t) => {
  const { alice, aliceAuth, rid } = await pairInRoom(t);
  await withScreenshots(t.name, () => [alice], async () => {
    // Image requests wait until the test lets them through.
    let release;
    const held = new Promise((resolve) => (release = resolve));
    await alice.route('**/file-upload/**', async (route) => {
      await held;
      await route.continue().catch(() => {});
    });
    const form = new FormData();
    form.append('file', new Blob([png(200, 100)], { type: 'image/png' }), 'wide.png');
    form.append('msg', 'the plain upload');
    const uploaded = await fetch(`${server.base}/api/v1/rooms.upload/${rid}`, {
      method: 'POST',
      headers: { 'X-User-Id': aliceAuth.userId, 'X-Auth-Token': aliceAuth.authToken },
      body: form,
      signal: AbortSignal.timeout(TIMEOUT),
    }).then((r) => r.json());
    const stored = uploaded.message.attachments[0];
    assert.deepEqual(stored.image_dimensions, { width: 200, height: 100 });
    // The same image with a tiny preview, as a thumbnail-making server would send it.
    const preview = png(4, 2, { colour: [200, 120, 40] }).toString('base64');
    await rest(server.base, 'chat.postMessage', {
      method: 'POST',
      auth: aliceAuth,
      body: { roomId: rid, text: 'with a preview', attachments: [{ ...stored, image_preview: preview }] },
    });
    const item = message(alice, 'with a preview');
    await item.getByTestId('attachment-blur').waitFor();
    const box = await item.getByTestId('attachment-image').locator('img.full').boundingBox();
    assert.ok(box && Math.round(box.width) === 200 && Math.round(box.height) === 100, `reserved ${JSON.stringify(box)}`);
    release();
    const loaded = await imageLoaded(item.locator('img.full'));
    assert.equal(loaded.naturalWidth, 200);
    await item.getByTestId('attachment-blur').waitFor({ state: 'detached' });
    await alice.unroute('**/file-upload/**');
    noProblems(alice);
  });
});

test('audio and video play from the timeline, authenticated by cookie', async (t) => {
  const { alice, bob } = await pairInRoom(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await alice.getByTestId('file-input').setInputFiles({ name: 'tone.wav', mimeType: 'audio/wav', buffer: wav() });
    await alice.getByTestId('upload-send').click();
    const audio = bob.getByTestId('attachment-audio');
    await audio.waitFor();
    const handle = await audio.elementHandle();
    await bob.waitForFunction((el) => el.readyState >= 1 && el.duration > 0.9, handle, { timeout: TIMEOUT });
    assert.equal(await bob.getByTestId('message').filter({ has: audio }).getByTestId('attachment').getByText('tone.wav').count(), 1);

    // A short WebM recorded from a canvas in the page.
    const webm = await alice.evaluate(async () => {
      const canvas = document.createElement('canvas');
      canvas.width = 160;
      canvas.height = 120;
      const g = canvas.getContext('2d');
      const recorder = new MediaRecorder(canvas.captureStream(10), { mimeType: 'video/webm' });
      const parts = [];
      recorder.ondataavailable = (e) => parts.push(e.data);
      const done = new Promise((resolve) => (recorder.onstop = resolve));
      recorder.start();
      for (let i = 0; i < 8; i++) {
        g.fillStyle = `hsl(${i * 40} 70% 50%)`;
        g.fillRect(0, 0, 160, 120);
        await new Promise((r) => setTimeout(r, 100));
      }
      recorder.stop();
      await done;
      const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
      let text = '';
      for (const b of bytes) text += String.fromCharCode(b);
      return btoa(text);
    });
    await alice.getByTestId('file-input').setInputFiles({ name: 'clip.webm', mimeType: 'video/webm', buffer: Buffer.from(webm, 'base64') });
    await alice.getByTestId('upload-send').click();
    const video = bob.getByTestId('attachment-video');
    await video.waitFor();
    const videoHandle = await video.elementHandle();
    await bob.waitForFunction((el) => el.readyState >= 1 && el.videoWidth === 160, videoHandle, { timeout: TIMEOUT });
    noProblems(alice, bob);
  });
});

test('drag and drop several files: download cards whose links give back the same bytes', async (t) => {
  const { alice, bob, aliceAuth, rid } = await pairInRoom(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    const notes = Buffer.from('line one\nline two – ünïcode\n');
    // Bytes no sniffer takes for text or a known format.
    const blob = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7 + 1) % 251));
    const dt = await dataTransfer(alice, [
      { name: 'notes.txt', type: 'text/plain', base64: notes.toString('base64') },
      { name: 'data.bin', type: 'application/octet-stream', base64: blob.toString('base64') },
    ]);
    const target = alice.getByTestId('messages');
    await target.dispatchEvent('dragenter', { dataTransfer: dt });
    await target.dispatchEvent('dragover', { dataTransfer: dt });
    await alice.getByTestId('drop-zone').waitFor();
    await target.dispatchEvent('drop', { dataTransfer: dt });
    await alice.getByTestId('drop-zone').waitFor({ state: 'detached' });

    const dialog = alice.getByTestId('upload-dialog');
    await dialog.waitFor();
    assert.equal(await dialog.getByTestId('upload-item').count(), 2);
    assert.equal(await dialog.getByTestId('upload-preview').count(), 0);
    await dialog.getByTestId('upload-message').fill('two files for you');
    await dialog.getByTestId('upload-send').click();

    // Both arrive, in order, the message text with the first.
    const cards = bob.getByTestId('attachment-file');
    await cards.nth(1).waitFor();
    await cards.filter({ hasText: 'notes.txt' }).waitFor();
    await cards.filter({ hasText: 'data.bin' }).waitFor();
    await message(bob, 'two files for you').getByTestId('attachment-file').filter({ hasText: 'notes.txt' }).waitFor();
    const posted = await fileMessages(aliceAuth, rid);
    assert.deepEqual(posted.map((m) => m.files[0].name), ['data.bin', 'notes.txt']);

    // The card's link downloads exactly what was sent, authenticated by cookie.
    for (const [name, bytes] of [['notes.txt', notes], ['data.bin', blob]]) {
      const card = bob.getByTestId('attachment-file').filter({ hasText: name });
      const href = await card.getByTestId('attachment-download').getAttribute('href');
      assert.ok(!href.includes('token'), href);
      const [download] = await Promise.all([bob.waitForEvent('download'), card.getByTestId('attachment-download').click()]);
      assert.equal(download.suggestedFilename(), name);
      const path = await download.path();
      assert.deepEqual(readFileSync(path), bytes);
    }
    await axe(bob, 'file cards');
    noProblems(alice, bob);
  });
});

test('paste an image into the composer', async (t) => {
  const { alice, bob, rid, aliceAuth } = await pairInRoom(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    const image = png(64, 48);
    const composer = alice.getByTestId('composer');
    await composer.focus();
    await composer.evaluate((el, base64) => {
      const dt = new DataTransfer();
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, image.toString('base64'));
    const dialog = alice.getByTestId('upload-dialog');
    await dialog.waitFor();
    await imageLoaded(dialog.getByTestId('upload-preview'));
    // Escape closes the dialog and sends nothing; pasting again brings it back.
    await alice.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await composer.evaluate((el, base64) => {
      const dt = new DataTransfer();
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, image.toString('base64'));
    await dialog.waitFor();
    // The description has the focus: type it, rename the file, Enter sends.
    await alice.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'upload-description');
    await alice.keyboard.type('from the clipboard');
    await dialog.getByTestId('upload-name').fill('pasted.png');
    await dialog.getByTestId('upload-name').press('Enter');
    await message(bob, 'from the clipboard').waitFor();
    const img = bob.getByTestId('attachment-image').locator('img.full');
    const loaded = await imageLoaded(img);
    assert.equal(loaded.naturalWidth, 64);
    assert.deepEqual([loaded.width, loaded.height], ['64', '48']);
    // Ordinary text still pastes as text.
    await composer.evaluate((el) => {
      const dt = new DataTransfer();
      dt.setData('text/plain', 'just text');
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    });
    assert.equal(await alice.getByTestId('upload-dialog').count(), 0);
    const posted = await fileMessages(aliceAuth, rid);
    assert.equal(posted.length, 1);
    assert.equal(posted[0].files[0].name, 'pasted.png');
    noProblems(alice, bob);
  });
});

test('cancel posts nothing, during the upload and after the file is stored', async (t) => {
  const { alice, aliceAuth, rid } = await pairInRoom(t);
  await withScreenshots(t.name, () => [alice], async () => {
    // While the bytes are going out.
    const restore = await throttleUploads(alice, 60 * 1024);
    await alice.getByTestId('file-input').setInputFiles({ name: 'big.png', mimeType: 'image/png', buffer: png(300, 300, { noise: true }) });
    await alice.getByTestId('upload-send').click();
    await alice.waitForFunction(() => {
      const bar = document.querySelector('[data-testid="upload-progress"]');
      return bar instanceof HTMLProgressElement && bar.value > 0;
    }, null, { timeout: TIMEOUT });
    await alice.getByTestId('upload-cancel').click();
    await alice.getByTestId('upload-tray').waitFor({ state: 'detached' });
    await restore();

    // After the server stored the file but before the client confirmed it: the answer to
    // rooms.media is held back until the user has cancelled.
    let stored = null;
    let release;
    const held = new Promise((resolve) => (release = resolve));
    await alice.route('**/api/v1/rooms.media/**', async (route) => {
      const response = await route.fetch();
      stored = await response.json();
      await held;
      await route.fulfill({ response }).catch(() => {});
    });
    await alice.getByTestId('file-input').setInputFiles({ name: 'late.txt', mimeType: 'text/plain', buffer: Buffer.from('late') });
    await alice.getByTestId('upload-send').click();
    await alice.getByTestId('upload-job').waitFor();
    const deadline = Date.now() + TIMEOUT;
    while (!stored && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(stored?.file?._id, `rooms.media stored the file: ${JSON.stringify(stored)}`);
    await alice.getByTestId('upload-cancel').click();
    release();
    await alice.getByTestId('upload-tray').waitFor({ state: 'detached' });
    await alice.unroute('**/api/v1/rooms.media/**');

    // A later upload still works, and is the only file message in the room.
    await alice.getByTestId('file-input').setInputFiles({ name: 'kept.txt', mimeType: 'text/plain', buffer: Buffer.from('kept') });
    await alice.getByTestId('upload-send').click();
    await alice.getByTestId('attachment-file').filter({ hasText: 'kept.txt' }).waitFor();
    const posted = await fileMessages(aliceAuth, rid);
    assert.deepEqual(posted.map((m) => m.files[0].name), ['kept.txt']);
    assert.equal(await alice.getByTestId('attachment').count(), 1);
  });
});

test('refusals: the server’s size limit, then the client’s own check', async (t) => {
  const { alice, aliceAuth, rid, a } = await pairInRoom(t);
  t.after(async () => {
    await rest(server.base, 'settings/FileUpload_MaxFileSize', { method: 'POST', auth: admin, body: { value: 104857600 } });
  });
  await withScreenshots(t.name, () => [alice], async () => {
    // The page read the old limit at start-up, so the server is the one refusing.
    await rest(server.base, 'settings/FileUpload_MaxFileSize', { method: 'POST', auth: admin, body: { value: 100 } });
    await alice.getByTestId('file-input').setInputFiles({ name: 'report.txt', mimeType: 'text/plain', buffer: Buffer.alloc(1000, 'x') });
    await alice.getByTestId('upload-send').click();
    const error = alice.getByTestId('upload-error');
    await error.waitFor();
    assert.equal(await error.textContent(), 'File exceeds allowed size of 100 B.');
    assert.equal((await fileMessages(aliceAuth, rid)).length, 0);
    // Dismissing the failure clears it.
    await alice.getByTestId('upload-cancel').click();
    await alice.getByTestId('upload-tray').waitFor({ state: 'detached' });

    // After a reload the client knows the limit and refuses before sending.
    await alice.reload();
    await alice.getByTestId('composer').waitFor();
    await alice.getByTestId('file-input').setInputFiles([
      { name: 'report.txt', mimeType: 'text/plain', buffer: Buffer.alloc(1000, 'x') },
      { name: 'ok.txt', mimeType: 'text/plain', buffer: Buffer.from('small') },
    ]);
    const dialog = alice.getByTestId('upload-dialog');
    await dialog.getByTestId('upload-refused').filter({ hasText: '100 byte' }).waitFor();
    assert.equal(await dialog.getByTestId('upload-refused').count(), 1);
    await dialog.getByTestId('upload-send').click();
    await alice.getByTestId('attachment-file').filter({ hasText: 'ok.txt' }).waitFor();
    assert.deepEqual((await fileMessages(aliceAuth, rid)).map((m) => m.files[0].name), ['ok.txt']);
    // Only the server's refusal logged a failed request; nothing else went wrong.
    assert.deepEqual(alice.problems.filter((p) => !p.includes('status of 400')), [], a);
  });
});

test('uploads in a thread carry tmid; Arabic dialog is right to left', async (t) => {
  const { alice, bob, aliceAuth, rid } = await pairInRoom(t);
  await withScreenshots(t.name, () => [alice, bob], async () => {
    await send(alice, 'thread root for files');
    const root = message(alice, 'thread root for files');
    await root.waitFor();
    await root.hover();
    await root.getByTestId('reply-button').click();
    await alice.getByTestId('panel-thread').waitFor();
    await alice.getByTestId('thread-file-input').setInputFiles({ name: 'in-thread.txt', mimeType: 'text/plain', buffer: Buffer.from('thread bytes') });
    await alice.getByTestId('upload-send').click();
    await alice.getByTestId('thread-messages').getByTestId('attachment-file').filter({ hasText: 'in-thread.txt' }).waitFor();
    const { messages } = await rest(server.base, `channels.history?roomId=${rid}&count=50`, { auth: aliceAuth });
    const rootId = messages.find((m) => m.msg === 'thread root for files')?._id;
    assert.ok(rootId);
    const replies = await rest(server.base, `chat.getThreadMessages?tmid=${rootId}`, { auth: aliceAuth });
    const reply = replies.messages.find((m) => m.files?.[0]?.name === 'in-thread.txt');
    assert.equal(reply?.tmid, rootId);
    // Not in the main timeline.
    assert.equal(await bob.getByTestId('messages').getByText('in-thread.txt').count(), 0);

    // Dropping onto the thread panel goes to the thread too.
    const dt = await dataTransfer(alice, [{ name: 'dropped.txt', type: 'text/plain', base64: Buffer.from('dropped').toString('base64') }]);
    const panel = alice.getByTestId('thread-drop');
    await panel.dispatchEvent('dragenter', { dataTransfer: dt });
    await panel.getByTestId('drop-zone').waitFor();
    await panel.dispatchEvent('drop', { dataTransfer: dt });
    await alice.getByTestId('upload-dialog').getByText(/thread/).first().waitFor();
    await alice.getByTestId('upload-send').click();
    await alice.getByTestId('thread-messages').getByTestId('attachment-file').filter({ hasText: 'dropped.txt' }).waitFor();

    // Arabic: the dialog and its fields follow the page's direction.
    await bob.getByTestId('account-menu').click();
    await bob.getByTestId('lang-ar').click();
    await bob.waitForFunction(() => document.documentElement.dir === 'rtl');
    await bob.keyboard.press('Escape');
    await bob.getByTestId('file-input').setInputFiles({ name: 'ملف.txt', mimeType: 'text/plain', buffer: Buffer.from('نص') });
    const dialog = bob.getByTestId('upload-dialog');
    await dialog.getByText('إرسال ملف').waitFor();
    assert.equal(await dialog.evaluate((d) => getComputedStyle(d).direction), 'rtl');
    await axe(bob, 'Arabic upload dialog');
    await dialog.getByTestId('upload-send').click();
    await bob.getByTestId('attachment-file').filter({ hasText: 'ملف.txt' }).waitFor();
    noProblems(alice, bob);
  });
});
