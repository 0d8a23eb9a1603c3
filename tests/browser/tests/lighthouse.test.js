// Lighthouse (mobile, its defaults) on the pages people land on, with twenty members who have
// real-looking photos: 100 in performance, accessibility, best practices and SEO, and none of
// the audits about what a page weighs failing (issue 23). It attaches to the same Chromium the
// other tests drive, through a DevTools port.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const { after, before, test } = require('node:test');

const { startApp } = require('../lib/app');
const { artifact, launch } = require('../lib/browser');
const images = require('../lib/images');
const site = require('../lib/site');

const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'];
/** Audits that must not fail even where they weigh nothing in their category's score. */
const WEIGHT_AUDITS = [
  'uses-responsive-images',
  'modern-image-formats',
  'uses-text-compression',
  'uses-long-cache-ttl',
  'meta-description',
];

const NAMES = [
  ['ada', 'Ada Lovelace', 'Wrote the first program, for an engine that was never built.'],
  ['alan', 'Alan Turing', 'Computability, codebreaking and morphogenesis.'],
  ['barbara', 'Barbara Liskov', 'Data abstraction and distributed computing.'],
  ['claude', 'Claude Shannon', 'Information theory; juggling on a unicycle.'],
  ['donald', 'Donald Knuth', 'The Art of Computer Programming, volume by volume.'],
  ['edsger', 'Edsger Dijkstra', 'Shortest paths, semaphores, and go to considered harmful.'],
  ['frances', 'Frances Allen', 'Compiler optimisation and parallel computing.'],
  ['grace', 'Grace Hopper', 'Rear admiral. Wrote the first compiler.'],
  ['hedy', 'Hedy Lamarr', 'Frequency hopping, between two films.'],
  ['ivan', 'Ivan Sutherland', 'Sketchpad, and the first head-mounted display.'],
  ['john', 'John McCarthy', 'Lisp and the words artificial intelligence.'],
  ['katherine', 'Katherine Johnson', 'Trajectories for Mercury and Apollo, by hand.'],
  ['leslie', 'Leslie Lamport', 'Clocks, Paxos and LaTeX.'],
  ['margaret', 'Margaret Hamilton', 'The Apollo guidance software, and the word software engineering.'],
  ['niklaus', 'Niklaus Wirth', 'Pascal, Modula-2 and Oberon; algorithms plus data structures.'],
  ['radia', 'Radia Perlman', 'The spanning tree protocol.'],
  ['shafi', 'Shafi Goldwasser', 'Zero-knowledge proofs and probabilistic encryption.'],
  ['tim', 'Tim Berners-Lee', 'The web: HTTP, HTML and the first browser.'],
  ['vint', 'Vint Cerf', 'TCP/IP, with Bob Kahn.'],
  ['whitfield', 'Whitfield Diffie', 'Public-key cryptography, with Martin Hellman.'],
];

let app;
let browser;
let port; // Chromium's DevTools port
let lighthouse;
let accountCookies; // the last member's session

/** A port nothing listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function csrfToken(html) {
  const found = html.match(/name="csrf_token" value="([^"]+)"/);
  assert.ok(found, 'the page has a form token');
  return found[1];
}

/**
 * Registers `username`, uploads `photo` and fills in the public profile, through the forms'
 * own posts (no page rendering: quicker than typing). Returns the member's cookies.
 */
async function makeMember(base, [username, displayName, bio], photo) {
  const context = await browser.newContext();
  const request = context.request;
  const token = csrfToken(await (await request.get(`${base}/register`)).text());
  const registered = await request.post(`${base}/register`, {
    form: {
      csrf_token: token,
      username,
      email: `${username}@example.com`,
      password: site.PASSWORD,
      password_confirm: site.PASSWORD,
    },
    maxRedirects: 0,
  });
  assert.equal(registered.status(), 303, `registering ${username}`);
  const accountToken = csrfToken(await (await request.get(`${base}/account`)).text());
  const uploaded = await request.post(`${base}/account/picture`, {
    multipart: {
      csrf_token: accountToken,
      picture: { name: `${username}.jpg`, mimeType: 'image/jpeg', buffer: photo },
    },
    maxRedirects: 0,
  });
  assert.equal(uploaded.status(), 303, `${username}'s picture`);
  const saved = await request.post(`${base}/account/profile`, {
    form: { csrf_token: accountToken, display_name: displayName, bio, website: '' },
    maxRedirects: 0,
  });
  assert.equal(saved.status(), 303, `${username}'s profile`);
  const cookies = await context.cookies(base);
  await context.close();
  return cookies;
}

before(async () => {
  port = await freePort();
  [app, browser, { default: lighthouse }] = await Promise.all([
    startApp({ FOLIO_SIGNUPS_PER_HOUR: '0' }),
    launch({ debuggingPort: port }),
    import('lighthouse'),
  ]);
  // Photos with detail (sky, hills, grain), so that their JPEGs weigh what photos weigh.
  for (const [i, member] of NAMES.entries()) {
    const photo = await images.photo(browser, {
      width: 1600,
      height: 1200,
      tint: (i * 37) % 120,
      noise: 0.1 + (i % 4) * 0.04,
      leaves: 10000,
    });
    accountCookies = await makeMember(app.url, member, photo);
  }
  assert.equal(app.pictures().length, NAMES.length);
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** Gives the browser's default profile, where Lighthouse opens its tab, these cookies. */
async function setCookies(cookies) {
  const cdp = await browser.newBrowserCDPSession();
  await cdp.send('Storage.setCookies', {
    cookies: cookies.map(({ expires, ...cookie }) => (expires > 0 ? { ...cookie, expires } : cookie)),
  });
  await cdp.detach();
}

async function clearCookies() {
  const cdp = await browser.newBrowserCDPSession();
  await cdp.send('Storage.clearCookies', {});
  await cdp.detach();
}

/** Lighthouse's run on `path`: its report, saved beside the screenshots. */
async function audit(path, name) {
  const result = await lighthouse(`${app.url}${path}`, {
    port,
    output: 'json',
    logLevel: 'error',
    onlyCategories: CATEGORIES,
    disableFullPageScreenshot: true,
  });
  fs.writeFileSync(artifact(`lighthouse-${name}.json`), result.report);
  return result.lhr;
}

/** An audit that did not pass, with what Lighthouse says of it. */
function explain(audit) {
  const shown = audit.displayValue ? ` (${audit.displayValue})` : '';
  const items = (audit.details?.items ?? [])
    .slice(0, 5)
    .map((item) => `\n      ${item.url ?? item.node?.snippet ?? item.source?.url ?? JSON.stringify(item).slice(0, 160)}`)
    .join('');
  return `${audit.id}: ${audit.title}, score ${audit.score}${shown}${items}`;
}

function passed(audit) {
  return audit.score === null || audit.score === 1 || audit.scoreDisplayMode === 'notApplicable';
}

/** What the page made the browser fetch, in bytes on the wire: images, and everything. */
function weights(lhr) {
  const requests = lhr.audits['network-requests'].details?.items ?? [];
  const images = requests.filter((r) => r.resourceType === 'Image');
  return {
    images: images.reduce((sum, r) => sum + (r.transferSize ?? 0), 0),
    imageCount: images.length,
    total: lhr.audits['total-byte-weight'].numericValue,
  };
}

function check(lhr, label) {
  const scores = Object.fromEntries(CATEGORIES.map((c) => [c, lhr.categories[c].score]));
  const weight = weights(lhr);
  console.log(
    `${label}: ${CATEGORIES.map((c) => `${c} ${Math.round(scores[c] * 100)}`).join(', ')}; ` +
      `images ${weight.imageCount} = ${weight.images} B, everything ${weight.total} B`,
  );
  const problems = [];
  for (const category of CATEGORIES) {
    if (scores[category] !== 1) {
      // What costs the points: the scored audits of the category that did not pass.
      const failing = lhr.categories[category].auditRefs
        .filter((ref) => ref.weight > 0 && !passed(lhr.audits[ref.id]))
        .map((ref) => `    ${explain(lhr.audits[ref.id])}`);
      problems.push(`${category} ${scores[category]}:\n${failing.join('\n')}`);
    }
  }
  for (const id of WEIGHT_AUDITS) {
    if (!passed(lhr.audits[id])) problems.push(explain(lhr.audits[id]));
  }
  for (const problem of problems) console.log(`  ${problem}`);
  assert.deepEqual(problems, [], `${label}: Lighthouse found problems`);
}

const PAGES = [
  ['home', '/'],
  ['users', '/users'],
  ['profile', '/users/grace'],
  ['login', '/login'],
];

for (const [name, path] of PAGES) {
  test(`Lighthouse on ${path}`, async () => {
    check(await audit(path, name), path);
  });
}

test('Lighthouse on /account, logged in', async () => {
  await setCookies(accountCookies);
  try {
    const lhr = await audit('/account', 'account');
    assert.equal(new URL(lhr.finalDisplayedUrl).pathname, '/account', 'still logged in');
    check(lhr, '/account');
  } finally {
    await clearCookies();
  }
});
