// The dashboard in a real browser against a real node.
//
//   node dashboard_test.mjs --build-dir BUILD --modules NODE_MODULES
//
// Starts `stockgrid` (temp data dir, 127.0.0.1, a free port), makes a tenant,
// a reader key and a record with `stockctl`, opens the dashboard in headless
// Chromium (/usr/bin/chromium through playwright-core), signs in, and checks
// that the record's `available` shows and follows changes made by the client,
// that a drop to the low-stock threshold lists an alert, and that after the
// node restarts the page reconnects and follows again. Saves a screenshot to
// BUILD/test-artifacts/dashboard.png (also on failure), and the node's log
// next to it.
//
// Every wait has a deadline; the whole run has a hard one. Every process the
// test starts is stopped in `finally`, and by the hard deadline at the latest.
import { spawn, execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const runDeadlineMs = 150_000;
const nodeStartMs = 30_000;
const nodeStopMs = 15_000;
const pageWaitMs = 15_000;
const clientTimeoutMs = 20_000;
const systemToken = 'browser-test-system-token-5d2e8a1c94b7f036';
const chromiumPath = '/usr/bin/chromium';

function option(name) {
  const at = process.argv.indexOf(name);
  if (at < 0 || at + 1 >= process.argv.length) throw new Error(`usage: ${name} is required`);
  return resolve(process.argv[at + 1]);
}

const buildDir = option('--build-dir');
const modules = option('--modules');
const artifacts = join(buildDir, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
for (const stale of ['dashboard.png', 'dashboard-failed.png', 'dashboard-node.log']) {
  rmSync(join(artifacts, stale), { force: true });
}

const log = (...parts) => console.log('dashboard test:', ...parts);
const nodes = new Set();  // running stockgrid child processes

// ---------------------------------------------------------------------------
// The node

// Starts stockgrid on `port` (0 = a free one) and resolves with {child, port}
// once it prints "listening on 127.0.0.1:PORT".
function startNode(dataDir, port) {
  const child = spawn(join(buildDir, 'app/stockgrid'), [
    '--data-dir', dataDir, '--bind', '127.0.0.1', '--port', String(port),
    '--partitions', '4', '--journal-threads', '1', '--io-threads', '2',
  ], { env: { ...process.env, STOCKGRID_ADMIN_TOKEN: systemToken }, stdio: ['ignore', 'pipe', 'pipe'] });
  nodes.add(child);
  const logFile = createWriteStream(join(artifacts, 'dashboard-node.log'), { flags: 'a' });
  child.stderr.pipe(logFile);
  child.on('exit', () => nodes.delete(child));
  return new Promise((resolvePort, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`stockgrid printed no port within ${nodeStartMs} ms`)), nodeStartMs);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolvePort({ child, port: Number(match[1]) });
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`stockgrid exited early (code ${code}, signal ${signal}); see ${artifacts}/dashboard-node.log`));
    });
  });
}

// SIGTERM, then SIGKILL if it has not exited within nodeStopMs. Resolves with
// the exit code (null when killed).
function stopNode(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolveExit) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), nodeStopMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveExit(code);
    });
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------
// The client: stockctl, one command per call, its answer as JSON.

function stockctl(port, token, ...words) {
  const args = ['--url', `ws://127.0.0.1:${port}/v1/ws`, '--token', token, '--json', '--raw', ...words];
  return new Promise((resolveAnswer, reject) => {
    execFile(join(buildDir, 'client/stockctl'), args, { timeout: clientTimeoutMs }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`stockctl ${words.join(' ')} failed (${error.code ?? error.signal}): ${stdout}${stderr}`));
        return;
      }
      try {
        resolveAnswer(JSON.parse(stdout.trim().split('\n').pop()));
      } catch {
        reject(new Error(`stockctl ${words.join(' ')}: not JSON: ${stdout}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------
// The page

const availableCell = (key) => `tr[data-key="${key}"] td[data-field="available"]`;

// Waits until the selector's text is `want`; on timeout fails with what the
// page showed instead.
async function waitForText(page, selector, want, what) {
  try {
    await page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent === w,
      [selector, want], { timeout: pageWaitMs, polling: 100 });
  } catch {
    const shown = await page.evaluate((s) => document.querySelector(s)?.textContent ?? '(no such element)', selector);
    const status = await page.textContent('#status');
    throw new Error(`${what}: expected "${want}" at ${selector} within ${pageWaitMs} ms, the page shows "${shown}" (status: ${status.replace(/\s+/g, ' ').trim()})`);
  }
  log(`ok: ${what} (${selector} = ${want})`);
}

async function waitForSelector(page, selector, what) {
  try {
    await page.waitForSelector(selector, { timeout: pageWaitMs, state: 'attached' });
  } catch {
    const status = await page.textContent('#status');
    throw new Error(`${what}: no ${selector} within ${pageWaitMs} ms (status: ${status.replace(/\s+/g, ' ').trim()})`);
  }
  log(`ok: ${what}`);
}

// Whether the node answers `subscribe` (rather than UNKNOWN_OP), asked with
// a WebSocket of its own from the page, independent of the dashboard's code:
// a dashboard that fell back to polling would still show values, so the test
// makes sure it talks to a node that has subscriptions.
function serverHasSubscriptions(page, token) {
  return page.evaluate((t) => new Promise((done, fail) => {
    const socket = new WebSocket(`ws://${location.host}/v1/ws`);
    const timer = setTimeout(() => fail(new Error('subscribe probe: no answer')), 10_000);
    socket.onopen = () => socket.send(JSON.stringify({ op: 'auth', id: 1, token: t }));
    socket.onmessage = (message) => {
      const answer = JSON.parse(message.data);
      if (answer.id === 1) {
        socket.send(JSON.stringify({ op: 'subscribe', id: 2, warehouse: 'nowhere' }));
      } else if (answer.id === 2) {
        clearTimeout(timer);
        socket.close();
        done(answer.ok || answer.error?.code !== 'UNKNOWN_OP');
      }
    };
  }), token);
}

async function checkStaticFiles(port) {
  const expected = { '/': 'text/html', '/app.js': 'text/javascript', '/app.css': 'text/css' };
  for (const [path, type] of Object.entries(expected)) {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    const body = await response.text();
    if (response.status !== 200 || !response.headers.get('content-type')?.startsWith(type) ||
        response.headers.get('cache-control') !== 'no-cache' || body.length === 0) {
      throw new Error(`GET ${path}: ${response.status} ${response.headers.get('content-type')} ` +
        `cache-control ${response.headers.get('cache-control')}, ${body.length} bytes`);
    }
  }
  log('ok: /, /app.js and /app.css served with their content types and no-cache');
}

// ---------------------------------------------------------------------------
// The scenario

async function run(state) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) throw new Error(`node ${process.versions.node}: the browser test needs node 20 or newer`);
  const { chromium } = createRequire(join(modules, 'noop.js'))('playwright-core');

  state.dataDir = mkdtempSync(join(tmpdir(), 'stockgrid-dashboard-'));
  const dataDir = join(state.dataDir, 'data');
  let { child, port } = await startNode(dataDir, 0);
  log(`node on 127.0.0.1:${port}`);
  await checkStaticFiles(port);

  const admin = (await stockctl(port, systemToken, 'tenant', 'create', 'web')).token;
  const reader = (await stockctl(port, admin, 'key', 'create', 'reader')).token;
  if (!admin || !reader) throw new Error('no admin or reader token');
  await stockctl(port, admin, 'set', 'berlin', 'mug', '20');
  await stockctl(port, admin, 'set', 'paris', 'poster', '7');
  await stockctl(port, admin, 'policy', 'berlin', 'mug', '--low-stock-threshold', '5');

  state.browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  const page = await state.browser.newPage({ viewport: { width: 1280, height: 900 } });
  state.page = page;
  page.on('pageerror', (error) => state.pageErrors.push(error.message));
  page.on('console', (message) => {
    // Chromium itself logs each refused WebSocket while the node restarts:
    // expected, the page retries.
    const refused = /^WebSocket connection to .* failed/.test(message.text());
    if (message.type() === 'error' && !refused) state.pageErrors.push(message.text());
  });
  await page.goto(`http://127.0.0.1:${port}/`, { timeout: pageWaitMs });

  if (!await serverHasSubscriptions(page, reader)) throw new Error('the node answers subscribe with UNKNOWN_OP');

  await page.fill('#token', reader);
  await page.click('#signin-submit');
  await waitForSelector(page, '#status[data-state="connected"]', 'signed in and connected');
  await waitForText(page, availableCell('berlin/mug'), '20', 'the record shows');
  await waitForText(page, availableCell('paris/poster'), '7', 'a second record shows');
  const sub = await page.textContent('#sub-id');
  if (!/^\d+$/.test(sub)) throw new Error(`status shows subscription "${sub}", expected a number`);
  log(`ok: subscription ${sub} in the status line`);

  // Every cell that lights up is noted, so the check does not race the fade.
  await page.evaluate(() => {
    window.highlighted = [];
    new MutationObserver((mutations) => {
      for (const m of mutations) {
        if (m.target.classList?.contains('changed')) {
          window.highlighted.push(`${m.target.parentElement.dataset.key}:${m.target.dataset.field}`);
        }
      }
    }).observe(document.getElementById('records-body'), { subtree: true, attributeFilter: ['class'] });
  });
  await stockctl(port, admin, 'reserve', 'berlin', 'mug', '3', '--ttl', '10m');
  await waitForText(page, availableCell('berlin/mug'), '17', 'a reserve by the client shows');
  await page.waitForFunction(() => window.highlighted.includes('berlin/mug:available'), null, { timeout: pageWaitMs })
    .catch(() => { throw new Error('the changed available cell was not highlighted'); });
  log('ok: the changed cell lit up');

  // Select the row: the record chart follows it.
  await page.click(`tr[data-key="berlin/mug"]`);
  await waitForText(page, '#record-chart-title', 'available of berlin/mug', 'the record chart follows the selected row');

  await stockctl(port, admin, 'reserve', 'berlin', 'mug', '13', '--ttl', '10m');
  await waitForText(page, availableCell('berlin/mug'), '4', 'a drop below the threshold shows');
  await waitForSelector(page, '#alerts li[data-kind="low_stock"][data-key="berlin/mug"]',
    'a low_stock alert for berlin/mug is listed');

  // The node restarts on the same port: the page reconnects, resumes from
  // its position and follows changes made after.
  await stopNode(child);
  await waitForSelector(page, '#status[data-state="reconnecting"]', 'the page notices the node is gone');
  ({ child, port } = await startNode(dataDir, port));
  await waitForSelector(page, '#status[data-state="connected"]', 'the page reconnects');
  await stockctl(port, admin, 'adjust', 'paris', 'poster', '-2');
  await waitForText(page, availableCell('paris/poster'), '5', 'a change after the restart shows');
  await waitForText(page, availableCell('berlin/mug'), '4', 'the record kept its value across the restart');

  if (state.pageErrors.length > 0) throw new Error(`the page reported errors: ${state.pageErrors.join(' | ')}`);
  await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
  log(`screenshot: ${join(artifacts, 'dashboard.png')}`);
  const code = await stopNode(child);
  if (code !== 0) throw new Error(`stockgrid exited with ${code} on SIGTERM`);
}

async function cleanUp(state) {
  if (state.browser) await Promise.race([state.browser.close(), new Promise((r) => setTimeout(r, 10_000))]);
  await Promise.all([...nodes].map(stopNode));
  if (state.dataDir) rmSync(state.dataDir, { recursive: true, force: true });
}

const state = { pageErrors: [] };
const hardStop = setTimeout(() => {
  console.error(`dashboard test: FAILED: not done within ${runDeadlineMs} ms`);
  for (const child of nodes) child.kill('SIGKILL');
  process.exit(1);  // playwright kills the browser it launched on exit
}, runDeadlineMs);

let failed = false;
try {
  await run(state);
} catch (error) {
  failed = true;
  console.error(`dashboard test: FAILED: ${error.message}`);
  if (state.page) {
    await state.page.screenshot({ path: join(artifacts, 'dashboard-failed.png'), fullPage: true })
      .then(() => console.error(`dashboard test: screenshot of the failure: ${join(artifacts, 'dashboard-failed.png')}`))
      .catch(() => {});
  }
} finally {
  await cleanUp(state);
  clearTimeout(hardStop);
}
console.log(failed ? 'dashboard test: 0 passed, 1 failed' : 'dashboard test: 1 passed, 0 failed');
process.exit(failed ? 1 : 0);
