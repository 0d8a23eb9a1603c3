// axe-core audits every main page, in its ordinary and its error states, in the light and the
// dark scheme; and the keyboard focus lands on the first field at fault.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { artifact, launch, newPage } = require('../lib/browser');
const images = require('../lib/images');
const site = require('../lib/site');

const AXE = require.resolve('axe-core/axe.min.js');
const FAIL_ON = new Set(['serious', 'critical']);

let app;
let browser;
let cookies; // a logged-in person with a picture
const report = [];

before(async () => {
  [app, browser] = await Promise.all([startApp(), launch()]);
  const page = await newPage(browser, { js: false });
  await site.register(page, app.url, 'grace');
  await page.getByLabel('Choose a picture').setInputFiles(await images.photo(browser, { width: 900, height: 700, name: 'grace.jpg' }));
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Upload picture' }).click()]);
  cookies = await page.context().cookies();
  await page.context().close();
  await site.register(await newPage(browser, { js: false }), app.url, 'henry');
});

after(async () => {
  fs.writeFileSync(artifact('axe-report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await browser?.close();
  await app?.stop();
});

/** Each state: how to get there from a fresh page (logged in unless `anonymous`). */
const STATES = [
  { name: 'home', anonymous: true, go: (p, b) => p.goto(`${b}/`) },
  { name: 'home, logged in', go: (p, b) => p.goto(`${b}/`) },
  { name: 'register', anonymous: true, go: (p, b) => p.goto(`${b}/register`) },
  {
    name: 'register with errors',
    anonymous: true,
    go: async (p, b) => {
      await p.goto(`${b}/register`);
      await p.getByLabel('Username').fill('x');
      await Promise.all([p.waitForNavigation(), p.getByRole('button', { name: 'Create account' }).click()]);
    },
  },
  { name: 'login', anonymous: true, go: (p, b) => p.goto(`${b}/login`) },
  {
    name: 'login refused',
    anonymous: true,
    go: async (p, b) => {
      await p.goto(`${b}/login`);
      await p.getByLabel('Username or email').fill('grace');
      await p.getByLabel('Password').fill('not her password');
      await Promise.all([p.waitForNavigation(), p.getByRole('button', { name: 'Log in' }).click()]);
    },
  },
  { name: 'account', go: (p, b) => p.goto(`${b}/account`) },
  {
    name: 'account, picture refused',
    go: async (p, b) => {
      await p.goto(`${b}/account`);
      await p.getByLabel('Choose a picture').setInputFiles(images.notPictures.svg());
      await p.locator('#picture-error').waitFor();
    },
  },
  {
    name: 'account, profile errors',
    go: async (p, b) => {
      await p.goto(`${b}/account`);
      await p.getByLabel('Username', { exact: true }).fill('x');
      await p.getByLabel('Email', { exact: true }).fill('nope');
      await Promise.all([p.waitForNavigation(), p.getByRole('button', { name: 'Save profile' }).click()]);
    },
  },
  { name: 'profile with picture', anonymous: true, go: (p, b) => p.goto(`${b}/users/grace`) },
  { name: 'profile with initials avatar', go: (p, b) => p.goto(`${b}/users/henry`) },
  { name: 'not found', anonymous: true, go: (p, b) => p.goto(`${b}/nowhere`) },
  { name: 'API reference', anonymous: true, go: (p, b) => p.goto(`${b}/api/docs`) },
];

describe('axe-core finds nothing serious', () => {
  for (const colorScheme of ['light', 'dark']) {
    for (const state of STATES) {
      test(`${state.name} (${colorScheme})`, async () => {
        // CSP bypassed for this audit only, so axe's script can be injected.
        const page = await newPage(browser, { colorScheme, bypassCSP: true });
        if (!state.anonymous) await page.context().addCookies(cookies);
        await state.go(page, app.url);
        await page.addScriptTag({ path: AXE });
        const { violations } = await page.evaluate(() =>
          window.axe.run(document, { resultTypes: ['violations'] }),
        );
        const found = violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.split('\n').slice(1).join(' ').trim()}`),
        }));
        report.push({ page: state.name, colorScheme, violations: found });
        const serious = found.filter((v) => FAIL_ON.has(v.impact));
        assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
        await page.context().close();
      });
    }
  }
});

describe('the keyboard focus goes to the first field at fault', () => {
  test('registration', async () => {
    const page = await newPage(browser);
    await page.goto(`${app.url}/register`);
    await page.getByLabel('Email').fill('not an email');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create account' }).click()]);
    // Username (empty) comes first, then the email.
    assert.equal(await site.focusedId(page), 'username');
    assert.equal(await page.locator('#username').getAttribute('aria-describedby'), 'username-error');
    assert.equal((await page.locator('#username-error').textContent()).trim(), 'Choose a username.');
    assert.equal(await page.locator('#email').getAttribute('aria-describedby'), 'email-error');
  });

  test('login', async () => {
    const page = await newPage(browser);
    await page.goto(`${app.url}/login`);
    await page.getByLabel('Username or email').fill('grace');
    await page.getByLabel('Password').fill('not her password');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Log in' }).click()]);
    assert.equal(await site.focusedId(page), 'username');
    assert.equal(await page.locator('#password').getAttribute('aria-describedby'), 'login-error');
  });

  test('the account page, second form', async () => {
    const page = await newPage(browser);
    await page.context().addCookies(cookies);
    await page.goto(`${app.url}/account`);
    await page.getByLabel('Current password').fill('wrong wrong wrong');
    await page.getByLabel('New password', { exact: true }).fill('another-long-pass');
    await page.getByLabel('Confirm new password').fill('another-long-pass');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Change password' }).click()]);
    assert.equal(await site.focusedId(page), 'current_password');
  });

  test('a visible focus ring follows the keyboard', async () => {
    const page = await newPage(browser);
    await page.goto(`${app.url}/login`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    assert.equal(await page.locator('.skip-link').isVisible(), true);
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => {
      const style = getComputedStyle(document.activeElement);
      return { text: document.activeElement.textContent, style: style.outlineStyle, width: style.outlineWidth };
    });
    assert.deepEqual(outline, { text: 'Folio', style: 'solid', width: '3px' });
  });
});
