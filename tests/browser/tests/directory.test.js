// The member directory (/users) and the public profile (issue 12): newest first, paged by an
// "Older members" link without JavaScript and by a "Load more" button with it; a search by the
// start of a name; a profile page with a display name, a bio and a website; all of it
// accessible, and no wider than a phone.
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const { startApp } = require('../lib/app');
const { launch, newPage } = require('../lib/browser');
const site = require('../lib/site');

const AXE = require.resolve('axe-core/axe.min.js');

/** Everyone, oldest first, as they register; some with a public profile. */
const MEMBERS = [
  { username: 'ada', displayName: 'Ada Lovelace' },
  { username: 'Alan.Turing' },
  { username: 'barbara-liskov' },
  { username: 'claude_s' },
  { username: 'edsger' },
  { username: 'margaret' },
  { username: 'frances' },
  { username: 'ken', displayName: 'Martha Kendall' },
  {
    username: 'grace',
    displayName: 'Grace Brewster Murray Hopper',
    bio: 'Rear admiral.\nWrote the first compiler.',
    website: 'https://grace-hopper.example.org/papers/compiling-routines-1952/',
  },
];
/** Newest first: the directory's order. */
const NEWEST_FIRST = MEMBERS.map((m) => m.username).reverse();
const GRACE = MEMBERS.find((m) => m.username === 'grace');

let app;
let browser;
let cookies; // grace, logged in

before(async () => {
  [app, browser] = await Promise.all([startApp({ FOLIO_SIGNUPS_PER_HOUR: '0' }), launch()]);
  // One after the other, so the order they joined in is the order of the list.
  for (const member of MEMBERS) {
    const page = await newPage(browser, { js: false });
    await site.register(page, app.url, member.username);
    if (member.displayName) await site.savePublicProfile(page, app.url, member);
    if (member === GRACE) cookies = await page.context().cookies();
    await page.context().close();
  }
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** The @handles listed on the page, in order, without the "@". */
function handles(page) {
  return page.locator('#members li.member .member-handle').evaluateAll((all) =>
    all.map((el) => {
      const text = el.textContent.trim();
      return text.startsWith('@') ? text.slice(1) : `(no @) ${text}`;
    }),
  );
}

/** Polls `read` until `done(value)` or the time is up; returns the last value either way. */
async function settle(read, done, ms = 5000) {
  const end = Date.now() + ms;
  let value = await read();
  while (!done(value) && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

/** The query of a URL as a sorted list of pairs, to compare addresses whatever their order. */
function query(url) {
  return [...new URL(url, 'http://x').searchParams].sort(([a], [b]) => a.localeCompare(b));
}

/**
 * "Newest members" goes to the first page of the same list: /users, the same search, no
 * after=. The spec writes it `/users[?q=..]`; the app also keeps a limit other than the
 * default, which is the same list, so either is taken.
 */
function assertNewestLink(href, { q, limit }) {
  const url = new URL(href, 'http://x');
  assert.equal(url.pathname, '/users', href);
  assert.equal(url.searchParams.get('after'), null, `${href}: no after=`);
  assert.equal(url.searchParams.get('q'), q ?? null, `${href}: the same search`);
  assert.ok([null, String(limit)].includes(url.searchParams.get('limit')), `${href}: no other limit`);
  assert.deepEqual([...url.searchParams.keys()].filter((k) => !['q', 'limit'].includes(k)), [], `${href}: nothing else`);
}

test('with JavaScript, "Load more" brings in older members, moves the focus and keeps the address', async () => {
  const page = await newPage(browser);
  await page.goto(`${app.url}/users?limit=3`);
  assert.equal(await page.title(), 'Members · Folio');
  assert.equal((await page.locator('h1').textContent()).trim(), 'Members');
  assert.deepEqual(await handles(page), NEWEST_FIRST.slice(0, 3), 'the newest three, newest first');
  // The display name where there is one, the username where not.
  assert.deepEqual(
    await page.locator('#members li.member .member-name').evaluateAll((all) => all.map((el) => el.textContent.trim())),
    [GRACE.displayName, 'Martha Kendall', 'frances'],
  );
  const first = page.locator('#members li.member').first();
  assert.equal(await first.locator('a.member-link').getAttribute('href'), '/users/grace');
  const img = first.locator('a.member-link img');
  assert.deepEqual(
    await img.evaluate((el) => [el.getAttribute('alt'), el.getAttribute('width'), el.getAttribute('height'), el.getAttribute('loading')]),
    ['', '64', '64', 'lazy'],
  );

  // The script swapped the link for a button; the page starts at the top, so no way back.
  assert.equal(await page.locator('#older-members').count(), 0, 'the Older members link is replaced');
  assert.equal(await page.locator('#newest-members').count(), 0, 'on the first page, no "Newest members" link');
  const button = page.getByRole('button', { name: 'Load more' });
  assert.equal(await button.count(), 1);
  assert.equal(await page.locator('#load-more').getAttribute('type'), 'button');
  const status = page.locator('#members-status');
  assert.equal(await status.getAttribute('role'), 'status');

  // What the link would have been, from the same page without JavaScript: the script fetches it.
  const plain = await newPage(browser, { js: false });
  await plain.goto(`${app.url}/users?limit=3`);

  const slices = [NEWEST_FIRST.slice(3, 6), NEWEST_FIRST.slice(6, 9)];
  let shown = 3;
  for (const [i, slice] of slices.entries()) {
    const last = i === slices.length - 1;
    const older = await plain.locator('#older-members').getAttribute('href');
    assert.ok(older, `page ${i + 1} without JavaScript has an Older members link`);
    assert.equal(new URL(older, app.url).searchParams.get('fragment'), null, 'the link has no fragment=1');

    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/users' && new URL(r.url()).searchParams.get('fragment') === '1'),
      button.click(),
    ]);
    assert.equal(response.status(), 200);
    assert.deepEqual(query(response.url()), query(new URL(older, app.url).href + '&fragment=1'), 'it fetches the older link plus fragment=1');
    shown += slice.length;
    const now = await settle(() => handles(page), (h) => h.length === shown);
    assert.deepEqual(now, NEWEST_FIRST.slice(0, shown), `after click ${i + 1}: each member once, newest first`);

    // The keyboard focus is on the first new member's link.
    const focused = await settle(
      () => page.evaluate(() => {
        const el = document.activeElement;
        return el?.matches('a.member-link') ? el.getAttribute('href') : `${el?.tagName}#${el?.id}`;
      }),
      (f) => f === `/users/${slice[0]}`,
    );
    assert.equal(focused, `/users/${slice[0]}`, `after click ${i + 1}: focus on the first new member`);

    const expected = last ? `${slice.length} more members shown. That is everyone.` : `${slice.length} more members shown.`;
    const said = await settle(async () => (await status.textContent()).trim(), (t) => t === expected);
    assert.equal(said, expected, `after click ${i + 1}: the status`);

    // The address is the older link it fetched, without fragment=1.
    assert.equal(new URL(page.url()).pathname, '/users');
    assert.deepEqual(query(page.url()), query(older), `after click ${i + 1}: the address`);
    assert.ok(new URL(page.url()).searchParams.get('after'), 'the address has after=');

    assert.equal(await button.count(), last ? 0 : 1, last ? 'at the end the button is gone' : 'the button stays');
    // The page without JavaScript follows along, to the page after this slice.
    await Promise.all([plain.waitForNavigation(), plain.locator('#older-members').click()]);
  }
  assert.equal(await plain.locator('#older-members').count(), 0, 'the last page has no Older members link');
  await plain.context().close();
  // The status is for screen readers: visually hidden but in the page.
  const box = await status.boundingBox();
  assert.ok(!box || box.width <= 1 || box.height <= 1, `#members-status is visually hidden: ${JSON.stringify(box)}`);

  // A reload shows the last slice it loaded, with a way back to the newest.
  await page.reload();
  assert.deepEqual(await handles(page), NEWEST_FIRST.slice(6, 9), 'the reloaded page starts at the last slice');
  const newest = page.locator('#newest-members');
  assert.equal(await newest.count(), 1);
  assert.equal((await newest.textContent()).trim(), 'Newest members');
  assertNewestLink(await newest.getAttribute('href'), { limit: 3 });
  assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0, 'nothing older to load');
  await Promise.all([page.waitForNavigation(), newest.click()]);
  assert.deepEqual((await handles(page)).slice(0, 3), NEWEST_FIRST.slice(0, 3), '"Newest members" goes back to the start');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

describe('without JavaScript, the "Older members" link pages through everyone', () => {
  for (const limit of [4, 3, 2]) {
    test(`limit=${limit}`, async () => {
      const page = await newPage(browser, { js: false });
      await page.goto(`${app.url}/users?limit=${limit}`);
      const seen = [];
      const sizes = [];
      for (let n = 1; ; n++) {
        assert.ok(n <= 10, 'too many pages');
        const here = await handles(page);
        seen.push(...here);
        sizes.push(here.length);
        assert.equal(await page.locator('#load-more').count(), 0, 'no Load more button');
        assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0, 'no Load more button');
        assert.equal(await page.locator('#newest-members').count(), n === 1 ? 0 : 1, `page ${n}: "Newest members" only mid-list`);
        const older = page.locator('#older-members');
        if ((await older.count()) === 0) break;
        assert.equal(await older.getAttribute('rel'), 'next');
        assert.equal((await older.textContent()).trim(), 'Older members');
        assert.equal(
          await older.evaluate((a) => a.closest('nav.pager')?.getAttribute('aria-label')),
          'More members',
          'the link sits in nav.pager "More members"',
        );
        const href = new URL(await older.getAttribute('href'), app.url);
        assert.equal(href.pathname, '/users');
        assert.equal(href.searchParams.get('limit'), String(limit));
        assert.ok(href.searchParams.get('after'), 'the link has after=');
        await Promise.all([page.waitForNavigation(), older.click()]);
        assert.equal(page.url(), href.href);
      }
      assert.deepEqual(seen, NEWEST_FIRST, 'everyone once, newest first');
      const full = Math.floor(NEWEST_FIRST.length / limit);
      const rest = NEWEST_FIRST.length % limit;
      assert.deepEqual(sizes, [...Array(full).fill(limit), ...(rest ? [rest] : [])], 'pages of the limit; none empty');
      await page.context().close();
    });
  }

  test('limits and cursors the server does not take: 400', async () => {
    const page = await newPage(browser, { js: false });
    await page.goto(`${app.url}/users?limit=2`);
    const after = new URL(await page.locator('#older-members').getAttribute('href'), app.url).searchParams.get('after');
    const tampered = after.slice(0, -1) + (after.endsWith('A') ? 'B' : 'A');
    for (const path of ['/users?limit=0', '/users?limit=51', '/users?limit=abc', '/users?after=nonsense', `/users?after=${encodeURIComponent(tampered)}&limit=2`]) {
      const response = await page.goto(`${app.url}${path}`);
      assert.equal(response.status(), 400, path);
    }
    for (const path of ['/users?limit=1', '/users?limit=50', `/users?after=${encodeURIComponent(after)}&limit=2`]) {
      const response = await page.goto(`${app.url}${path}`);
      assert.equal(response.status(), 200, path);
    }
    await page.context().close();
  });
});

describe('search by the start of a name, ignoring case', () => {
  const cases = [
    ['a display name', 'GRACE b', ['grace']],
    ['a display name, or a username', 'mAR', ['ken', 'margaret']],
    ['a username with capitals', 'alan.t', ['Alan.Turing']],
    ['a lowercase username', 'BARB', ['barbara-liskov']],
  ];
  for (const [what, q, expected] of cases) {
    test(`${what}: ${JSON.stringify(q)}`, async () => {
      const page = await newPage(browser);
      await page.goto(`${app.url}/users`);
      const form = page.locator('form[role="search"]');
      assert.equal(await form.getAttribute('method'), 'get');
      assert.equal(await form.getAttribute('action'), '/users');
      await page.getByLabel('Find a member').fill(q);
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Search' }).click()]);
      assert.equal(new URL(page.url()).searchParams.get('q'), q);
      assert.equal(await page.getByLabel('Find a member').inputValue(), q, 'the search stays in the box');
      assert.deepEqual(await handles(page), expected);
      assert.equal(await page.locator('#no-members').count(), 0);
      assert.deepEqual(page.problems, []);
      await page.context().close();
    });
  }

  test('nobody found', async () => {
    const page = await newPage(browser, { js: false });
    await page.goto(`${app.url}/users?q=zzz`);
    assert.deepEqual(await handles(page), []);
    assert.equal(await page.locator('#no-members').isVisible(), true);
    assert.equal(await page.locator('#older-members').count(), 0);
    await page.context().close();
  });

  test('the search is for the start of a name, not a pattern', async () => {
    const page = await newPage(browser, { js: false });
    // As SQL LIKE patterns these would match "ada" and everyone; as text they start no name.
    for (const q of ['a_a', '%', 'ad%', 'claude%s']) {
      await page.goto(`${app.url}/users?q=${encodeURIComponent(q)}`);
      assert.deepEqual(await handles(page), [], q);
      assert.equal(await page.locator('#no-members').count(), 1, q);
    }
    // An underscore that is really there still matches.
    await page.goto(`${app.url}/users?q=${encodeURIComponent('CLAUDE_')}`);
    assert.deepEqual(await handles(page), ['claude_s']);
    await page.context().close();
  });

  test('the pages of a search keep the search', async () => {
    const page = await newPage(browser, { js: false });
    await page.goto(`${app.url}/users?q=MAR&limit=1`);
    assert.deepEqual(await handles(page), ['ken']);
    const older = new URL(await page.locator('#older-members').getAttribute('href'), app.url);
    assert.equal(older.searchParams.get('q'), 'MAR');
    await Promise.all([page.waitForNavigation(), page.locator('#older-members').click()]);
    assert.deepEqual(await handles(page), ['margaret']);
    assert.equal(await page.locator('#older-members').count(), 0, 'margaret is the last match');
    assertNewestLink(await page.locator('#newest-members').getAttribute('href'), { q: 'MAR', limit: 1 });
    await page.context().close();
  });
});

test('the home page lists the six newest members and links to the directory', async () => {
  const page = await newPage(browser, { js: false });
  await page.goto(`${app.url}/`);
  const section = page.locator('#newest-members-home');
  assert.deepEqual(
    await section.locator('li.member .member-handle').evaluateAll((all) => all.map((el) => el.textContent.trim())),
    NEWEST_FIRST.slice(0, 6).map((name) => `@${name}`),
  );
  assert.equal(await section.getByRole('link', { name: 'See all members' }).getAttribute('href'), '/users');
  await page.context().close();
});

test('the profile page: display name above the @handle, the bio as written, the website', async () => {
  const page = await newPage(browser);
  await page.goto(`${app.url}/users/grace`);
  const name = page.locator('h1#display-name');
  const handle = page.locator('p.handle');
  assert.equal((await name.textContent()).trim(), GRACE.displayName);
  assert.equal((await handle.textContent()).trim(), '@grace');
  const [nameBox, handleBox] = [await name.boundingBox(), await handle.boundingBox()];
  assert.ok(nameBox.y + nameBox.height <= handleBox.y + 1, `the name is above the handle: ${JSON.stringify({ nameBox, handleBox })}`);
  assert.equal(await name.evaluate((h1, p) => !!(h1.compareDocumentPosition(p) & Node.DOCUMENT_POSITION_FOLLOWING), await handle.elementHandle()), true);

  const bio = page.locator('p.bio#bio');
  assert.equal(await bio.evaluate((el) => el.innerText), GRACE.bio, 'the line break is kept');
  assert.equal(await bio.evaluate((el) => getComputedStyle(el).whiteSpace), 'pre-line');

  const website = page.locator('a#website');
  assert.equal(await website.getAttribute('href'), GRACE.website);
  assert.equal(await website.getAttribute('rel'), 'nofollow ugc noopener');

  assert.match((await page.locator('p.member-since').textContent()).trim(), /^Member since [A-Z][a-z]+ \d{4}$/);
  assert.equal(await page.title(), `${GRACE.displayName} (@grace) · Folio`);
  const meta = (property) => page.locator(`meta[property="${property}"]`).getAttribute('content');
  assert.equal(await meta('og:type'), 'profile');
  assert.match(await meta('og:image'), /^https?:\/\//, 'og:image is absolute');
  assert.ok((await meta('og:title')).includes(GRACE.displayName), 'og:title names her');
  assert.equal(await meta('og:url'), `${app.url}/users/grace`);
  assert.ok(await page.locator('meta[name="description"]').getAttribute('content'), 'a meta description');

  // Without a display name: the username, once, as the heading.
  await page.goto(`${app.url}/users/edsger`);
  assert.equal((await name.textContent()).trim(), 'edsger');
  assert.equal((await handle.textContent()).trim(), '@edsger');
  assert.equal(await page.locator('#website').count(), 0, 'no website, no link');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

describe('accessible, and no wider than a phone', () => {
  const STATES = [
    { name: 'directory', anonymous: true, go: (p, b) => p.goto(`${b}/users`) },
    {
      name: 'directory after "Load more"',
      anonymous: true,
      go: async (p, b) => {
        await p.goto(`${b}/users?limit=3`);
        await p.getByRole('button', { name: 'Load more' }).click();
        await p.locator('#members li.member').nth(3).waitFor();
      },
    },
    {
      name: 'directory, mid-list',
      anonymous: true,
      go: async (p, b) => {
        // The server's own Older members link (the script turns it into a button).
        const html = await (await p.context().request.get(`${b}/users?limit=4`)).text();
        const tag = html.match(/<a\b[^>]*\bid="older-members"[^>]*>/)[0];
        const href = tag.match(/\bhref="([^"]*)"/)[1].replaceAll('&amp;', '&');
        await p.goto(new URL(href, b).href);
        await p.locator('#newest-members').waitFor();
      },
    },
    { name: 'directory, nobody found', anonymous: true, go: (p, b) => p.goto(`${b}/users?q=zzz`) },
    { name: 'profile with display name, bio and website', anonymous: true, go: (p, b) => p.goto(`${b}/users/grace`) },
    { name: 'account', go: (p, b) => p.goto(`${b}/account`) },
    {
      name: 'account, public profile errors',
      go: async (p, b) => {
        await p.goto(`${b}/account`);
        await p.locator('#profile-form').evaluate((form) => { form.noValidate = true; });
        await p.getByLabel('Website', { exact: true }).fill('not a website');
        await Promise.all([p.waitForNavigation(), p.getByRole('button', { name: 'Save public profile' }).click()]);
        await p.locator('#website-error').waitFor();
      },
    },
  ];
  for (const colorScheme of ['light', 'dark']) {
    for (const state of STATES) {
      test(`axe: ${state.name} (${colorScheme})`, async () => {
        const page = await newPage(browser, { colorScheme, bypassCSP: true });
        if (!state.anonymous) await page.context().addCookies(cookies);
        await state.go(page, app.url);
        await page.addScriptTag({ path: AXE });
        const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
        const found = violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.split('\n').slice(1).join(' ').trim()}`),
        }));
        assert.deepEqual(found, [], JSON.stringify(found, null, 2));
        await page.context().close();
      });
    }
  }

  for (const [name, path] of [['directory', '/users'], ['profile', '/users/grace'], ['account', '/account']]) {
    test(`${name} at 360 px: no sideways scrolling`, async () => {
      const page = await newPage(browser, { width: 360, height: 740 });
      await page.context().addCookies(cookies);
      await page.goto(`${app.url}${path}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `${path} is ${width}px wide at 360px`);
      await page.context().close();
    });
  }
});
