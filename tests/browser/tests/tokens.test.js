// The "Access tokens" card on the account page as a person uses it: without JavaScript, with
// the keyboard and a screen reader's names, on a 360 px phone, audited by axe-core.
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { artifact, launch, newPage } = require('../lib/browser');
const site = require('../lib/site');

const AXE = require.resolve('axe-core/axe.min.js');
const FAIL_ON = new Set(['serious', 'critical']);
const TOKEN = /^folio_[0-9A-Za-z]{38}$/;

let app;
let browser;
let cookies; // a logged-in person

before(async () => {
  [app, browser] = await Promise.all([startApp(), launch()]);
  const page = await newPage(browser, { js: false });
  await site.register(page, app.url, 'tess');
  cookies = await page.context().cookies();
  await page.context().close();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

async function accountPage(options = {}) {
  const page = await newPage(browser, options);
  await page.context().addCookies(cookies);
  await page.goto(`${app.url}/account`);
  return page;
}

/** Fills and sends the form; resolves on the page that follows. */
async function createToken(page, { name, access = 'Read', expires = '30 days' }) {
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByRole('radio', { name: new RegExp(`^${access}:`) }).check();
  await page.getByLabel('Expires').selectOption({ label: expires });
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create token' }).click()]);
}

test('without JavaScript a token is made, shown once, listed and revoked', async () => {
  const page = await accountPage({ js: false });
  await createToken(page, { name: 'nightly backup', access: 'Write', expires: '90 days' });
  assert.equal(await site.flash(page), 'Access token created');
  const token = (await page.locator('#new-token').textContent()).trim();
  assert.match(token, TOKEN);
  assert.match(await page.locator('.new-token').textContent(), /will not be shown again/);
  // It is the first thing after the page's heading, not somewhere below the other forms.
  assert.equal(await page.locator('h1 + section').getAttribute('aria-labelledby'), 'new-token-heading');

  await page.reload();
  assert.equal(await page.locator('#new-token').count(), 0, 'shown once');
  const item = page.getByRole('listitem').filter({ hasText: 'nightly backup' });
  assert.match(await item.textContent(), /Access\s*write/);
  assert.match(await item.textContent(), /Last used\s*never used/);

  await Promise.all([
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Revoke the token “nightly backup”' }).click(),
  ]);
  assert.equal(await site.flash(page), 'Access token revoked');
  assert.equal(await page.getByRole('listitem').filter({ hasText: 'nightly backup' }).count(), 0);
  await page.context().close();
});

test('the keyboard focus goes to the name when it is at fault', async () => {
  const page = await accountPage();
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create token' }).click()]);
  assert.equal(await site.focusedId(page), 'token_name');
  assert.equal(await page.locator('#token_name').getAttribute('aria-describedby'), 'token_name-error token_name-hint');
  await page.context().close();
});

const STATES = [
  {
    name: 'account, new access token',
    go: async (page) => createToken(page, { name: 'a token with a rather long name to wrap on phones', expires: 'Never' }),
  },
  {
    name: 'account, access token errors',
    go: async (page) => {
      await page.getByLabel('Name', { exact: true }).fill('');
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create token' }).click()]);
    },
  },
];

describe('axe-core finds nothing serious', () => {
  for (const colorScheme of ['light', 'dark']) {
    for (const state of STATES) {
      test(`${state.name} (${colorScheme})`, async () => {
        // CSP bypassed for this audit only, so axe's script can be injected.
        const page = await accountPage({ colorScheme, bypassCSP: true });
        await state.go(page);
        await page.addScriptTag({ path: AXE });
        const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
        const serious = violations
          .filter((v) => FAIL_ON.has(v.impact))
          .map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
        assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
        await page.context().close();
      });
    }
  }
});

describe('no sideways scrolling at 360 px', () => {
  for (const state of STATES) {
    test(state.name, async () => {
      const page = await accountPage({ width: 360, height: 740 });
      await state.go(page);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `${state.name} is ${width}px wide at 360px`);
      // What the phone shows first: the new token at the top, or the field at fault.
      await page.screenshot({ path: artifact(`${state.name.replace(/[ ,]+/g, '-')}-360.png`) });
      await page.context().close();
    });
  }
});
