// Mail (issue 14) as a person meets it: "Forgot your password?" → the mailed link → a new
// password, with JavaScript on and off; the link to confirm the address given at
// registration, sent again from /account; and those pages audited with axe-core in both
// colour schemes and at phone width. Without FOLIO_SMTP_URL each mail is an .eml file in the
// app's `mail/` folder, written by a sender thread a moment after the page has answered.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { artifact, launch, newPage } = require('../lib/browser');
const site = require('../lib/site');

const AXE = require.resolve('axe-core/axe.min.js');
const FAIL_ON = new Set(['serious', 'critical']);

const NEW_PASSWORD = 'another-long-unusual-pass';
const FORGOT_SENT =
  'If an account uses that address, a link to choose a new password is on its way. It works for an hour.';
const RESET_DONE =
  'Your new password is saved and you are logged in. Every other session of your account has ended.';
const LOGIN_REFUSED = 'That username or email and password do not match an account.';
const RESET_SUBJECT = 'Reset your Folio password';
const CONFIRM_SUBJECT = 'Confirm your email address for Folio';
/** A link's token: 256 random bits, base64url without padding. */
const TOKEN = '[A-Za-z0-9_-]{43}';

let app;
let browser;
const report = [];

before(async () => {
  [app, browser] = await Promise.all([startApp(), launch()]);
});

after(async () => {
  fs.writeFileSync(artifact('axe-report-mail.json'), `${JSON.stringify(report, null, 2)}\n`);
  await browser?.close();
  await app?.stop();
});

// ---------------------------------------------------------------------------------------------
// Reading the mails

/** Quoted-printable (RFC 2045 §6.7) to text: soft line breaks dropped, `=XX` made bytes, UTF-8. */
function decodeQuotedPrintable(raw) {
  const text = raw.replace(/[ \t]+(?=\r?\n)/g, '').replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i) & 0xff); // read as latin1: one character, one byte
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Headers (names lower-cased, folded lines unfolded) and body of a message or a MIME part. */
function splitEntity(raw) {
  const at = raw.search(/\r?\n\r?\n/);
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function decodeBody({ headers, body }) {
  const encoding = (headers['content-transfer-encoding'] || '7bit').toLowerCase();
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return Buffer.from(body, 'latin1').toString('utf8');
}

/** A multipart/alternative mail: its headers and its decoded text/plain and text/html parts. */
function parseMail(file) {
  const message = splitEntity(fs.readFileSync(file, 'latin1'));
  const type = message.headers['content-type'] || '';
  assert.match(type, /^multipart\/alternative;/i, `${path.basename(file)}: ${type}`);
  const boundary = type.match(/boundary="?([^";]+)"?/i)[1];
  const parts = {};
  for (const chunk of message.body.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break; // the closing delimiter
    const part = splitEntity(chunk.replace(/^\r?\n/, ''));
    const partType = (part.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    parts[partType] = decodeBody(part).replace(/\r?\n$/, '');
  }
  assert.ok(parts['text/plain'] && parts['text/html'], `${path.basename(file)} has a text and an HTML part`);
  return { file: path.basename(file), headers: message.headers, text: parts['text/plain'], html: parts['text/html'] };
}

/** The .eml files in the app's mail folder right now. */
function mailFiles() {
  const dir = path.join(app.dir, 'mail');
  return new Set(fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => name.endsWith('.eml')) : []);
}

/**
 * Waits (up to a few seconds: the sender thread writes a moment after the page answered) for
 * the mail to `to` with `subject` that was not in `seen`; asserts there is exactly one.
 */
async function newMail(seen, { to, subject }) {
  const deadline = Date.now() + 8000;
  for (;;) {
    let unreadable = null; // a file still being written, or not a mail as it should be
    const fresh = [...mailFiles()]
      .filter((name) => !seen.has(name))
      .map((name) => {
        try {
          return parseMail(path.join(app.dir, 'mail', name));
        } catch (error) {
          unreadable = error;
          return null;
        }
      })
      .filter((mail) => mail && mail.headers.to === to && mail.headers.subject === subject);
    if (fresh.length > 1) assert.fail(`${fresh.length} mails "${subject}" to ${to}, expected one`);
    if (fresh.length === 1) return fresh[0];
    if (Date.now() > deadline) {
      if (unreadable) throw unreadable;
      assert.fail(`no mail "${subject}" to ${to} within 8 s; the log:\n${app.log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The one absolute link to `route` (e.g. '/password/reset/') in a mail: the same in its text
 * part and in its HTML part's `<a href>`.
 */
function mailedLink(mail, route) {
  const pattern = new RegExp(`${app.url.replace(/[.:/]/g, '\\$&')}${route}${TOKEN}(?![A-Za-z0-9_-])`, 'g');
  const inText = [...new Set(mail.text.match(pattern) || [])];
  assert.equal(inText.length, 1, `one ${route} link in the text part:\n${mail.text}`);
  const hrefs = [...mail.html.matchAll(/<a\b[^>]*\bhref="([^"]*)"/g)].map((m) => m[1]).filter((href) => href.includes(route));
  assert.deepEqual(hrefs, inText, `the HTML part's <a href> is the text part's link:\n${mail.html}`);
  return inText[0];
}

// ---------------------------------------------------------------------------------------------
// The pages

/** The whitespace-normalised text of the first element matching `selector`. */
async function textOf(page, selector) {
  return (await page.locator(selector).first().textContent()).replace(/\s+/g, ' ').trim();
}

/** Who the navigation says is logged in, or null. */
async function loggedInAs(page) {
  const me = page.getByRole('navigation').locator('a.me');
  return (await me.count()) === 1 ? (await me.textContent()).trim() : null;
}

/** Submits a form with its button; resolves to the answer to the POST (before any redirect). */
async function submit(page, button, route) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === route && r.request().method() === 'POST'),
    page.waitForNavigation(),
    page.getByRole('button', { name: button }).click(),
  ]);
  return response.status();
}

/** Asks for a reset link on /password/forgot; resolves to the status of the answer. */
async function askForLink(page, email) {
  await page.getByLabel('Email').fill(email);
  return submit(page, 'Send me a link', '/password/forgot');
}

/** Fills and sends the reset form; resolves to the status of the answer. */
async function choosePassword(page, password, confirm) {
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('Confirm new password').fill(confirm);
  return submit(page, 'Save new password', new URL(page.url()).pathname);
}

/** Logs in through the form with any password; resolves to the status of the answer. */
async function logInWith(page, base, username, password) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Username or email').fill(username);
  await page.getByLabel('Password').fill(password);
  return submit(page, 'Log in', '/login');
}

/** Asserts the page is the 400 "This link no longer works" page. */
async function assertDeadLink(response, page, label, href) {
  assert.equal(response.status(), 400, 'a dead link is a 400 page');
  assert.equal(await textOf(page, 'main h1'), 'This link no longer works');
  const link = page.getByRole('link', { name: label });
  assert.equal(await link.count(), 1, `a link "${label}"`);
  assert.equal(await link.getAttribute('href'), href);
}

// ---------------------------------------------------------------------------------------------

describe('a forgotten password, through the mailed link', () => {
  for (const js of [true, false]) {
    test(`JavaScript ${js ? 'on' : 'off'}`, async () => {
      const base = app.url;
      const username = js ? 'rosa' : 'plainrosa';
      const email = `${username}@example.com`;
      const page = await newPage(browser, { js });
      await site.register(page, base, username);
      // Another browser, logged in with the old password: its session ends with the reset.
      const other = await newPage(browser, { js });
      await site.logIn(other, base, username);
      await site.logOut(page, base);

      await page.goto(`${base}/login`);
      await Promise.all([page.waitForURL(`${base}/password/forgot`), page.getByRole('link', { name: 'Forgot your password?' }).click()]);
      assert.equal(await textOf(page, 'main h1'), 'Forgot your password?');
      const seen = mailFiles();
      assert.equal(await askForLink(page, email), 303);
      assert.equal(page.url(), `${base}/login`);
      assert.equal(await site.flash(page), FORGOT_SENT);

      const mail = await newMail(seen, { to: email, subject: RESET_SUBJECT });
      const link = mailedLink(mail, '/password/reset/');

      let response = await page.goto(link);
      assert.equal(response.status(), 200);
      assert.equal(await textOf(page, 'main h1'), 'Choose a new password');

      // Two different passwords: refused beside the second field, and nothing is used up.
      assert.equal(await choosePassword(page, NEW_PASSWORD, 'not-the-same-password'), 422);
      assert.equal(page.url(), link);
      const confirm = page.getByLabel('Confirm new password');
      assert.equal(await textOf(page, '#password_confirm-error'), 'The two passwords do not match.');
      assert.equal(await confirm.getAttribute('aria-invalid'), 'true');
      assert.equal(await confirm.getAttribute('aria-describedby'), 'password_confirm-error');
      assert.equal(await page.getByLabel('New password', { exact: true }).getAttribute('aria-invalid'), null);
      assert.equal(await loggedInAs(page), null, 'still logged out');
      // With the script, the keyboard focus is on the field at fault, as on every other form.
      if (js) assert.equal(await site.focusedId(page), 'password_confirm');

      assert.equal(await choosePassword(page, NEW_PASSWORD, NEW_PASSWORD), 303);
      assert.equal(page.url(), `${base}/account`);
      assert.equal(await loggedInAs(page), username);
      assert.equal(await site.flash(page), RESET_DONE);

      // The other browser's session has ended.
      await other.goto(`${base}/account`);
      assert.equal(new URL(other.url()).pathname, '/login', 'the other session is logged out');
      assert.equal(await loggedInAs(other), null);
      await other.context().close();

      // The link is used up.
      response = await page.goto(link);
      await assertDeadLink(response, page, 'Ask for a new link', '/password/forgot');

      await site.logOut(page, base);
      assert.equal(await logInWith(page, base, username, site.PASSWORD), 401, 'the old password no longer works');
      assert.equal(await textOf(page, '#login-error'), LOGIN_REFUSED);
      assert.equal(await logInWith(page, base, username, NEW_PASSWORD), 303, 'the new password works');
      assert.equal(await loggedInAs(page), username);
      assert.deepEqual(page.problems, []);
      await page.context().close();
    });
  }
});

test('the address given at registration is confirmed through the newest mailed link', async () => {
  const base = app.url;
  const email = 'clara@example.com';
  const page = await newPage(browser);
  let seen = mailFiles();
  await site.register(page, base, 'clara');
  const first = mailedLink(await newMail(seen, { to: email, subject: CONFIRM_SUBJECT }), '/email/confirm/');

  assert.equal(await textOf(page, '#email-status'), 'Not confirmed yet. Use the link mailed to this address.');
  assert.equal(await page.getByLabel('Email', { exact: true }).getAttribute('aria-describedby'), 'email-status');
  seen = mailFiles();
  assert.equal(await submit(page, 'Send the link again', '/account/email/confirm'), 303);
  assert.equal(page.url(), `${base}/account`);
  assert.equal(await site.flash(page), `A new link is on its way to ${email}. It works for an hour.`);
  const second = mailedLink(await newMail(seen, { to: email, subject: CONFIRM_SUBJECT }), '/email/confirm/');
  assert.notEqual(second, first);

  // The newer link voids the first one, which confirms nothing.
  let response = await page.goto(first);
  await assertDeadLink(response, page, 'Go to your account', '/account');
  await page.goto(`${base}/account`);
  assert.match(await textOf(page, '#email-status'), /^Not confirmed yet\./);

  response = await page.goto(second);
  assert.equal((await response.request().redirectedFrom().response()).status(), 303);
  assert.equal(page.url(), `${base}/account`);
  assert.equal(await site.flash(page), 'Your email address is confirmed.');
  assert.equal(await textOf(page, '#email-status'), 'Confirmed.');
  assert.equal(await page.getByRole('button', { name: 'Send the link again' }).count(), 0);

  response = await page.goto(second);
  await assertDeadLink(response, page, 'Go to your account', '/account');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

describe('the mail pages', () => {
  let cookies; // ivy, logged in, her address not confirmed yet
  let resetLink; // a live link for june's account

  before(async () => {
    const page = await newPage(browser, { js: false });
    await site.register(page, app.url, 'ivy');
    cookies = await page.context().cookies();
    await page.context().close();
    const june = await newPage(browser, { js: false });
    await site.register(june, app.url, 'june');
    await site.logOut(june, app.url);
    await june.goto(`${app.url}/password/forgot`);
    const seen = mailFiles();
    assert.equal(await askForLink(june, 'june@example.com'), 303);
    resetLink = mailedLink(await newMail(seen, { to: 'june@example.com', subject: RESET_SUBJECT }), '/password/reset/');
    await june.context().close();
  });

  /** Each state: how to get there from a fresh page (anonymous unless `loggedIn`). */
  const STATES = [
    { name: 'forgot password', go: (p, b) => p.goto(`${b}/password/forgot`) },
    {
      name: 'forgot password, not an address',
      go: async (p, b) => {
        await p.goto(`${b}/password/forgot`);
        assert.equal(await askForLink(p, 'not an address'), 422);
        assert.equal(await p.getByLabel('Email').getAttribute('aria-invalid'), 'true');
        assert.equal(await p.getByLabel('Email').getAttribute('aria-describedby'), 'email-error');
        assert.ok((await textOf(p, '#email-error')).length > 0);
      },
    },
    { name: 'new password', go: (p) => p.goto(resetLink) },
    {
      name: 'new password, not matching',
      go: async (p) => {
        await p.goto(resetLink);
        assert.equal(await choosePassword(p, NEW_PASSWORD, 'not-the-same-password'), 422);
        assert.equal(await textOf(p, '#password_confirm-error'), 'The two passwords do not match.');
      },
    },
    {
      name: 'new password, too short',
      go: async (p) => {
        await p.goto(resetLink);
        assert.equal(await choosePassword(p, 'short', 'short'), 422);
        assert.equal(await p.getByLabel('New password', { exact: true }).getAttribute('aria-invalid'), 'true');
      },
    },
    {
      name: 'dead reset link',
      go: async (p, b) => assertDeadLink(await p.goto(`${b}/password/reset/${'A'.repeat(43)}`), p, 'Ask for a new link', '/password/forgot'),
    },
    {
      name: 'dead confirmation link',
      go: async (p, b) => assertDeadLink(await p.goto(`${b}/email/confirm/${'A'.repeat(43)}`), p, 'Go to your account', '/account'),
    },
    {
      name: 'account, address not confirmed',
      loggedIn: true,
      go: async (p, b) => {
        await p.goto(`${b}/account`);
        assert.match(await textOf(p, '#email-status'), /^Not confirmed yet\./);
      },
    },
  ];

  describe('axe-core finds nothing serious', () => {
    for (const colorScheme of ['light', 'dark']) {
      for (const state of STATES) {
        test(`${state.name} (${colorScheme})`, async () => {
          // CSP bypassed for this audit only, so axe's script can be injected.
          const page = await newPage(browser, { colorScheme, bypassCSP: true });
          if (state.loggedIn) await page.context().addCookies(cookies);
          await state.go(page, app.url);
          await page.addScriptTag({ path: AXE });
          const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
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

  describe('no sideways scrolling at 360 px', () => {
    for (const state of STATES) {
      test(state.name, async () => {
        const page = await newPage(browser, { width: 360, height: 740 });
        if (state.loggedIn) await page.context().addCookies(cookies);
        await state.go(page, app.url);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 360, `${state.name} is ${width}px wide at 360px`);
        await page.context().close();
      });
    }
  });
});
