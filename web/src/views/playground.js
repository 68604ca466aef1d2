// Policy playground (legal officer): a policy file in an editor, a request, and the
// decision with its trace beside it, evaluated on the draft without deploying it;
// the draft's tests, the replay of past audited requests and the proof over every
// possible request (both POST /v1/policy/diff).
import { useEffect, useRef, useState } from 'preact/hooks';
import { EditorView, basicSetup } from 'codemirror';
import { StreamLanguage } from '@codemirror/language';
import { lua } from '@codemirror/legacy-modes/mode/lua';
import { setDiagnostics, lintGutter } from '@codemirror/lint';
import { api, isBannerError } from '../api.js';
import { html, Field, Select, fieldErrors, Contact, Empty } from '../ui.js';
import { PURPOSES, PRIORITIES, LEGAL_BASES, EFFECTS, ROLES, VERDICTS, word } from '../words.js';

const REQUEST_FIELDS = ['subject.name', 'subject.document', 'subject', 'purpose', 'priority', 'legal_basis', 'justification', 'case_ref', 'states', 'as.state', 'as'];

function Editor({ file, text, onChange, problems }) {
  const host = useRef(null);
  const view = useRef(null);
  useEffect(() => {
    // In a shadow root CodeMirror's styles go to a constructed style sheet, which the
    // page's CSP (style-src 'self', nothing inline) allows; in the document they would
    // be an inline <style> element, which it blocks.
    const root = host.current.shadowRoot || host.current.attachShadow({ mode: 'open' });
    root.replaceChildren();
    view.current = new EditorView({
      doc: text,
      parent: root,
      root,
      extensions: [basicSetup, StreamLanguage.define(lua), lintGutter(),
        EditorView.lineWrapping, EditorView.theme({ '&': { fontSize: '14px' } }),
        EditorView.contentAttributes.of({ 'aria-label': 'Policy file ' + file }),
        EditorView.updateListener.of((u) => u.docChanged && onChange(u.state.doc.toString()))],
    });
    return () => view.current.destroy();
  }, [file]);
  useEffect(() => { // a reset from outside (reload of the live file)
    const v = view.current;
    if (v && v.state.doc.toString() !== text) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: text } });
  }, [text]);
  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const diags = (problems || []).filter((p) => !p.file || p.file === file).map((p) => {
      const n = Math.min(Math.max(1, p.line || 1), v.state.doc.lines);
      const line = v.state.doc.line(n);
      return { from: line.from, to: line.to, severity: 'error', message: p.message };
    });
    v.dispatch(setDiagnostics(v.state, diags));
  }, [problems, file]);
  // The host scrolls (the editor grows with its text and wraps long lines).
  return html`<div class="editor" ref=${host} tabindex="0" role="region" aria-label=${'Editor for ' + file}></div>`;
}

function Trace({ trace }) {
  if (!trace || !trace.length) return null;
  return html`<div class="table-wrap"><table class="trace"><caption>Rules considered, in order</caption>
    <thead><tr><th scope="col">Rule</th><th scope="col">Kind</th><th scope="col">Matched</th><th scope="col">Why</th></tr></thead>
    <tbody>${trace.map((t) => html`<tr class=${t.matched ? 'matched' : ''}><td>${t.rule}</td><td>${String(t.kind).replace(/_/g, ' ')}</td>
      <td>${t.matched ? 'yes' : 'no'}</td><td>${t.why}</td></tr>`)}</tbody></table></div>`;
}

function Decision({ s }) {
  return html`<article class=${'card decision e-' + s.effect} data-state=${s.state}>
    <header><h3>${s.state}</h3><span class=${'badge e-' + s.effect}>${word(EFFECTS, s.effect)}</span></header>
    <p>Deciding rule: <q>${s.rule}</q>${s.review ? ' — asks for review' : ''}</p>
    ${s.reason && html`<p>${s.reason}</p>`}
    ${s.redactions && s.redactions.length ? html`<p class="muted">Redactions: ${s.redactions.map((r) => typeof r === 'string' ? r : r.rule || JSON.stringify(r)).join('; ')}</p>` : ''}
    <${Trace} trace=${s.trace} />
    ${s.effect !== 'allow' && html`<${Contact} contact=${s.contact} />`}
  </article>`;
}

function Diff({ diff }) {
  return html`<section class="card" aria-label="Replay"><h2>What the draft would change</h2>
    <p>${diff.replayed} past request${diff.replayed === 1 ? '' : 's'} replayed; ${diff.changed} would be decided differently.</p>
    ${diff.changes && diff.changes.length ? html`<div class="table-wrap"><table><thead><tr><th scope="col">State</th><th scope="col">Live</th><th scope="col">Draft</th><th scope="col">Requests</th><th scope="col">Examples</th></tr></thead>
      <tbody>${diff.changes.map((c) => html`<tr><td>${c.state}</td><td>${word(EFFECTS, c.from.effect)} (${c.from.rule})</td>
        <td>${word(EFFECTS, c.to.effect)} (${c.to.rule})</td><td>${c.count}</td><td>${(c.examples || []).map((q) => html`<code>${q}</code> `)}</td></tr>`)}</tbody></table></div>` : ''}
  </section>`;
}

// What the proof could not see, in the words of `fedbroker policy prove`.
function notProved(u) {
  const where = `${u.policy}, ${u.version} version${u.version === 'both' ? 's' : ''}`;
  if (u.in === 'outbound') return `outbound rule ‘${u.rule}’ (${where}) decides what ${u.state}’s officers may send, not what ${u.state} answers`;
  return `${u.in} in rule ‘${u.rule}’ (${where}) cannot be enumerated; differences that depend on it say so`;
}

const n = (x) => Number(x).toLocaleString('en');

function Regions({ title, regions, change }) {
  if (!regions.length) return null;
  return html`<h3>${title} (${regions.length})</h3>
    <ul class=${'regions ' + change}>${regions.map((r) => html`<li>${r.text}</li>`)}</ul>`;
}

// The exhaustive proof: the verdict first, then the regions by direction, then what
// it could not prove. `of` is the text proved, so a later edit marks it out of date.
function Proof({ proof, text }) {
  const head = useRef(null);
  // A new proof appears below the decisions: take the reader (and focus) to it.
  useEffect(() => head.current.focus(), [proof]);
  const [verdict, meaning] = VERDICTS[proof.verdict] || [proof.verdict, ''];
  const regions = proof.regions || [];
  const unknown = proof.unknown || [];
  return html`<section class="card proof" aria-label="Proof">
    <h2 tabindex="-1" ref=${head}>What the draft changes, for every possible request</h2>
    <p class=${'verdict v-' + proof.verdict} role="status"><strong>Verdict: ${verdict}</strong>${meaning && ' — ' + meaning}.</p>
    ${proof.of !== text && html`<p class="note">The draft has changed since this proof: prove it again.</p>`}
    <p class="muted">Proved over ${n(proof.space)} requests × ${n(proof.record_classes)} kinds of record (${n(proof.evaluated)} points decided per version).</p>
    <${Regions} title="Shares more" change="widens" regions=${regions.filter((r) => r.change === 'widens')} />
    <${Regions} title="Shares less" change="narrows" regions=${regions.filter((r) => r.change !== 'widens')} />
    ${unknown.length ? html`<h3>Not proved (${unknown.length})</h3>
      <ul class="unknown">${unknown.map((u) => html`<li>not proved: ${notProved(u)}</li>`)}</ul>` : ''}
  </section>`;
}

export function PlaygroundView({ claims, states, onProblem }) {
  const [files, setFiles] = useState([]);
  const [file, setFile] = useState('');
  const [live, setLive] = useState('');
  const [text, setText] = useState('');
  const [problems, setProblems] = useState([]);
  const [note, setNote] = useState(null);
  const [errors, setErrors] = useState({});
  const [result, setResult] = useState(null);
  const [diff, setDiff] = useState(null);
  const [proof, setProof] = useState(null);
  const [busy, setBusy] = useState(false);
  const [runTests, setRunTests] = useState(false);
  const [q, setQ] = useState({
    as: claims.state || 'MYS', name: '', document: 'A12345678', purpose: 'investigation', priority: 'routine',
    legal_basis: 'informal', justification: 'Checking what an informal request would return', case_ref: '',
  });
  const set = (k) => (v) => setQ({ ...q, [k]: v });

  useEffect(() => {
    api('GET', '/v1/policy/files').then((r) => {
      setFiles(r.files);
      const mine = r.files.find((f) => f === claims.state + '.lua') || r.files[0];
      if (mine) setFile(mine);
    }).catch((e) => onProblem(e.message));
  }, []);
  useEffect(() => {
    if (!file) return;
    api('GET', '/v1/policy/files/' + encodeURIComponent(file)).then((r) => { setLive(r.text); setText(r.text); setProblems([]); })
      .catch((e) => onProblem(e.message));
  }, [file]);

  const edited = text !== live;
  const request = () => {
    const subject = {};
    if (q.name.trim()) subject.name = q.name.trim();
    if (q.document.trim()) subject.document = q.document.trim();
    const body = { subject, purpose: q.purpose, priority: q.priority, legal_basis: q.legal_basis, justification: q.justification, as: { state: q.as, roles: ['analyst'] } };
    if (q.case_ref.trim()) body.case_ref = q.case_ref.trim();
    return body;
  };
  const failed = (e) => {
    if (e.extra && e.extra.problems) {
      setResult(null); // the decision shown must be the draft's, and there is none
      setDiff(null);
      setProof(null);
      setProblems(e.extra.problems);
      setNote('The draft does not load: ' + e.extra.problems.map((p) => `${p.file} line ${p.line}: ${p.message}`).join('; '));
    } else if (isBannerError(e)) onProblem(e.message);
    else setErrors(fieldErrors(e, REQUEST_FIELDS));
  };

  const evaluate = async (ev) => {
    ev.preventDefault();
    setBusy(true); setErrors({}); setNote(null); setProblems([]);
    const body = request();
    if (edited) body.draft = { [file]: text };
    if (edited && runTests) body.tests = true;
    try {
      setResult(await api('POST', '/v1/policy/evaluate', body));
    } catch (e) {
      if (edited && e.status === 400 && (e.field === 'draft' || e.field === 'tests')) {
        // A hub without drafts: say so, and show the live decision instead.
        setNote('This hub cannot evaluate drafts yet: the decision below is the live policy’s.');
        delete body.draft; delete body.tests;
        try { setResult(await api('POST', '/v1/policy/evaluate', body)); } catch (e2) { failed(e2); }
      } else failed(e);
    } finally { setBusy(false); }
  };

  const replay = async () => {
    setBusy(true); setNote(null);
    try {
      setDiff(await api('POST', '/v1/policy/diff', { draft: { [file]: text }, limit: 1000 }));
    } catch (e) {
      if (e.status === 404 || e.status === 405) setNote('This hub cannot replay past requests yet.');
      else failed(e);
    } finally { setBusy(false); }
  };

  const prove = async () => {
    setBusy(true); setNote(null); setProblems([]);
    const of = text;
    try {
      setProof({ ...await api('POST', '/v1/policy/diff', { draft: { [file]: of }, exhaustive: true }), of });
    } catch (e) {
      setProof(null);
      if (e.status === 404 || e.status === 405 || (e.status === 400 && e.field === 'exhaustive')) setNote('This hub cannot prove drafts yet.');
      else if (e.status === 422 && !(e.extra && e.extra.problems)) setNote('The proof was refused: ' + e.message);
      else failed(e);
    } finally { setBusy(false); }
  };

  const stateTable = Object.fromEntries(states.map((s) => [s.state, `${s.name} (${s.state})`]));
  return html`<div class="playground">
    <h1>Policy playground</h1>
    <p class="hint">Edit a state’s rules and see how a request would be decided. Nothing is deployed: the live policy changes only when the file on the hub changes.</p>
    <div class="split">
      <section class="card" aria-label="Policy file">
        <div class="field"><label for="f-file">Policy file</label>
          <select id="f-file" value=${file} onChange=${(e) => setFile(e.currentTarget.value)}>
            ${files.map((f) => html`<option value=${f} selected=${f === file}>${f}</option>`)}</select></div>
        ${file && html`<${Editor} file=${file} text=${text} onChange=${setText} problems=${problems} />`}
        <p class="muted">${edited ? 'Draft: differs from the live file.' : 'Live file, unchanged.'}
          ${edited && html` <button type="button" class="link" onClick=${() => { setText(live); setProblems([]); }}>Back to the live file</button>`}</p>
        ${note && html`<div class="note" role="status">${note}</div>`}
      </section>
      <section aria-label="Request and decision">
        <form class="card" onSubmit=${evaluate} aria-label="Request to evaluate">
          <div class="grid">
            <${Select} name="as.state" label="Requesting state" table=${stateTable} value=${q.as} onInput=${set('as')} errors=${errors} />
            <${Select} name="purpose" label="Purpose" table=${PURPOSES} value=${q.purpose} onInput=${set('purpose')} errors=${errors} />
            <${Select} name="priority" label="Priority" table=${PRIORITIES} value=${q.priority} onInput=${set('priority')} errors=${errors} />
            <${Select} name="legal_basis" label="Legal basis" table=${LEGAL_BASES} value=${q.legal_basis} onInput=${set('legal_basis')} errors=${errors} />
            <${Field} name="subject.name" label="Name" value=${q.name} onInput=${set('name')} errors=${errors} />
            <${Field} name="subject.document" label="Document number" value=${q.document} onInput=${set('document')} errors=${errors} />
            <${Field} name="case_ref" label="Case reference" value=${q.case_ref} onInput=${set('case_ref')} errors=${errors} />
          </div>
          <${Field} name="justification" label="Justification" textarea rows="2" value=${q.justification} onInput=${set('justification')} errors=${errors} />
          ${errors.subject && html`<div class="error" role="alert">${errors.subject}</div>`}
          ${errors._form && html`<div class="error" role="alert">${errors._form}</div>`}
          <label class="check"><input type="checkbox" checked=${runTests} onChange=${(e) => setRunTests(e.currentTarget.checked)} /> Run the draft’s tests</label>
          <div class="actions">
            <button type="submit" class="primary" disabled=${busy}>Evaluate</button>
            <button type="button" disabled=${busy || !edited} onClick=${replay}>Replay past requests</button>
            <button type="button" disabled=${busy || !edited} onClick=${prove}>Prove</button>
          </div>
          <p class="muted">Evaluated as an analyst of the requesting state (${word(ROLES, 'analyst')}).</p>
        </form>
        ${result && result.tests && html`<div class=${'card tests ' + (result.tests.failed ? 'bad' : 'good')}>Tests: ${result.tests.passed} passed, ${result.tests.failed} failed
          ${(result.tests.failures || []).map((f) => html`<div class="muted">${typeof f === 'string' ? f : f.message || JSON.stringify(f)}</div>`)}</div>`}
        ${result && (result.states.length ? result.states.map((s) => html`<${Decision} s=${s} />`) : html`<${Empty}>No state to decide.<//>`)}
        ${proof && html`<${Proof} proof=${proof} text=${text} />`}
        ${diff && html`<${Diff} diff=${diff} />`}
      </section>
    </div>
  </div>`;
}
