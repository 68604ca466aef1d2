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
import { OversightView } from './views/oversight.js';

// The playground (CodeMirror) loads only when opened: analysts never download it.
function LazyPlayground(props) {
  const [View, setView] = useState(null);
  useEffect(() => {
    import('./views/playground.js').then((m) => setView(() => m.PlaygroundView))
      .catch(() => props.onProblem('The policy playground could not be loaded. Reload the page.'));
  }, []);
  return View ? html`<${View} ...${props} />` : html`<p>Loading the policy playground…</p>`;
}

const VIEWS = [
  { id: 'search', title: 'Search', roles: ['analyst'], View: SearchView },
  { id: 'followup', title: 'Follow-up', roles: ['analyst', 'focal_point', 'focal_point_admin', 'admin'], View: FollowupView },
  { id: 'policy', title: 'Policy playground', roles: ['legal_officer', 'admin'], View: LazyPlayground },
  { id: 'oversight', title: 'Oversight', roles: ['auditor', 'admin'], View: OversightView },
];

function SignIn({ onToken, onCertificate, problem }) {
  const [text, setText] = useState('');
  const [err, setErr] = useState(problem || null);
  const [certErr, setCertErr] = useState(null);
  const useCertificate = async () => {
    try {
      onCertificate(await api('GET', '/v1/me'));
    } catch (e) {
      setCertErr(e.status === 401
        ? 'The hub did not receive a client certificate it trusts. Install your certificate in the browser and open the hub’s https address, or paste a token.'
        : e.message);
    }
  };
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
    <div class="card">
      <p>Or, where the hub accepts client certificates (https):</p>
      <button type="button" onClick=${useCertificate}>Use my client certificate</button>
      ${certErr && html`<div class="error" role="alert">${certErr}</div>`}
    </div>
  </main>`;
}

function expiry(claims, now) {
  if (claims.via === 'certificate') return 'from your client certificate';
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
    <span class=${'exp' + (expired ? ' bad' : '')}>${claims.via === 'certificate' ? 'Signed in' : 'Token'} ${expiry(claims, now)}</span>
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
  const [certificate, setCertificate] = useState(session.certificate());
  const [me, setMe] = useState(null); // the identity as the hub checked it (GET /v1/me)
  // Until /v1/me answers (or on a hub without it), the token's own claims.
  const claims = me || (token ? decodeToken(token) : null);
  const signedIn = (token && claims) || (certificate && me);

  useEffect(() => {
    const f = () => { setHash(location.hash.slice(1)); setProblem(null); };
    addEventListener('hashchange', f);
    onUnauthenticated(() => {
      session.clear();
      setToken('');
      setCertificate(false);
      setMe(null);
      setSignInProblem('The hub did not accept the token (expired, or from an unknown issuer). Paste a current one.');
    });
    return () => removeEventListener('hashchange', f);
  }, []);

  useEffect(() => {
    if (!token && !certificate) return;
    api('GET', '/v1/me').then(setMe).catch(() => { /* an older hub: the token's claims */ });
    api('GET', '/v1/states')
      .then((r) => { setStates(r.states); setDeadlines(r.deadlines_ms || {}); })
      .catch((e) => e.status !== 401 && setProblem(e.message));
  }, [token, certificate]);

  if (!signedIn) {
    return html`<${SignIn} problem=${signInProblem}
      onToken=${(t) => { session.set(t); setSignInProblem(null); setToken(t); }}
      onCertificate=${(id) => { session.setCertificate(); setMe(id); setCertificate(true); }} />`;
  }
  const roles = claims.roles || [];
  const allowed = VIEWS.filter((v) => v.roles.some((r) => roles.includes(r)));
  const current = allowed.find((v) => v.id === hash) || allowed[0];
  const own = states && states.find((s) => s.state === claims.state);
  const signOut = () => { session.clear(); setToken(''); setCertificate(false); setMe(null); setStates(null); };
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
