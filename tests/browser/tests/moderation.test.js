// Moderation as people use it: a member reports a profile through the plain form on it; a
// moderator works through the queue with the keyboard alone and suspends an account; the
// moderators' pages and the report form pass axe-core in both schemes and fit a 360 px phone,
// with long names, bios, comments and reasons.
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { artifact, launch, newPage } = require('../lib/browser');
const site = require('../lib/site');

const AXE = require.resolve('axe-core/axe.min.js');
const FAIL_ON = new Set(['serious', 'critical']);
const MODERATOR = 'margaret_the_moderator';
const REPORTER = 'rita'; // reports through the form in the first test
const SEEDER = 'ravi'; // the reports made before the tests
const SAM = 'sam'; // suspended with the keyboard
const VIC = 'vic'; // suspended before the tests: their profile is the 410 page
const LONG = 'a_member_with_a_very_long_name'; // 30 characters, the most a username may have
const LONG_PROFILE = {
  displayName: 'Bartholomew Featherstonehaugh-Cholmondeley III',
  bio:
    'Collector of long words and longer links. Favourite word: ' +
    'Pneumonoultramicroscopicsilicovolcanoconiosis.\n' +
    'Portfolio: https://example.org/portfolio/2026/illustrations/landscapes-and-portraits-of-the-northern-coast\n' +
    'Commissions open.',
  website: 'https://bartholomew-featherstonehaugh-cholmondeley.example.org/about/me/and/my/very/long/path',
};
const LONG_COMMENT =
  'This profile advertises a follower-selling service in its bio and links to it again and again. ' +
  'It has been posting the same link under many names: ' +
  'https://spam.example.com/buy-now?ref=a_member_with_a_very_long_name&campaign=winter2026_free_followers_and_likes\n' +
  'Reference from my own notes: SPAM-REPORT-2026-12-04-000000000000001234567890-SAME-LINK-AGAIN.\n' +
  'Thank you for looking at it.';
const LONG_REASON =
  'Dismissed: the links in the bio go to the member\u2019s own portfolio, ' +
  'https://example.org/portfolio/2026/illustrations/landscapes-and-portraits-of-the-northern-coast, ' +
  'not to a shop. Checked against ticket MOD-2026-000001234567890-reference-number-without-any-spaces.';
const SUSPENSION_REASON =
  'Repeated harassment reported by several members; the messages are in ' +
  'https://support.example.org/cases/2026/12/04/harassment-case-0001234567890-and-replies.';

let app;
let browser;
const cookies = {}; // username -> that member's logged-in cookies

/** A fresh page, logged in as `who` (a username) or anonymous (`null`). */
async function pageAs(who, options = {}) {
  const page = await newPage(browser, options);
  if (who) await page.context().addCookies(cookies[who]);
  return page;
}

before(async () => {
  [app, browser] = await Promise.all([startApp(), launch()]);
  for (const username of [MODERATOR, REPORTER, SEEDER, SAM, LONG, VIC]) {
    const page = await newPage(browser, { js: false });
    await site.register(page, app.url, username);
    if (username === LONG) await site.savePublicProfile(page, app.url, LONG_PROFILE);
    // With a bio, "Clear the name, bio and website" comes before "Suspend the account".
    if (username === SAM) await site.savePublicProfile(page, app.url, { bio: 'Hello, I am Sam.' });
    cookies[username] = await page.context().cookies();
    await page.context().close();
  }
  // The operator's command, with the server's own settings.
  assert.match(app.folio('moderators', 'add', MODERATOR), /is now a moderator/);

  const seeder = await pageAs(SEEDER, { js: false });
  const moderator = await pageAs(MODERATOR, { js: false });
  // A report on the long-named member, dismissed: a closed report, and the log's first entry.
  let sent = await site.reportMember(seeder, app.url, LONG, { reason: 'Spam or advertising', comment: LONG_COMMENT });
  assert.equal(sent.status(), 303);
  await site.moderate(moderator, app.url, LONG, { action: 'Dismiss the reports', reason: LONG_REASON });
  // Then Sam's report, the oldest open one: Sam comes first in the queue.
  sent = await site.reportMember(seeder, app.url, SAM, { reason: 'Abuse or harassment', comment: 'Rude replies.' });
  assert.equal(sent.status(), 303);
  sent = await site.reportMember(seeder, app.url, LONG, { reason: 'Something else', comment: LONG_COMMENT });
  assert.equal(sent.status(), 303);
  // Vic is suspended without a report.
  await site.moderate(moderator, app.url, VIC, { action: 'Suspend the account', reason: SUSPENSION_REASON });
  await seeder.context().close();
  await moderator.context().close();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

test('a member reports a profile through the plain form on it (no JavaScript)', async () => {
  const anonymous = await pageAs(null, { js: false });
  await anonymous.goto(`${app.url}/users/${LONG}`);
  assert.equal(await anonymous.locator('details.report').count(), 0, 'no report form for visitors');
  await anonymous.context().close();

  const page = await pageAs(REPORTER, { js: false });
  await page.goto(`${app.url}/users/${LONG}`);
  const details = page.locator('details.report');
  assert.equal(await details.getAttribute('open'), null, 'the form starts folded');
  assert.equal(await page.getByRole('button', { name: 'Send the report' }).isVisible(), false);
  await page.getByText('Report this profile', { exact: true }).click();
  assert.equal(await details.getAttribute('open'), '', 'the summary unfolds it');
  const reasons = await page.getByRole('group', { name: 'What is wrong' }).getByRole('radio').evaluateAll((all) =>
    all.map((r) => r.value),
  );
  assert.deepEqual(reasons, ['spam', 'abuse', 'picture', 'impersonation', 'other']);
  await page.getByRole('radio', { name: 'Pretending to be someone else' }).check();
  await page.getByLabel('Details').fill('Uses the name and photos of a painter I know.');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/users/${LONG}/report`) && r.request().method() === 'POST'),
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Send the report' }).click(),
  ]);
  assert.equal(response.status(), 303);
  assert.equal(page.url(), `${app.url}/users/${LONG}`, 'back on the profile');
  assert.equal(await site.flash(page), 'Thank you. Your report was sent to the moderators, who will look at it.');
  assert.equal(await page.locator('details.report').getAttribute('open'), null, 'folded again');
  assert.deepEqual(page.problems, []);
  await page.context().close();

  // The moderators see it, with its comment and who sent it.
  const moderator = await pageAs(MODERATOR, { js: false });
  await moderator.goto(`${app.url}/moderation/users/${LONG}`);
  const item = moderator.locator('.report-list li').filter({ hasText: `from @${REPORTER}` });
  assert.match(await item.textContent(), /Pretending to be someone else/);
  assert.match(await item.textContent(), /Uses the name and photos of a painter I know\./);
  await moderator.context().close();
});

test('to anyone but a moderator, the moderation pages are 404 pages', async () => {
  for (const who of [REPORTER, null]) {
    const page = await pageAs(who, { js: false });
    for (const path of ['/moderation', `/moderation/users/${LONG}`, '/moderation/log']) {
      const response = await page.goto(`${app.url}${path}`);
      assert.equal(response.status(), 404, `${path} for ${who ?? 'a visitor'}`);
    }
    assert.equal(await page.getByRole('link', { name: 'Moderation' }).count(), 0, 'no link to it either');
    await page.context().close();
  }
});

test('a moderator suspends the first member in the queue with the keyboard alone', async () => {
  const page = await pageAs(MODERATOR);
  await page.goto(`${app.url}/moderation`);
  const first = page.locator('section[aria-labelledby^="member-"]').first();
  assert.equal(await first.locator('h2').textContent(), SAM, 'Sam, the longest-waiting, comes first');

  /** What has the focus: enough to tell where the keyboard is. */
  const focused = () =>
    page.evaluate(() => {
      const el = document.activeElement;
      const firstGroup = document.querySelector('section[aria-labelledby^="member-"]');
      const style = getComputedStyle(el);
      return {
        tag: el.tagName.toLowerCase(),
        type: el.getAttribute('type'),
        name: el.getAttribute('name'),
        value: el.value ?? null,
        checked: el.checked ?? null,
        id: el.id,
        href: el.getAttribute('href'),
        text: (el.textContent ?? '').trim().slice(0, 40),
        inFirst: firstGroup?.contains(el) ?? false,
        ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
      };
    });

  // Tab from the top of the page to the first member's action form.
  const path = [];
  let now;
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    now = await focused();
    path.push(now);
    if (now.name === 'action') break;
  }
  assert.equal(now.name, 'action', `Tab reaches the radio group: ${JSON.stringify(path.map((f) => f.text || f.tag))}`);
  assert.equal(now.inFirst, true, "it is the first member's form");
  assert.equal(path[0].text, 'Skip to content', 'the skip link comes first');
  const before = path[path.length - 2];
  assert.equal(before.href, `/moderation/users/${SAM}`, "just before the form: the link to Sam's page");
  assert.ok(
    path.findIndex((f) => f.href === '/moderation/log') < path.length - 2,
    'the link to the log comes before the member',
  );
  assert.equal(now.value, 'clear_profile', 'on the first choice, none chosen yet');
  assert.equal(now.checked, false);
  assert.ok(now.ring, 'the focused radio shows a focus ring');

  // Arrow keys move through the group and choose; Space keeps the choice.
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Space');
  now = await focused();
  assert.deepEqual([now.value, now.checked], ['suspend', true], 'ArrowDown chose "Suspend the account"');
  assert.equal(await first.getByRole('radio', { name: 'Suspend the account' }).isChecked(), true);

  await page.keyboard.press('Tab');
  now = await focused();
  assert.deepEqual([now.tag, now.name, now.inFirst], ['textarea', 'reason', true], 'Tab leaves the group for the reason');
  assert.ok(now.ring, 'the reason shows a focus ring');
  await page.keyboard.type('Harassment in replies, reported by a member and checked.');

  await page.keyboard.press('Tab');
  now = await focused();
  assert.deepEqual([now.tag, now.text, now.inFirst], ['button', 'Take the action', true], 'then the button');
  assert.ok(now.ring, 'the button shows a focus ring');

  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/moderation/users/${SAM}/action`) && r.request().method() === 'POST'),
    page.waitForNavigation(),
    page.keyboard.press('Enter'),
  ]);
  assert.equal(response.status(), 303);
  assert.equal(page.url(), `${app.url}/moderation`, 'back on the queue');
  const message = await site.flash(page);
  assert.ok(message.startsWith(`Done: suspended the account of @${SAM}.`), message);
  assert.match(message, /One report is closed\./);
  assert.equal(await page.locator(`a[href="/moderation/users/${SAM}"]`).count(), 0, 'Sam is gone from the queue');
  assert.equal(await page.locator('section[aria-labelledby^="member-"] h2').first().textContent(), LONG_PROFILE.displayName);
  assert.deepEqual(page.problems, []);

  // Sam's profile is gone for everyone.
  const visitor = await pageAs(null);
  const gone = await visitor.goto(`${app.url}/users/${SAM}`);
  assert.equal(gone.status(), 410);
  assert.match(await visitor.locator('main').textContent(), /suspended/i);
  await visitor.context().close();

  await page.context().close();
});

/** Each page audited: who looks, and how to get there from a fresh page. */
const STATES = [
  {
    name: 'moderation queue',
    who: MODERATOR,
    go: async (p, b) => {
      await p.goto(`${b}/moderation`);
      assert.ok((await p.locator('.report-list li').count()) >= 1, 'at least one open report');
    },
  },
  {
    name: 'moderation, a member',
    who: MODERATOR,
    go: async (p, b) => {
      await p.goto(`${b}/moderation/users/${LONG}`);
      assert.ok((await p.locator('.log-list li').count()) >= 1, 'with a history');
    },
  },
  {
    name: 'moderation, action refused',
    who: MODERATOR,
    go: async (p, b) => {
      await p.goto(`${b}/moderation/users/${LONG}`);
      await p.getByRole('radio', { name: 'Dismiss the reports' }).check();
      const [response] = await Promise.all([
        p.waitForNavigation(),
        p.getByRole('button', { name: 'Take the action' }).click(),
      ]);
      assert.equal(response.status(), 422);
      assert.equal(await p.getByLabel('Reason', { exact: true }).getAttribute('aria-invalid'), 'true');
    },
  },
  {
    name: 'moderation log',
    who: MODERATOR,
    go: async (p, b) => {
      await p.goto(`${b}/moderation/log`);
      assert.ok((await p.locator('#log li').count()) >= 2, 'with entries');
    },
  },
  {
    name: 'profile, report form open',
    who: REPORTER,
    go: async (p, b) => {
      await p.goto(`${b}/users/${LONG}`);
      await p.getByText('Report this profile', { exact: true }).click();
      await p.getByRole('button', { name: 'Send the report' }).waitFor();
    },
  },
  {
    name: 'profile, report refused',
    who: REPORTER,
    go: async (p, b) => {
      await p.goto(`${b}/users/${LONG}`);
      await p.getByText('Report this profile', { exact: true }).click();
      const [response] = await Promise.all([
        p.waitForNavigation(),
        p.getByRole('button', { name: 'Send the report' }).click(),
      ]);
      assert.equal(response.status(), 422);
      await p.locator('#report-error').waitFor();
    },
  },
  {
    name: 'suspended profile',
    who: null,
    go: async (p, b) => {
      const response = await p.goto(`${b}/users/${VIC}`);
      assert.equal(response.status(), 410);
    },
  },
];

/** axe-core's findings on the page as it is, each with where and what is wrong. */
async function audit(page) {
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.split('\n').slice(1).join(' ').trim()}`),
  }));
}

describe('axe-core finds nothing serious, in the light and the dark scheme', () => {
  for (const state of STATES) {
    test(state.name, async (t) => {
      // CSP bypassed for this audit only, so axe's script can be injected. One visit, both
      // schemes: the page follows prefers-color-scheme as it changes.
      const page = await pageAs(state.who, { colorScheme: 'light', bypassCSP: true });
      await state.go(page, app.url);
      await page.addScriptTag({ path: AXE });
      const serious = [];
      const backgrounds = new Set();
      for (const colorScheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme });
        backgrounds.add(await page.evaluate(() => getComputedStyle(document.body).backgroundColor));
        for (const v of await audit(page)) {
          // The lesser findings are told, not failed on, as in the other audits.
          if (FAIL_ON.has(v.impact)) serious.push({ colorScheme, ...v });
          else t.diagnostic(`${colorScheme}: ${v.impact} ${v.id}: ${v.nodes.join('; ')}`);
        }
      }
      assert.equal(backgrounds.size, 2, 'the dark scheme is really another look');
      assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
      await page.context().close();
    });
  }
});

/**
 * Pages known to scroll sideways at 360 px, and why: the test still runs, as a TODO, until the
 * stylesheet is fixed (then drop the entry).
 */

describe('no sideways scrolling at 360 px', () => {
  for (const state of STATES) {
    test(state.name, async () => {
      const page = await pageAs(state.who, { width: 360, height: 740 });
      await state.go(page, app.url);
      const { width, wide } = await page.evaluate(() => ({
        width: document.documentElement.scrollWidth,
        // What sticks out (the innermost elements), to say where the fault is.
        wide: [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
          .filter((el, _, all) => !all.some((other) => other !== el && el.contains(other)))
          .map((el) => {
            const where = el.parentElement?.className ? ` in .${[...el.parentElement.classList].join('.')}` : '';
            return `${el.tagName.toLowerCase()}${el.className ? `.${[...el.classList].join('.')}` : ''}${where} "${el.textContent.trim().slice(0, 40)}"`;
          })
          .slice(0, 5),
      }));
      await page.screenshot({ path: artifact(`moderation-${state.name.replace(/[ ,]+/g, '-')}-360.png`), fullPage: true });
      assert.ok(width <= 360, `${state.name} is ${width}px wide at 360px: ${wide.join(', ')}`);
      await page.context().close();
    });
  }
});
