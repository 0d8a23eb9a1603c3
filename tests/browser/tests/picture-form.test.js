// The picture form's enhancements, with JavaScript on: the preview of the kept square, the
// drop zone, the progress bar, the checks before sending (in the server's words) and the
// server's refusals shown in place.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { launch, newPage } = require('../lib/browser');
const images = require('../lib/images');
const site = require('../lib/site');

const ACCEPTED = 'Upload a JPEG, PNG, GIF, WebP, BMP, TIFF, ICO, JPEG XL, AVIF or HEIC picture.';
const YELLOW = [255, 221, 0];
const BLUE = [0, 64, 255];

let app;
let small; // an app that takes files up to 64 KiB
let browser;

before(async () => {
  [app, small, browser] = await Promise.all([
    startApp(),
    startApp({ FOLIO_MAX_UPLOAD_BYTES: String(64 * 1024) }),
    launch(),
  ]);
});

after(async () => {
  await browser?.close();
  await Promise.all([app?.stop(), small?.stop()]);
});

/** A logged-in person on the account page of `on`, and the POSTs the page sends. */
async function accountPage(on, username) {
  const page = await newPage(browser);
  await site.register(page, on.url, username);
  const posts = [];
  page.on('request', (r) => r.method() === 'POST' && posts.push(new URL(r.url()).pathname));
  return { page, posts };
}

async function errorShown(page) {
  const message = page.locator('#picture-error');
  await message.waitFor();
  return {
    text: (await message.textContent()).trim(),
    focused: await site.focusedId(page),
    invalid: await page.locator('#picture').getAttribute('aria-invalid'),
    describedBy: await page.locator('#picture').getAttribute('aria-describedby'),
  };
}

test('the preview is the centred square, upright by its EXIF orientation, as the server keeps it', async () => {
  const { page } = await accountPage(app, 'orient');
  const file = await images.orientedSquare(browser, 6, 'turned.jpg');
  await page.getByLabel('Choose a picture').setInputFiles(file);
  await page.locator('#picture-preview').waitFor({ state: 'visible' });
  const canvas = '#picture-preview-canvas';
  // Stored sideways: yellow above blue, red margins. Upright and cropped: blue | yellow.
  site.assertColour(await site.averageColour(page, canvas, [30, 100, 90, 100]), BLUE, 'preview, left half');
  site.assertColour(await site.averageColour(page, canvas, [180, 100, 90, 100]), YELLOW, 'preview, right half');
  for (const [x, y] of [[2, 2], [288, 2], [2, 288], [288, 288]]) {
    const corner = await site.averageColour(page, canvas, [x, y, 10, 10]);
    assert.ok(!(corner[0] > 200 && corner[1] < 80), `no red margin at ${x},${y}: rgb(${corner})`);
  }
  await page.getByRole('button', { name: 'Upload picture' }).click();
  await page.locator('#messages').getByText('Profile picture updated').waitFor();
  // What the server kept looks like the preview.
  site.assertColour(await site.averageColour(page, '#current-avatar', [30, 100, 90, 100]), BLUE, 'stored, left half');
  site.assertColour(await site.averageColour(page, '#current-avatar', [180, 100, 90, 100]), YELLOW, 'stored, right half');
  assert.deepEqual(page.problems, []);
});

test('a file dropped anywhere on the field is chosen, checked and previewed', async () => {
  const { page } = await accountPage(app, 'dropper');
  const photo = await images.photo(browser, { width: 640, height: 480 });
  const dataTransfer = await page.evaluateHandle((base64) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], 'dropped.jpg', { type: 'image/jpeg' }));
    return transfer;
  }, photo.toString('base64'));
  assert.equal(await page.locator('#picture-drop-note').isVisible(), true, 'the field says it takes drops');
  await page.dispatchEvent('#picture-drop-note', 'dragenter', { dataTransfer });
  await page.dispatchEvent('#picture-drop-note', 'dragover', { dataTransfer });
  assert.match(await page.locator('#picture-drop').getAttribute('class'), /\bdragging\b/);
  await page.dispatchEvent('#picture-drop-note', 'drop', { dataTransfer });
  await page.locator('#picture-preview').waitFor({ state: 'visible' });
  assert.doesNotMatch(await page.locator('#picture-drop').getAttribute('class'), /\bdragging\b/);
  assert.equal(await page.locator('#picture').evaluate((input) => input.files[0]?.name), 'dropped.jpg');
  await page.getByRole('button', { name: 'Upload picture' }).click();
  await page.locator('#messages').getByText('Profile picture updated').waitFor();
  const { width, height, src } = await site.naturalSize(page, '#current-avatar');
  assert.deepEqual([width, height], [300, 300]);
  assert.ok(app.pictures().some((name) => src === `/media/profile_pics/${name}`), src);
});

test('a progress bar follows a slow upload', async () => {
  const { page } = await accountPage(app, 'slowpoke');
  // About 2 MB of grainy photo, sent at 1 MB/s: the bar has time to move.
  const big = await images.photo(browser, { width: 2000, height: 1500, noise: 0.6, quality: 0.95, name: 'big.jpg' });
  assert.ok(fs.statSync(big).size > 1_500_000, `big enough: ${fs.statSync(big).size}`);
  await page.getByLabel('Choose a picture').setInputFiles(big);
  await page.locator('#picture-preview').waitFor({ state: 'visible' });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: 1024 * 1024,
  });
  assert.equal(await page.locator('#picture-progress').isVisible(), false, 'no bar before sending');
  await page.getByRole('button', { name: 'Upload picture' }).click();
  await page.waitForFunction(() => {
    const bar = document.getElementById('picture-progress');
    return bar.checkVisibility() && bar.value > 0 && bar.value < 100;
  });
  assert.equal(await page.locator('#picture-submit').isDisabled(), true, 'one upload at a time');
  await page.locator('#messages').getByText('Profile picture updated').waitFor({ timeout: 30000 });
  assert.equal(await page.locator('#picture-progress').isVisible(), false, 'the bar goes when done');
  assert.equal((await site.naturalSize(page, '#current-avatar')).width, 300);
});

describe('files refused before sending, in the words the server would use', () => {
  const cases = [
    ['too large', () => images.photo(browser, { width: 500, height: 400, noise: 0.3, name: 'large.jpg' }), 'This file is larger than 64 KiB. Choose a smaller picture.'],
    ['SVG', () => images.notPictures.svg(), `SVG files are not accepted. ${ACCEPTED}`],
    ['PDF', () => images.notPictures.pdf(), `PDF files are not accepted. ${ACCEPTED}`],
    ['text named .jpg', () => images.notPictures.textAsJpeg(), `This file is not a picture. ${ACCEPTED}`],
  ];
  for (const [what, make, message] of cases) {
    test(what, async () => {
      const file = await make();
      if (what === 'too large') {
        const size = fs.statSync(file).size;
        assert.ok(size > 64 * 1024 && size < 2 * 64 * 1024, `between the limit and twice it: ${size}`);
      }
      const { page, posts } = await accountPage(small, `early${cases.findIndex((c) => c[0] === what)}`);
      await page.getByLabel('Choose a picture').setInputFiles(file);
      assert.deepEqual(await errorShown(page), {
        text: message,
        focused: 'picture',
        invalid: 'true',
        describedBy: 'picture-error picture-hint',
      });
      assert.equal(await page.locator('#picture-preview').isVisible(), false);
      // Pressing the button anyway sends nothing and keeps the message.
      await page.getByRole('button', { name: 'Upload picture' }).click();
      assert.equal((await page.locator('#picture-error').textContent()).trim(), message);
      assert.equal(await site.focusedId(page), 'picture');
      assert.deepEqual(posts, [], 'nothing was sent');
      // Choosing a good file clears the message.
      await page.getByLabel('Choose a picture').setInputFiles(await images.photo(browser, { width: 300, height: 200, name: 'ok.jpg' }));
      await page.locator('#picture-preview').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#picture-error').count(), 0);
      assert.equal(await page.locator('#picture').getAttribute('aria-invalid'), null);
      assert.deepEqual(page.problems, []);
    });
  }
});

describe("the server's refusals, shown in place without a reload", () => {
  test('a damaged JPEG (the browser cannot tell): 422', async () => {
    const { page } = await accountPage(app, 'damaged');
    const file = images.truncated(await images.photo(browser, { width: 800, height: 600 }), 'cut.jpg');
    await page.evaluate(() => (window.notReloaded = true));
    const before = app.pictures();
    await page.getByLabel('Choose a picture').setInputFiles(file);
    const answer = page.waitForResponse((r) => r.url().endsWith('/account/picture'));
    await page.getByRole('button', { name: 'Upload picture' }).click();
    assert.equal((await answer).status(), 422);
    assert.deepEqual(await errorShown(page), {
      text: 'This picture could not be read: it may be damaged or incomplete. Try another file.',
      focused: 'picture',
      invalid: 'true',
      describedBy: 'picture-error picture-hint',
    });
    assert.equal(await page.evaluate(() => window.notReloaded), true);
    assert.deepEqual(app.pictures(), before, 'nothing stored');
  });

  test('a page whose limit is out of date: 413 from the server', async () => {
    const { page } = await accountPage(small, 'stale');
    // The page believes in a larger limit than the server now has.
    await page.locator('#picture-form').evaluate((form) => (form.dataset.maxBytes = String(10 * 1024 * 1024)));
    const file = await images.photo(browser, { width: 500, height: 400, noise: 0.3 });
    await page.getByLabel('Choose a picture').setInputFiles(images.save('stale.jpg', file));
    await page.locator('#picture-preview').waitFor({ state: 'visible' });
    const answer = page.waitForResponse((r) => r.url().endsWith('/account/picture'));
    await page.getByRole('button', { name: 'Upload picture' }).click();
    assert.equal((await answer).status(), 413);
    assert.equal((await errorShown(page)).text, 'This file is larger than 64 KiB. Choose a smaller picture.');
    assert.equal(await site.focusedId(page), 'picture');
    assert.deepEqual(small.pictures(), []);
  });
});
