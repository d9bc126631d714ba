// The dashboard in a real browser: Playwright (playwright-core, from npm) driving Debian's
// chromium against a running daemon. Run by actors/tests/dashboard.rs, which builds a demo
// database, starts the daemon and passes:
//   PV2_URL             http://127.0.0.1:PORT
//   PV2_READ_TOKEN      the daemon's read token
//   PV2_CONTROL_TOKEN   its control token
//   PV2_MARKET          the market with data
//   PV2_PROPOSAL        a PASSED Kronos proposal to approve
//   PV2_SCREENSHOTS     where to save one PNG per view
//   PV2_CHROMIUM        the browser (default /usr/bin/chromium)
// The daemon runs with PV2_FAULTS=noop:panic@1 and no restarts allowed, so one drill run
// leaves the noop actor DEGRADED for the reset check.
// Any failed check throws: the process exits non-zero with the reason.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const url = env('PV2_URL');
const readToken = env('PV2_READ_TOKEN');
const controlToken = env('PV2_CONTROL_TOKEN');
const market = env('PV2_MARKET');
const proposal = env('PV2_PROPOSAL');
const shots = env('PV2_SCREENSHOTS');
fs.mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: env('PV2_CHROMIUM', '/usr/bin/chromium'),
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error' && !/401/.test(m.text())) errors.push(m.text()); });

const step = (name) => console.log(`dashboard: ${name}`);
const rendered = async (view) => {
  await page.waitForFunction((v) => (document.querySelector('#view')?.dataset.rendered || '').startsWith(v + '@'), view, { timeout: 30000 });
  const err = await page.locator('#view .msg.error').count();
  assert.equal(err, 0, `${view}: ${await page.locator('#view').innerText()}`);
};
const go = async (view) => {
  await page.evaluate((v) => { location.hash = v; }, view);
  await rendered(view);
};
const minPoints = async (sel) => {
  const counts = await page.$$eval(`${sel} .chart`, (cs) => cs.map((c) => Number(c.dataset.points)));
  assert.ok(counts.length > 0, `${sel}: no chart`);
  // Drawn, not just counted: each chart has a canvas from the chart library.
  const canvases = await page.$$eval(`${sel} .chart`, (cs) => cs.map((c) => c.querySelectorAll('canvas').length));
  assert.ok(canvases.every((n) => n > 0), `${sel}: a chart has no canvas (${canvases})`);
  return Math.min(...counts);
};
const rows = async (sel) => page.$$eval(`${sel} table[data-rows]`, (ts) => ts.map((t) => Number(t.dataset.rows)));
const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

// 1. Reads need the token: without it the page says so; with it the overview renders.
step('reads without the token are refused');
await page.goto(url + '/#overview');
await page.waitForFunction(() => !document.querySelector('#banner').hidden, null, { timeout: 15000 });
assert.match(await page.locator('#banner').innerText(), /token/);
await page.fill('#token', readToken);
await page.dispatchEvent('#token', 'change');
await page.selectOption('#market', market);
await rendered('overview');

step('overview: regime, risk against limits, P&L chart, open alerts');
assert.ok((await page.locator(`#regime-${market}`).count()) === 1, 'no regime tag');
assert.ok((await minPoints('#view-overview')) > 1, 'P&L chart has no points');
const alertRows = (await rows('#view-overview'))[0];
assert.ok(alertRows >= 1, 'the overdue demo data should show a freshness alert');
assert.match(await page.locator('#view-overview').innerText(), /ex-ante volatility/);
// The paper account the daily runs traded, and the kill switch's mode.
assert.match(await page.locator(`#account-${market}`).innerText(), /equity .* positions/s);
assert.equal(await page.locator('#trading-mode').innerText(), 'ACTIVE');
await shot('overview');

// 2. The as-of picker changes what is shown.
step('as-of picker');
const asOf = await page.inputValue('#as-of');
const before = await page.locator(`#regime-${market}`).locator('xpath=..').innerText();
const earlier = new Date(Date.parse(asOf) - 200 * 86400000).toISOString().slice(0, 10);
await page.fill('#as-of', earlier);
await page.dispatchEvent('#as-of', 'change');
await page.waitForFunction((d) => document.querySelector('#view')?.dataset.rendered === 'overview@' + d, earlier);
const after = await page.locator(`#regime-${market}`).locator('xpath=..').innerText();
assert.notEqual(after, before, 'the overview did not change with the as-of date');
assert.ok(!after.includes(asOf), `as of ${earlier} the overview still shows ${asOf}: ${after}`);
await shot('overview-as-of');
await page.fill('#as-of', asOf);
await page.dispatchEvent('#as-of', 'change');
await rendered('overview');

step('regime & stability');
await go('regime');
assert.ok((await minPoints('#view-regime')) > 10, 'regime charts too short');
assert.ok((await rows('#view-regime')).every((n) => n > 0), 'an empty regime/stability/fragility table');
await shot('regime');

step('assessment & universe');
await go('assessment');
const [scoreRows, universeRows] = await rows('#view-assessment');
assert.ok(scoreRows > 0 && universeRows > 0, `scores ${scoreRows}, universe ${universeRows}`);
assert.match(await page.locator('#view-assessment').innerText(), /z_momentum|z_/);
await shot('assessment');

step('portfolio & risk');
await go('portfolio');
assert.ok((await rows('#view-portfolio')).every((n) => n > 0), 'an empty portfolio table');
assert.ok((await minPoints('#view-portfolio')) > 1);
assert.match(await page.locator('#view-portfolio').innerText(), /VaR/);
await shot('portfolio');

step('backtests');
await go('backtests');
await page.waitForSelector('#backtest-detail .chart');
assert.ok((await minPoints('#backtest-detail')) > 10, 'equity curve too short');
assert.ok((await rows('#view-backtests'))[0] > 0);
await shot('backtests');

step('actors & config history; a DEGRADED actor needs the control token to reset');
// The daemon runs with noop:panic@1 and no restarts allowed: one drill run degrades noop.
const drill = await fetch(url + '/runs', {
  method: 'POST',
  headers: { Authorization: 'Bearer ' + controlToken },
  body: JSON.stringify({ market, date: asOf, dag: 'drill', wait: true }),
});
assert.equal(drill.status, 200, await drill.text());
await go('actors');
assert.equal(await page.locator('[data-actor="noop"]').innerText(), 'DEGRADED');
await page.click('button[data-reset="noop"]');
await page.waitForFunction(() => /refused \(401\)/.test(document.querySelector('#actors-msg')?.textContent || ''));
assert.equal(await page.locator('[data-actor="noop"]').innerText(), 'DEGRADED');
await page.waitForFunction(() => document.querySelectorAll('#view-actors table').length >= 2);
const actorTables = await rows('#view-actors');
assert.ok(actorTables[0] > 0, 'no actors listed');
// Config changes are wall-clock records (the demo made them today), versions carry diffs.
assert.ok(actorTables.slice(2).some((n) => n > 0), 'no config diff has rows');
await shot('actors');

// 3. A finished run updates the pipeline view through server-sent events.
step('pipeline updates live when a run finishes');
await go('pipeline');
await page.waitForFunction(() => document.querySelector('#live').classList.contains('on'), null, { timeout: 15000 });
const runsBefore = Number(await page.getAttribute('#gantt', 'data-runs'));
const res = await fetch(url + '/runs', {
  method: 'POST',
  headers: { Authorization: 'Bearer ' + controlToken, 'X-PV2-Requested-By': 'dashboard-test' },
  body: JSON.stringify({ market, date: asOf, dag: 'engines', rerun: true }),
});
const submitted = await res.text();
assert.equal(res.status, 200, submitted);
const { run_id: runId } = JSON.parse(submitted);
// No reload: the view redraws because the run's events arrived.
await page.waitForSelector(`#gantt [data-run="${runId}"]`, { timeout: 60000 });
await page.waitForFunction((id) => {
  const s = document.querySelector(`#gantt [data-run="${id}"]`);
  return s && s.textContent !== 'RUNNING';
}, runId, { timeout: 120000 });
assert.ok(Number(await page.getAttribute('#gantt', 'data-runs')) > runsBefore);
assert.ok((await page.locator('#live-events div').count()) > 0, 'no live events listed');
await shot('pipeline');

// 4. Kronos: approving needs the control token; the read token is refused.
step('kronos approval needs the control token');
// Proposals are wall-clock records: look at them as of today.
await page.click('#today');
await page.waitForFunction(() => document.querySelector('#view')?.dataset.rendered === 'pipeline@today');
await go('kronos');
await page.locator('#view-kronos tr.click', { hasText: proposal }).click();
await page.waitForSelector(`#proposal-detail h2:has-text("${proposal}")`);
await page.click('#proposal-detail button[data-action="approve"]');
await page.waitForFunction(() => /refused \(401\)/.test(document.querySelector('#kronos-msg')?.textContent || ''));
let p = await (await fetch(`${url}/kronos/proposals/${proposal}`, { headers: { Authorization: 'Bearer ' + readToken } })).json();
assert.equal(p.state, 'PASSED', 'refused approval changed the proposal');
await shot('kronos-refused');
await page.fill('#token', controlToken);
await page.dispatchEvent('#token', 'change');
await rendered('kronos');
await page.locator('#view-kronos tr.click', { hasText: proposal }).click();
await page.waitForSelector(`#proposal-detail h2:has-text("${proposal}")`);
await page.click('#proposal-detail button[data-action="approve"]');
await page.waitForFunction(() => /is now PROMOTED/.test(document.querySelector('#kronos-msg')?.textContent || ''), null, { timeout: 30000 });
p = await (await fetch(`${url}/kronos/proposals/${proposal}`, { headers: { Authorization: 'Bearer ' + readToken } })).json();
assert.equal(p.state, 'PROMOTED');
await shot('kronos');

step('reset the DEGRADED actor with the control token');
await go('actors');
await page.click('button[data-reset="noop"]');
await page.waitForFunction(() => /noop: was DEGRADED, reset/.test(document.querySelector('#actors-msg')?.textContent || ''), null, { timeout: 30000 });
assert.equal(await page.locator('[data-actor="noop"]').innerText(), 'RUNNING');
// As of today, the approval is an audited activation whose diff names the key it changed.
const change = page.locator('.change-diff', { hasText: 'dashboard' }).first();
assert.match(await change.innerText(), /risk_aversion/);
await shot('actors-reset');

step('the kill switch from the overview: halt, then resume, audited with the reason');
await go('overview');
page.once('dialog', (d) => d.accept('drill from the dashboard'));
await page.click('button[data-trading="halt"]');
await page.waitForFunction(() => document.querySelector('#trading-mode')?.textContent === 'HALTED', null, { timeout: 30000 });
let t = await (await fetch(`${url}/trading`, { headers: { Authorization: 'Bearer ' + readToken } })).json();
assert.equal(t.mode, 'HALTED');
assert.equal(t.changes[0].reason, 'drill from the dashboard');
assert.match(t.changes[0].actor, /^dashboard via http/);
await shot('overview-halted');
page.once('dialog', (d) => d.accept('drill over'));
await page.click('button[data-trading="resume"]');
await page.waitForFunction(() => document.querySelector('#trading-mode')?.textContent === 'ACTIVE', null, { timeout: 30000 });
t = await (await fetch(`${url}/trading`, { headers: { Authorization: 'Bearer ' + readToken } })).json();
assert.equal(t.mode, 'ACTIVE');

assert.deepEqual(errors, [], 'errors in the page');
await browser.close();
console.log('dashboard: every check passed');
