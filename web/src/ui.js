// Small shared pieces: html (htm bound to Preact), form fields with their error
// message, the problem banner, outcome badges, a focal point's contact.
import { h } from 'preact';
import htm from 'htm';
import { word, OUTCOMES } from './words.js';

export const html = htm.bind(h);

const fid = (name) => 'f-' + name.replace(/[^a-zA-Z0-9_-]/g, '-');

// A labelled input; `errors` maps API field paths to messages.
export function Field({ name, label, hint, errors, type = 'text', value, onInput, textarea, ...rest }) {
  const id = fid(name);
  const err = errors && errors[name];
  const describedBy = [hint ? id + '-hint' : null, err ? id + '-err' : null].filter(Boolean).join(' ') || undefined;
  const props = {
    id, name, value, 'aria-invalid': err ? 'true' : undefined, 'aria-describedby': describedBy,
    onInput: (e) => onInput(e.currentTarget.value), ...rest,
  };
  return html`<div class=${'field' + (err ? ' has-error' : '')}>
    <label for=${id}>${label}</label>
    ${textarea ? html`<textarea ...${props}></textarea>` : html`<input type=${type} ...${props} />`}
    ${hint && html`<div class="hint" id=${id + '-hint'}>${hint}</div>`}
    ${err && html`<div class="error" id=${id + '-err'} role="alert">${err}</div>`}
  </div>`;
}

export function Select({ name, label, table, errors, value, onInput, hint }) {
  const id = fid(name);
  const err = errors && errors[name];
  return html`<div class=${'field' + (err ? ' has-error' : '')}>
    <label for=${id}>${label}</label>
    <select id=${id} name=${name} value=${value} aria-invalid=${err ? 'true' : undefined}
      aria-describedby=${err ? id + '-err' : hint ? id + '-hint' : undefined}
      onChange=${(e) => onInput(e.currentTarget.value)}>
      ${Object.entries(table).map(([k, v]) => html`<option value=${k} selected=${k === value}>${v}</option>`)}
    </select>
    ${hint && html`<div class="hint" id=${id + '-hint'}>${hint}</div>`}
    ${err && html`<div class="error" id=${id + '-err'} role="alert">${err}</div>`}
  </div>`;
}

// Splits an API error into a message at its field (when the form has that field)
// or a message for the whole form.
export function fieldErrors(e, known) {
  if (e && e.field) {
    const key = known.find((k) => e.field === k || e.field.startsWith(k + '[') || e.field.startsWith(k + '.'));
    if (key) return { [key]: e.message };
  }
  return { _form: e ? e.message : null };
}

export function Banner({ problem, onClose }) {
  if (!problem) return null;
  return html`<div class="banner" role="alert">
    <span>${problem}</span>
    <button type="button" class="link" onClick=${onClose}>Dismiss</button>
  </div>`;
}

export const Badge = ({ outcome }) => html`<span class=${'badge o-' + outcome}>${word(OUTCOMES, outcome)}</span>`;

export function Contact({ contact, label = 'Focal point' }) {
  if (!contact) return null;
  return html`<div class="contact">
    <div class="k">${label}</div>
    ${contact.unit && html`<div>${contact.unit}</div>`}
    ${contact.name && html`<div>${contact.name}</div>`}
    ${contact.email && html`<div><a href=${'mailto:' + contact.email}>${contact.email}</a></div>`}
    ${contact.phone && html`<div>${contact.phone}</div>`}
    ${contact.channel && html`<div class="muted">Channel: ${contact.channel}</div>`}
  </div>`;
}

export const Empty = ({ children }) => html`<p class="empty">${children}</p>`;
