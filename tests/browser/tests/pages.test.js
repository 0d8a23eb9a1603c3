// The main pages as a person sees them, at phone and desktop widths: every image loaded with
// its size written in the page, nothing wider than the window, and a screenshot of each
// (artifacts/; `npm run screenshots` copies them to docs/screenshots/).
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { artifact, launch, newPage } = require('../lib/browser');
const images = require('../lib/images');
const site = require('../lib/site');

let app;
let browser;
let cookies; // a logged-in person with a picture

before(async () => {
  [app, browser] = await Promise.all([startApp(), launch()]);
  const page = await newPage(browser, { js: false });
  await site.register(page, app.url, 'grace');
  await page.getByLabel('Choose a picture').setInputFiles(await images.photo(browser, { width: 1200, height: 900, noise: 0.03, name: 'grace.jpg' }));
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Upload picture' }).click()]);
  assert.equal(await site.flash(page), 'Profile picture updated');
  cookies = await page.context().cookies();
  await page.context().close();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

const PAGES = [
  { name: 'home', path: '/', anonymous: true },
  { name: 'register', path: '/register', anonymous: true },
  { name: 'login', path: '/login', anonymous: true },
  { name: 'account', path: '/account' },
  { name: 'profile', path: '/users/grace' },
  { name: 'api-docs', path: '/api/docs', anonymous: true },
];

async function open(target, options) {
  const page = await newPage(browser, options);
  if (!target.anonymous) await page.context().addCookies(cookies);
  await page.goto(`${app.url}${target.path}`);
  assert.equal(new URL(page.url()).pathname, target.path);
  // Every image has loaded and has its size written in the page.
  const images = await page.locator('img').evaluateAll((all) =>
    Promise.all(all.map(async (img) => {
      await img.decode();
      return { src: img.getAttribute('src'), width: img.getAttribute('width'), height: img.getAttribute('height'), natural: img.naturalWidth };
    })),
  );
  for (const img of images) {
    assert.ok(img.width && img.height && img.natural > 0, `${target.name}: ${JSON.stringify(img)}`);
  }
  return page;
}

describe('screenshots', () => {
  for (const width of [360, 1280]) {
    for (const target of PAGES) {
      test(`${target.name} at ${width} px`, async () => {
        const page = await open(target, { width, height: width === 360 ? 740 : 800 });
        // Nothing is wider than the window: no sideways scrolling on a phone.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${target.name} is ${overflow}px too wide at ${width}px`);
        await page.screenshot({ path: artifact(`${target.name}-${width}.png`) });
        await page.context().close();
      });
    }
  }
  test('account with a chosen picture previewed, at 1280 px', async () => {
    const page = await open(PAGES[3], { width: 1280, height: 800 });
    const photo = await images.photo(browser, { width: 900, height: 1200, tint: 140, noise: 0.03, name: 'next.jpg' });
    await page.getByLabel('Choose a picture').setInputFiles(photo);
    await page.locator('#picture-preview').waitFor({ state: 'visible' });
    await page.screenshot({ path: artifact('account-preview-1280.png') });
    await page.context().close();
  });

  test('account in the dark scheme at 360 px', async () => {
    const page = await open(PAGES[3], { width: 360, height: 740, colorScheme: 'dark' });
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(background, 'rgb(18, 21, 27)', 'the dark palette follows the system');
    await page.screenshot({ path: artifact('account-dark-360.png') });
    await page.context().close();
  });
});
