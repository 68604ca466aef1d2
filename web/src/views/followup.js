// Follow-up (FOLLOWUP.md): the analyst's outbox and formal requests, the focal point's
// inbox (overdue first) with release/decline, and the focal point directory.
import { useEffect, useState } from 'preact/hooks';
import { api, isBannerError } from '../api.js';
import { html, Field, Select, fieldErrors, Contact, Empty } from '../ui.js';
import { LEGAL_BASES, PRIORITIES, PURPOSES, REQUEST_STATUS, word, when } from '../words.js';
import { RecordView } from './search.js';

const REQUEST_FIELDS = ['query_id', 'state', 'hit_ref', 'legal_basis', 'justification', 'case_ref', 'priority'];

function useLoad(path, deps) {
  const [state, setState] = useState({ loading: true });
  const reload = () => api('GET', path)
    .then((data) => setState({ data }))
    .catch((error) => setState({ error }));
  useEffect(() => { reload(); }, deps);
  return [state, reload];
}

const notOffered = (e) => e && (e.status === 404 || e.status === 405);

function Status({ r }) {
  return html`<span class=${'badge r-' + r.status + (r.overdue ? ' overdue' : '')}>${word(REQUEST_STATUS, r.status)}${r.overdue ? ' — overdue' : ''}</span>`;
}

// One request in full (GET /v1/requests/{id}): the decision and, once released, the
// records (the list is a summary without them).
function RequestDetail({ id, onClose, onProblem }) {
  const [s] = useLoad('/v1/requests/' + encodeURIComponent(id), [id]);
  if (s.loading) return html`<p>Loading…</p>`;
  if (s.error) { onProblem(s.error.message); return null; }
  const r = s.data.request;
  const d = r.decision || {};
  return html`<section class="card request-detail" aria-label=${'Request ' + r.request_id}>
    <header><h3>Request to ${r.state}, case ${r.case_ref || '–'}</h3><${Status} r=${r} />
      <button type="button" onClick=${onClose}>Close</button></header>
    <dl class="kv">
      <div><dt>Request</dt><dd><code>${r.request_id}</code></dd></div>
      <div><dt>Search</dt><dd><code>${r.query_id}</code></dd></div>
      <div><dt>Sent</dt><dd>${when(r.created)}</dd></div>
      <div><dt>Due</dt><dd>${when(r.due)}</dd></div>
      ${r.decided && html`<div><dt>Decided</dt><dd>${when(r.decided)}${d.by ? ' by ' + d.by : ''}</dd></div>`}
      ${d.rule && html`<div><dt>Rule</dt><dd>${d.rule}</dd></div>`}
    </dl>
    ${d.reason && html`<p>Reason: ${d.reason}</p>`}
    ${d.message && html`<p class="note">${d.message}</p>`}
    ${r.records && r.records.length ? html`<h4>Records released (${r.records.length})</h4>
      <div class="records">${r.records.map((x) => html`<${RecordView} r=${{ state: r.state, ...x }} names=${{}} />`)}</div>`
      : r.status === 'released' ? html`<p class="muted">Released, but the state’s policy let no record out.</p>` : ''}
  </section>`;
}

function NewRequest({ draft, onSent, onCancel, onProblem }) {
  const [f, setF] = useState({ ...draft, legal_basis: draft.legal_basis || 'mla_treaty', priority: draft.priority || 'urgent' });
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const send = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const body = { query_id: f.query_id, state: f.state, legal_basis: f.legal_basis, justification: f.justification, case_ref: f.case_ref, priority: f.priority };
      if (f.hit_ref) body.hit_ref = f.hit_ref;
      await api('POST', '/v1/requests', body);
      onSent();
    } catch (err) {
      if (isBannerError(err)) onProblem(err.message);
      else setErrors(notOffered(err) ? { _form: 'This hub does not take follow-up requests yet.' } : fieldErrors(err, REQUEST_FIELDS));
    } finally { setBusy(false); }
  };
  return html`<form class="card" onSubmit=${send} aria-label="Formal request">
    <h2>Formal request to ${f.state}</h2>
    <p class="muted">About search <code>${f.query_id}</code>${f.hit_ref ? html`, hit reference <code class="ref">${f.hit_ref}</code>` : ''}.</p>
    <div class="grid">
      <${Select} name="legal_basis" label="Legal basis" table=${LEGAL_BASES} value=${f.legal_basis} onInput=${set('legal_basis')} errors=${errors} />
      <${Select} name="priority" label="Priority" table=${PRIORITIES} value=${f.priority} onInput=${set('priority')} errors=${errors} />
      <${Field} name="case_ref" label="Case reference" value=${f.case_ref} onInput=${set('case_ref')} errors=${errors} />
    </div>
    <${Field} name="justification" label="Justification" textarea rows="3" value=${f.justification} onInput=${set('justification')} errors=${errors} />
    ${errors._form && html`<div class="error" role="alert">${errors._form}</div>`}
    <div class="actions"><button class="primary" type="submit" disabled=${busy}>Send request</button>
      <button type="button" onClick=${onCancel}>Cancel</button></div>
  </form>`;
}

function Outbox({ onProblem }) {
  const [s] = useLoad('/v1/requests?box=outbox', []);
  const [open, setOpen] = useState(null);
  if (s.loading) return html`<p>Loading…</p>`;
  if (s.error) return html`<${Empty}>${notOffered(s.error) ? 'This hub does not offer follow-up requests yet.' : s.error.message}<//>`;
  const list = s.data.requests || [];
  return html`<section class="card" aria-label="Outbox"><h2>Sent requests</h2>
    ${list.length ? html`<div class="table-wrap"><table><thead><tr><th scope="col">To</th><th scope="col">Status</th><th scope="col">Case</th><th scope="col">Sent</th><th scope="col">Due</th><th scope="col">Decision</th><th scope="col"><span class="sr-only">Details</span></th></tr></thead>
      <tbody>${list.map((r) => html`<tr data-request=${r.request_id}><td>${r.state}</td><td><${Status} r=${r} /></td><td>${r.case_ref}</td>
        <td>${when(r.created)}</td><td>${when(r.due)}</td><td>${r.decision && r.decision.reason ? r.decision.reason : ''}</td>
        <td><button type="button" onClick=${() => setOpen(r.request_id)}>${r.status === 'released' ? 'Show the records' : 'Details'}</button></td></tr>`)}</tbody></table></div>`
      : html`<${Empty}>No requests sent yet. Use “Request formally” on a search’s hit.<//>`}
    ${open && html`<${RequestDetail} id=${open} onClose=${() => setOpen(null)} onProblem=${onProblem} />`}
  </section>`;
}

function Decide({ r, onDone, onProblem }) {
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState({});
  const key = 'reason-' + r.request_id;
  const decide = async (decision) => {
    if (!reason.trim()) { setErrors({ [key]: 'Give the reason for your decision; the requesting state sees it.' }); return; }
    try {
      await api('POST', `/v1/requests/${encodeURIComponent(r.request_id)}/decision`, { decision, reason: reason.trim() });
      onDone();
    } catch (e) {
      if (isBannerError(e)) onProblem(e.message);
      else setErrors(e.field === 'reason' ? { [key]: e.message } : { _form: e.message });
    }
  };
  return html`<div class="decide">
     <${Field} name=${key} label="Reason for the decision" value=${reason} onInput=${setReason} errors=${errors} />
    ${errors._form && html`<div class="error" role="alert">${errors._form}</div>`}
    <button type="button" class="primary" onClick=${() => decide('release')}>Release</button>
    <button type="button" onClick=${() => decide('decline')}>Decline</button>
  </div>`;
}

function Inbox({ onProblem }) {
  const [s, reload] = useLoad('/v1/requests?box=inbox', []);
  if (s.loading) return html`<p>Loading…</p>`;
  if (s.error) return html`<${Empty}>${notOffered(s.error) ? 'This hub does not offer follow-up requests yet.' : s.error.message}<//>`;
  const list = [...(s.data.requests || [])].sort((a, b) => (b.overdue - a.overdue) || (a.status === 'open' ? -1 : 0) - (b.status === 'open' ? -1 : 0) || String(a.due).localeCompare(String(b.due)));
  return html`<section aria-label="Inbox"><h2>Requests to my state</h2>
    ${list.length ? list.map((r) => html`<article class=${'card request' + (r.overdue ? ' overdue' : '')} data-request=${r.request_id}>
      <header><h3>From ${r.from && r.from.state}${r.from && r.from.agency ? ', ' + r.from.agency : ''}</h3><${Status} r=${r} /></header>
      <dl class="kv">
        <div><dt>Purpose</dt><dd>${word(PURPOSES, r.purpose)}</dd></div>
        <div><dt>Legal basis</dt><dd>${word(LEGAL_BASES, r.legal_basis)}</dd></div>
        <div><dt>Priority</dt><dd>${word(PRIORITIES, r.priority)}</dd></div>
        <div><dt>Case</dt><dd>${r.case_ref}</dd></div>
        <div><dt>Due</dt><dd>${when(r.due)}</dd></div>
        <div><dt>Hit reference</dt><dd><code class="ref">${r.hit_ref}</code></dd></div>
      </dl>
      <p>${r.justification}</p>
      ${r.status === 'open' ? html`<${Decide} r=${r} onDone=${reload} onProblem=${onProblem} />`
        : r.decision && html`<p class="muted">Decided ${when(r.decided)}: ${r.decision.reason}</p>`}
    </article>`) : html`<${Empty}>No requests addressed to your state.<//>`}
  </section>`;
}

const FP_LABELS = {
  unit: 'Unit', name: 'Contact name', email: 'Email', phone: 'Phone', channel: 'Channel',
  hours: 'Hours', timezone: 'Time zone', verified_at: 'Verified on (YYYY-MM-DD)',
};
const FP_FIELDS = Object.keys(FP_LABELS);
const CHANNELS = { formal: 'Formal requests', informal: 'Informal contact', both: 'Formal and informal' };

function Directory({ claims, onProblem }) {
  const [s, reload] = useLoad('/v1/focal-points', []);
  const [editing, setEditing] = useState(null);
  const [errors, setErrors] = useState({});
  const roles = claims.roles || [];
  const mayEdit = roles.includes('admin') || roles.includes('focal_point_admin');
  if (s.loading) return html`<p>Loading…</p>`;
  if (s.error) return html`<${Empty}>${notOffered(s.error) ? 'This hub has no focal point directory yet; contacts come from each state’s policy file (Search shows them).' : s.error.message}<//>`;
  const list = s.data.focal_points || [];
  const save = async (e) => {
    e.preventDefault();
    try {
      const { state, stale, ...fields } = editing; // stale is the hub's to compute
      const entry = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== ''));
      await api('PUT', `/v1/focal-points/${state}`, { focal_points: [entry] });
      setEditing(null);
      reload();
    } catch (err) {
      if (isBannerError(err)) onProblem(err.message);
      else if (err.field) { // "channel" or "focal_points[0].channel": the edit form's field
        const key = 'fp-' + err.field.split('.').pop().replace(/\[\d+\]$/, '');
        setErrors(FP_FIELDS.includes(key.slice(3)) ? { [key]: err.message } : { _form: err.message });
      } else setErrors({ _form: err.message });
    }
  };
  const set = (k) => (v) => setEditing({ ...editing, [k]: v });
  const mine = list.some((f) => f.state === claims.state);
  const add = mayEdit && !mine && html`<button type="button" onClick=${() => { setErrors({}); setEditing({ state: claims.state, channel: 'formal' }); }}>Add ${claims.state}’s focal point</button>`;
  return html`<section class="card" aria-label="Focal point directory"><h2>Focal point directory</h2>
    ${list.length ? '' : html`<${Empty}>No focal point is registered yet; contacts come from each state’s policy file.<//>`}
    ${list.length ? html`<div class="table-wrap"><table><thead><tr><th scope="col">State</th><th scope="col">Contact</th><th scope="col">Hours</th><th scope="col">Verified</th>${mayEdit && html`<th scope="col"><span class="sr-only">Edit</span></th>`}</tr></thead>
    <tbody>${list.map((f) => html`<tr class=${f.stale ? 'stale' : ''}><td>${f.state}</td><td><${Contact} contact=${f} label="" /></td>
      <td>${f.hours} ${f.timezone}</td><td>${f.verified_at}${f.stale ? html` <span class="badge stale">stale — verify</span>` : ''}</td>
      ${mayEdit && html`<td>${(roles.includes('admin') || f.state === claims.state) && html`<button type="button" onClick=${() => { setErrors({}); setEditing({ channel: 'formal', ...f }); }}>Edit</button>`}</td>`}</tr>`)}</tbody></table></div>` : ''}
    ${!editing && add}
    ${editing && html`<form onSubmit=${save} aria-label="Edit focal point"><h3>Edit ${editing.state}</h3><div class="grid">
      ${FP_FIELDS.map((k) => (k === 'channel'
        ? html`<${Select} name="fp-channel" label=${FP_LABELS[k]} table=${CHANNELS} value=${editing.channel || 'formal'} onInput=${set(k)} errors=${errors} />`
        : html`<${Field} name=${'fp-' + k} label=${FP_LABELS[k]} value=${editing[k] || ''} onInput=${set(k)} errors=${errors} />`))}
      </div>${errors._form && html`<div class="error" role="alert">${errors._form}</div>`}
      <div class="actions"><button class="primary" type="submit">Save</button><button type="button" onClick=${() => setEditing(null)}>Cancel</button></div></form>`}
  </section>`;
}

export function FollowupView({ claims, onProblem, followupDraft, clearFollowupDraft }) {
  const roles = claims.roles || [];
  const [sent, setSent] = useState(0);
  return html`<div>
    <h1>Follow-up</h1>
    ${followupDraft && roles.includes('analyst') && html`<${NewRequest} draft=${followupDraft} onProblem=${onProblem}
      onSent=${() => { clearFollowupDraft(); setSent(sent + 1); }} onCancel=${clearFollowupDraft} />`}
    ${roles.includes('analyst') && html`<${Outbox} key=${sent} onProblem=${onProblem} />`}
    ${roles.includes('focal_point') && html`<${Inbox} onProblem=${onProblem} />`}
    <${Directory} claims=${claims} onProblem=${onProblem} />
  </div>`;
}
