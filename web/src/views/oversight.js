// Oversight (auditor): the audit log as a filterable table with drill-down and CSV
// export, chain status, charts over time, and searches per state pair (/v1/stats).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { api, apiText, download, csv } from '../api.js';
import { html, Field, Select, Empty } from '../ui.js';
import { EFFECTS, EVENTS, OUTCOMES, SHORT_OUTCOMES, PURPOSES, PRIORITIES, REQUEST_STATUS, word, when } from '../words.js';

const PAGE = 1000;
const MAX_ENTRIES = 20000; // what one browser tab holds comfortably
const FILTERS = ['event', 'state', 'sub', 'query_id', 'request_id', 'record', 'review', 'since', 'until'];
const blank = () => ({ event: '', state: '', sub: '', query_id: '', request_id: '', record: '', review: false, since: '', until: '' });

const iso = (local) => (local ? new Date(local).toISOString() : '');

function query(f) {
  const p = new URLSearchParams();
  for (const k of FILTERS) {
    const v = k === 'since' || k === 'until' ? iso(f[k]) : f[k];
    if (k === 'review' ? v : v && String(v).trim()) p.set(k, k === 'review' ? 'true' : String(v).trim());
  }
  return p;
}

// The same filters applied here too, so the table is right on a hub whose /v1/audit
// ignores some of them.
function keep(e, f) {
  if (f.event && e.event !== f.event) return false;
  if (f.state) {
    const s = f.state.trim().toUpperCase();
    const inStates = (e.states || []).some((x) => x.state === s);
    if (!(e.requester && e.requester.state === s) && !inStates && e.state !== s) return false;
  }
  if (f.sub && !(e.requester && e.requester.sub === f.sub.trim()) && e.sub !== f.sub.trim()) return false;
  if (f.query_id && e.query_id !== f.query_id.trim()) return false;
  if (f.request_id && e.request_id !== f.request_id.trim()) return false;
  if (f.record) {
    const id = f.record.trim();
    const d = e.disclosed || {};
    if (!Object.values(d).some((ids) => ids.includes(id)) && !(e.records || []).includes(id)) return false;
  }
  if (f.review && !e.review) return false;
  if (f.since && e.ts < iso(f.since)) return false;
  if (f.until && e.ts > iso(f.until)) return false;
  return true;
}

async function loadAll(f) {
  const params = query(f);
  let after = 0;
  const out = [];
  for (;;) {
    params.set('after', after);
    params.set('limit', PAGE);
    const r = await api('GET', '/v1/audit?' + params);
    out.push(...r.entries);
    if (!r.entries.length || r.next === undefined || r.next <= after || out.length >= MAX_ENTRIES) return out;
    after = r.next;
  }
}

const person = (p) => (p && typeof p === 'object' ? `${p.sub} (${p.state})` : p || '');
const who = (e) => person(e.requester || e.by || e.sub);
const outcomes = (e) => {
  if (e.event === 'request') return `${e.state}: ${word(REQUEST_STATUS, e.status)}${e.request_id ? ' (' + e.request_id + ')' : ''}`;
  return (e.states || []).map((s) => `${s.state}: ${s.outcome ? word(OUTCOMES, s.outcome) : word(EFFECTS, s.effect)}`).join(', ');
};

function toCsv(entries) {
  const rows = [['seq', 'ts', 'event', 'sub', 'state', 'agency', 'purpose', 'priority', 'legal_basis', 'case_ref', 'query_id', 'outcomes', 'disclosed', 'review', 'prev']];
  for (const e of entries) {
    const r = e.requester || {};
    rows.push([e.seq, e.ts, e.event, r.sub, r.state, r.agency, e.purpose, e.priority, e.legal_basis, e.case_ref, e.query_id,
      (e.states || []).map((s) => `${s.state}:${s.outcome}`), e.disclosed ? Object.entries(e.disclosed).map(([s, ids]) => `${s}:${ids.join(' ')}`) : '', e.review ? 'true' : '', e.prev]);
  }
  return csv(rows);
}

function Chart({ title, series, buckets }) {
  const host = useRef(null);
  useEffect(() => {
    if (!buckets.length) return undefined;
    const palette = ['#1f6feb', '#b35900', '#2e7d32', '#8e24aa', '#c62828', '#00796b', '#5d4037'];
    const width = Math.max(280, Math.min(host.current.clientWidth || 600, 900));
    const u = new uPlot({
      width, height: 220, title,
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length], width: 2, points: { show: true } }))],
      axes: [{}, { label: 'searches' }],
      scales: { x: { time: true } },
    }, [buckets, ...series.map((s) => s.values)], host.current);
    return () => u.destroy();
  }, [buckets, series]);
  return html`<figure class="chart" ref=${host} aria-label=${title}></figure>`;
}

// Searches per time bucket, split by a key of the entry (a state's outcome, purpose...).
function bucketise(entries, keyOf) {
  const searches = entries.filter((e) => e.event === 'search');
  if (!searches.length) return { buckets: [], series: [] };
  const t = searches.map((e) => Date.parse(e.ts) / 1000);
  const span = Math.max(...t) - Math.min(...t);
  const step = span > 3 * 86400 ? 86400 : span > 3 * 3600 ? 3600 : span > 600 ? 300 : 60;
  // One empty bucket either side, so that even a single bucket has a time axis.
  const first = Math.floor(Math.min(...t) / step) * step - step;
  const n = Math.floor((Math.max(...t) - first) / step) + 2;
  const buckets = Array.from({ length: n }, (_, i) => first + i * step);
  const by = {};
  searches.forEach((e, i) => {
    const b = Math.floor((t[i] - first) / step);
    for (const k of keyOf(e)) (by[k] ||= new Array(n).fill(0))[b]++;
  });
  return { buckets, series: Object.entries(by).map(([label, values]) => ({ label, values })) };
}

function Pairs({ stats }) {
  const pairs = {};
  for (const s of stats) {
    const k = `${s.from} → ${s.to}`;
    const p = (pairs[k] ||= { total: 0 });
    p.total += s.count;
    p[s.outcome] = (p[s.outcome] || 0) + s.count;
  }
  const rows = Object.entries(pairs).sort((a, b) => b[1].total - a[1].total);
  const max = rows.length ? rows[0][1].total : 1;
  const kinds = ['shared', 'hit_only', 'denied', 'timeout', 'error', 'unavailable'];
  return html`<div class="table-wrap"><table class="pairs"><caption>Searches per state pair (requesting → responding), by outcome</caption>
    <thead><tr><th scope="col">Pair</th><th scope="col">Searches</th>${kinds.map((k) => html`<th scope="col">${word(SHORT_OUTCOMES, k)}</th>`)}</tr></thead>
    <tbody>${rows.map(([k, p]) => html`<tr><th scope="row">${k}</th><td><span class="bar" style=${{ width: (p.total / max) * 6 + 'rem' }}></span> ${p.total}</td>
      ${kinds.map((o) => html`<td>${p[o] || ''}</td>`)}</tr>`)}</tbody></table></div>`;
}

function ChainStatus({ entries }) {
  const checkpoints = entries.filter((e) => e.event === 'checkpoint');
  const last = checkpoints[checkpoints.length - 1];
  const gaps = entries.filter((e, i) => i && e.seq !== entries[i - 1].seq + 1).length;
  return html`<section class="card chain" aria-label="Chain status"><h2>Chain</h2>
    <p>${entries.length} entries loaded (seq ${entries[0] ? entries[0].seq : '–'} to ${entries.length ? entries[entries.length - 1].seq : '–'}).</p>
    <p>${last ? html`Last signed checkpoint: seq ${last.seq}, ${when(last.ts)}, key <code>${last.key_id}</code>; ${entries[entries.length - 1].seq - last.seq} entries since.` : 'No checkpoint yet.'}</p>
    <p>${gaps ? `${gaps} gap(s) in the sequence of the loaded entries (filtered views skip entries).` : 'Sequence without gaps.'} Signatures and hashes are verified with <code>fedbroker audit verify</code> on the log file.</p>
  </section>`;
}

function Entry({ e, all, onClose }) {
  const i = all.findIndex((x) => x.seq === e.seq);
  const next = all[i + 1];
  const nextCp = all.slice(i).find((x) => x.event === 'checkpoint');
  return html`<section class="card entry" aria-label=${'Audit entry ' + e.seq}>
    <header><h2>Entry ${e.seq}: ${word(EVENTS, e.event)}</h2><button type="button" onClick=${onClose}>Close</button></header>
    <dl class="kv">
      <div><dt>Time</dt><dd>${when(e.ts)}</dd></div>
      <div><dt>Position</dt><dd>line ${e.seq} of the log</dd></div>
      <div><dt>Previous line’s hash</dt><dd><code class="hash">${e.prev}</code></dd></div>
      <div><dt>This line’s hash</dt><dd>${next && next.seq === e.seq + 1 ? html`<code class="hash">${next.prev}</code> (from entry ${next.seq})` : 'not known until the next entry'}</dd></div>
      <div><dt>Sealed by</dt><dd>${nextCp ? `checkpoint ${nextCp.seq} (${when(nextCp.ts)})` : 'no checkpoint after it yet'}</dd></div>
    </dl>
    <pre class="json" tabindex="0" aria-label="The entry as recorded">${JSON.stringify(e, null, 2)}</pre>
  </section>`;
}

export function OversightView({ onProblem }) {
  const [f, setF] = useState(blank());
  const [applied, setApplied] = useState(blank());
  const [all, setAll] = useState(null);
  const [stats, setStats] = useState([]);
  const [summary, setSummary] = useState(null);
  const [open, setOpen] = useState(null);
  const [loading, setLoading] = useState(false);
  const set = (k) => (v) => setF({ ...f, [k]: v });

  const load = async (filters) => {
    setLoading(true);
    try {
      setAll(await loadAll(filters));
      setApplied(filters);
      setOpen(null);
    } catch (e) { onProblem(e.message); } finally { setLoading(false); }
  };
  useEffect(() => {
    load(blank());
    api('GET', '/v1/stats').then((r) => setStats(r.stats || [])).catch((e) => onProblem(e.message));
    api('GET', '/v1/reports/summary').then(setSummary).catch(() => setSummary(null));
  }, []);

  const rows = useMemo(() => (all || []).filter((e) => keep(e, applied)), [all, applied]);
  const exportCsv = async () => {
    // The hub's own CSV when it offers one for these filters; else built here.
    let text = null;
    if (rows.length <= PAGE) {
      try {
        const p = query(applied); p.set('format', 'csv'); p.set('limit', PAGE);
        const t = await apiText('/v1/audit?' + p, 'text/csv');
        if (!t.trimStart().startsWith('{')) text = t; // a hub without CSV answers JSON
      } catch { /* not offered: built here */ }
    }
    download('fedbroker-audit.csv', 'text/csv', text || toCsv(rows));
  };
  // The charts follow the filters; recomputed only when the entries or filters change.
  const [outcomeSeries, purposeSeries, prioritySeries] = useMemo(() => (all ? [
    bucketise(rows, (e) => (e.states || []).map((s) => word(SHORT_OUTCOMES, s.outcome))),
    bucketise(rows, (e) => [word(PURPOSES, e.purpose)]),
    bucketise(rows, (e) => [word(PRIORITIES, e.priority)]),
  ] : [null, null, null]), [rows]);

  return html`<div class="oversight">
    <h1>Oversight</h1>
    <form class="card filters" aria-label="Audit filters" onSubmit=${(e) => { e.preventDefault(); load(f); }}>
      <div class="grid">
        <${Select} name="event" label="Event" table=${{ '': 'Any event', ...EVENTS }} value=${f.event} onInput=${set('event')} />
        <${Field} name="state" label="State (requesting or responding)" value=${f.state} onInput=${set('state')} maxlength="3" />
        <${Field} name="sub" label="Person (sub)" value=${f.sub} onInput=${set('sub')} />
        <${Field} name="query_id" label="Query id" value=${f.query_id} onInput=${set('query_id')} />
        <${Field} name="request_id" label="Follow-up request id" value=${f.request_id} onInput=${set('request_id')} />
        <${Field} name="record" label="Disclosed record id" value=${f.record} onInput=${set('record')} />
        <${Field} name="since" label="From" type="datetime-local" value=${f.since} onInput=${set('since')} />
        <${Field} name="until" label="Until" type="datetime-local" value=${f.until} onInput=${set('until')} />
      </div>
      <label class="check"><input type="checkbox" checked=${f.review} onChange=${(e) => set('review')(e.currentTarget.checked)} /> Only entries marked for review</label>
      <div class="actions">
        <button type="submit" class="primary" disabled=${loading}>Apply filters</button>
        <button type="button" onClick=${() => { setF(blank()); load(blank()); }}>Clear</button>
        <button type="button" onClick=${exportCsv} disabled=${!rows.length}>Export CSV</button>
      </div>
    </form>
    ${open && html`<${Entry} e=${open} all=${all} onClose=${() => setOpen(null)} />`}
    <section class="card" aria-label="Audit entries">
      <h2>Audit log <span class="muted">(${rows.length} ${rows.length === 1 ? 'entry' : 'entries'})</span></h2>
      ${all === null ? html`<p>Loading…</p>` : rows.length ? html`<div class="table-wrap"><table class="audit">
        <thead><tr><th scope="col">Seq</th><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Who</th><th scope="col">Purpose</th><th scope="col">Outcome</th></tr></thead>
        <tbody>${rows.slice(-500).reverse().map((e) => html`<tr data-seq=${e.seq}>
          <td><button type="button" class="link" onClick=${() => setOpen(e)} aria-label=${'Open entry ' + e.seq}>${e.seq}</button></td>
          <td>${when(e.ts)}</td><td>${word(EVENTS, e.event)}${e.review ? html` <span class="badge review">review</span>` : ''}</td><td>${who(e)}</td>
          <td>${e.purpose ? word(PURPOSES, e.purpose) : ''}</td><td>${outcomes(e)}</td></tr>`)}</tbody></table></div>
        ${rows.length > 500 ? html`<p class="muted">The newest 500 are shown; the CSV has all ${rows.length}.</p>` : ''}`
        : html`<${Empty}>No entry matches these filters.<//>`}
    </section>
    ${all && html`<${ChainStatus} entries=${all} />`}
    <section class="card charts" aria-label="Activity">
      <h2>Searches over time</h2>
      ${outcomeSeries && outcomeSeries.buckets.length ? html`
        <${Chart} title="Outcomes (per responding state)" ...${outcomeSeries} />
        <${Chart} title="Purpose" ...${purposeSeries} />
        <${Chart} title="Priority" ...${prioritySeries} />` : html`<${Empty}>No search among the entries shown.<//>`}
      ${stats.length ? html`<${Pairs} stats=${stats} />` : ''}
    </section>
    ${summary && html`<section class="card" aria-label="Report"><h2>Monitoring and evaluation report</h2>
      <p>${summary.searches} searches; share rate ${Math.round((summary.share_rate || 0) * 100)}%.
      ${summary.followups ? ` Follow-ups: ${summary.followups.sent} sent, ${summary.followups.released} released, ${summary.followups.declined} declined, ${summary.followups.overdue} overdue.` : ''}</p>
    </section>`}
  </div>`;
}
