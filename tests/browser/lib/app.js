// Starts the real Folio binary on a free port with its own database, media folder and key.
'use strict';

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR
  ? path.resolve(REPO, process.env.CARGO_TARGET_DIR)
  : path.join(REPO, 'target');
// FOLIO_BINARY runs the tests against another build (e.g. an older commit's, for comparison).
const BINARY = process.env.FOLIO_BINARY || path.join(TARGET, 'debug', 'folio');

/**
 * Spawns `target/debug/folio` (built by `npm test`'s `cargo build`) in a fresh temp dir and
 * resolves once it logs the address it listens on. `env` adds settings, e.g.
 * `{ FOLIO_MAX_UPLOAD_BYTES: '65536' }`.
 */
async function startApp(env = {}) {
  if (!fs.existsSync(BINARY)) {
    throw new Error(`${BINARY} is missing: run \`cargo build\` first (npm test does)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'folio-browser-'));
  const settings = {
    PATH: process.env.PATH,
    RUST_LOG: 'info',
    NO_COLOR: '1',
    FOLIO_BIND: '127.0.0.1:0',
    DATABASE_URL: path.join(dir, 'folio.db'),
    FOLIO_MEDIA_DIR: path.join(dir, 'media'),
    FOLIO_SECRET_KEY_FILE: path.join(dir, 'folio.key'),
    ...env,
  };
  const child = spawn(BINARY, [], {
    // The temp dir is the working directory, so no `.env` of the repo is read.
    cwd: dir,
    env: settings,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      log += chunk.toString();
      // eslint-disable-next-line no-control-regex
      const found = log.replace(/\x1b\[[0-9;]*m/g, '').match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (found) resolve(found[1]);
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', onData);
    exited.then(({ code, signal }) =>
      reject(new Error(`folio exited (${code ?? signal}) before listening:\n${log}`)),
    );
  });
  return {
    // The site as people reach it, and as it names itself by default (its public URL): a name,
    // not an IP address, so that browsers offer passkeys.
    url: url.replace('127.0.0.1', 'localhost'),
    dir,
    mediaDir: path.join(dir, 'media', 'profile_pics'),
    /**
     * The stored pictures, sorted, by their 300×300 masters' names (`<uuid>.jpg`; the
     * renditions beside them, `<uuid>-64.jpg`, `<uuid>.webp` and so on, are in `files()`).
     */
    pictures() {
      return this.files().filter((name) => /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\.jpg$/.test(name));
    },
    /** Every file in the media folder, sorted. */
    files() {
      return fs.readdirSync(path.join(dir, 'media', 'profile_pics')).sort();
    },
    log: () => log,
    /**
     * Runs a command of the same binary with the same settings as the server, e.g.
     * `folio('moderators', 'add', 'ada')`; returns what it printed, throws if it fails.
     */
    folio(...args) {
      return execFileSync(BINARY, args, { cwd: dir, env: settings, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startApp, REPO };
