// The bytes a phone at 2× fetches for the member directory and the home page, with 20
// members who uploaded photos, and what the same pages fetched when every face was its
// 300×300 JPEG (the sum of the masters of the faces shown: what a page without renditions
// loaded).
//
//   npm ci --prefix tests/browser
//   FOLIO_BINARY=target/release/folio node benches/page_weight.js
//
// Uses the browser tests' helpers (tests/browser/lib): Debian's Chromium, the real binary on a
// free port with a fresh database and media folder.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { startApp } = require('../tests/browser/lib/app');
const { launch } = require('../tests/browser/lib/browser');
const images = require('../tests/browser/lib/images');
const site = require('../tests/browser/lib/site');

const MEMBERS = 20;

async function seed(browser, app) {
  for (let i = 0; i < MEMBERS; i += 1) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const username = `member${String(i).padStart(2, '0')}`;
    await site.register(page, app.url, username);
    const file = await images.photo(browser, { width: 1600, height: 1200, tint: i * 7, noise: 0.6, name: `${username}.jpg` });
    await page.getByLabel('Choose a picture').setInputFiles(file);
    // The page's script sends the form itself: wait for the answer, not for a navigation.
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/account/picture') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Upload picture' }).click(),
    ]);
    if (![200, 303].includes(answer.status())) throw new Error(`upload for ${username}: ${answer.status()}`);
    await context.close();
  }
}

/** What a 390×844 phone at 2× fetches for `pagePath`, scrolled to the end (lazy faces too). */
async function weigh(browser, app, pagePath) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  const fetched = [];
  page.on('response', async (response) => {
    const type = response.request().resourceType();
    try {
      const body = await response.body();
      fetched.push({ type, url: response.url(), bytes: body.length, encoding: response.headers()['content-encoding'] || '' });
    } catch {
      // A redirect has no body.
    }
  });
  await page.goto(`${app.url}${pagePath}`, { waitUntil: 'networkidle' });
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(500);
  // The faces shown, by their master's name: what the page loaded before renditions existed.
  const masters = await page.$$eval('main img', (imgs) =>
    imgs.map((img) => img.getAttribute('src')).filter((src) => src.includes('/profile_pics/')),
  );
  await context.close();
  const images = fetched.filter((f) => f.type === 'image' && f.url.includes('/profile_pics/'));
  const before = masters.reduce(
    (sum, src) => sum + fs.statSync(path.join(app.mediaDir, src.split('/').pop())).size,
    0,
  );
  return {
    page: pagePath,
    faces: masters.length,
    before,
    after: images.reduce((sum, f) => sum + f.bytes, 0),
    files: [...new Set(images.map((f) => f.url.split('/').pop().replace(/^[0-9a-f-]{36}/, '')))].join(' '),
  };
}

(async () => {
  const app = await startApp({ FOLIO_SIGNUPS_PER_HOUR: '0' });
  const browser = await launch();
  try {
    await seed(browser, app);
    console.log(`${MEMBERS} members with 1600×1200 photos; a 390×844 phone at 2×, pictures only:`);
    for (const pagePath of ['/users', '/']) {
      const w = await weigh(browser, app, pagePath);
      const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
      console.log(
        `${w.page.padEnd(7)} ${String(w.faces).padStart(2)} faces: ${kb(w.before)} as 300×300 JPEGs → ${kb(w.after)} fetched (${w.files})`,
      );
    }
  } finally {
    await browser.close();
    await app.stop();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
