// Two-factor sign-in as a person uses it: set up an authenticator app on /account/security with
// the keyboard (the test is the app: it computes the codes, RFC 6238), log in with a code and
// with a recovery code, end another browser's session from the sessions list; the security
// page and the code's page pass axe-core in both schemes and fit a 360 px phone.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { artifact, launch, newPage } = require('../lib/browser');
const site = require('../lib/site');

const AXE = require.resolve('axe-core/axe.min.js');
const FAIL_ON = new Set(['serious', 'critical']);
const RECOVERY_CODE = /^[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}$/;

const TESS = 'tess'; // enrols with the keyboard, logs in with codes, ends a session
const OLIVE = 'olive'; // two-factor off, for the audits
const SID = 'sid'; // in the middle of the set-up, for the audits
const LENA = 'lena'; // two-factor on, for the audits of the code's page

let app;
let browser;
const cookies = {}; // username -> that member's logged-in cookies
let tess; // { page, secret, step, codes }: Tess's browser and her authenticator app
let lenaSecret;
let sidSecret;
let fresh = 0;

// --- The authenticator app: RFC 6238 (HMAC-SHA1, 30 s steps, 6 digits) -------------------

function base32Decode(text) {
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const i = ALPHABET.indexOf(c);
    assert.ok(i >= 0, `"${c}" is not base32`);
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

function stepNow() {
  return Math.floor(Date.now() / 1000 / 30);
}

/** The 6-digit code of `step` for the base32 `secret`. */
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = crypto.createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const at = h[h.length - 1] & 0x0f;
  const number = ((h[at] & 0x7f) << 24) | (h[at + 1] << 16) | (h[at + 2] << 8) | h[at + 3];
  return String(number % 1_000_000).padStart(6, '0');
}

/** Six digits that are no code the server would take for `secret` now. */
function wrongCode(secret) {
  const now = stepNow();
  const near = [now - 2, now - 1, now, now + 1, now + 2].map((s) => totp(secret, s));
  let n = 123456;
  while (near.includes(String(n))) n += 1;
  return String(n);
}

// The RFC's own test vector (SHA-1, T = 59 s: step 1) checks the app before any test uses it.
assert.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1), '287082', 'RFC 6238 vector');

// --- Steps -------------------------------------------------------------------------------

/** A fresh page, logged in as `who` (a username) or anonymous (`null`). */
async function pageAs(who, options = {}) {
  const page = await newPage(browser, options);
  if (who) await page.context().addCookies(cookies[who]);
  return page;
}

/** Sends a form by Enter in `field`; resolves with the post's response on the page after. */
async function submitWithEnter(page, field, path) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === path && r.request().method() === 'POST'),
    page.waitForNavigation(),
    field.press('Enter'),
  ]);
  return response;
}

/** Starts the set-up on the security page (logged in): the secret is shown. */
async function startSetUp(page) {
  await page.goto(`${app.url}/account/security`);
  await page.locator('#two-factor').getByLabel('Your password').fill(site.PASSWORD);
  await Promise.all([
    page.waitForURL(`${app.url}/account/security#two-factor`),
    page.getByRole('button', { name: 'Set up an authenticator app' }).click(),
  ]);
  return (await page.locator('#totp-secret').textContent()).trim();
}

/** Turns two-factor sign-in on (logged in): { secret, step, codes }. */
async function enrol(page) {
  const secret = await startSetUp(page);
  const step = stepNow();
  await page.getByLabel('The 6-digit code the app shows').fill(totp(secret, step));
  await Promise.all([
    page.waitForURL(`${app.url}/account/security`),
    page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click(),
  ]);
  const codes = (await page.locator('#recovery-codes li').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  return { secret, step, codes };
}

/** The password step of a login with two-factor on: the page that asks for the code. */
async function passwordStep(page, username) {
  await site.logIn(page, app.url, username);
  assert.equal(page.url(), `${app.url}/login/two-factor`);
}

/** The code step: `code` typed into the focused field, sent with Enter. */
async function codeStep(page, code) {
  assert.equal(await site.focusedId(page), 'code', 'the code field has the focus');
  await page.keyboard.type(code);
  return submitWithEnter(page, page.getByLabel('Code', { exact: true }), '/login/two-factor');
}

before(async () => {
  [app, browser] = await Promise.all([startApp(), launch()]);
  for (const username of [OLIVE, SID, LENA]) {
    const page = await newPage(browser, { js: false });
    await site.register(page, app.url, username);
    if (username === LENA) lenaSecret = (await enrol(page)).secret;
    cookies[username] = await page.context().cookies();
    await page.context().close();
  }
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

test('set up with the keyboard: a wrong code is refused beside its field, the right one turns it on', async () => {
  const page = await newPage(browser);
  await site.register(page, app.url, TESS);

  // From the account page, by its link, with the keyboard.
  const link = page.getByRole('link', { name: /^Security: two-factor sign-in\b.* and sessions$/ });
  await link.focus();
  await Promise.all([page.waitForURL(`${app.url}/account/security`), page.keyboard.press('Enter')]);
  assert.match(await page.locator('#two-factor .status').textContent(), /^Off\./);

  const password = page.locator('#two-factor').getByLabel('Your password');
  await password.fill(site.PASSWORD);
  let response = await submitWithEnter(page, password, '/account/totp/start');
  assert.equal(response.status(), 303);
  assert.equal(page.url(), `${app.url}/account/security#two-factor`);

  // The key three ways: typed, a link, a QR code.
  const secret = (await page.locator('#totp-secret').textContent()).trim();
  assert.match(secret, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/, 'base32 in groups of four');
  assert.ok(base32Decode(secret).length >= 16, 'at least 128 bits');
  const setUpLink = new URL(await page.locator('#totp-link').getAttribute('href'));
  assert.equal(setUpLink.protocol, 'otpauth:');
  assert.equal(setUpLink.host, 'totp');
  assert.equal(setUpLink.searchParams.get('secret'), secret.replace(/ /g, ''));
  assert.match(decodeURIComponent(setUpLink.pathname), new RegExp(TESS));
  const qr = page.getByRole('img', { name: 'QR code of the set-up link' });
  assert.equal(await qr.count(), 1);
  assert.equal(await qr.evaluate((el) => el.matches('.qr[role="img"]')), true);
  assert.equal(await page.locator('.qr svg').count(), 1);
  const box = await page.locator('.qr svg').boundingBox();
  assert.ok(box.width >= 150 && box.height >= 150, `the QR code is ${box.width}×${box.height}`);

  // A wrong code: the message beside the field, the cursor back in it.
  const field = page.getByLabel('The 6-digit code the app shows');
  await field.focus();
  await page.keyboard.type(wrongCode(secret));
  response = await submitWithEnter(page, field, '/account/totp/confirm');
  assert.equal(response.status(), 422);
  assert.equal(await site.focusedId(page), 'confirm-code');
  assert.equal(await page.locator('#confirm-code').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#confirm-code').getAttribute('aria-describedby'), 'confirm-code-error');
  assert.equal(await page.locator('.field.invalid:has(#confirm-code) > #confirm-code-error').count(), 1, 'beside the field');
  assert.equal(
    (await page.locator('#confirm-code-error').textContent()).trim(),
    'That code is not right, or was already used. Enter the code your app shows now.',
  );
  assert.equal((await page.locator('#totp-secret').textContent()).trim(), secret, 'the same key still waits');

  // The right one.
  const step = stepNow();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(totp(secret, step));
  response = await submitWithEnter(page, field, '/account/totp/confirm');
  assert.equal(response.status(), 303);
  assert.equal(page.url(), `${app.url}/account/security`);
  assert.equal(await site.flash(page), 'Two-factor sign-in is on. Keep your recovery codes somewhere safe.');
  const codes = (await page.locator('ol#recovery-codes > li').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  for (const code of codes) assert.match(code, RECOVERY_CODE);
  assert.equal(new Set(codes).size, 10);
  assert.match(await page.locator('#two-factor .status').textContent(), /^On\..* 10 recovery codes left\./s);

  await page.reload();
  assert.equal(await page.locator('#recovery-codes').count(), 0, 'the codes are shown once');
  assert.equal(await page.getByText(codes[0]).count(), 0);
  assert.match(await page.locator('#two-factor .status').textContent(), /^On\./);
  assert.deepEqual(page.problems, []);
  tess = { page, secret, step, codes };
});

test('log in with the next code, then with a recovery code', async () => {
  assert.ok(tess, 'needs the set-up of the first test');
  const { page, secret, step, codes } = tess;
  await site.logOut(page, app.url);

  await passwordStep(page, TESS);
  const field = page.getByLabel('Code', { exact: true });
  assert.equal(await field.getAttribute('autocomplete'), 'one-time-code');
  assert.match(await page.locator('main').textContent(), /@tess/);
  // The set-up took this step's code, and a step's code works once: the app's next one.
  let response = await codeStep(page, totp(secret, step + 1));
  assert.equal(response.status(), 303);
  assert.equal(page.url(), `${app.url}/`);
  await page.goto(`${app.url}/account/security`);
  assert.equal(page.url(), `${app.url}/account/security`, 'logged in');

  await site.logOut(page, app.url);
  await passwordStep(page, TESS);
  response = await codeStep(page, codes[0]);
  assert.equal(response.status(), 303);
  assert.equal(page.url(), `${app.url}/`);
  await page.goto(`${app.url}/account/security`);
  assert.equal(page.url(), `${app.url}/account/security`, 'logged in');
  assert.match(await page.locator('#two-factor .status').textContent(), / 9 recovery codes left\./);
  assert.deepEqual(page.problems, []);
});

test('the sessions list: another browser is listed and ended', async () => {
  assert.ok(tess, 'needs the set-up of the first test');
  const { page, codes } = tess;
  const items = page.locator('#sessions .session-item');
  await page.goto(`${app.url}/account/security`);
  assert.equal(await items.count(), 1, 'the logged-out sessions are gone');

  const other = await newPage(browser);
  await passwordStep(other, TESS);
  assert.equal((await codeStep(other, codes[1])).status(), 303);

  await page.reload();
  assert.equal(await items.count(), 2);
  const mine = items.filter({ has: page.locator('.badge', { hasText: 'this browser' }) });
  assert.equal(await mine.count(), 1);
  const theirs = items.filter({ hasNot: page.locator('.badge') });
  assert.equal(await theirs.count(), 1);
  assert.equal(await mine.getByRole('button', { name: /^End/ }).count(), 0, 'no End for this browser');
  const end = theirs.getByRole('button', { name: /^End the session of .+, since \d{4}-\d\d-\d\d \d\d:\d\d UTC$/ });
  assert.equal((await end.textContent()).trim(), 'End');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/delete') && r.request().method() === 'POST'),
    page.waitForNavigation(),
    end.click(),
  ]);
  assert.equal(response.status(), 303);
  assert.equal(await site.flash(page), 'That session is ended: it is logged out.');
  assert.equal(await items.count(), 1);
  assert.equal(await mine.count(), 1);

  // The other browser finds itself logged out on its next page.
  await other.goto(`${app.url}/account/security`);
  assert.equal(new URL(other.url()).pathname, '/login');
  assert.equal(await other.getByRole('button', { name: 'Log out' }).count(), 0);
  assert.deepEqual(page.problems, []);
  assert.deepEqual(other.problems, []);
  await other.context().close();
  await page.context().close();
});

/** Each state: how to get there from a fresh page. */
const STATES = [
  {
    name: 'security, two-factor off',
    go: async (page) => {
      await page.context().addCookies(cookies[OLIVE]);
      await page.goto(`${app.url}/account/security`);
      assert.equal(await page.getByRole('button', { name: 'Set up an authenticator app' }).count(), 1);
    },
  },
  {
    name: 'security, setting up',
    go: async (page) => {
      // Sid's set-up starts on the first visit and is still waiting, the same key, on the next.
      await page.context().addCookies(cookies[SID]);
      await page.goto(`${app.url}/account/security`);
      if ((await page.locator('#totp-secret').count()) === 0) sidSecret = await startSetUp(page);
      assert.equal((await page.locator('#totp-secret').textContent()).trim(), sidSecret);
      await page.locator('.qr svg').waitFor();
    },
  },
  {
    name: 'security, just turned on',
    go: async (page) => {
      fresh += 1;
      await site.register(page, app.url, `newcomer${fresh}`);
      await enrol(page);
    },
  },
  {
    name: 'login, two-factor code',
    go: (page) => passwordStep(page, LENA),
  },
  {
    name: 'login, two-factor code refused',
    go: async (page) => {
      await passwordStep(page, LENA);
      const response = await codeStep(page, wrongCode(lenaSecret));
      assert.equal(response.status(), 422);
      await page.locator('#code-error').waitFor();
    },
  },
];

describe('axe-core finds nothing serious', () => {
  for (const colorScheme of ['light', 'dark']) {
    for (const state of STATES) {
      test(`${state.name} (${colorScheme})`, async () => {
        // CSP bypassed for this audit only, so axe's script can be injected.
        const page = await newPage(browser, { colorScheme, bypassCSP: true });
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
      const page = await newPage(browser, { width: 360, height: 740 });
      await state.go(page);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `${state.name} is ${width}px wide at 360px`);
      await page.screenshot({ path: artifact(`${state.name.replace(/[ ,]+/g, '-')}-360.png`), fullPage: true });
      await page.context().close();
    });
  }
});
