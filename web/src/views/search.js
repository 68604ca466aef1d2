// Search (analyst): the complete request form, live per-state progress from the NDJSON
// stream, one card per state, entity cards, history by case reference, export.
import { useEffect, useRef, useState } from 'preact/hooks';
import { searchStream, isBannerError, download, csv } from '../api.js';
import { html, Field, Select, fieldErrors, Badge, Contact, Empty } from '../ui.js';
import { PURPOSES, PRIORITIES, LEGAL_BASES, EVIDENCE, FIELDS, word, when } from '../words.js';

const MIN_JUSTIFICATION = 20; // the baseline rule every state applies (policies/common.lua)
const HISTORY_KEY = 'fedbroker.history';
const FIELD_PATHS = ['subject.name', 'subject.document', 'subject.phone', 'subject.vessel', 'subject.dob',
  'subject.nationality', 'subject', 'states', 'purpose', 'priority', 'legal_basis', 'justification', 'case_ref'];

const WHAT_TO_DO = {
  timeout: 'The state did not answer before the deadline. Search again later, choose a lower priority (it has a longer deadline), or contact the focal point.',
  error: 'The state’s system failed to answer. Search again later; if it keeps failing, tell the hub’s operators.',
  unavailable: 'The hub has paused calls to this state after repeated failures. Try again in a minute; meanwhile the focal point can help.',
  cancelled: 'The search was interrupted before this state answered. Search again.',
};

const blankForm = () => ({
  name: '', document: '', phone: '', vessel: '', dob: '', nationality: '',
  purpose: 'investigation', priority: 'urgent', legal_basis: 'mla_treaty', justification: '', case_ref: '',
  states: null, // null: every state except my own
});

function loadHistory() {
  try { return JSON.parse(sessionStorage.getItem(HISTORY_KEY)) || []; } catch { return []; }
}
function saveHistory(list) {
  // Newest first, bounded so the tab's storage does not fill up.
  for (let n = Math.min(list.length, 30); n > 0; n = Math.floor(n / 2)) {
    try { sessionStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, n))); return; } catch { /* too big */ }
  }
}

function buildRequest(f) {
  const subject = {};
  for (const k of ['name', 'document', 'phone', 'vessel', 'dob', 'nationality']) if (f[k].trim()) subject[k] = f[k].trim();
  const body = { subject, purpose: f.purpose, priority: f.priority, legal_basis: f.legal_basis, justification: f.justification.trim() };
  if (f.case_ref.trim()) body.case_ref = f.case_ref.trim();
  if (f.states) body.states = f.states;
  return body;
}

function StatesPicker({ candidates, value, onChange, error }) {
  const chosen = value || candidates.map((s) => s.state);
  const toggle = (code) => {
    const next = chosen.includes(code) ? chosen.filter((c) => c !== code) : [...chosen, code];
    onChange(next.length === candidates.length ? null : next);
  };
  return html`<fieldset class=${'field states-picker' + (error ? ' has-error' : '')} aria-describedby=${error ? 'f-states-err' : undefined}>
    <legend>States to search</legend>
    ${candidates.map((s) => html`<label class="check"><input type="checkbox" name="states" value=${s.state}
      checked=${chosen.includes(s.state)} onChange=${() => toggle(s.state)} />
      ${s.name} (${s.state})${s.health && s.health !== 'up' ? html` <span class="muted">— ${s.health}</span>` : ''}</label>`)}
    ${error && html`<div class="error" id="f-states-err" role="alert">${error}</div>`}
  </fieldset>`;
}

function SearchForm({ form, setForm, candidates, errors, running, onSubmit }) {
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const jlen = form.justification.trim().length;
  const short = jlen < MIN_JUSTIFICATION;
  const jHint = `${jlen} characters${short ? ` — at least ${MIN_JUSTIFICATION}: every state denies a shorter justification` : ''}`;
  return html`<form class="card search-form" onSubmit=${onSubmit} aria-label="Search request" novalidate>
    <h2>Who or what are you looking for?</h2>
    <p class="hint">Give at least one of name, document, phone or vessel.</p>
    ${errors.subject && html`<div class="error" role="alert">${errors.subject}</div>`}
    <div class="grid">
      <${Field} name="subject.name" label="Name" value=${form.name} onInput=${set('name')} errors=${errors} autocomplete="off" />
      <${Field} name="subject.document" label="Document number" value=${form.document} onInput=${set('document')} errors=${errors} autocomplete="off" />
      <${Field} name="subject.phone" label="Phone" type="tel" value=${form.phone} onInput=${set('phone')} errors=${errors} hint="International form, e.g. +60123456789" />
      <${Field} name="subject.vessel" label="Vessel name or IMO number" value=${form.vessel} onInput=${set('vessel')} errors=${errors} />
      <${Field} name="subject.dob" label="Date of birth" value=${form.dob} onInput=${set('dob')} errors=${errors} hint="YYYY-MM-DD, or only the year" />
      <${Field} name="subject.nationality" label="Nationality" value=${form.nationality} onInput=${set('nationality')} errors=${errors} hint="Three-letter code, e.g. MYS" maxlength="3" />
    </div>
    <h2>Why, and on what basis?</h2>
    <div class="grid">
      <${Select} name="purpose" label="Purpose" table=${PURPOSES} value=${form.purpose} onInput=${set('purpose')} errors=${errors} />
      <${Select} name="priority" label="Priority" table=${PRIORITIES} value=${form.priority} onInput=${set('priority')} errors=${errors} />
      <${Select} name="legal_basis" label="Legal basis" table=${LEGAL_BASES} value=${form.legal_basis} onInput=${set('legal_basis')} errors=${errors} />
      <${Field} name="case_ref" label="Case reference" value=${form.case_ref} onInput=${set('case_ref')} errors=${errors} maxlength="64" hint="Some states refuse requests without one" />
    </div>
    <${Field} name="justification" label="Justification" textarea rows="3" value=${form.justification}
      onInput=${set('justification')} errors=${errors} hint=${jHint} maxlength="2000" />
    <${StatesPicker} candidates=${candidates} value=${form.states} onChange=${set('states')} error=${errors.states} />
    ${errors._form && html`<div class="error" role="alert">${errors._form}</div>`}
    <div class="actions">
      <button type="submit" class="primary" disabled=${running} aria-busy=${running ? 'true' : undefined}>${running ? 'Searching…' : 'Search'}</button>
      <button type="button" disabled=${running} onClick=${() => setForm(blankForm())}>Clear</button>
    </div>
  </form>`;
}

// One line per state while the search runs: its outcome, or time left to its deadline.
function Progress({ run }) {
  const now = Date.now(); // re-rendered every 100 ms while the search runs
  return html`<section class="card progress" aria-label="Progress" aria-live="polite">
    <h2>${run.done ? 'All states answered' : 'Waiting for the states'}</h2>
    <ul>
      ${run.order.map((code) => {
        const s = run.states[code];
        const elapsed = Math.min(now - run.started, run.deadline);
        return html`<li data-state=${code}>
          <span class="st">${code}</span>
          ${s ? html`<${Badge} outcome=${s.outcome} /> ${s.latency_ms !== undefined ? html`<span class="muted">${Math.round(s.latency_ms)} ms</span>` : ''}`
            : html`<progress max=${run.deadline} value=${elapsed} aria-label=${'Time used of ' + code + '’s deadline'}></progress>
              <span class="muted">deadline in ${Math.max(0, (run.deadline - (now - run.started)) / 1000).toFixed(1)} s</span>`}
        </li>`;
      })}
    </ul>
  </section>`;
}

function StateCard({ s, names, answer, onRequestFormally }) {
  const name = names[s.state] || s.state;
  let body;
  switch (s.outcome) {
    case 'shared':
      body = html`<p><strong>${s.records}</strong> record${s.records === 1 ? '' : 's'} shared${s.redacted ? html`, ${s.redacted} field value${s.redacted === 1 ? '' : 's'} redacted` : ''}.</p>
        ${s.review && html`<p class="note">This state reviews such requests afterwards.</p>`}`;
      break;
    case 'hit_only':
      body = html`<p><strong>${s.records}</strong> matching record${s.records === 1 ? '' : 's'}. ${s.reason}</p>
        ${s.hit_ref && html`<p>Hit reference <code class="ref">${s.hit_ref}</code></p>`}
        <${Contact} contact=${s.contact} />
        <button type="button" class="primary" onClick=${() => onRequestFormally({
          query_id: answer.query_id, state: s.state, hit_ref: s.hit_ref, legal_basis: answer.request.legal_basis,
          priority: answer.request.priority, case_ref: answer.request.case_ref || '', justification: answer.request.justification })}>Request formally</button>`;
      break;
    case 'denied':
      body = html`<p>${s.reason}</p><${Contact} contact=${s.contact} />`;
      break;
    case 'withheld':
      body = html`<p>${s.reason || 'Your own state’s rules hold requests like this one back.'}</p>
        ${s.by && html`<p class="muted">Rule of ${names[s.by] || s.by}; the state was not contacted.</p>`}`;
      break;
    default:
      body = html`<p>${s.reason || ''}</p><p class="todo">${WHAT_TO_DO[s.outcome] || ''}</p><${Contact} contact=${s.contact} />`;
  }
  return html`<article class=${'card state-card o-' + s.outcome} data-state=${s.state} aria-label=${name}>
    <header><h3>${name}</h3><${Badge} outcome=${s.outcome} /></header>
    ${body}
    ${s.rule && html`<p class="rule">Rule: <q>${s.rule}</q></p>`}
  </article>`;
}

function value(field, v) {
  if (v === undefined || v === null) return null;
  switch (field) {
    case 'documents': return v.map((d) => (typeof d === 'string' ? d : `${d.kind} ${d.number}${d.country ? ' (' + d.country + ')' : ''}`)).join(', ');
    case 'vessel': return typeof v === 'string' ? v : [v.name, v.imo && 'IMO ' + v.imo, v.flag && 'flag ' + v.flag].filter(Boolean).join(', ');
    case 'cases': return v.map((c) => typeof c === 'string' ? c : `${c.ref} ${String(c.offence || '').replace(/_/g, ' ')} (${String(c.status || '').replace(/_/g, ' ')})`).join('; ');
    default: return Array.isArray(v) ? v.join(', ') : String(v);
  }
}

// Values a state replaced by a keyed hash (policy action "hash"): unreadable, but
// equal in every record that had the same value, so they still link records.
const HEX = /\b[0-9a-f]{64}\b/g;
const hashesIn = (v) => (JSON.stringify(v === undefined ? null : v).match(HEX) || []);
const shorten = (text) => text.replace(HEX, (h) => h.slice(0, 10) + '…');

export function RecordView({ r, names, linked = {} }) {
  const redacted = r.redacted || [];
  const fields = Object.keys(FIELDS).filter((f) => f !== 'tags' && (r[f] !== undefined || redacted.includes(f)));
  return html`<div class="record" data-record=${r.id}>
    <div class="rec-head"><span class="st">${names[r.state] || r.state}</span> <code>${r.id}</code></div>
    <div class="tags">${r.type} ${(r.tags || []).map((t) => html`<span class="tag">${t}</span>`)}</div>
    <dl>${fields.map((f) => {
      const isRedacted = redacted.includes(f);
      let v = value(f, r[f]);
      if (v !== null && /^(\[REDACTED\][,; ]*)+$/.test(v)) v = null; // masked: the label says it
      const others = [...new Set(hashesIn(r[f]).flatMap((h) => (linked[h] || []).filter((x) => x !== r.id)))];
      const hashed = hashesIn(r[f]).length > 0;
      return html`<div class=${isRedacted ? 'redacted' : ''}><dt>${FIELDS[f]}</dt>
        <dd>${v !== null ? shorten(v) : ''}${isRedacted ? html` <span class="redacted-label">${hashed ? 'redacted (hashed)' : v !== null ? 'redacted (changed)' : 'redacted'}</span>` : ''}${isRedacted && r.redacted_by && r.redacted_by[f] ? html` <span class="redacted-rule">by rule “${r.redacted_by[f]}”</span>` : ''}
        ${others.length ? html` <span class="linked-label">linked with ${others.join(', ')}</span>` : ''}</dd></div>`;
    })}</dl>
  </div>`;
}

function EntityCard({ e, names }) {
  const statesIn = [...new Set(e.records.map((r) => r.state))];
  const linked = {}; // hash -> ids of the records that carry it
  for (const r of e.records) for (const h of new Set(hashesIn(r))) (linked[h] ||= []).push(r.id);
  return html`<article class="card entity" id=${'entity-' + e.entity} data-entity=${e.entity} aria-label=${'Entity ' + e.entity}>
    <header>
      <h3>${e.records[0].name || (e.records[0].vessel && e.records[0].vessel.name) || e.records[0].id}</h3>
      <span class="muted">score ${Math.round(e.score * 100)}%</span>
    </header>
    ${e.records.length > 1 && html`<p class="merged">${e.records.length} records from ${statesIn.length} state${statesIn.length === 1 ? '' : 's'} merged as one ${e.records[0].type}</p>`}
    <div class="evidence">${(e.match || []).length
      ? e.match.map((m) => html`<span class="evid">${word(EVIDENCE, m)}</span>`)
      : html`<span class="muted">no linking evidence</span>`}</div>
    ${(e.near || []).length > 0 && html`<ul class="near">${e.near.map((n) =>
      html`<li>Kept apart from <a href=${'#entity-' + n.entity}>entity ${n.entity}</a>: ${n.why}</li>`)}</ul>`}
    <div class="records">${e.records.map((r) => html`<${RecordView} r=${r} names=${names} linked=${linked} />`)}</div>
  </article>`;
}

function exportCsv(a) {
  const rows = [['query_id', 'audit_seq', 'audit_hash', 'entity', 'score', 'match', 'state', 'record_id', 'type', 'tags', 'name', 'dob', 'nationality', 'documents', 'phones', 'vessel', 'redacted']];
  for (const e of a.results) for (const r of e.records)
    rows.push([a.query_id, a.audit && a.audit.seq, a.audit && a.audit.hash, e.entity, e.score, e.match, r.state, r.id, r.type, r.tags, r.name, r.dob, r.nationality,
      value('documents', r.documents), r.phones, value('vessel', r.vessel), r.redacted]);
  rows.push([]);
  rows.push(['state', 'outcome', 'records', 'rule', 'reason', 'hit_ref']);
  for (const s of a.states) rows.push([s.state, s.outcome, s.records, s.rule, s.reason, s.hit_ref]);
  download(`fedbroker-${a.query_id}.csv`, 'text/csv', csv(rows));
}

function Answer({ a, names, onRequestFormally }) {
  return html`<section class="answer" aria-label="Answer">
    <div class="answer-head card">
      <div><span class="k">Query</span> <code>${a.query_id}</code></div>
      ${a.audit && html`<div><span class="k">Audit entry</span> ${a.audit.seq}, hash <code class="hash">${a.audit.hash}</code></div>`}
      <div>${a.complete ? 'Every contacted state answered.' : 'Incomplete: some states did not answer (see below).'}</div>
      <div class="actions no-print">
        <button type="button" onClick=${() => exportCsv(a)}>Export CSV</button>
        <button type="button" onClick=${() => window.print()}>Print</button>
      </div>
    </div>
    <h2>States</h2>
    <div class="state-cards">${a.states.map((s) => html`<${StateCard} s=${s} names=${names} answer=${a} onRequestFormally=${onRequestFormally} />`)}</div>
    <h2>Records (${a.results.length} ${a.results.length === 1 ? 'entity' : 'entities'})</h2>
    ${a.results.length ? a.results.map((e) => html`<${EntityCard} e=${e} names=${names} />`) : html`<${Empty}>No state shared a record for this search.<//>`}
  </section>`;
}

function History({ items, onShow }) {
  if (!items.length) return null;
  const groups = {};
  for (const it of items) (groups[it.case_ref || ''] ||= []).push(it);
  return html`<aside class="card history no-print" aria-label="Search history">
    <h2>This session’s searches</h2>
    ${Object.entries(groups).map(([ref, list]) => html`<div class="group">
      <h3>${ref ? 'Case ' + ref : 'No case reference'}</h3>
      <ul>${list.map((it) => html`<li><button type="button" class="link" onClick=${() => onShow(it)}>${it.label}</button>
        <span class="muted"> ${when(it.at)} · ${it.summary}</span></li>`)}</ul>
    </div>`)}
  </aside>`;
}

export function SearchView({ claims, states, deadlines, onProblem, onRequestFormally }) {
  const [form, setForm] = useState(blankForm());
  const [errors, setErrors] = useState({});
  const [run, setRun] = useState(null);
  const [answer, setAnswer] = useState(null);
  const [history, setHistory] = useState(loadHistory());
  const [now, setNow] = useState(Date.now());
  const running = !!(run && !run.done);
  const busy = useRef(false);
  const names = Object.fromEntries(states.map((s) => [s.state, s.name]));
  const candidates = states.filter((s) => s.state !== claims.state);

  useEffect(() => {
    if (!running) return undefined;
    const t = setInterval(() => setNow(Date.now()), 100);
    return () => clearInterval(t);
  }, [running]);

  const submit = async (ev) => {
    ev.preventDefault();
    if (busy.current) return; // one search at a time: each one is audited
    const body = buildRequest(form);
    if (body.justification.length < MIN_JUSTIFICATION) {
      setErrors({ justification: `Explain the need in at least ${MIN_JUSTIFICATION} characters: every state denies a shorter justification.` });
      document.getElementById('f-justification').focus();
      return;
    }
    busy.current = true;
    setErrors({});
    onProblem(null);
    const order = body.states || candidates.map((s) => s.state);
    const live = { order, states: {}, results: [], started: Date.now(), deadline: deadlines[body.priority] || 5000, done: false };
    setRun({ ...live });
    setAnswer(null);
    let done = null;
    try {
      await searchStream(body, (line) => {
        if (line.state) {
          live.states[line.state.state] = line.state;
          if (!live.order.includes(line.state.state)) live.order = [...live.order, line.state.state];
        } else if (line.result) live.results.push(line.result);
        else if (line.done) done = line.done;
        else if (line.error) throw Object.assign(new Error(line.error.message), { status: 503 });
        setRun({ ...live });
      });
      if (!done) throw Object.assign(new Error('The answer ended early; the search was audited. Run it again for the full answer.'), { status: 502 });
      const a = { ...done, states: live.order.map((c) => live.states[c]).filter(Boolean), results: live.results, request: body };
      setAnswer(a);
      const summary = a.states.map((s) => `${s.state} ${s.outcome.replace('_', ' ')}`).join(', ');
      const label = Object.values(body.subject).join(' / ');
      const next = [{ query_id: a.query_id, case_ref: body.case_ref, at: new Date().toISOString(), label, summary, answer: a }, ...history];
      setHistory(next);
      saveHistory(next);
    } catch (e) {
      if (isBannerError(e)) onProblem(e.message);
      else {
        const fe = fieldErrors(e, FIELD_PATHS);
        setErrors(fe);
        const first = Object.keys(fe)[0];
        const el = first !== '_form' && document.getElementById('f-' + first.replace(/[^a-zA-Z0-9_-]/g, '-'));
        if (el) el.focus();
      }
    } finally {
      live.done = true;
      setRun({ ...live });
      busy.current = false;
    }
  };

  return html`<div class="search-view">
    <h1>Search</h1>
    <div class="layout">
      <div class="main-col">
        <${SearchForm} form=${form} setForm=${setForm} candidates=${candidates} errors=${errors} running=${running} onSubmit=${submit} />
        ${run && !answer && html`<${Progress} run=${run} tick=${now} />`}
        ${answer && html`<${Answer} a=${answer} names=${names} onRequestFormally=${onRequestFormally} />`}
      </div>
      <${History} items=${history} onShow=${(it) => { setRun(null); setAnswer(it.answer); }} />
    </div>
  </div>`;
}
