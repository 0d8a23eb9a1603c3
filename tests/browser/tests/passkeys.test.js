// Passkeys as a person uses them, with Chromium's virtual authenticator (DevTools' WebAuthn
// domain: a platform authenticator that keeps discoverable credentials and verifies its user)
// standing in for a phone or a laptop's fingerprint reader: adding one with the password,
// signing in with it alone (two-factor on or off), removing it, the username field's
// autofill, the pages without JavaScript, axe-core and a 360 px phone.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { artifact, launch, newPage } = require('../lib/browser');
const site = require('../lib/site');

const AXE = require.resolve('axe-core/axe.min.js');
const FAIL_ON = new Set(['serious', 'critical']);
const PASSWORD = 'a-long-unusual-pass';

let app;
let browser;

before(async () => {
  [app, browser] = await Promise.all([startApp(), launch()]);
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** Gives the page a virtual authenticator: user-verifying, keeping resident credentials. */
async function authenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    /**
     * Whether the authenticator answers as if its person touched it. Off, a request waits;
     * on, it is answered at once: a conditional one (the username field's autofill) too, as
     * if the person had picked the passkey from the autofill menu.
     */
    async presence(enabled) {
      await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
    },
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
  };
}

/** The text of the passkey alert, once it says something. */
async function alertText(page) {
  const message = page.locator('#passkey-alert .error');
  await message.waitFor();
  return (await message.textContent()).trim();
}

/** Adds a passkey on the security page with `password`; resolves on the page that follows. */
async function addPasskey(page, name, password = PASSWORD) {
  await page.goto(`${app.url}/account/security`);
  await page.locator('#passkey-name').fill(name);
  await page.locator('#passkey-password').fill(password);
  await Promise.all([page.waitForURL(`${app.url}/account/security#passkeys`), page.locator('#passkey-add').click()]);
}

/**
 * Opens the login page with the authenticator waiting for its person, so that the autofill's
 * request (begun on load) waits as it does until someone picks a passkey.
 */
async function loginPageWaiting(page, device, path = '/login?next=/account') {
  await device.presence(false);
  await page.goto(`${app.url}${path}`);
  await page.locator('#passkey-login-area[data-autofill="waiting"]').waitFor({ state: 'attached' });
  await device.presence(true);
}

/** Signs in with the button on the login page; resolves where it leads. */
async function signInWithPasskey(page, device) {
  await loginPageWaiting(page, device);
  await Promise.all([page.waitForURL(`${app.url}/account`), page.locator('#passkey-login').click()]);
}

/** The passkey's list item on the security page. */
function listed(page, name) {
  return page.locator('#passkey-list li').filter({ hasText: name });
}

/** RFC 6238's current code for a base32 secret (SHA-1, 6 digits, 30 s). */
function totp(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/[\s=]/g, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(code).padStart(6, '0');
}

test('a passkey is added with the password, signs in alone, and signs in no more once removed', async () => {
  const page = await newPage(browser);
  const device = await authenticator(page);
  await site.register(page, app.url, 'pat');
  await page.goto(`${app.url}/account/security`);
  assert.ok(await page.locator('#passkey-add').isVisible(), 'the add button, with JavaScript and WebAuthn');
  assert.ok(await page.locator('#passkeys-need-js').isHidden());
  assert.equal(await page.locator('#passkeys-none').textContent(), 'You have no passkeys yet.');

  // The wrong password: said in the alert, the field marked and focused; no passkey made.
  await page.locator('#passkey-name').fill('Laptop');
  await page.locator('#passkey-password').fill('not-my-password');
  await page.locator('#passkey-add').click();
  assert.equal(await alertText(page), 'That is not your current password.');
  assert.equal(await site.focusedId(page), 'passkey-password');
  assert.equal(await page.locator('#passkey-password').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#passkey-password').getAttribute('aria-describedby'), 'passkey-alert-message');
  assert.equal((await device.credentials()).length, 0);

  await addPasskey(page, 'Laptop');
  assert.equal(await site.flash(page), 'Passkey “Laptop” added: it signs you in without your password.');
  assert.match(await listed(page, 'Laptop').textContent(), /Last used\s*never/);
  const made = await device.credentials();
  assert.equal(made.length, 1);
  assert.ok(made[0].isResidentCredential, 'a discoverable credential');

  // Signing in: no username, no password.
  await site.logOut(page, app.url);
  await signInWithPasskey(page, device);
  assert.equal(await page.locator('.nav .me').textContent(), 'pat');
  await page.goto(`${app.url}/account/security`);
  assert.doesNotMatch(await listed(page, 'Laptop').textContent(), /Last used\s*never/);

  // Removed, it is refused, and says so where the button is.
  await Promise.all([
    page.waitForURL(`${app.url}/account/security#passkeys`),
    page.getByRole('button', { name: /^Remove the passkey Laptop/ }).click(),
  ]);
  assert.equal(await site.flash(page), 'The passkey is removed: it no longer signs you in.');
  assert.equal(await page.locator('#passkey-list').count(), 0);
  await site.logOut(page, app.url);
  await loginPageWaiting(page, device, '/login');
  await page.locator('#passkey-login').click();
  assert.match(await alertText(page), /not known here/);
  assert.equal(new URL(page.url()).pathname, '/login');
  await page.goto(`${app.url}/account`);
  assert.equal(new URL(page.url()).pathname, '/login', 'not logged in');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('with two-factor sign-in on, a passkey still needs no code', async () => {
  const page = await newPage(browser);
  const device = await authenticator(page);
  await site.register(page, app.url, 'quin');
  await page.goto(`${app.url}/account/security`);
  await page.locator('#start-password').fill(PASSWORD);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Set up an authenticator app' }).click()]);
  const secret = await page.locator('#totp-secret').textContent();
  await page.locator('#confirm-code').fill(totp(secret));
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click()]);
  assert.equal(await page.locator('#recovery-codes li').count(), 10);
  await addPasskey(page, 'Phone');

  // The password alone stops at the code…
  await site.logOut(page, app.url);
  await device.presence(false);
  await page.goto(`${app.url}/login`);
  await page.getByLabel('Username or email').fill('quin');
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([page.waitForURL(`${app.url}/login/two-factor`), page.getByRole('button', { name: 'Log in' }).click()]);
  // …the passkey does not: it is two factors, the device and its screen lock.
  await page.goto(`${app.url}/`);
  await signInWithPasskey(page, device);
  assert.equal(await page.locator('.nav .me').textContent(), 'quin');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("the username field's autofill signs in with the passkey (conditional mediation)", async () => {
  const page = await newPage(browser);
  const device = await authenticator(page);
  await site.register(page, app.url, 'remy');
  await addPasskey(page, 'Laptop');
  await site.logOut(page, app.url);

  // On load the page asks for a passkey with conditional mediation: the request waits for
  // the person to pick one from the username field's autofill.
  await loginPageWaiting(page, device);
  assert.equal(await page.locator('#username').getAttribute('autocomplete'), 'username webauthn');
  assert.equal(await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable()), true);
  await page.locator('#username').focus();
  await page.waitForTimeout(300);
  assert.equal(new URL(page.url()).pathname, '/login', 'nothing happens until a passkey is picked');

  // Headless Chromium draws no autofill menu to pick from; the virtual authenticator, told to
  // act for its person, answers a conditional request at once, as the pick would. So the
  // page is opened anew with it so: no button is pressed, nothing is typed.
  const posted = [];
  page.on('request', (request) => {
    if (request.method() === 'POST') posted.push(new URL(request.url()).pathname);
  });
  await Promise.all([page.waitForURL(`${app.url}/account`), page.goto(`${app.url}/login?next=/account`)]);
  assert.deepEqual(posted, ['/login/passkey/options', '/login/passkey']);
  assert.equal(await page.locator('.nav .me').textContent(), 'remy');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('without JavaScript the pages hide their passkey parts and passwords work', async () => {
  const page = await newPage(browser, { js: false });
  await site.register(page, app.url, 'sol');
  await page.goto(`${app.url}/account/security`);
  assert.ok(await page.locator('#passkey-add').isHidden());
  assert.ok(await page.locator('#passkeys-need-js').isVisible());
  await site.logOut(page, app.url);
  await page.goto(`${app.url}/login`);
  assert.ok(await page.locator('#passkey-login').isHidden());
  await site.logIn(page, app.url, 'sol');
  assert.equal(new URL(page.url()).pathname, '/');
  await page.context().close();
});

describe('axe-core and a 360 px phone', () => {
  let cookies;
  before(async () => {
    const page = await newPage(browser);
    await authenticator(page);
    await site.register(page, app.url, 'tam');
    await addPasskey(page, 'The laptop at work, with its name kept long here');
    cookies = await page.context().cookies();
    await page.context().close();
  });

  const PAGES = [
    { name: 'security page with a passkey', path: '/account/security', loggedIn: true },
    { name: 'login page', path: '/login', loggedIn: false },
  ];

  for (const colorScheme of ['light', 'dark']) {
    for (const p of PAGES) {
      test(`axe: ${p.name} (${colorScheme})`, async () => {
        const page = await newPage(browser, { colorScheme, bypassCSP: true });
        if (p.loggedIn) await page.context().addCookies(cookies);
        await page.goto(`${app.url}${p.path}`);
        if (p.loggedIn) {
          await page.locator('#passkey-add').waitFor();
          assert.equal(await page.locator('#passkey-list li').count(), 1);
        } else {
          await page.locator('#passkey-login').waitFor();
        }
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

  for (const p of PAGES) {
    test(`no sideways scrolling at 360 px: ${p.name}`, async () => {
      const page = await newPage(browser, { width: 360, height: 740 });
      if (p.loggedIn) await page.context().addCookies(cookies);
      await page.goto(`${app.url}${p.path}`);
      await page.locator(p.loggedIn ? '#passkey-add' : '#passkey-login').waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `${p.name} is ${width}px wide at 360px`);
      await page.screenshot({ path: artifact(`passkeys-${p.name.replace(/[ ,]+/g, '-')}-360.png`), fullPage: true });
      await page.context().close();
    });
  }
});
