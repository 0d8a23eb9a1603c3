// Choosing the square to keep, with JavaScript on: the picture shown upright with a square to
// drag and resize by mouse, touch or keyboard, the live preview, and the numbers sent with the
// file (crop_x, crop_y, crop_size, pixels of the upright picture). A picture the browser cannot
// show gets the centred square, said in words; without JavaScript the form is unchanged.
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { launch, newPage } = require('../lib/browser');
const images = require('../lib/images');
const site = require('../lib/site');

const AXE = require.resolve('axe-core/axe.min.js');
const { topLeft: RED, topRight: GREEN, bottomLeft: BLUE, bottomRight: YELLOW } = images.QUADRANT_COLOURS;
// orientedSquare's colours.
const TURNED_YELLOW = [255, 221, 0];
const TURNED_BLUE = [0, 64, 255];
const FALLBACK = 'This browser cannot show this picture, so the centred square will be used.';
const ICON_FALLBACK = 'An icon holds several pictures, so the centred square of the one Folio picks will be used.';

let app;
let browser;
let quadrants; // 600×400 PNG: red | green over blue | yellow

before(async () => {
  [app, browser] = await Promise.all([startApp(), launch()]);
  quadrants = await images.quadrants(browser, { width: 600, height: 400, name: 'quadrants.png' });
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** A new member on the account page. */
async function accountPage(username, options = {}) {
  const page = await newPage(browser, options);
  await site.register(page, app.url, username);
  return page;
}

/** The square's numbers in the form, or null where a field is missing. */
function cropFields(page) {
  return page.locator('#picture-form').evaluate((form) => {
    const value = (name) => form.querySelector(`input[name="${name}"]`)?.value ?? null;
    return { x: value('crop_x'), y: value('crop_y'), size: value('crop_size') };
  });
}

/** The numbers as numbers. */
async function square(page) {
  const { x, y, size } = await cropFields(page);
  return { x: Number(x), y: Number(y), size: Number(size) };
}

/** The names the form posts, as the script sends it (FormData of the form). */
function postedNames(page) {
  return page.locator('#picture-form').evaluate((form) => [...new FormData(form).keys()]);
}

/** Chooses `file` and waits for the square to be shown. */
async function choose(page, file) {
  await page.getByLabel('Choose a picture').setInputFiles(file);
  await page.getByRole('application', { name: 'Chosen square' }).waitFor();
  await page.locator('#picture-preview').waitFor({ state: 'visible' });
}

async function centre(locator) {
  const box = await locator.boundingBox();
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Presses at `from`, moves in steps to `to` and lets go, with the mouse. */
async function mouseDrag(page, from, to) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(to.x, to.y, { steps: 8 });
  await page.mouse.up();
}

/** The same with one finger, through the DevTools protocol's touch events. */
async function touchDrag(page, from, to) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 1 });
  const point = ({ x, y }) => [{ x, y, id: 1, radiusX: 4, radiusY: 4, force: 1 }];
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: point(from) });
  for (let i = 1; i <= 8; i++) {
    const at = { x: from.x + ((to.x - from.x) * i) / 8, y: from.y + ((to.y - from.y) * i) / 8 };
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: point(at) });
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.detach();
}

/** Uploads with the button and waits for the page to be updated in place. */
async function upload(page) {
  const answer = page.waitForResponse((r) => r.url().endsWith('/account/picture') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Upload picture' }).click();
  assert.equal((await answer).status(), 303);
  await page.locator('#messages').getByText('Profile picture updated').waitFor();
}

/** The average colour of the middle of the stored picture, as the profile page shows it. */
async function storedMiddle(page, username) {
  await page.goto(`${app.url}/users/${username}`);
  const { width, height } = await site.naturalSize(page, '#avatar');
  assert.deepEqual([width, height], [300, 300]);
  return site.averageColour(page, '#avatar', [20, 20, 260, 260]);
}

test('the square dragged with the mouse onto one quadrant is the one previewed and stored', async () => {
  const page = await accountPage('mouse');
  await choose(page, quadrants);
  // At first, the largest centred square: what the server keeps anyway.
  assert.deepEqual(await cropFields(page), { x: '100', y: '0', size: '400' });
  assert.deepEqual(await postedNames(page), ['csrf_token', 'crop_x', 'crop_y', 'crop_size', 'picture']);

  const stage = await page.locator('#picture-crop-stage').boundingBox();
  const cssPerPixel = stage.width / 600;
  assert.ok(Math.abs(stage.height / 400 - cssPerPixel) < 0.01, 'shown at its own proportions');

  // The corner: 250 pixels of the picture up and left makes a 150-pixel square.
  const corner = await centre(page.locator('#picture-crop-handle'));
  await mouseDrag(page, corner, { x: corner.x - 250 * cssPerPixel, y: corner.y - 250 * cssPerPixel });
  let chosen = await square(page);
  assert.equal(chosen.x, 100, 'the top left corner stays');
  assert.equal(chosen.y, 0);
  assert.ok(Math.abs(chosen.size - 150) <= 2, `about 150: ${chosen.size}`);

  // The square itself, onto the middle of the green quadrant (450, 100).
  const from = await centre(page.locator('#picture-crop-square'));
  await mouseDrag(page, from, { x: stage.x + 450 * cssPerPixel, y: stage.y + 100 * cssPerPixel });
  chosen = await square(page);
  assert.ok(Math.abs(chosen.x + chosen.size / 2 - 450) <= 2, `centred on x 450: ${JSON.stringify(chosen)}`);
  assert.ok(Math.abs(chosen.y + chosen.size / 2 - 100) <= 2, `centred on y 100: ${JSON.stringify(chosen)}`);
  assert.equal(await site.focusedId(page), 'picture-crop-square', 'the square has the focus');
  // It never leaves the picture: dragged far past the top right corner, it stops there.
  const again = await centre(page.locator('#picture-crop-square'));
  await mouseDrag(page, again, { x: stage.x + stage.width + 300, y: stage.y - 300 });
  chosen = await square(page);
  assert.deepEqual([chosen.x + chosen.size, chosen.y], [600, 0], JSON.stringify(chosen));

  // On screen, the square covers the same part of the picture as its numbers.
  const shown = await page.locator('#picture-crop-square').boundingBox();
  assert.ok(Math.abs(shown.x - (stage.x + chosen.x * cssPerPixel)) <= 1, `left ${shown.x}`);
  assert.ok(Math.abs(shown.width - chosen.size * cssPerPixel) <= 1, `width ${shown.width}`);

  site.assertColour(await site.averageColour(page, '#picture-preview-canvas', [10, 10, 280, 280]), GREEN, 'preview');
  await upload(page);
  site.assertColour(await storedMiddle(page, 'mouse'), GREEN, 'stored');
  assert.deepEqual(page.problems, []);
});

test('with the keyboard alone: arrows move, + and − resize around the centre, upright pixels', async () => {
  const page = await accountPage('keys');
  // Stored 600×300 and turned by EXIF (6): upright 300×600, red above and below a square
  // that is blue on the left and yellow on the right.
  const turned = await images.orientedSquare(browser, 6, 'turned-keys.jpg');
  await choose(page, turned);
  assert.deepEqual(await cropFields(page), { x: '0', y: '150', size: '300' }, 'upright numbers');
  site.assertColour(await site.averageColour(page, '#picture-preview-canvas', [20, 100, 100, 100]), TURNED_BLUE, 'preview, left');
  site.assertColour(await site.averageColour(page, '#picture-preview-canvas', [180, 100, 100, 100]), TURNED_YELLOW, 'preview, right');

  await page.getByLabel('Choose a picture').focus();
  await page.keyboard.press('Tab');
  assert.equal(await site.focusedId(page), 'picture-crop-square', 'the square is next in the tab order');
  const squareEl = page.locator('#picture-crop-square');
  assert.equal(await squareEl.getAttribute('aria-label'), 'Chosen square');
  const described = await squareEl.evaluate((el) =>
    el.getAttribute('aria-describedby').split(' ').map((id) => document.getElementById(id).textContent).join(' '),
  );
  assert.match(described, /arrow keys move, \+ and − resize/);
  assert.match(described, /Square of 300 by 300 pixels, 0 from the left and 150 from the top/);

  const scrolled = await page.evaluate(() => window.scrollY);
  // The short side is 300: a step is 3 pixels, with Shift 30; + and − act on every side.
  const steps = [
    ['Shift+Minus', { x: 30, y: 180, size: 240 }],
    ['Shift+Minus', { x: 60, y: 210, size: 180 }],
    ['Equal', { x: 57, y: 207, size: 186 }],
    ['Shift+Equal', { x: 27, y: 177, size: 246 }],
    ['Shift+Minus', { x: 57, y: 207, size: 186 }],
    ['Minus', { x: 60, y: 210, size: 180 }],
    ['Minus', { x: 63, y: 213, size: 174 }],
  ];
  for (const [key, expected] of steps) {
    await page.keyboard.press(key);
    assert.deepEqual(await square(page), expected, key);
  }
  for (let i = 0; i < 8; i++) await page.keyboard.press('Minus');
  assert.deepEqual(await square(page), { x: 87, y: 237, size: 126 });
  for (let i = 0; i < 3; i++) await page.keyboard.press('Shift+ArrowLeft');
  assert.deepEqual(await square(page), { x: 0, y: 237, size: 126 }, 'stopped at the left edge');
  for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  assert.deepEqual(await square(page), { x: 3, y: 267, size: 126 });
  // Inside the blue half now; the change is spoken once the keys rest.
  await page.locator('#picture-crop-status').getByText('Square of 126 by 126 pixels, 3 from the left and 267 from the top').waitFor({ state: 'attached' });
  assert.equal(await page.locator('#picture-crop-status').getAttribute('aria-live'), 'polite');
  site.assertColour(await site.averageColour(page, '#picture-preview-canvas', [10, 10, 280, 280]), TURNED_BLUE, 'preview');
  assert.equal(await page.evaluate(() => window.scrollY), scrolled, 'the arrows did not scroll the page');

  await page.keyboard.press('Tab');
  assert.equal(await site.focusedId(page), 'picture-submit');
  const answer = page.waitForResponse((r) => r.url().endsWith('/account/picture'));
  await page.keyboard.press('Enter');
  assert.equal((await answer).status(), 303);
  await page.locator('#messages').getByText('Profile picture updated').waitFor();
  site.assertColour(await storedMiddle(page, 'keys'), TURNED_BLUE, 'stored');
  assert.deepEqual(page.problems, []);
});

test('a picture the browser cannot show: the centred square, said in words, and no numbers', async () => {
  const page = await accountPage('tiff');
  // First a picture it can show: the square and its numbers…
  await choose(page, quadrants);
  assert.equal(await page.locator('#picture-crop-note').isVisible(), false);
  // …then a TIFF, which Folio takes and browsers cannot show.
  const tiff = images.quadrantsTiff({ width: 600, height: 400, name: 'quadrants.tif' });
  await page.getByLabel('Choose a picture').setInputFiles(tiff);
  const note = page.locator('#picture-crop-note');
  await note.getByText(FALLBACK).waitFor();
  assert.equal(await note.isVisible(), true);
  assert.equal(await note.getAttribute('role'), 'status');
  assert.equal(await page.locator('#picture-crop-editor').isVisible(), false, 'no square');
  assert.equal(await page.locator('#picture-preview').isVisible(), false, 'no preview');
  assert.deepEqual(await cropFields(page), { x: null, y: null, size: null });
  assert.equal(await page.locator('#picture-error').count(), 0);

  const request = page.waitForRequest((r) => r.url().endsWith('/account/picture') && r.method() === 'POST');
  assert.deepEqual(await postedNames(page), ['csrf_token', 'picture']);
  await upload(page);
  const body = (await request).postDataBuffer();
  if (body) assert.ok(!body.includes('crop_'), 'no crop fields in the request');
  // The server kept the centred square: 100..500 across, all 400 down.
  await page.goto(`${app.url}/users/tiff`);
  for (const [box, colour, where] of [
    [[20, 20, 100, 100], RED, 'top left'],
    [[180, 20, 100, 100], GREEN, 'top right'],
    [[20, 180, 100, 100], BLUE, 'bottom left'],
    [[180, 180, 100, 100], YELLOW, 'bottom right'],
  ]) {
    site.assertColour(await site.averageColour(page, '#avatar', box), colour, where);
  }
  assert.deepEqual(page.problems, []);
});

test('a HEIC file shows the fallback text: Folio takes it, Chromium cannot show it, the centred square is stored', async () => {
  const page = await accountPage('heic');
  // A square and its numbers first, so their going is seen.
  await choose(page, quadrants);
  // A real HEIC (128×96, HEVC), named as a phone names it.
  await page.getByLabel('Choose a picture').setInputFiles(images.heic('IMG_0001.HEIC'));
  const note = page.locator('#picture-crop-note');
  await note.getByText(FALLBACK).waitFor();
  assert.equal(await note.isVisible(), true);
  assert.equal(await note.getAttribute('role'), 'status');
  assert.equal(await page.locator('#picture-error').count(), 0, 'not refused');
  assert.equal(await page.locator('#picture').getAttribute('aria-invalid'), null);
  assert.equal(await page.locator('#picture-crop-editor').isVisible(), false, 'no square');
  assert.equal(await page.locator('#picture-preview').isVisible(), false, 'no preview');
  assert.deepEqual(await cropFields(page), { x: null, y: null, size: null });

  const request = page.waitForRequest((r) => r.url().endsWith('/account/picture') && r.method() === 'POST');
  assert.deepEqual(await postedNames(page), ['csrf_token', 'picture']);
  await upload(page);
  const body = (await request).postDataBuffer();
  if (body) {
    assert.ok(!body.includes('crop_'), 'no crop fields in the request');
    assert.ok(body.includes('filename="IMG_0001.HEIC"'), 'the HEIC itself was sent');
  }
  // The server kept the centred square: 16..112 across, all 96 down, at 300×300.
  const { topLeft, topRight, bottomLeft, bottomRight } = images.HEIC_COLOURS;
  await page.goto(`${app.url}/users/heic`);
  const { width, height } = await site.naturalSize(page, '#avatar');
  assert.deepEqual([width, height], [300, 300]);
  for (const [box, colour, where] of [
    [[20, 20, 100, 100], topLeft, 'top left'],
    [[180, 20, 100, 100], topRight, 'top right'],
    [[20, 180, 100, 100], bottomLeft, 'bottom left'],
    [[180, 180, 100, 100], bottomRight, 'bottom right'],
  ]) {
    site.assertColour(await site.averageColour(page, '#avatar', box), colour, where);
  }
  assert.deepEqual(page.problems, []);
});

test('without JavaScript the form has no crop fields and the centred square is stored', async () => {
  const page = await accountPage('plain', { js: false });
  assert.equal(await page.locator('#picture-form [name^="crop_"]').count(), 0);
  assert.equal(await page.locator('#picture-crop').count(), 0);
  await page.getByLabel('Choose a picture').setInputFiles(quadrants);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/account/picture') && r.request().method() === 'POST'),
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Upload picture' }).click(),
  ]);
  assert.equal(response.status(), 303);
  assert.equal(await site.flash(page), 'Profile picture updated');
  await page.goto(`${app.url}/users/plain`);
  site.assertColour(await site.averageColour(page, '#avatar', [20, 20, 100, 100]), RED, 'top left');
  site.assertColour(await site.averageColour(page, '#avatar', [180, 20, 100, 100]), GREEN, 'top right');
  site.assertColour(await site.averageColour(page, '#avatar', [20, 180, 100, 100]), BLUE, 'bottom left');
  site.assertColour(await site.averageColour(page, '#avatar', [180, 180, 100, 100]), YELLOW, 'bottom right');
});

describe('axe-core finds nothing serious with the square showing', () => {
  for (const colorScheme of ['light', 'dark']) {
    test(colorScheme, async () => {
      // CSP bypassed for this audit only, so axe's script can be injected.
      const page = await accountPage(`axe${colorScheme}`, { colorScheme, bypassCSP: true });
      await choose(page, quadrants);
      await page.locator('#picture-crop-square').focus();
      await page.keyboard.press('Minus');
      const audit = async () => {
        await page.addScriptTag({ path: AXE });
        const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
        return violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }));
      };
      assert.deepEqual(await audit(), []);
      // And the words of the fallback.
      await page.getByLabel('Choose a picture').setInputFiles(images.quadrantsTiff({ width: 60, height: 40, name: 'small.tif' }));
      await page.locator('#picture-crop-note').getByText(FALLBACK).waitFor();
      assert.deepEqual(await audit(), []);
      assert.deepEqual(page.problems, []);
    });
  }
});

test('on a 360 px phone the chooser fits, and a finger drags the square', async () => {
  const page = await accountPage('phone', { width: 360, height: 740 });
  await choose(page, quadrants);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling');
  for (const id of ['#picture-crop-stage', '#picture-preview-canvas', '#picture-crop-help']) {
    const box = await page.locator(id).boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 360, `${id} inside the screen: ${JSON.stringify(box)}`);
  }
  assert.equal(await page.locator('#picture-crop-stage').evaluate((el) => getComputedStyle(el).touchAction), 'none');

  // Shown smaller than the picture, the numbers still are the picture's own pixels.
  await page.locator('#picture-crop-stage').scrollIntoViewIfNeeded();
  const stage = await page.locator('#picture-crop-stage').boundingBox();
  const cssPerPixel = stage.width / 600;
  assert.ok(cssPerPixel < 0.6, `scaled down: ${cssPerPixel}`);
  const corner = await centre(page.locator('#picture-crop-handle'));
  await touchDrag(page, corner, { x: corner.x - 220 * cssPerPixel, y: corner.y - 220 * cssPerPixel });
  let chosen = await square(page);
  assert.equal(chosen.x, 100);
  assert.ok(Math.abs(chosen.size - 180) <= 3, `about 180: ${chosen.size}`);
  const from = await centre(page.locator('#picture-crop-square'));
  await touchDrag(page, from, { x: stage.x + 150 * cssPerPixel, y: stage.y + 300 * cssPerPixel });
  chosen = await square(page);
  assert.ok(Math.abs(chosen.x + chosen.size / 2 - 150) <= 3, JSON.stringify(chosen));
  assert.ok(Math.abs(chosen.y + chosen.size / 2 - 300) <= 3, JSON.stringify(chosen));
  assert.equal(await page.evaluate(() => window.scrollX), 0);
  site.assertColour(await site.averageColour(page, '#picture-preview-canvas', [10, 10, 280, 280]), BLUE, 'preview');
  await upload(page);
  site.assertColour(await storedMiddle(page, 'phone'), BLUE, 'stored');
  assert.deepEqual(page.problems, []);
});

test('an icon: no square (browsers and the server may pick different pictures in it), said in words', async () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const png = fs.readFileSync(quadrants);
  // ICONDIR (reserved, type 1, one entry) + ICONDIRENTRY (0 = 256, 32 bpp, size, offset 22) + the PNG.
  const header = Buffer.alloc(22);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(1, 4);
  header.writeUInt8(0, 6);
  header.writeUInt8(0, 7);
  header.writeUInt16LE(1, 10);
  header.writeUInt16LE(32, 12);
  header.writeUInt32LE(png.length, 14);
  header.writeUInt32LE(22, 18);
  const icon = path.join(path.dirname(quadrants), 'quadrants.ico');
  fs.writeFileSync(icon, Buffer.concat([header, png]));

  const page = await accountPage('icon');
  await choose(page, quadrants);
  await page.getByLabel('Choose a picture').setInputFiles(icon);
  const note = page.locator('#picture-crop-note');
  await note.getByText(ICON_FALLBACK).waitFor();
  assert.equal(await page.locator('#picture-crop-editor').isVisible(), false, 'no square');
  assert.deepEqual(await cropFields(page), { x: null, y: null, size: null });
  assert.deepEqual(await postedNames(page), ['csrf_token', 'picture']);
  assert.deepEqual(page.problems, []);
});
