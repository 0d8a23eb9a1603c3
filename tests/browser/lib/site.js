// What a person does on Folio, step by step, through the pages' own forms.
'use strict';

const assert = require('node:assert/strict');

const PASSWORD = 'a-long-unusual-pass';

async function register(page, base, username) {
  await page.goto(`${base}/register`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Email').fill(`${username}@example.com`);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm password').fill(PASSWORD);
  await Promise.all([page.waitForURL(`${base}/account`), page.getByRole('button', { name: 'Create account' }).click()]);
}

async function logIn(page, base, username) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Username or email').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.getByRole('button', { name: 'Log in' }).click()]);
}

async function logOut(page, base) {
  await Promise.all([page.waitForURL(`${base}/`), page.getByRole('button', { name: 'Log out' }).click()]);
}

/** The one-time message on the page. */
async function flash(page) {
  return (await page.locator('#messages').textContent()).trim();
}

/** Natural size of an image once it has loaded (fails if it cannot load). */
async function naturalSize(page, selector) {
  return page.locator(selector).evaluate(async (img) => {
    // The file in `src` itself (a stored picture's 300×300 master): an image shown from a
    // `srcset` reports its chosen file's size divided by its density.
    const file = new Image();
    file.src = img.getAttribute('src');
    await file.decode();
    return { width: file.naturalWidth, height: file.naturalHeight, src: img.getAttribute('src') };
  });
}

/**
 * The average colour of a box of an image's (its `src` file's) or canvas's own pixels (natural
 * size, not as laid out): `[x, y, w, h]` in those pixels.
 */
async function averageColour(page, selector, box) {
  return page.locator(selector).evaluate(async (element, [x, y, w, h]) => {
    let source = element;
    if (element instanceof HTMLImageElement) {
      // The file in `src` (the master), whichever `srcset` file the page shows.
      const file = new Image();
      file.src = element.getAttribute('src');
      await file.decode();
      source = await createImageBitmap(file);
    }
    const canvas = document.createElement('canvas');
    canvas.width = source.width;
    canvas.height = source.height;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(source, 0, 0);
    const data = ctx.getImageData(x, y, w, h).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) {
      sum[0] += data[i];
      sum[1] += data[i + 1];
      sum[2] += data[i + 2];
    }
    const n = data.length / 4;
    return sum.map((v) => Math.round(v / n));
  }, box);
}

/** Asserts an RGB colour is within `tolerance` of `expected` on every channel. */
function assertColour(actual, expected, what, tolerance = 40) {
  const close = actual.every((v, i) => Math.abs(v - expected[i]) <= tolerance);
  assert.ok(close, `${what}: expected about rgb(${expected}), got rgb(${actual})`);
}

/**
 * Which element has the keyboard focus: its id. Read after two animation frames: a page's
 * `autofocus` is applied when the browser next renders, which on a busy machine can come after
 * the navigation that loaded it has returned.
 */
function focusedId(page) {
  return page.evaluate(
    () =>
      new Promise((resolve) =>
        requestAnimationFrame(() =>
          requestAnimationFrame(() => resolve(document.activeElement?.id ?? null)),
        ),
      ),
  );
}

/**
 * Fills the account page's "Public profile" card and saves it (logged in, any page). Asserts
 * the server's 303 back to /account and its message.
 */
async function savePublicProfile(page, base, { displayName = '', bio = '', website = '' } = {}) {
  await page.goto(`${base}/account`);
  await page.getByLabel('Display name', { exact: true }).fill(displayName);
  await page.getByLabel('Bio', { exact: true }).fill(bio);
  await page.getByLabel('Website', { exact: true }).fill(website);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/account/profile') && r.request().method() === 'POST'),
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Save public profile' }).click(),
  ]);
  assert.equal(response.status(), 303, 'the public profile form answers 303');
  assert.equal(page.url(), `${base}/account`);
  assert.equal(await flash(page), 'Public profile updated');
}

/**
 * Reports a member through the form on their profile (logged in as someone else): `reason`
 * is the radio's label, e.g. 'Spam or advertising'. Resolves on the page that follows; returns
 * the form post's response.
 */
async function reportMember(page, base, username, { reason, comment = '' }) {
  await page.goto(`${base}/users/${username}`);
  await page.locator('details.report summary').click();
  await page.getByRole('radio', { name: reason, exact: true }).check();
  await page.getByLabel('Details').fill(comment);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/users/${username}/report`) && r.request().method() === 'POST'),
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Send the report' }).click(),
  ]);
  return response;
}

/**
 * A moderator takes an action on a member from the member's moderation page: `action` is the
 * radio's label, e.g. 'Suspend the account'. Asserts the 303 and the "Done: ..." message.
 */
async function moderate(page, base, username, { action, reason }) {
  await page.goto(`${base}/moderation/users/${username}`);
  await page.getByRole('radio', { name: action, exact: true }).check();
  await page.getByLabel('Reason', { exact: true }).fill(reason);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/moderation/users/${username}/action`) && r.request().method() === 'POST'),
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Take the action' }).click(),
  ]);
  assert.equal(response.status(), 303, `the action form answers 303 (${action} on @${username})`);
  const message = await flash(page);
  assert.ok(message.startsWith('Done: ') && message.includes(` of @${username}.`), message);
}

module.exports = {
  PASSWORD,
  register,
  logIn,
  logOut,
  flash,
  naturalSize,
  averageColour,
  assertColour,
  focusedId,
  savePublicProfile,
  reportMember,
  moderate,
};
