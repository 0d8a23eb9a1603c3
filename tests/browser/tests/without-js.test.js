// With JavaScript off, everything still works: the plain form posts, the server's 303s and
// the server's own messages beside the field.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { launch, newPage } = require('../lib/browser');
const images = require('../lib/images');
const site = require('../lib/site');

const ACCEPTED = 'Upload a JPEG, PNG, GIF, WebP, BMP, TIFF, ICO, JPEG XL, AVIF or HEIC picture.';

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

/** Sends the picture form the plain way; resolves to the status of the answer to the POST. */
async function upload(page, file) {
  await page.getByLabel('Choose a picture').setInputFiles(file);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/account/picture') && r.request().method() === 'POST'),
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Upload picture' }).click(),
  ]);
  return response.status();
}

test('upload, replace, remove and log out, all without JavaScript', async () => {
  const base = app.url;
  const page = await newPage(browser, { js: false });
  await site.register(page, base, 'plain');
  await site.logOut(page, base);
  await site.logIn(page, base, 'plain');
  await page.goto(`${base}/account`);
  // The script's parts stay out of sight: no drop note, no preview, no bar.
  for (const id of ['#picture-drop-note', '#picture-preview', '#picture-progress-row']) {
    assert.equal(await page.locator(id).isVisible(), false, id);
  }

  const photo = await images.photo(browser, { width: 1000, height: 750, name: 'plain.jpg' });
  assert.equal(await upload(page, photo), 303);
  assert.equal(page.url(), `${base}/account`);
  assert.equal(await site.flash(page), 'Profile picture updated');
  const [first] = app.pictures();
  assert.deepEqual(await site.naturalSize(page, '#current-avatar'), { width: 300, height: 300, src: `/media/profile_pics/${first}` });
  await page.goto(`${base}/users/plain`);
  assert.deepEqual(await site.naturalSize(page, '#avatar'), { width: 300, height: 300, src: `/media/profile_pics/${first}` });

  await page.goto(`${base}/account`);
  const other = await images.photo(browser, { width: 700, height: 900, tint: 60, name: 'plain2.jpg' });
  assert.equal(await upload(page, other), 303);
  const [second] = app.pictures();
  assert.notEqual(second, first);
  assert.deepEqual(app.pictures(), [second]);
  assert.equal(await page.locator('#current-avatar').getAttribute('src'), `/media/profile_pics/${second}`);

  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Remove picture' }).click()]);
  assert.equal(await site.flash(page), 'Profile picture removed');
  assert.deepEqual(app.pictures(), []);
  assert.deepEqual(await site.naturalSize(page, '#current-avatar'), { width: 300, height: 300, src: '/avatars/plain.svg' });

  await site.logOut(page, base);
  assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Log in' }).count(), 1);
});

test('a HEIC photo, as a phone sends it, is taken without JavaScript: the centred square stored', async () => {
  const base = app.url;
  const page = await newPage(browser, { js: false });
  await site.register(page, base, 'plainheic');
  // The file chooser offers HEIC files, and the hint names the format.
  const accept = (await page.getByLabel('Choose a picture').getAttribute('accept')).split(',');
  for (const type of ['image/heic', 'image/heif', '.heic', '.heif']) assert.ok(accept.includes(type), type);
  assert.match(await page.locator('#picture-hint').textContent(), /JPEG XL, AVIF or HEIC, up to /);

  const before = app.pictures();
  assert.equal(await upload(page, images.heic('IMG_0002.HEIC')), 303);
  assert.equal(page.url(), `${base}/account`);
  assert.equal(await site.flash(page), 'Profile picture updated');
  assert.equal(await page.locator('#picture-error').count(), 0);
  const [stored] = app.pictures().filter((name) => !before.includes(name));
  assert.ok(stored, 'a new picture is stored');
  // 128×96: the centred square is 16..112 across, all 96 down, kept at 300×300.
  await page.goto(`${base}/users/plainheic`);
  assert.deepEqual(await site.naturalSize(page, '#avatar'), { width: 300, height: 300, src: `/media/profile_pics/${stored}` });
  const { topLeft, topRight, bottomLeft, bottomRight } = images.HEIC_COLOURS;
  for (const [box, colour, where] of [
    [[20, 20, 100, 100], topLeft, 'top left'],
    [[180, 20, 100, 100], topRight, 'top right'],
    [[20, 180, 100, 100], bottomLeft, 'bottom left'],
    [[180, 180, 100, 100], bottomRight, 'bottom right'],
  ]) {
    site.assertColour(await site.averageColour(page, '#avatar', box), colour, where);
  }
});

describe("the server's refusals, as the page shows them", () => {
  const cases = [
    ['too large', 413, () => images.photo(browser, { width: 500, height: 400, noise: 0.3, name: 'large.jpg' }), 'This file is larger than 64 KiB. Choose a smaller picture.'],
    ['SVG', 415, () => images.notPictures.svg(), `SVG files are not accepted. ${ACCEPTED}`],
    ['PDF', 415, () => images.notPictures.pdf(), `PDF files are not accepted. ${ACCEPTED}`],
    ['text named .jpg', 422, () => images.notPictures.textAsJpeg(), `This file is not a picture. ${ACCEPTED}`],
  ];
  cases.forEach(([what, status, make, message], i) => {
    test(`${what}: ${status}`, async () => {
      const file = await make();
      const size = fs.statSync(file).size;
      if (status === 413) assert.ok(size > 64 * 1024 && size < 2 * 64 * 1024, `between the limit and twice it: ${size}`);
      const page = await newPage(browser, { js: false });
      await site.register(page, small.url, `plainerr${i}`);
      const stored = small.pictures();
      assert.equal(await upload(page, file), status);
      assert.equal(page.url(), `${small.url}/account/picture`);
      const input = page.getByLabel('Choose a picture');
      assert.equal((await page.locator('#picture-error').textContent()).trim(), message);
      assert.equal(await input.getAttribute('aria-invalid'), 'true');
      assert.equal(await input.getAttribute('aria-describedby'), 'picture-error picture-hint');
      assert.deepEqual(small.pictures(), stored, 'nothing stored');
      // The form is right there to try again.
      const good = await images.photo(browser, { width: 300, height: 300, noise: 0.05, name: 'small-ok.jpg' });
      assert.equal(await upload(page, good), 303);
      assert.equal(await site.flash(page), 'Profile picture updated');
    });
  });
});
