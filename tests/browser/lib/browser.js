// Debian's Chromium, driven by playwright-core: no browser is ever downloaded.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.FOLIO_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');

/**
 * `debuggingPort`: also listen for DevTools clients on that port of 127.0.0.1 (Lighthouse
 * attaches to the browser there).
 */
function launch({ debuggingPort } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(debuggingPort ? [`--remote-debugging-port=${debuggingPort}`] : []),
    ],
  });
}

/**
 * A fresh browser profile (its own cookies) with one page. `js: false` is a browser with
 * JavaScript off; `width` 360 is a small phone.
 */
async function newPage(browser, { js = true, width = 1280, height = 800, colorScheme = 'light', bypassCSP = false } = {}) {
  const context = await browser.newContext({
    javaScriptEnabled: js,
    viewport: { width, height },
    colorScheme,
    bypassCSP,
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  // Anything the page's scripts throw, or the CSP refuses, fails the test that caused it.
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A 4xx answer to a form post is logged as a failed load; that is the test's business.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.problems = problems;
  return page;
}

function artifact(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

module.exports = { launch, newPage, artifact, ARTIFACTS };
