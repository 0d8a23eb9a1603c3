// The whole journey with JavaScript on: register, log out, log in, upload a photo through the
// file input (preview, progress, no reload), see it on the profile, replace it, remove it,
// log out.
'use strict';

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');

const { startApp } = require('../lib/app');
const { launch, newPage } = require('../lib/browser');
const images = require('../lib/images');
const site = require('../lib/site');

let app;
let browser;

before(async () => {
  [app, browser] = await Promise.all([startApp(), launch()]);
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

test('a person registers, uploads, replaces and removes a picture, and logs out', async () => {
  const base = app.url;
  const page = await newPage(browser);
  const first = await images.photo(browser, { width: 1200, height: 800, name: 'holiday.jpg' });
  const second = await images.photo(browser, { width: 800, height: 1000, tint: 120, name: 'portrait.jpg' });

  await site.register(page, base, 'ada');
  assert.equal(
    await site.flash(page),
    'Welcome to Folio, ada! Add a profile picture below. A link to confirm your address is on its way to ada@example.com.',
  );
  await site.logOut(page, base);
  assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Log in' }).count(), 1);
  await site.logIn(page, base, 'ada');
  await page.goto(`${base}/account`);

  // No picture yet: the initials avatar, drawn by the app, 300×300.
  const initial = await site.naturalSize(page, '#current-avatar');
  assert.deepEqual(initial, { width: 300, height: 300, src: '/avatars/ada.svg' });

  // Choosing a photo shows the square that will be kept, before anything is sent.
  await page.evaluate(() => (window.notReloaded = true));
  await page.getByLabel('Choose a picture').setInputFiles(first);
  await page.locator('#picture-preview').waitFor({ state: 'visible' });
  assert.deepEqual(app.pictures(), [], 'nothing is sent before the button');

  const uploaded = page.waitForResponse((r) => r.url().endsWith('/account/picture'));
  await page.getByRole('button', { name: 'Upload picture' }).click();
  await uploaded;
  await page.locator('#messages').getByText('Profile picture updated').waitFor();
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was updated in place');
  const stored = app.pictures();
  assert.equal(stored.length, 1);
  const current = await site.naturalSize(page, '#current-avatar');
  assert.deepEqual(current, { width: 300, height: 300, src: `/media/profile_pics/${stored[0]}` });
  assert.equal(await page.locator('#nav-avatar').getAttribute('src'), current.src, 'the header follows');
  assert.equal(await page.getByRole('button', { name: 'Remove picture' }).count(), 1);
  assert.equal(await site.focusedId(page), 'picture');

  // The public profile shows it at 300×300: the photo's sky on top, hills below.
  await page.goto(`${base}/users/ada`);
  assert.deepEqual(await site.naturalSize(page, '#avatar'), current);
  assert.equal(await page.locator('#avatar').getAttribute('alt'), 'Profile picture of ada');
  const sky = await site.averageColour(page, '#avatar', [100, 5, 100, 20]);
  const hills = await site.averageColour(page, '#avatar', [100, 270, 100, 25]);
  assert.ok(sky[2] > sky[0] + 60, `blue sky on top: rgb(${sky})`);
  assert.ok(hills[1] > hills[2], `green hills below: rgb(${hills})`);

  // Replacing it: a new file, the old one gone, a different picture.
  await page.goto(`${base}/account`);
  await page.getByLabel('Choose a picture').setInputFiles(second);
  await page.locator('#picture-preview').waitFor({ state: 'visible' });
  await page.getByRole('button', { name: 'Upload picture' }).click();
  await page.locator('#messages').getByText('Profile picture updated').waitFor();
  const replaced = app.pictures();
  assert.equal(replaced.length, 1);
  assert.notEqual(replaced[0], stored[0]);
  await page.goto(`${base}/users/ada`);
  const now = await site.naturalSize(page, '#avatar');
  assert.deepEqual(now, { width: 300, height: 300, src: `/media/profile_pics/${replaced[0]}` });
  const newSky = await site.averageColour(page, '#avatar', [100, 5, 100, 20]);
  assert.ok(Math.abs(newSky[0] - sky[0]) + Math.abs(newSky[1] - sky[1]) > 60, `another sky: rgb(${newSky}) vs rgb(${sky})`);

  // Removing it: back to the initials avatar, no file left.
  await page.goto(`${base}/account`);
  await Promise.all([page.waitForURL(`${base}/account`), page.getByRole('button', { name: 'Remove picture' }).click()]);
  assert.equal(await site.flash(page), 'Profile picture removed');
  assert.deepEqual(app.pictures(), []);
  assert.deepEqual(await site.naturalSize(page, '#current-avatar'), initial);
  await page.goto(`${base}/users/ada`);
  assert.deepEqual(await site.naturalSize(page, '#avatar'), { ...initial });
  const corner = await site.averageColour(page, '#avatar', [0, 0, 20, 20]);
  assert.ok(Math.max(...corner) - Math.min(...corner) > 40, `a coloured background, not grey: rgb(${corner})`);

  await site.logOut(page, base);
  await page.goto(`${base}/account`);
  assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/login?next=/account');
  assert.deepEqual(page.problems, []);
});
