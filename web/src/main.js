// The workspace: sign-in with a token, the identity bar, and one view per task, each
// shown only to the roles that may use it.
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, session, decodeToken, onUnauthenticated } from './api.js';
import { html, Banner } from './ui.js';
import { ROLES, word } from './words.js';
import { SearchView } from './views/search.js';
import { FollowupView } from './views/followup.js';
import { PlaygroundView } from './views/playground.js';
import { OversightView } from './views/oversight.js';

const VIEWS = [
  { id: 'search', title: 'Search', roles: ['analyst'], View: SearchView },
  { id: 'followup', title: 'Follow-up', roles: ['analyst', 'focal_point', 'focal_point_admin', 'admin'], View: FollowupView },
  { id: 'policy', title: 'Policy playground', roles: ['legal_officer', 'admin'], View: PlaygroundView },
  { id: 'oversight', title: 'Oversight', roles: ['auditor', 'admin'], View: OversightView },
];

function SignIn({ onToken, problem }) {
  const [text, setText] = useState('');
  const [err, setErr] = useState(problem || null);
  const submit = (e) => {
    e.preventDefault();
    const t = text.trim().replace(/^Bearer\s+/i, '');
    if (!decodeToken(t)) {
      setErr('This is not a token: a token has three parts separated by dots (header.payload.signature).');
      return;
    }
    onToken(t);
  };
  return html`<main class="signin" id="main">
    <h1>fedbroker workspace</h1>
    <p>Federated search across the participating states’ national systems. Each state’s own rules decide what it shares; every search is audited.</p>
    <form onSubmit=${submit} class="card">
      <div class=${'field' + (err ? ' has-error' : '')}>
        <label for="token">Access token</label>
        <input id="token" type="password" autocomplete="off" spellcheck="false" value=${text}
          aria-describedby="token-hint${err ? ' token-err' : ''}" aria-invalid=${err ? 'true' : undefined}
          onInput=${(e) => setText(e.currentTarget.value)} />
        <div class="hint" id="token-hint">Paste the token your identity provider issued (with <code>fedbroker demo</code>: one line of tokens.env). It is kept for this browser tab only and forgotten when the tab closes.</div>
        ${err && html`<div class="error" id="token-err" role="alert">${err}</div>`}
      </div>
      <button type="submit" class="primary">Sign in</button>
    </form>
  </main>`;
}

function expiry(claims, now) {
  if (!claims.exp) return 'no expiry';
  const left = claims.exp * 1000 - now;
  if (left <= 0) return 'expired';
  const min = Math.round(left / 60000);
  const at = new Date(claims.exp * 1000).toLocaleTimeString(undefined, { timeStyle: 'short' });
  return min < 120 ? `expires in ${min} min (${at})` : `expires ${new Date(claims.exp * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}`;
}

function IdentityBar({ claims, state, onSignOut }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30000);
    return () => clearInterval(t);
  }, []);
  const roles = claims.roles || [];
  const expired = claims.exp && claims.exp * 1000 <= now;
  return html`<header class="identity" aria-label="Signed in as">
    <span class="brand">fedbroker</span>
    <span class="who"><strong>${claims.sub}</strong>${claims.agency ? ', ' + claims.agency : ''}</span>
    <span class="state">${state ? `${state.name} (${state.state})` : claims.state}</span>
    <span class="roles">${roles.map((r) => html`<span class="tag">${word(ROLES, r)}</span>`)}</span>
    <span class=${'exp' + (expired ? ' bad' : '')}>Token ${expiry(claims, now)}</span>
    <button type="button" class="link" onClick=${onSignOut}>Sign out</button>
  </header>`;
}

function App() {
  const [token, setToken] = useState(session.token());
  const [states, setStates] = useState(null);
  const [deadlines, setDeadlines] = useState({});
  const [problem, setProblem] = useState(null);
  const [signInProblem, setSignInProblem] = useState(null);
  const [hash, setHash] = useState(location.hash.slice(1));
  const [followupDraft, setFollowupDraft] = useState(null);
  const claims = token ? decodeToken(token) : null;

  useEffect(() => {
    const f = () => { setHash(location.hash.slice(1)); setProblem(null); };
    addEventListener('hashchange', f);
    onUnauthenticated(() => {
      session.clear();
      setToken('');
      setSignInProblem('The hub did not accept the token (expired, or from an unknown issuer). Paste a current one.');
    });
    return () => removeEventListener('hashchange', f);
  }, []);

  useEffect(() => {
    if (!token) return;
    api('GET', '/v1/states')
      .then((r) => { setStates(r.states); setDeadlines(r.deadlines_ms || {}); })
      .catch((e) => e.status !== 401 && setProblem(e.message));
  }, [token]);

  if (!token || !claims) {
    return html`<${SignIn} problem=${signInProblem} onToken=${(t) => { session.set(t); setSignInProblem(null); setToken(t); }} />`;
  }
  const roles = claims.roles || [];
  const allowed = VIEWS.filter((v) => v.roles.some((r) => roles.includes(r)));
  const current = allowed.find((v) => v.id === hash) || allowed[0];
  const own = states && states.find((s) => s.state === claims.state);
  const signOut = () => { session.clear(); setToken(''); setStates(null); };
  const requestFormally = (draft) => { setFollowupDraft(draft); location.hash = 'followup'; };

  return html`
    <a class="skip" href="#main">Skip to content</a>
    <${IdentityBar} claims=${claims} state=${own} onSignOut=${signOut} />
    ${allowed.length > 1 && html`<nav aria-label="Views"><ul>
      ${allowed.map((v) => html`<li><a href=${'#' + v.id} aria-current=${v === current ? 'page' : undefined}>${v.title}</a></li>`)}
    </ul></nav>`}
    <${Banner} problem=${problem} onClose=${() => setProblem(null)} />
    <main id="main">
      ${current
        ? html`<${current.View} claims=${claims} states=${states || []} deadlines=${deadlines}
            onProblem=${setProblem} onRequestFormally=${requestFormally}
            followupDraft=${followupDraft} clearFollowupDraft=${() => setFollowupDraft(null)} />`
        : html`<p class="empty">Your roles (${roles.map((r) => word(ROLES, r)).join(', ') || 'none'}) give access to no view of this workspace.</p>`}
    </main>`;
}

render(html`<${App} />`, document.getElementById('app'));
