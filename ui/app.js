// The operator's dashboard: one page, no build step, no framework. Every view reads the
// daemon's JSON routes with the as-of date picked at the top, so any view shows what the
// system knew on that date. Live updates arrive as server-sent events, read with fetch so
// the token travels in a header (EventSource cannot send one). Nothing is kept in cookies;
// the token lives in this tab's sessionStorage.
'use strict';

const LC = window.LightweightCharts;
const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
};

const state = {
  token: sessionStorage.getItem('pv2.token') || '',
  market: sessionStorage.getItem('pv2.market') || '',
  asOf: '',
  view: 'overview',
  charts: [],
  pendingCharts: [],
  live: [],
  pipelineRuns: new Set(),
};

// ---------- formatting ----------
const pct = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '–' : (100 * x).toFixed(d) + '%');
const num = (x, d = 3) => (x === null || x === undefined ? '–' : typeof x === 'number' ? (Number.isInteger(x) ? String(x) : x.toFixed(d)) : String(x));
const cell = (v) => (v === null || v === undefined ? '' : typeof v === 'number' ? num(v, 4) : typeof v === 'object' ? JSON.stringify(v) : String(v));
const when = (t) => (t ? t.replace('T', ' ').replace(/\.\d+/, '').replace('+00:00', 'Z') : '');

// ---------- API ----------
function headers() {
  return state.token ? { Authorization: 'Bearer ' + state.token } : {};
}

function banner(text) {
  const b = $('#banner');
  b.hidden = !text;
  b.textContent = text || '';
}

async function api(path) {
  const r = await fetch(path, { headers: headers() });
  if (r.status === 401) {
    banner('This daemon needs a token for reads: paste the read or control token into "Token" above.');
    throw new Error('401 unauthorised');
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || r.status + ' ' + r.statusText);
  return body;
}

async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: { ...headers(), 'X-PV2-Requested-By': 'dashboard' }, body: body || '' });
  const out = await r.json().catch(() => ({}));
  if (r.status === 401) throw new Error('refused (401): this needs the control token in "Token" above');
  if (!r.ok) throw new Error(out.error || r.status + ' ' + r.statusText);
  return out;
}

const q = (params) => '?' + Object.entries(params).filter(([, v]) => v !== '' && v !== undefined && v !== null)
  .map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');

// ---------- widgets ----------
function table(rows, columns, opts = {}) {
  const cols = columns || (rows.length ? Object.keys(rows[0]) : []);
  const t = el('table', { dataset: { rows: rows.length } },
    el('thead', {}, el('tr', {}, cols.map((c) => el('th', {}, typeof c === 'string' ? c : c.label)))),
    el('tbody', {}, rows.map((r, i) => {
      const tr = el('tr', { class: opts.onclick ? 'click' : undefined, onclick: opts.onclick ? () => opts.onclick(r, tr) : undefined },
        cols.map((c) => {
          const key = typeof c === 'string' ? c : c.key;
          const v = typeof c === 'object' && c.render ? c.render(r, i) : cell(r[key]);
          return el('td', { class: typeof c === 'object' ? c.cls : undefined }, v);
        }));
      return tr;
    })));
  return el('div', { class: 'scroll' }, t);
}

function kv(pairs) {
  return el('dl', { class: 'kv' }, pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function disposeCharts() {
  for (const c of state.charts) c.remove();
  state.charts = [];
  state.pendingCharts = [];
}

// Creates the charts of boxes now attached to the page.
function drawPendingCharts() {
  const todo = state.pendingCharts;
  state.pendingCharts = [];
  for (const draw of todo) draw();
}

const PALETTE = ['#58a6ff', '#3fb950', '#d29922', '#f85149', '#bc8cff', '#39c5cf', '#ff7b72', '#a5d6ff'];

// A time-series chart (zoom with the wheel, pan by dragging, values on hover). `series`:
// [{name, data: [{time: 'YYYY-MM-DD', value}], color?, kind?: 'line'|'area'|'histogram'}].
function chart(series, opts = {}) {
  const box = el('div', { class: 'chart', style: opts.height ? `height:${opts.height}px` : undefined });
  const points = series.reduce((n, s) => n + s.data.length, 0);
  box.dataset.points = points;
  if (!LC) {
    box.append(el('p', { class: 'msg error' }, `Charts need the chart library (not installed on the daemon's host: run scripts/fetch-ui). ${points} points not drawn.`));
    return box;
  }
  const legend = el('div', { class: 'legend' });
  box.append(legend);
  // Drawn once the view is in the page (a detached box has no size to fit the data to).
  state.pendingCharts.push(() => {
    const c = LC.createChart(box, {
      autoSize: true,
      layout: { background: { color: 'transparent' }, textColor: '#8a96a3' },
      grid: { vertLines: { color: '#1f2630' }, horzLines: { color: '#1f2630' } },
      rightPriceScale: { borderColor: '#2a323c' },
      timeScale: { borderColor: '#2a323c' },
      localization: opts.percent ? { priceFormatter: (p) => (100 * p).toFixed(2) + '%' } : undefined,
    });
    state.charts.push(c);
    const made = series.map((s, i) => {
      const color = s.color || PALETTE[i % PALETTE.length];
      const kind = s.kind === 'area' ? LC.AreaSeries : s.kind === 'histogram' ? LC.HistogramSeries : LC.LineSeries;
      const o = kind === LC.AreaSeries
        ? { lineColor: color, topColor: color + '55', bottomColor: color + '05', lineWidth: 2 }
        : { color, lineWidth: 2 };
      const h = c.addSeries(kind, { ...o, priceLineVisible: false, title: '' });
      h.setData(s.data);
      return { h, s, color };
    });
    c.timeScale().fitContent();
    const show = (param) => {
      legend.replaceChildren(...made.map(({ h, s, color }) => {
        const d = param && param.seriesData ? param.seriesData.get(h) : null;
        const v = d ? d.value : s.data.length ? s.data[s.data.length - 1].value : null;
        return el('span', { style: `color:${color};margin-right:10px` }, `${s.name} ${opts.percent ? pct(v) : num(v)}`);
      }));
    };
    show(null);
    c.subscribeCrosshairMove(show);
  });
  return box;
}

function card(title, ...kids) {
  return el('section', { class: 'card' }, el('h2', {}, title), ...kids);
}

function empty(text) {
  return el('p', { class: 'muted' }, text);
}

function meter(label, value, limit) {
  const frac = limit ? Math.min(1, Math.abs(value || 0) / limit) : 0;
  const over = limit && Math.abs(value || 0) > limit;
  return el('div', {},
    el('div', {}, `${label}: ${pct(value)}`, limit ? el('span', { class: over ? 'bad' : 'muted' }, ` / limit ${pct(limit)}`) : el('span', { class: 'muted' }, ' (no limit)')),
    el('div', { class: 'meter' }, el('span', { class: over ? 'over' : '', style: `width:${(100 * (limit ? frac : 0)).toFixed(1)}%` })));
}

// ---------- views ----------
const views = {};

views.overview = async (root) => {
  const o = await api('/api/overview' + q({ as_of: state.asOf }));
  const alerts = o.alerts.length
    ? table(o.alerts, ['kind', 'subject', { key: 'detail', label: 'detail', cls: 'wrap' }, { key: 'raised_at', label: 'raised', render: (a) => when(a.raised_at) }])
    : empty('No open alerts.');
  const degraded = o.actors.filter((a) => a.state === 'DEGRADED');
  const t = o.trading;
  const msg = el('p', { class: 'msg ok', id: 'trading-msg' }, state.flash || '');
  state.flash = '';
  const flip = async (action) => {
    const reason = window.prompt(`Reason for ${action} (kept in the audit trail):`, '');
    if (reason === null) return;
    try {
      const c = await post('/trading/' + action, reason);
      state.flash = `trading is ${c.mode} (was ${c.previous})`;
      await render();
    } catch (e) { msg.className = 'msg error'; msg.textContent = `${action}: ${e.message}`; }
  };
  const trading = el('div', {},
    el('div', {}, el('span', { class: 'tag mode-' + t.mode, id: 'trading-mode' }, t.mode),
      t.change ? ` since ${when(t.change.at)} by ${t.change.actor}: ${t.change.reason}` : ' (never set)'),
    el('div', { class: 'actions' }, ...['halt', 'reduce-only', 'flatten', 'resume'].map((a) =>
      el('button', { class: 'act', dataset: { trading: a }, onclick: () => flip(a) }, a))),
    msg);
  root.append(el('div', { class: 'grid' },
    card('Trading (kill switch)', trading),
    card('Open alerts', alerts),
    card('Actors', kv([
      ['running', String(o.actors.filter((a) => a.state === 'RUNNING').length)],
      ['degraded', degraded.length ? degraded.map((a) => a.actor).join(', ') : 'none'],
      ['restarts', String(o.actors.reduce((n, a) => n + a.restarts, 0))],
    ]))));
  const quiet = o.markets.filter((m) => !m.regime && !m.portfolio).map((m) => m.market);
  if (quiet.length) root.append(el('p', { class: 'muted' }, `Nothing stored yet for ${quiet.join(', ')}.`));
  for (const m of o.markets.filter((x) => x.regime || x.portfolio)) {
    const p = m.portfolio;
    const reg = m.regime ? m.regime.day : null;
    const regime = reg
      ? el('div', {}, el('span', { class: 'tag label-' + reg.label, id: 'regime-' + m.market }, reg.label), ` since ${reg.days_in_regime} sessions, on ${reg.date}; change risk ${pct(reg.change_risk, 1)}`,
        el('div', { class: 'muted' }, `config ${m.regime.config_id} · model ${reg.model_id}`),
        kv(['CRISIS', 'RISK_OFF', 'NEUTRAL', 'CARRY'].map((l, i) => [l, pct(reg.probabilities[i], 1)])))
      : empty('No regime stored yet.');
    let risk = empty('No target portfolio on or before this date.');
    if (p && p.risk) {
      const r = p.risk, L = p.limits || {};
      risk = el('div', {},
        kv([['target', `${p.date} · ${p.method} · ${r.names} names · gross ${pct(r.gross)} · cash ${pct(r.cash)}`],
          ['defensive', r.defensive || 'no']]),
        meter('ex-ante volatility (annual)', r.ex_ante_vol, L.max_ex_ante_vol),
        meter('historical ES 99% (1 day)', r.historical ? r.historical.p99.es : null, L.max_historical_es_99),
        meter('scenario ES 99%', r.scenario ? r.scenario.tails.p99.es : null, L.max_scenario_es_99),
        meter('fragile weight', r.fragile_weight, L.max_fragile_weight),
        el('h3', {}, 'Exposures by sector'),
        table(Object.entries(r.sectors || {}).map(([s, w]) => ({ sector: s, weight: pct(w) }))));
    }
    const a = m.account;
    const pnl = a && a.days.length
      ? el('div', { id: 'account-' + m.market },
        kv([['account', `${a.account} on ${a.date}: equity ${num(a.equity, 0)}, cash ${num(a.cash, 0)}, gross ${pct(a.gross)}, drawdown ${pct(a.drawdown)}`],
          ['held', `${a.positions} positions; orders that day: ${Object.entries(a.orders).map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ') || 'none'}`]]),
        chart([{ name: 'account equity (after costs)', data: a.days.map((d) => ({ time: d.date, value: d.equity })), kind: 'area' }], { height: 200 }))
      : m.pnl.length
        ? chart([{ name: 'paper equity of the targets (before costs)', data: m.pnl.map((d) => ({ time: d.date, value: d.equity })), kind: 'area' }], { height: 200 })
        : empty('No P&L: no targets held in the 120 days before this date.');
    root.append(el('h2', {}, m.market), el('div', { class: 'grid' }, card('Regime', regime), card('Risk against limits', risk), card('P&L', pnl)));
  }
};

views.pipeline = async (root) => {
  const date = state.asOf || new Date().toISOString().slice(0, 10);
  const p = await api('/api/pipeline' + q({ market: state.market, date }));
  state.pipelineRuns = new Set(p.runs.map((r) => r.run_id));
  const gantt = el('div', { class: 'gantt', id: 'gantt', dataset: { runs: p.runs.length } });
  // Each run on its own time axis (its first start to its last end): runs of one day may be
  // hours apart, and a shared axis would shrink every bar to a line.
  for (const r of p.runs) {
    const spans = r.jobs.map((j) => [Date.parse(j.started_at), Date.parse(j.finished_at || p.now)]);
    const t0 = Math.min(...spans.map((x) => x[0])), t1 = Math.max(...spans.map((x) => x[1]));
    const width = Math.max(1, t1 - t0);
    const took = spans.length ? ` · ${((t1 - t0) / 1000).toFixed(2)}s` : '';
    gantt.append(el('div', { class: 'row head' }, el('strong', {}, r.dag), el('span', { class: 's-' + r.state, dataset: { run: r.run_id } }, r.state), el('span', { class: 'muted' }, `${r.trigger} · ${r.run_id}${took}`)));
    for (const j of r.jobs) {
      const s = Date.parse(j.started_at), e = Date.parse(j.finished_at || p.now);
      const usual = p.usual[`${r.dag}/${j.job_id}`];
      const lat = j.seconds !== null && j.seconds !== undefined
        ? `${j.seconds.toFixed(2)}s` + (usual && usual.median_seconds !== null ? ` (usual ${usual.median_seconds.toFixed(2)}s)` : '')
        : j.state;
      const slow = usual && usual.median_seconds > 0 && j.seconds > 3 * usual.median_seconds;
      gantt.append(el('div', { class: 'row', title: j.error || '' },
        el('span', { class: 'name' }, `${j.job_id}${j.attempt > 1 ? ' #' + j.attempt : ''}`),
        el('span', { class: 'track' }, el('span', { class: 'bar ' + j.state, style: `left:${(100 * (s - t0) / width).toFixed(2)}%;width:${(100 * (e - s) / width).toFixed(2)}%` })),
        el('span', { class: 'lat ' + (j.state === 'FAILED' || slow ? 'bad' : '') }, lat)));
    }
    for (const j of r.waiting || []) {
      gantt.append(el('div', { class: 'row waiting' }, el('span', { class: 'name' }, j.job_id), el('span', { class: 'track' }),
        el('span', { class: 'lat' }, j.state === 'QUEUED' ? 'queued' : 'not run')));
    }
  }
  if (!p.runs.length) gantt.append(empty(`No runs for ${state.market} on ${date}.`));
  const next = Array.isArray(p.next) ? table(p.next.map((a) => ({ at: when(a.at), dag: a.dag_id, market: a.market, session: a.as_of, trigger: a.trigger }))) : empty(JSON.stringify(p.next));
  const events = el('div', { class: 'events', id: 'live-events' }, state.live.slice(-50).reverse().map((e) => el('div', {}, e)));
  root.append(el('div', { class: 'grid' },
    card(`DAG runs on ${date} (${state.market})`, gantt),
    card('Next activations', next),
    card('Live events', events)));
};

async function regimeCharts(root) {
  const t = await api('/api/table/regime' + q({ market: state.market, to: state.asOf, sessions: 750 }));
  if (!t.rows.length) {
    root.append(card('Regime timeline', empty(t.note || 'No regime rows in this range.')));
    return;
  }
  const labels = ['CRISIS', 'RISK_OFF', 'NEUTRAL', 'CARRY'];
  const series = labels.map((l) => ({ name: 'p(' + l + ')', data: t.rows.map((r) => ({ time: r.date, value: r['p_' + l] })) }));
  const changes = t.rows.filter((r, i) => i === 0 || r.label !== t.rows[i - 1].label);
  root.append(el('div', { class: 'grid' },
    card(`Regime probabilities ${t.from} … ${t.to}`, chart(series, { percent: true })),
    card('Label changes', table(changes.slice(-40).reverse().map((r) => ({ date: r.date, label: r.label, raw: r.raw_label, change_risk: pct(r.change_risk, 1) }))))));
}

views.regime = async (root) => {
  await regimeCharts(root);
  // Names per class and day, counted by the daemon (a 5,000-name universe stays small).
  const counts = await api('/api/table/stability' + q({ market: state.market, to: state.asOf, sessions: 250, top: 5000, count_by: 'class' }));
  const byDate = new Map();
  for (const r of counts.rows) {
    const d = byDate.get(r.date) || {};
    d[r.class] = r.count;
    byDate.set(r.date, d);
  }
  const classes = [...new Set(counts.rows.map((r) => r.class))].sort();
  const classChart = counts.rows.length
    ? chart(classes.map((c) => ({ name: c, data: [...byDate.entries()].map(([d, m]) => ({ time: d, value: m[c] || 0 })) })))
    : empty(counts.note || 'No stability rows.');
  const st = await api('/api/table/stability' + q({ market: state.market, to: state.asOf, sessions: 1, top: 30 }));
  const last = st.rows.length ? st.rows[0].date : null;
  const latest = st.rows;
  const fr = await api('/api/table/fragility' + q({ market: state.market, to: state.asOf, sessions: 1, top: 30 }));
  root.append(el('div', { class: 'grid' },
    card('Stability classes over time (names per class)', classChart),
    card(`Soft targets on ${last || '–'}`, table(latest, ['instrument_id', 'stability_score', 'soft_target_score', 'class', 'forecast_class'])),
    card(`Fragility on ${fr.rows.length ? fr.rows[0].date : '–'}`, fr.rows.length ? table(fr.rows, ['instrument_id', 'fragility_score', { key: 'expected_shortfall', label: 'ES', render: (r) => pct(r.expected_shortfall) }, 'class',
      { key: 'short', label: 'short template', render: (r) => (r.short ? `${pct(r.short.weight_hint)} of NAV for ${r.short.horizon_days} days, stop ${pct(r.short.stop_loss, 1)}` : '') }]) : empty(fr.note || 'No fragility rows.'))));
};

views.assessment = async (root) => {
  const sc = await api('/api/table/scores' + q({ market: state.market, to: state.asOf, sessions: 1, top: 60 }));
  const un = await api('/api/table/universe' + q({ market: state.market, to: state.asOf, sessions: 1, top: 5000 }));
  const familyCols = sc.rows.length ? Object.keys(sc.rows[0]).filter((k) => k.startsWith('z_')) : [];
  const scoreRows = sc.rows.map((r) => {
    const out = { instrument: r.instrument_id, score: r.score, expected_return: r.expected_return, confidence: r.confidence, label: r.label };
    for (const k of familyCols) out[k] = r[k];
    return out;
  });
  const excluded = un.rows.filter((r) => r.reasons);
  root.append(el('div', { class: 'grid' },
    card(`Scores on ${sc.rows.length ? sc.rows[0].date : '–'} (family z-scores)`, sc.rows.length ? table(scoreRows) : empty(sc.note || 'No scores.')),
    card(`Universe on ${un.rows.length ? un.rows[0].date : '–'}: ${un.rows.length - excluded.length} included, ${excluded.length} excluded`,
      un.rows.length ? table(un.rows, ['instrument_id', 'tier', 'score', 'sector', { key: 'reasons', label: 'exclusion reasons', cls: 'wrap' }]) : empty(un.note || 'No universe.'))));
};

views.portfolio = async (root) => {
  const o = await api('/api/overview' + q({ as_of: state.asOf }));
  const m = o.markets.find((x) => x.market === state.market);
  const p = m && m.portfolio;
  const rk = await api('/api/table/risk' + q({ market: state.market, to: state.asOf, sessions: 500 }));
  const riskChart = rk.rows.length
    ? chart([
      { name: 'ex-ante vol', data: rk.rows.map((r) => ({ time: r.date, value: r.ex_ante_vol })) },
      { name: 'hist ES99', data: rk.rows.filter((r) => r.historical_es_99 !== null).map((r) => ({ time: r.date, value: r.historical_es_99 })) },
      { name: 'scenario ES99', data: rk.rows.filter((r) => r.scenario_es_99 !== null).map((r) => ({ time: r.date, value: r.scenario_es_99 })) },
    ], { percent: true })
    : empty(rk.note || 'No risk reports.');
  if (!p) {
    root.append(card('Portfolio', empty('No target portfolio on or before this date.')), card('Risk over time', riskChart));
    return;
  }
  const r = p.risk || {};
  const tails = (t) => (t ? table(['p95', 'p99'].map((k) => ({ level: k, VaR: pct(t[k].var), ES: pct(t[k].es) }))) : empty('not measured'));
  root.append(el('div', { class: 'grid' },
    card(`Weights on ${p.date} (${p.portfolio_id}, ${p.method})`, table(p.weights.map(([i, w]) => ({ instrument: i, weight: w })).sort((a, b) => b.weight - a.weight),
      ['instrument', { key: 'weight', label: 'weight', render: (x) => pct(x.weight) }])),
    card('Sector exposures', table(Object.entries(r.sectors || {}).map(([s, w]) => ({ sector: s, weight: pct(w), cap: pct((p.sector_caps || {})[s] || p.sector_cap) })))),
    card('VaR / ES', el('h3', {}, `historical (${r.historical_days} days)`), tails(r.historical), el('h3', {}, 'scenario'), tails(r.scenario ? r.scenario.tails : null)),
    card('Limits', meter('ex-ante volatility', r.ex_ante_vol, (p.limits || {}).max_ex_ante_vol), meter('historical ES 99%', r.historical ? r.historical.p99.es : null, (p.limits || {}).max_historical_es_99),
      meter('scenario ES 99%', r.scenario ? r.scenario.tails.p99.es : null, (p.limits || {}).max_scenario_es_99), meter('fragile weight', r.fragile_weight, (p.limits || {}).max_fragile_weight),
      kv([['names at cap', `${r.names_at_cap} of ${r.names} (cap ${pct(r.max_weight_cap)})`], ['turnover', pct(r.turnover)], ['notes', (r.notes || []).join('; ') || '–']])),
    card('Risk over time', riskChart)));
};

views.backtests = async (root) => {
  const list = (await api('/api/backtests')).filter((b) => !state.asOf || b.to <= state.asOf);
  if (!list.length) {
    root.append(card('Backtests', empty('No backtests ended on or before this date. Run `pv2 backtest`.')));
    return;
  }
  const detail = el('div', { id: 'backtest-detail' });
  const rows = list.map((b) => ({ ...b, ...(b.metrics && b.metrics.overall ? b.metrics.overall : {}) }));
  const show = async (b, tr) => {
    for (const x of root.querySelectorAll('tr.sel')) x.classList.remove('sel');
    if (tr) tr.classList.add('sel');
    const d = await api('/api/backtests/' + encodeURIComponent(b.backtest_id));
    disposeCharts();
    const byRegime = d.run.metrics && d.run.metrics.by_regime ? Object.entries(d.run.metrics.by_regime).map(([l, m]) => ({ regime: l, days: m.days, return: pct(m.total_return), sharpe: num(m.sharpe, 2), vol: pct(m.volatility), max_dd: pct(m.max_drawdown), hit: pct(m.hit_rate, 1) })) : [];
    detail.replaceChildren(el('div', { class: 'grid' },
      card(`${d.run.strategy} ${d.run.from} … ${d.run.to}: equity vs benchmark`, chart([
        { name: 'strategy', data: d.days.map((x) => ({ time: x.date, value: x.equity })) },
        { name: 'benchmark', data: d.days.map((x) => ({ time: x.date, value: x.benchmark })) }])),
      card('Drawdown', chart([{ name: 'drawdown', data: d.days.map((x) => ({ time: x.date, value: x.drawdown })), kind: 'area', color: '#f85149' }], { percent: true })),
      card('Metrics by regime', byRegime.length ? table(byRegime) : empty('No by-regime metrics.'))));
    if (detail.isConnected) drawPendingCharts();
  };
  root.append(card('Backtests (click one; the table compares them)', table(rows, ['strategy', 'market', 'from', 'to', 'state',
    { key: 'total_return', label: 'return', render: (r) => pct(r.total_return) }, { key: 'sharpe', label: 'Sharpe', render: (r) => num(r.sharpe, 2) },
    { key: 'max_drawdown', label: 'max DD', render: (r) => pct(r.max_drawdown) }, { key: 'turnover', label: 'turnover', render: (r) => num(r.turnover, 2) },
    { key: 'benchmark_return', label: 'benchmark', render: (r) => pct(r.benchmark_return) }, 'rebalances'], { onclick: show })), detail);
  await show(list[0], root.querySelector('tr.click'));
};

function flatten(v, prefix = '', out = {}) {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? prefix + '.' + k : k, out);
  } else out[prefix] = JSON.stringify(v);
  return out;
}

function diff(older, newer) {
  const a = flatten(older), b = flatten(newer);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => a[k] !== b[k]).map((k) => ({ key: k, was: a[k] ?? '', now: b[k] ?? '' }));
}

views.actors = async (root) => {
  const actors = await api('/actors');
  const msg = el('div', { class: 'msg ok', id: 'actors-msg' }, state.flash || '');
  state.flash = '';
  const reset = async (name) => {
    try {
      const r = await post('/actors/' + encodeURIComponent(name) + '/reset');
      state.flash = `${name}: was ${r.was}, ${r.reset ? 'reset' : 'nothing to reset'}`;
      await render();
    } catch (e) { msg.className = 'msg error'; msg.textContent = `reset ${name}: ${e.message}`; }
  };
  root.append(card('Actors', msg, table(actors, [{ key: 'actor', label: 'actor' }, { key: 'state', label: 'state', render: (a) => el('span', { class: 's-' + a.state + ' actor', dataset: { actor: a.actor } }, a.state) },
    'config_id', 'jobs', 'in_flight', 'restarts', 'recent_restarts', { key: 'last_error', label: 'last error', cls: 'wrap', render: (a) => (a.last_error ? `${when(a.last_error.at)} ${a.last_error.error}` : '') },
    { key: 'reset', label: '', render: (a) => (a.state === 'DEGRADED' ? el('button', { class: 'act', dataset: { reset: a.actor }, onclick: () => reset(a.actor) }, 'Reset') : '') }])));
  const pick = el('select', { id: 'config-engine' }, actors.map((a) => el('option', { value: a.actor }, a.actor)));
  const hist = el('div');
  const load = async () => {
    const h = await api('/api/configs/' + encodeURIComponent(pick.value) + q({ as_of: state.asOf }));
    // What each activation changed: the config it replaced against the one it activated.
    const bodies = new Map(h.versions.map((v) => [v.config_id, v.body]));
    const diffCols = ['key', { key: 'was', label: 'was', cls: 'diff-del' }, { key: 'now', label: 'now', cls: 'diff-add' }];
    const changeDiffs = h.changes
      .filter((c) => c.action === 'activated' && c.old_config_id && bodies.has(c.old_config_id) && bodies.has(c.new_config_id))
      .map((c) => el('div', { class: 'change-diff' }, el('h3', {}, `${when(c.at)} ${c.old_config_id} → ${c.new_config_id} by ${c.actor}`),
        table(diff(bodies.get(c.old_config_id), bodies.get(c.new_config_id)), diffCols)));
    // Every stored version against the one before it (backtests' and Kronos's included).
    const versionDiffs = h.versions.map((v, i) => {
      const older = h.versions[i + 1];
      return el('details', {}, el('summary', {}, `v${v.version} ${v.config_id} · ${when(v.created_at)} by ${v.created_by}${v.config_id === h.active ? ' · active' : ''}`),
        older ? table(diff(older.body, v.body), diffCols) : empty('first version'));
    });
    hist.replaceChildren(...[
      el('h3', {}, 'Changes (activations and refusals, by wall-clock time)'),
      h.changes.length ? null : empty('No change recorded by the end of this date.'),
      table(h.changes.map((c) => ({ at: when(c.at), action: c.action, from: c.old_config_id, to: c.new_config_id, by: c.actor, reason: c.reason }))),
      ...changeDiffs,
      el('h3', {}, `Versions (${h.versions.length}), each against the one before`),
      ...versionDiffs,
    ].filter(Boolean));
  };
  pick.addEventListener('change', load);
  root.append(card('Config history with diffs', el('label', {}, 'Engine ', pick), hist));
  const portfolio = actors.find((a) => a.actor === 'portfolio');
  if (portfolio) pick.value = 'portfolio';
  await load();
};

views.kronos = async (root) => {
  const cut = state.asOf ? state.asOf + 'T23:59:59.999Z' : null;
  const proposals = (await api('/kronos/proposals')).filter((p) => !cut || p.created_at <= cut);
  const experiments = (await api('/kronos/experiments')).filter((e) => !cut || e.created_at <= cut);
  const msg = el('div', { class: 'msg ok', id: 'kronos-msg' }, state.flash || '');
  state.flash = '';
  const detail = el('div', { id: 'proposal-detail' });
  const act = async (id, action) => {
    try {
      const r = await post(`/kronos/proposals/${encodeURIComponent(id)}/${action}`, `${action} from the dashboard`);
      state.flash = `${action}: ${id} is now ${r.proposal ? r.proposal.state : "done"} (was ${r.was})`;
      await render();
    } catch (e) { msg.className = 'msg error'; msg.textContent = `${action} ${id}: ${e.message}`; }
  };
  const show = async (p, tr) => {
    for (const x of root.querySelectorAll('tr.sel')) x.classList.remove('sel');
    if (tr) tr.classList.add('sel');
    const full = await api('/kronos/proposals/' + encodeURIComponent(p.proposal_id));
    const gates = full.gates;
    const gateView = Array.isArray(gates) ? table(gates) : gates && typeof gates === 'object'
      ? table(Object.entries(gates).map(([k, v]) => ({ gate: k, ...(v && typeof v === 'object' ? v : { result: v }) }))) : empty('No gate results yet.');
    detail.replaceChildren(card(`Proposal ${full.proposal_id} (${full.engine}, ${full.state})`,
      kv([['changes', JSON.stringify(full.changes)], ['reason', full.reason || '–'], ['created', `${when(full.created_at)} by ${full.created_by}`]]),
      el('div', {}, ['approve', 'shadow', 'reject', 'revert'].map((a) => el('button', { class: 'act', dataset: { action: a }, onclick: () => act(full.proposal_id, a) }, a))),
      el('h3', {}, 'Gate results'), gateView));
  };
  root.append(card('Proposals (click one for its gates and actions)', msg, proposals.length
    ? table(proposals, ['proposal_id', 'engine', 'market', { key: 'state', label: 'state', render: (p) => el('span', { class: 's-' + p.state }, p.state) },
      { key: 'changes', label: 'changes', cls: 'wrap', render: (p) => JSON.stringify(p.changes) }, { key: 'created_at', label: 'created', render: (p) => when(p.created_at) }], { onclick: show })
    : empty('No proposals on or before this date.')), detail,
  card('Experiments', experiments.length ? table(experiments, ['experiment_id', 'search', 'state', 'attempts', 'proposal_id', { key: 'error', label: 'error', cls: 'wrap' }, { key: 'finished_at', label: 'finished', render: (e) => when(e.finished_at) }]) : empty('No experiments.')));
  const pending = proposals.find((p) => p.state === 'PASSED' || p.state === 'SHADOW') || proposals[0];
  if (pending) await show(pending, [...root.querySelectorAll('tr.click')][proposals.indexOf(pending)]);
};

// ---------- shell ----------
let rendering = 0;
async function render() {
  const mine = ++rendering;
  for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.dataset.view === state.view);
  const root = el('div', { id: 'view-' + state.view });
  disposeCharts();
  const main = $('#view');
  main.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  try {
    await (views[state.view] || views.overview)(root);
    if (mine !== rendering) return;
    banner('');
    main.replaceChildren(root);
    drawPendingCharts();
    main.dataset.rendered = state.view + '@' + (state.asOf || 'today');
  } catch (e) {
    if (mine !== rendering) return;
    main.replaceChildren(el('p', { class: 'msg error' }, `Cannot show ${state.view}: ${e.message}`));
  }
}

function liveEvent(type, data) {
  const line = `${new Date().toISOString().slice(11, 19)} ${type} ${data.run_id || data.actor || (data.alert && data.alert.subject) || ''} ${data.job_id || data.event || ''} ${data.state || ''}`;
  state.live.push(line);
  if (state.live.length > 500) state.live.splice(0, 100);
  const box = $('#live-events');
  if (box) box.prepend(el('div', {}, line));
  const touchesPipeline = state.view === 'pipeline' && ((type === 'run' && data.market === state.market) || (type === 'job' && state.pipelineRuns.has(data.run_id)));
  if (touchesPipeline || (type === 'alert' && state.view === 'overview')) scheduleRender();
}

let pendingRender = null;
function scheduleRender() {
  clearTimeout(pendingRender);
  pendingRender = setTimeout(render, 250);
}

async function connectLive() {
  const dot = $('#live');
  for (;;) {
    try {
      const r = await fetch('/events', { headers: headers() });
      if (r.status === 401) { dot.className = 'live off'; await new Promise((res) => setTimeout(res, 3000)); continue; }
      if (!r.ok || !r.body) throw new Error(String(r.status));
      dot.className = 'live on';
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const msg = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let type = 'message', data = '';
          for (const l of msg.split('\n')) {
            if (l.startsWith('event: ')) type = l.slice(7);
            else if (l.startsWith('data: ')) data += l.slice(6);
          }
          if (data && type !== 'hello') {
            try { liveEvent(type, JSON.parse(data)); } catch (_) { /* a malformed message is skipped */ }
          }
        }
      }
    } catch (_) { /* reconnect below */ }
    dot.className = 'live off';
    await new Promise((res) => setTimeout(res, 2000));
  }
}

// The market picker, and the as-of date defaulted to the latest priced session so a quiet
// daemon opens on data.
async function loadMarkets() {
  const pick = $('#market');
  const asOf = $('#as-of');
  try {
    const markets = await api('/api/markets');
    const withData = markets.filter((m) => m.latest_prices);
    pick.replaceChildren(...markets.map((m) => el('option', { value: m.market }, m.market + (m.latest_prices ? '' : ' (no data)'))));
    if (!markets.some((m) => m.market === state.market)) state.market = (withData[0] || markets[0] || {}).market || '';
    pick.value = state.market;
    const latest = withData.map((m) => m.latest_prices).sort().pop();
    if (latest && !state.asOf) { state.asOf = latest; asOf.value = latest; }
  } catch (e) { banner(e.message); }
}

async function start() {
  const tokenBox = $('#token');
  tokenBox.value = state.token;
  tokenBox.addEventListener('change', async () => {
    state.token = tokenBox.value.trim();
    sessionStorage.setItem('pv2.token', state.token);
    if (!$('#market').options.length) await loadMarkets();
    render();
  });
  const asOf = $('#as-of');
  asOf.addEventListener('change', () => { state.asOf = asOf.value; render(); });
  $('#today').addEventListener('click', () => { asOf.value = ''; state.asOf = ''; render(); });
  window.addEventListener('hashchange', () => { state.view = location.hash.slice(1) || 'overview'; render(); });
  state.view = location.hash.slice(1) || 'overview';
  if (!LC) banner('The chart library is not installed on the daemon\'s host (run scripts/fetch-ui); tables still work.');
  const pick = $('#market');
  await loadMarkets();
  pick.addEventListener('change', () => { state.market = pick.value; sessionStorage.setItem('pv2.market', state.market); render(); });
  connectLive();
  await render();
}

start();
