// The Keyhold admin console: a dependency-free single-page app. It signs in through Keyhold's own
// authorization-code flow with PKCE (public client `keyhold-admin-console`), keeps the access token in
// sessionStorage for this tab only, and calls the admin API (/api/v1) with it.

const SESSION_KEY = 'keyhold.console.session';
const PENDING_KEY = 'keyhold.console.pending';
const SIGNED_OUT_STATE = 'signed-out';

/** Client types the console can create; `fields` decides which parts of the form apply. */
const CLIENT_TYPES = [
  { value: 'hybrid', label: 'Hybrid', fields: ['redirectUris', 'postLogoutRedirectUris', 'allowRefreshToken', 'secrets'] },
  { value: 'authorization-code', label: 'Authorization Code', fields: ['redirectUris', 'postLogoutRedirectUris', 'allowedCorsOrigins'] },
  { value: 'client-credentials', label: 'Client Credentials', fields: ['roles', 'secrets'] },
];
const typeInfo = (value) => CLIENT_TYPES.find((t) => t.value === value) ?? CLIENT_TYPES[0];
const has = (type, field) => typeInfo(type).fields.includes(field);

const LABELS = {
  name: 'Name',
  enabled: 'Enabled',
  redirectUris: 'Allowed Redirect URL(s)',
  postLogoutRedirectUris: 'Allowed Logout Redirect URL(s)',
  allowedCorsOrigins: 'Allowed CORS origin(s)',
  allowRefreshToken: 'Allow Refresh Token',
  accessTokenLifetime: 'Token Lifetime',
  roles: 'Roles',
  description: 'Description',
  expiresAt: 'Expiration date',
  neverExpires: 'Never Expires',
  username: 'Username',
  email: 'Email',
  password: 'Password',
  disabled: 'Disabled',
};

const main = document.getElementById('main');
const announcer = document.getElementById('announcer');
let config;
let discovery;
let session;
let clientType = sessionStorage.getItem('keyhold.console.type') ?? 'hybrid';
let uid = 0;

// ---------------------------------------------------------------------------------------------
// DOM helpers: elements are built with textContent only, never from HTML strings.

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'value') el.value = value;
    else if (key === 'checked') el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const nextId = (prefix) => `${prefix}-${++uid}`;

function announce(message) {
  announcer.textContent = '';
  setTimeout(() => (announcer.textContent = message), 50);
}

function formatDate(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function isoDay(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// ---------------------------------------------------------------------------------------------
// Sign-in: authorization code + PKCE S256, against the endpoints published in discovery.

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const randomString = (n = 32) => b64url(crypto.getRandomValues(new Uint8Array(n)));

function decodeJwt(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    return JSON.parse(json);
  } catch {
    return {};
  }
}

function loadSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    return saved && saved.expiresAt > Date.now() + 30_000 ? saved : undefined;
  } catch {
    return undefined;
  }
}

async function signIn(returnTo = location.hash) {
  const verifier = randomString(32);
  const pending = { verifier, state: randomString(16), nonce: randomString(16), returnTo };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: config.clientId,
    response_type: 'code',
    redirect_uri: config.redirectUri,
    scope: `openid profile email ${config.adminScope}`,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.href);
}

/** Handles /admin/callback: checks state (and iss), exchanges the code, stores the tokens. */
async function finishSignIn() {
  const params = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null');
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, '', '/admin/');
  if (params.get('error')) {
    const cancelled = params.get('error') === 'access_denied';
    throw new UserFacing(
      cancelled ? 'Sign-in was cancelled' : 'Sign-in did not complete',
      cancelled ? 'You cancelled the sign-in.' : `Keyhold answered: ${params.get('error_description') ?? params.get('error')}.`,
    );
  }
  if (!pending || params.get('state') !== pending.state || !params.get('code')) {
    throw new UserFacing('Sign-in did not complete', 'The answer from the sign-in page does not belong to this browser tab. Start again.');
  }
  if (params.get('iss') && params.get('iss') !== config.issuer) {
    throw new UserFacing('Sign-in did not complete', 'The answer came from an unexpected issuer.');
  }
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: config.redirectUri,
      client_id: config.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || !tokens.access_token) {
    throw new UserFacing('Sign-in did not complete', `The token endpoint refused the code (${tokens.error_description ?? tokens.error ?? response.status}). Start again.`);
  }
  const claims = tokens.id_token ? decodeJwt(tokens.id_token) : {};
  // Profile claims come from userinfo (the ID token carries only `sub` when an access token is issued).
  const profile = discovery.userinfo_endpoint
    ? await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })
        .then((r) => (r.ok ? r.json() : {}))
        .catch(() => ({}))
    : {};
  if (tokens.id_token && claims.nonce !== pending.nonce) {
    throw new UserFacing('Sign-in did not complete', 'The ID token does not match this sign-in. Start again.');
  }
  session = {
    accessToken: tokens.access_token,
    expiresAt: Date.now() + (Number(tokens.expires_in) || 300) * 1000,
    idToken: tokens.id_token,
    scopes: String(tokens.scope ?? '').split(' '),
    name: profile.preferred_username || profile.name || claims.sub,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  history.replaceState(null, '', `/admin/${pending.returnTo || '#/clients'}`);
}

function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
  const idToken = session?.idToken;
  session = undefined;
  if (!discovery.end_session_endpoint) {
    location.assign('/admin/');
    return;
  }
  const url = new URL(discovery.end_session_endpoint);
  url.search = new URLSearchParams({
    client_id: config.clientId,
    post_logout_redirect_uri: config.postLogoutRedirectUri,
    state: SIGNED_OUT_STATE,
    ...(idToken ? { id_token_hint: idToken } : {}),
  }).toString();
  location.assign(url.href);
}

class UserFacing extends Error {
  constructor(title, message) {
    super(message);
    this.title = title;
  }
}

// ---------------------------------------------------------------------------------------------
// The admin API: bearer token, problem+json errors.

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `The request failed (HTTP ${status}).`);
    this.status = status;
    this.problem = problem ?? {};
  }
}

async function api(method, path, body) {
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${session.accessToken}`,
      accept: 'application/json, application/problem+json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return undefined;
  const data = await response.json().catch(() => undefined);
  if (response.status === 401) {
    sessionStorage.removeItem(SESSION_KEY);
    await signIn(location.hash);
    throw new ApiError(401, { detail: 'Your session has ended; signing you in again.' });
  }
  if (response.status === 403) {
    renderNeedsAdmin();
    throw new ApiError(403, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Reads a paged list, following `nextCursor` (lists are short: an administrator's own apps). */
async function listAll(path) {
  const items = [];
  let cursor;
  for (let page = 0; page < 50; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const data = await api('GET', `${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (Array.isArray(data)) return data;
    items.push(...(data?.items ?? []));
    cursor = data?.nextCursor;
    if (!cursor) break;
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// Field errors: problem+json `errors[].path` ("name", "redirectUris.0", "secret.expiresAt") shown
// beside the field it names, in plain words.

/** Turns a validator's message into a sentence a person understands. */
function friendly(message, path) {
  const text = String(message ?? '').trim();
  let m;
  if (/^required$|received undefined/i.test(text)) return 'This is required.';
  if ((m = /too small.*>=\s*(\d+)/i.exec(text))) return /string|character/i.test(text) ? (m[1] === '1' ? 'This cannot be empty.' : `Use at least ${m[1]} characters.`) : /array|item/i.test(text) ? (m[1] === '1' ? 'Add at least one.' : `Add at least ${m[1]}.`) : `The smallest allowed value is ${m[1]}.`;
  if ((m = /too big.*<=\s*(\d+)/i.exec(text))) return /string|character/i.test(text) ? `Use at most ${m[1]} characters.` : /array|item/i.test(text) ? `At most ${m[1]} are allowed.` : `The largest allowed value is ${m[1]}.`;
  if (/expected int/i.test(text)) return 'Enter a whole number.';
  if (/expected number/i.test(text)) return 'Enter a number.';
  if (/unrecognized key/i.test(text)) return `This console sent a field the server does not know (${path}).`;
  if (!text) return 'This value is not accepted.';
  // A message opening with a value (a URL, a quoted name) keeps it as it is.
  const sentence = /^[a-z]+$/.test(text.split(/\s/)[0]) ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

/** A labelled field with an error slot wired to the control through aria-describedby. */
function field({ path, label, control, hint, check = false }) {
  const errorId = nextId('err');
  const hintId = hint ? nextId('hint') : undefined;
  const error = h('p', { class: 'error', id: errorId, hidden: true });
  const controlEl = control;
  controlEl.id ||= nextId('f');
  const describe = [hintId].filter(Boolean).join(' ');
  if (describe) controlEl.setAttribute('aria-describedby', describe);
  const labelEl = h('label', { for: controlEl.id }, check ? [controlEl, ' ', label] : label);
  const wrapper = h(
    'div',
    { class: check ? 'field check' : 'field', 'data-path': path },
    labelEl,
    check ? null : controlEl,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    error,
  );
  wrapper.fieldControl = controlEl;
  wrapper.fieldError = error;
  return wrapper;
}

function clearErrors(container) {
  for (const el of container.querySelectorAll('.error')) {
    el.hidden = true;
    el.textContent = '';
    el.removeAttribute('role');
  }
  for (const el of container.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    const ids = (el.getAttribute('aria-describedby') ?? '').split(' ').filter((id) => id && !id.startsWith('err-'));
    if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
    else el.removeAttribute('aria-describedby');
  }
  for (const el of container.querySelectorAll('.items li.invalid')) el.classList.remove('invalid');
  for (const el of container.querySelectorAll('.alert.form-alert')) el.remove();
}

function showFieldError(wrapper, message) {
  const { fieldControl: control, fieldError: error } = wrapper;
  error.textContent = error.textContent ? `${error.textContent} ${message}` : message;
  error.hidden = false;
  error.setAttribute('role', 'alert');
  control.setAttribute('aria-invalid', 'true');
  const ids = new Set((control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean));
  ids.add(error.id);
  control.setAttribute('aria-describedby', [...ids].join(' '));
}

/**
 * Shows an API error in `container`: each `errors[]` entry beside its field (found by data-path,
 * after removing `prefix`), the rest in an alert at the top. Returns the paths it could not place.
 */
function showProblem(container, err, { prefix = '', focus = true } = {}) {
  clearErrors(container);
  const problem = err instanceof ApiError ? err.problem : { detail: err.message };
  const unplaced = [];
  let first;
  for (const entry of problem.errors ?? []) {
    const path = String(entry.path ?? '');
    if (prefix && !path.startsWith(prefix)) {
      unplaced.push(entry);
      continue;
    }
    const [top, index] = path.slice(prefix.length).split('.');
    const wrapper = container.querySelector(`[data-path="${CSS.escape(top ?? '')}"]`);
    if (!wrapper) {
      unplaced.push(entry);
      continue;
    }
    let message = friendly(entry.message, path);
    if (index !== undefined && wrapper.listItems) {
      const item = wrapper.listItems()[Number(index)];
      if (item) {
        item.element.classList.add('invalid');
        if (!message.includes(item.value)) message = `“${item.value}”: ${message}`;
      }
    }
    showFieldError(wrapper, message);
    first ??= wrapper.fieldControl;
  }
  const placedAny = Boolean(first);
  if (!placedAny || unplaced.length) {
    const lines = unplaced.map((e) => `${LABELS[String(e.path).split('.').pop()] ?? e.path}: ${friendly(e.message, e.path)}`);
    const alert = h(
      'div',
      { class: 'alert form-alert', role: 'alert', tabindex: '-1' },
      h('p', {}, placedAny ? 'Some values need attention.' : problemSummary(err)),
      lines.length ? h('ul', {}, lines.map((l) => h('li', {}, l))) : null,
    );
    container.prepend(alert);
    if (!first) first = alert;
  }
  if (focus) first?.focus();
  return unplaced;
}

function problemSummary(err) {
  if (!(err instanceof ApiError)) return err.message || 'Something went wrong.';
  if (err.status === 404) return 'It no longer exists: someone may have deleted it.';
  if (err.status === 409) return err.problem.detail ? friendly(err.problem.detail) : 'That conflicts with something that already exists.';
  if (err.status >= 500) return 'The server could not do this just now. Try again; if it keeps failing, check the server logs.';
  return friendly(err.problem.detail || err.problem.title || err.message);
}

async function busy(button, work) {
  const was = button.disabled;
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = was;
  }
}

// ---------------------------------------------------------------------------------------------
// Reusable controls.

/** A URL list: a text box, a + button adding its value to the list, and a remove button per item. */
function urlList({ path, label, hint, values = [] }) {
  const input = h('input', { type: 'url', inputmode: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://app.example.com/callback' });
  const list = h('ul', { class: 'items', 'aria-label': `${label} list` });
  let items = [];
  const render = () => {
    list.replaceChildren();
    if (!items.length) list.append(h('li', { class: 'empty' }, 'None yet.'));
    for (const item of items) {
      item.element = h(
        'li',
        {},
        h('span', { class: 'mono' }, item.value),
        h('button', {
          type: 'button',
          class: 'secondary small',
          'aria-label': `Remove ${item.value}`,
          text: 'Remove',
          onclick: () => {
            items = items.filter((i) => i !== item);
            render();
            input.focus();
            announce(`Removed ${item.value}`);
          },
        }),
      );
      list.append(item.element);
    }
  };
  const add = () => {
    const value = input.value.trim();
    if (!value) return false;
    if (!items.some((i) => i.value === value)) items.push({ value });
    input.value = '';
    render();
    announce(`Added ${value}`);
    return true;
  };
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      add();
    }
  });
  const plus = h('button', { type: 'button', class: 'secondary', 'aria-label': `Add to ${label}`, title: `Add to ${label}`, text: '+', onclick: () => (add(), input.focus()) });
  const wrapper = field({ path, label, control: input, hint });
  const adder = h('div', { class: 'adder' });
  input.replaceWith(adder);
  adder.append(input, plus);
  (wrapper.querySelector('.hint') ?? wrapper.fieldError).before(list);
  items = values.map((value) => ({ value }));
  render();
  wrapper.listItems = () => items;
  /** The list's values; text typed but not yet added with + counts too. */
  wrapper.values = () => {
    add();
    return items.map((i) => i.value);
  };
  return wrapper;
}

function dialog(title, ...content) {
  const titleId = nextId('dlg');
  const el = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), ...content);
  el.addEventListener('close', () => setTimeout(() => el.remove(), 0));
  document.body.append(el);
  return el;
}

/** A modal yes/no question; resolves true when confirmed. */
function confirmAction(title, message, action) {
  return new Promise((resolve) => {
    let answer = false;
    const dlg = dialog(
      title,
      h('p', {}, message),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'danger', text: action, onclick: () => ((answer = true), dlg.close()) }),
        h('button', { type: 'button', class: 'secondary', text: 'Cancel', autofocus: true, onclick: () => dlg.close() }),
      ),
    );
    dlg.addEventListener('close', () => resolve(answer));
    dlg.showModal();
  });
}

async function copyText(value, input, button) {
  try {
    await navigator.clipboard.writeText(value);
  } catch {
    input.select();
    document.execCommand('copy');
  }
  const label = button.textContent;
  button.textContent = 'Copied';
  announce('Copied to the clipboard');
  setTimeout(() => (button.textContent = label), 2000);
}

function copyField(label, value, id) {
  const input = h('input', { type: 'text', id, readonly: true, value, spellcheck: 'false' });
  const button = h('button', { type: 'button', class: 'secondary', text: 'Copy', 'aria-label': `Copy ${label}`, onclick: () => copyText(value, input, button) });
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('div', { class: 'copy-row' }, input, button));
}

/**
 * The Add Secret window: description, expiration date (one year from today by default) or Never
 * Expires. `submit(secretBody)` does the request; its field errors (under `prefix`) show here.
 */
function secretDialog({ submitLabel = 'Add', prefix = '', submit }) {
  const inAYear = new Date();
  inAYear.setFullYear(inAYear.getFullYear() + 1);
  const tomorrow = new Date(Date.now() + 86_400_000);
  const description = field({
    path: 'description',
    label: 'Description',
    control: h('input', { type: 'text', maxlength: '100', autocomplete: 'off' }),
    hint: 'Include a unique description if you plan to create multiple secrets.',
  });
  const expires = field({
    path: 'expiresAt',
    label: 'Expiration date',
    control: h('input', { type: 'date', value: isoDay(inAYear), min: isoDay(tomorrow), required: true }),
    hint: 'By default the secret expires one year from today. It stops working at the end of this day.',
  });
  const never = field({ path: 'neverExpires', label: 'Never Expires', control: h('input', { type: 'checkbox' }), check: true });
  never.fieldControl.addEventListener('change', () => {
    expires.fieldControl.disabled = never.fieldControl.checked;
  });
  const submitButton = h('button', { type: 'submit', text: submitLabel });
  const form = h(
    'form',
    { novalidate: true },
    description,
    expires,
    never,
    h('div', { class: 'actions' }, submitButton, h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => dlg.close() })),
  );
  const dlg = dialog('Add Secret', form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = {};
    const text = description.fieldControl.value.trim();
    if (text) body.description = text;
    if (never.fieldControl.checked) body.neverExpires = true;
    else {
      const day = expires.fieldControl.value;
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) {
        showFieldError(expires, 'Choose a date, or select Never Expires.');
        expires.fieldControl.focus();
        return;
      }
      const [y, m, d] = day.split('-').map(Number);
      body.expiresAt = new Date(y, m - 1, d, 23, 59, 59).toISOString();
    }
    await busy(submitButton, async () => {
      try {
        await submit(body, dlg);
      } catch (err) {
        if (dlg.open) showProblem(form, err, { prefix });
      }
    });
  });
  dlg.showModal();
  description.fieldControl.focus();
  return dlg;
}

/** The window that shows a new secret once (and, for a new client, its id). */
function createdDialog({ title, clientId, secret, onClose }) {
  const parts = [];
  if (clientId) parts.push(copyField('Client Id', clientId, 'created-client-id'));
  if (secret) {
    parts.push(copyField('Client Secret', secret.value, 'created-client-secret'));
    parts.push(
      h(
        'p',
        { class: 'note', role: 'note' },
        h('strong', {}, 'Important: '),
        'Use the Copy buttons to save a copy of these values for your records; your application needs them. ',
        h('strong', {}, 'Once this window is closed, the client secret cannot be accessed or retrieved.'),
      ),
    );
    if (secret.expiresAt) parts.push(h('p', { class: 'muted' }, `The secret expires ${formatDate(secret.expiresAt)}.`));
    else parts.push(h('p', { class: 'muted' }, 'The secret never expires.'));
  }
  const close = h('button', { type: 'button', text: 'Close', onclick: () => dlg.close() });
  const dlg = dialog(title, ...parts, h('div', { class: 'actions' }, close));
  dlg.addEventListener('close', () => onClose?.());
  dlg.showModal();
  (dlg.querySelector('.copy-row button') ?? close).focus();
  return dlg;
}

// ---------------------------------------------------------------------------------------------
// Security > Clients.

function clientForm({ type, client, submitLabel, onSubmit, onCancel }) {
  const parts = {};
  parts.name = field({
    path: 'name',
    label: 'Name',
    control: h('input', { type: 'text', required: true, maxlength: '100', autocomplete: 'off', value: client?.name ?? '' }),
    hint: 'Use this name to identify the application that will use this client.',
  });
  if (client) parts.enabled = field({ path: 'enabled', label: 'Enabled', control: h('input', { type: 'checkbox', checked: client.enabled }), check: true, hint: 'A disabled client can neither sign users in nor get tokens.' });
  if (has(type, 'allowRefreshToken')) {
    parts.allowRefreshToken = field({
      path: 'allowRefreshToken',
      label: 'Allow Refresh Token',
      control: h('input', { type: 'checkbox', checked: client?.allowRefreshToken }),
      check: true,
      hint: 'Select this if the application uses refresh tokens to keep users signed in. Note: avoid selecting this if there is no need to refresh tokens; a refresh token lets the application request new access tokens for a long time.',
    });
  }
  if (has(type, 'redirectUris')) {
    parts.redirectUris = urlList({
      path: 'redirectUris',
      label: 'Allowed Redirect URL(s)',
      values: client?.redirectUris,
      hint: 'Enter a URL, then select + to add it to the list. The application names one of these URLs when it signs a user in, and Keyhold returns the result to it. Use https, http on 127.0.0.1 or localhost for native apps, or a private-use scheme such as com.example.app:/callback.',
    });
    parts.postLogoutRedirectUris = urlList({
      path: 'postLogoutRedirectUris',
      label: 'Allowed Logout Redirect URL(s)',
      values: client?.postLogoutRedirectUris,
      hint: 'Optional. Where Keyhold may send the user after the application signs them out.',
    });
  }
  if (has(type, 'allowedCorsOrigins')) {
    parts.allowedCorsOrigins = urlList({
      path: 'allowedCorsOrigins',
      label: 'Allowed CORS origin(s)',
      values: client?.allowedCorsOrigins,
      hint: 'Optional. Origins the browser application calls the token endpoint from, such as https://app.example.com.',
    });
  }
  if (has(type, 'roles')) {
    parts.roles = field({
      path: 'roles',
      label: 'Administrator (the client may call the admin API with scope admin)',
      control: h('input', { type: 'checkbox', checked: client?.roles?.includes(config.roles.admin) }),
      check: true,
    });
    parts.resourceServer = field({
      path: 'roles.resource-server',
      label: 'Resource server (the client may introspect any token, not only its own)',
      control: h('input', { type: 'checkbox', checked: client?.roles?.includes(config.roles.resourceServer) }),
      check: true,
    });
  }
  parts.accessTokenLifetime = field({
    path: 'accessTokenLifetime',
    label: 'Token Lifetime (seconds)',
    control: h('input', { type: 'number', min: '60', max: '3600', step: '1', inputmode: 'numeric', value: String(client?.accessTokenLifetime ?? 3600) }),
    hint: 'How long an access token is valid. The default, 3600 seconds (one hour), is the maximum; the minimum is 60 seconds.',
  });
  const submitButton = h('button', { type: 'submit', text: submitLabel });
  const form = h(
    'form',
    { novalidate: true, class: 'client-form' },
    Object.values(parts),
    h('div', { class: 'actions' }, submitButton, onCancel ? h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: onCancel }) : null),
  );

  /** The request body, or undefined after showing a local error (only what JSON cannot carry). */
  const read = () => {
    clearErrors(form);
    const body = { name: parts.name.fieldControl.value };
    if (parts.enabled) body.enabled = parts.enabled.fieldControl.checked;
    if (parts.allowRefreshToken) body.allowRefreshToken = parts.allowRefreshToken.fieldControl.checked;
    if (parts.redirectUris) body.redirectUris = parts.redirectUris.values();
    if (parts.postLogoutRedirectUris) body.postLogoutRedirectUris = parts.postLogoutRedirectUris.values();
    if (parts.allowedCorsOrigins) body.allowedCorsOrigins = parts.allowedCorsOrigins.values();
    if (parts.roles) {
      body.roles = [
        ...(parts.roles.fieldControl.checked ? [config.roles.admin] : []),
        ...(parts.resourceServer.fieldControl.checked ? [config.roles.resourceServer] : []),
      ];
    }
    const lifetime = parts.accessTokenLifetime.fieldControl.value.trim();
    if (lifetime !== '') {
      if (!/^-?\d+$/.test(lifetime)) {
        showFieldError(parts.accessTokenLifetime, 'Enter a whole number of seconds, from 60 to 3600.');
        parts.accessTokenLifetime.fieldControl.focus();
        return undefined;
      }
      body.accessTokenLifetime = Number(lifetime);
    }
    return body;
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = read();
    if (body) await busy(submitButton, () => onSubmit(body, form));
  });
  return form;
}

const clientsState = { items: [], selected: undefined, mode: 'details' };

async function renderClients(selectedId) {
  const typeSelect = h(
    'select',
    { id: 'client-type' },
    CLIENT_TYPES.map((t) => h('option', { value: t.value, selected: t.value === clientType }, t.label)),
  );
  const addButton = h('button', { type: 'button', id: 'add-client', text: 'Add Client' });
  const listRegion = h('section', { 'aria-labelledby': 'clients-list-title' });
  const pane = h('section', { class: 'pane', id: 'client-pane', 'aria-live': 'polite', hidden: true });
  const split = h('div', { class: 'split' }, listRegion, pane);
  main.replaceChildren(
    h('h1', { id: 'page-title', tabindex: '-1' }, 'Clients'),
    h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Clients' },
      h('div', { class: 'field' }, h('label', { for: 'client-type' }, 'Client Type'), typeSelect),
      addButton,
    ),
    split,
  );

  const showPane = (open) => {
    pane.hidden = !open;
    split.classList.toggle('open', open);
  };

  const loadList = async (focusId) => {
    listRegion.replaceChildren(h('h2', { id: 'clients-list-title' }, `${typeInfo(clientType).label} clients`), h('p', { class: 'muted' }, 'Loading…'));
    try {
      clientsState.items = await listAll(`/clients?type=${encodeURIComponent(clientType)}&limit=100`);
    } catch (err) {
      if (err.status === 401 || err.status === 403) return;
      listRegion.replaceChildren(h('h2', { id: 'clients-list-title' }, 'Clients'), h('p', { class: 'alert', role: 'alert' }, problemSummary(err)));
      return;
    }
    const rows = clientsState.items.map((client) =>
      h(
        'tr',
        { class: client.id === clientsState.selected?.id ? 'selected' : undefined, 'aria-selected': client.id === clientsState.selected?.id ? 'true' : undefined },
        h('td', {}, h('button', { type: 'button', class: 'link', 'data-client-id': client.id, text: client.name, onclick: () => (location.hash = `#/clients/${client.id}`) })),
        h('td', { class: 'mono' }, client.id),
        h('td', {}, client.enabled ? h('span', { class: 'badge' }, 'Enabled') : h('span', { class: 'badge off' }, 'Disabled')),
        h('td', {}, formatDate(client.createdAt)),
      ),
    );
    listRegion.replaceChildren(
      h('h2', { id: 'clients-list-title' }, `${typeInfo(clientType).label} clients`),
      rows.length
        ? h(
            'table',
            { id: 'clients-table' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Client Id'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Created'))),
            h('tbody', {}, rows),
          )
        : h('p', { class: 'muted' }, `No ${typeInfo(clientType).label.toLowerCase()} clients yet. Select Add Client to create one.`),
    );
    if (focusId) listRegion.querySelector(`[data-client-id="${CSS.escape(focusId)}"]`)?.focus();
  };

  const showAddForm = () => {
    clientsState.selected = undefined;
    const type = clientType;
    const form = clientForm({
      type,
      submitLabel: 'Add',
      onCancel: () => {
        showPane(false);
        addButton.focus();
      },
      onSubmit: async (body) => {
        const create = async (secret) => {
          const created = await api('POST', '/clients', { type, ...body, ...(secret ? { secret } : {}) });
          return created;
        };
        const done = (created, closeFirst) => {
          closeFirst?.close();
          createdDialog({
            title: 'Client Successfully Created',
            clientId: created.client.id,
            secret: created.secret,
            onClose: async () => {
              await loadList();
              location.hash = `#/clients/${created.client.id}`;
            },
          });
          announce(`Client ${created.client.name} created`);
        };
        if (!has(type, 'secrets')) {
          try {
            done(await create());
          } catch (err) {
            showProblem(form, err);
          }
          return;
        }
        secretDialog({
          prefix: 'secret.',
          submit: async (secret, dlg) => {
            let created;
            try {
              created = await create(secret);
            } catch (err) {
              const errors = err instanceof ApiError ? (err.problem.errors ?? []) : [];
              if (errors.length && errors.every((e) => String(e.path).startsWith('secret.'))) throw err;
              // The client's own fields are wrong: back to the form, errors beside the fields.
              dlg.close();
              showProblem(form, err);
              return;
            }
            done(created, dlg);
          },
        });
      },
    });
    pane.replaceChildren(h('h2', { id: 'pane-title' }, `Add ${typeInfo(type).label} Client`), form);
    showPane(true);
    form.querySelector('input')?.focus();
  };

  const showDetails = async (id, { focus = false } = {}) => {
    let client;
    try {
      client = await api('GET', `/clients/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err.status === 401 || err.status === 403) return;
      pane.replaceChildren(h('h2', {}, 'Client'), h('p', { class: 'alert', role: 'alert' }, problemSummary(err)));
      showPane(true);
      return;
    }
    clientsState.selected = client;
    if (client.type !== clientType) {
      clientType = client.type;
      typeSelect.value = clientType;
      sessionStorage.setItem('keyhold.console.type', clientType);
      await loadList();
    }
    for (const row of listRegion.querySelectorAll('tbody tr')) {
      const mine = row.querySelector('[data-client-id]')?.dataset.clientId === client.id;
      row.classList.toggle('selected', mine);
      if (mine) row.setAttribute('aria-selected', 'true');
      else row.removeAttribute('aria-selected');
    }
    const secrets = has(client.type, 'secrets') ? (client.secrets ?? (await api('GET', `/clients/${encodeURIComponent(id)}/secrets`))) : [];
    renderDetails(client, secrets);
    showPane(true);
    if (focus) pane.querySelector('h2')?.focus();
  };

  const renderDetails = (client, secrets) => {
    const list = (values) => (values?.length ? h('ul', { class: 'items' }, values.map((v) => h('li', {}, h('span', { class: 'mono' }, v)))) : h('span', { class: 'muted' }, 'None'));
    const settings = [
      ['Client Id', h('span', { class: 'mono', id: 'details-client-id' }, client.id)],
      ['Type', typeInfo(client.type).label],
      ['Status', client.enabled ? 'Enabled' : 'Disabled'],
      has(client.type, 'allowRefreshToken') && ['Allow Refresh Token', client.allowRefreshToken ? 'Yes' : 'No'],
      has(client.type, 'redirectUris') && ['Allowed Redirect URL(s)', list(client.redirectUris)],
      has(client.type, 'postLogoutRedirectUris') && ['Allowed Logout Redirect URL(s)', list(client.postLogoutRedirectUris)],
      has(client.type, 'allowedCorsOrigins') && ['Allowed CORS origin(s)', list(client.allowedCorsOrigins)],
      has(client.type, 'roles') && ['Roles', client.roles?.length ? client.roles.join(', ') : 'None'],
      ['Token Lifetime', `${client.accessTokenLifetime} seconds`],
      ['Created', formatDate(client.createdAt)],
      ['Updated', formatDate(client.updatedAt)],
    ].filter(Boolean);
    const editButton = h('button', { type: 'button', text: 'Edit', id: 'edit-client' });
    const deleteButton = h('button', { type: 'button', class: 'danger', text: 'Delete Client', id: 'delete-client' });
    const content = [
      h('h2', { id: 'pane-title', tabindex: '-1' }, client.name),
      h('h3', {}, 'Settings'),
      h('dl', { class: 'settings' }, settings.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      h('div', { class: 'actions' }, editButton, deleteButton),
      h('p', { class: 'hint' }, 'Changes take effect on the application’s next request.'),
    ];
    if (has(client.type, 'secrets')) content.push(secretsSection(client, secrets));
    pane.replaceChildren(...content);

    editButton.addEventListener('click', () => {
      const form = clientForm({
        type: client.type,
        client,
        submitLabel: 'Save',
        onCancel: () => {
          renderDetails(client, secrets);
          pane.querySelector('#edit-client')?.focus();
        },
        onSubmit: async (body) => {
          try {
            const updated = await api('PATCH', `/clients/${encodeURIComponent(client.id)}`, body);
            announce('Client saved');
            await loadList();
            await showDetails(updated.id ?? client.id, { focus: true });
          } catch (err) {
            showProblem(form, err);
          }
        },
      });
      pane.replaceChildren(h('h2', { id: 'pane-title' }, `Edit ${client.name}`), form);
      form.querySelector('input')?.focus();
    });
    deleteButton.addEventListener('click', async () => {
      const yes = await confirmAction(
        'Delete client',
        `Delete “${client.name}”? Applications using it can no longer sign users in, and its tokens stop working at once.`,
        'Delete',
      );
      if (!yes) return deleteButton.focus();
      try {
        await api('DELETE', `/clients/${encodeURIComponent(client.id)}`);
      } catch (err) {
        pane.prepend(h('p', { class: 'alert', role: 'alert' }, problemSummary(err)));
        return;
      }
      announce(`Client ${client.name} deleted`);
      clientsState.selected = undefined;
      showPane(false);
      history.replaceState(null, '', '/admin/#/clients');
      await loadList();
      (listRegion.querySelector('button') ?? addButton).focus();
    });
  };

  const secretsSection = (client, secrets) => {
    const addSecret = h('button', { type: 'button', id: 'add-secret', text: 'Add Secret', disabled: secrets.length >= 10 });
    const rows = secrets.map((secret) => {
      const name = secret.description || 'Secret without a description';
      return h(
        'tr',
        { 'data-secret-id': secret.id },
        h('td', {}, secret.description || h('span', { class: 'muted' }, '(no description)')),
        h('td', {}, secret.expiresAt ? formatDate(secret.expiresAt) : 'Never', secret.expiresAt && new Date(secret.expiresAt) < new Date() ? [' ', h('span', { class: 'badge off' }, 'Expired')] : null),
        h('td', {}, secret.lastUsedAt ? formatDate(secret.lastUsedAt) : h('span', { class: 'muted' }, 'Never used')),
        h('td', {}, formatDate(secret.createdAt)),
        h(
          'td',
          {},
          h('button', {
            type: 'button',
            class: 'secondary small',
            text: 'Remove',
            'aria-label': `Remove secret ${name}`,
            onclick: async (event) => {
              const yes = await confirmAction('Remove secret', `Remove the secret “${name}”? Applications using it fail at the token endpoint from their next request.`, 'Remove');
              if (!yes) return event.target.focus();
              try {
                await api('DELETE', `/clients/${encodeURIComponent(client.id)}/secrets/${encodeURIComponent(secret.id)}`);
              } catch (err) {
                section.prepend(h('p', { class: 'alert', role: 'alert' }, problemSummary(err)));
                return;
              }
              announce('Secret removed');
              await showDetails(client.id);
              pane.querySelector('#add-secret')?.focus();
            },
          }),
        ),
      );
    });
    addSecret.addEventListener('click', () =>
      secretDialog({
        submit: async (body, dlg) => {
          const secret = await api('POST', `/clients/${encodeURIComponent(client.id)}/secrets`, body);
          dlg.close();
          createdDialog({
            title: 'Secret Successfully Added',
            secret,
            onClose: async () => {
              await showDetails(client.id);
              pane.querySelector('#add-secret')?.focus();
            },
          });
        },
      }),
    );
    const section = h(
      'section',
      { 'aria-labelledby': 'secrets-title' },
      h('h3', { id: 'secrets-title' }, 'Secrets'),
      rows.length
        ? h(
            'table',
            { id: 'secrets-table' },
            h('thead', {}, h('tr', {}, ['Description', 'Expires', 'Last used', 'Created', h('span', { class: 'visually-hidden' }, 'Actions')].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', {}, rows),
          )
        : h('p', { class: 'muted' }, 'This client has no secrets: it cannot get tokens until you add one.'),
      h('div', { class: 'actions' }, addSecret),
      secrets.length >= 10 ? h('p', { class: 'hint' }, 'A client can have at most 10 secrets; remove one to add another.') : null,
    );
    return section;
  };

  typeSelect.addEventListener('change', async () => {
    clientType = typeSelect.value;
    sessionStorage.setItem('keyhold.console.type', clientType);
    clientsState.selected = undefined;
    showPane(false);
    if (location.hash !== '#/clients') history.replaceState(null, '', '/admin/#/clients');
    await loadList();
  });
  addButton.addEventListener('click', showAddForm);

  await loadList();
  if (selectedId) await showDetails(selectedId);
  return { showDetails };
}

// ---------------------------------------------------------------------------------------------
// Users.

async function renderUsers() {
  const addButton = h('button', { type: 'button', id: 'add-user', text: 'Add User' });
  const listRegion = h('section', { 'aria-labelledby': 'users-list-title' });
  const pane = h('section', { class: 'pane', id: 'user-pane', hidden: true });
  const split = h('div', { class: 'split' }, listRegion, pane);
  main.replaceChildren(h('h1', { id: 'page-title', tabindex: '-1' }, 'Users'), h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Users' }, addButton), split);
  const showPane = (open) => {
    pane.hidden = !open;
    split.classList.toggle('open', open);
  };

  const load = async (focusSelector) => {
    let users;
    try {
      users = await listAll('/users?limit=100');
    } catch (err) {
      if (err.status === 401 || err.status === 403) return;
      listRegion.replaceChildren(h('h2', { id: 'users-list-title' }, 'All users'), h('p', { class: 'alert', role: 'alert' }, problemSummary(err)));
      return;
    }
    const rows = users.map((user) =>
      h(
        'tr',
        { 'data-user-id': user.id, 'data-username': user.username },
        h('td', {}, h('strong', {}, user.username)),
        h('td', {}, user.name ?? ''),
        h('td', {}, user.email ?? ''),
        h('td', {}, (user.roles ?? []).join(', ')),
        h(
          'td',
          {},
          user.disabled ? h('span', { class: 'badge off' }, 'Disabled') : h('span', { class: 'badge' }, 'Active'),
          user.lockedUntil ? [' ', h('span', { class: 'badge off', title: `Locked after repeated failed sign-ins, until ${new Date(user.lockedUntil).toLocaleString()}` }, 'Locked')] : null,
        ),
        h(
          'td',
          {},
          h('div', { class: 'actions' }, [
            user.lockedUntil
              ? h('button', { type: 'button', class: 'secondary small', 'data-action': 'unlock', 'aria-label': `Unlock ${user.username}`, text: 'Unlock', onclick: () => unlock(user) })
              : null,
            h('button', {
              type: 'button',
              class: 'secondary small',
              'data-action': user.disabled ? 'enable' : 'disable',
              'aria-label': `${user.disabled ? 'Enable' : 'Disable'} ${user.username}`,
              text: user.disabled ? 'Enable' : 'Disable',
              onclick: () => toggle(user),
            }),
            h('button', { type: 'button', class: 'secondary small', 'data-action': 'reset-password', 'aria-label': `Reset the password of ${user.username}`, text: 'Reset password', onclick: () => resetPassword(user) }),
            h('button', { type: 'button', class: 'secondary small', 'data-action': 'delete', 'aria-label': `Delete ${user.username}`, text: 'Delete', onclick: () => remove(user) }),
          ]),
        ),
      ),
    );
    listRegion.replaceChildren(
      h('h2', { id: 'users-list-title' }, 'All users'),
      h(
        'table',
        { id: 'users-table' },
        h('thead', {}, h('tr', {}, ['Username', 'Name', 'Email', 'Roles', 'Status', h('span', { class: 'visually-hidden' }, 'Actions')].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows),
      ),
    );
    if (focusSelector) listRegion.querySelector(focusSelector)?.focus();
  };

  const rowAlert = (err) => listRegion.prepend(h('p', { class: 'alert', role: 'alert' }, problemSummary(err)));
  const userRow = (user, action) => `tr[data-user-id="${CSS.escape(user.id)}"] [data-action="${action}"]`;

  const toggle = async (user) => {
    try {
      await api('PATCH', `/users/${encodeURIComponent(user.id)}`, { disabled: !user.disabled });
    } catch (err) {
      return rowAlert(err);
    }
    announce(`${user.username} ${user.disabled ? 'enabled' : 'disabled'}`);
    await load(userRow(user, user.disabled ? 'disable' : 'enable'));
  };

  const unlock = async (user) => {
    try {
      await api('POST', `/users/${encodeURIComponent(user.id)}/unlock`);
    } catch (err) {
      return rowAlert(err);
    }
    announce(`${user.username} unlocked`);
    await load(userRow(user, 'disable'));
  };

  const remove = async (user) => {
    const yes = await confirmAction('Delete user', `Delete ${user.username}? They can no longer sign in, and their tokens stop working.`, 'Delete');
    if (!yes) return;
    try {
      await api('DELETE', `/users/${encodeURIComponent(user.id)}`);
    } catch (err) {
      return rowAlert(err);
    }
    announce(`${user.username} deleted`);
    await load();
    addButton.focus();
  };

  const resetPassword = (user) => {
    const password = field({
      path: 'password',
      label: 'New password',
      control: h('input', { type: 'password', autocomplete: 'new-password', required: true }),
      hint: 'Tell the user their new password through a channel you trust.',
    });
    const save = h('button', { type: 'submit', text: 'Reset password' });
    const form = h('form', { novalidate: true }, h('p', {}, `For ${user.username}.`), password, h('div', { class: 'actions' }, save, h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => dlg.close() })));
    const dlg = dialog('Reset password', form);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      await busy(save, async () => {
        try {
          await api('PATCH', `/users/${encodeURIComponent(user.id)}`, { password: password.fieldControl.value });
        } catch (err) {
          showProblem(form, err);
          return;
        }
        dlg.close();
        announce(`The password of ${user.username} was reset`);
        listRegion.prepend(h('p', { class: 'note', role: 'status' }, `The password of ${user.username} was reset.`));
      });
    });
    dlg.showModal();
    password.fieldControl.focus();
  };

  addButton.addEventListener('click', () => {
    const fields = {
      username: field({ path: 'username', label: 'Username', control: h('input', { type: 'text', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' }) }),
      name: field({ path: 'name', label: 'Name', control: h('input', { type: 'text', autocomplete: 'off' }) }),
      email: field({ path: 'email', label: 'Email', control: h('input', { type: 'email', autocomplete: 'off' }) }),
      password: field({ path: 'password', label: 'Password', control: h('input', { type: 'password', autocomplete: 'new-password' }) }),
      roles: field({ path: 'roles', label: 'Administrator (may use this console and the admin API)', control: h('input', { type: 'checkbox' }), check: true }),
    };
    const save = h('button', { type: 'submit', text: 'Add' });
    const form = h(
      'form',
      { novalidate: true },
      Object.values(fields),
      h('div', { class: 'actions' }, save, h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => (showPane(false), addButton.focus()) })),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = { username: fields.username.fieldControl.value.trim(), roles: fields.roles.fieldControl.checked ? [config.roles.admin] : [] };
      for (const key of ['name', 'email', 'password']) {
        const value = key === 'password' ? fields[key].fieldControl.value : fields[key].fieldControl.value.trim();
        if (value) body[key] = value;
      }
      await busy(save, async () => {
        try {
          await api('POST', '/users', body);
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) {
            // The only conflict a new user can meet: the username is taken.
            showFieldError(fields.username, problemSummary(err));
            fields.username.fieldControl.focus();
          } else showProblem(form, err);
          return;
        }
        announce(`User ${body.username} added`);
        showPane(false);
        await load(`tr[data-username="${CSS.escape(body.username)}"] button`);
      });
    });
    pane.replaceChildren(h('h2', {}, 'Add User'), form);
    showPane(true);
    fields.username.fieldControl.focus();
  });

  listRegion.replaceChildren(h('h2', { id: 'users-list-title' }, 'All users'), h('p', { class: 'muted' }, 'Loading…'));
  await load();
}

// ---------------------------------------------------------------------------------------------
// Pages outside the signed-in console.

function renderMessage(title, message, actions = []) {
  document.getElementById('nav').hidden = true;
  main.replaceChildren(h('div', { class: 'center' }, h('h1', { id: 'page-title', tabindex: '-1' }, title), h('p', {}, message), h('div', { class: 'actions' }, actions)));
  main.querySelector('h1').focus();
}

const signInButton = () => h('button', { type: 'button', id: 'sign-in', text: 'Sign in', onclick: () => signIn('#/clients') });

function renderNeedsAdmin() {
  renderMessage(
    'You need the admin role',
    `You are signed in${session?.name ? ` as ${session.name}` : ''}, but this console is only for administrators. Ask an administrator to give your account the admin role, then sign in again.`,
    [h('button', { type: 'button', text: 'Sign out', onclick: signOut })],
  );
}

// ---------------------------------------------------------------------------------------------
// Audit: the trail of changes, sign-ins and failures, newest first, filtered by type, client or user.

function describeActor(actor) {
  if (!actor) return '';
  if (actor.kind === 'user') return actor.username ? `user ${actor.username}` : `user ${actor.id}`;
  if (actor.kind === 'client') return `client ${actor.id}`;
  if (actor.kind === 'cli') return 'the CLI';
  if (actor.kind === 'system') return 'Keyhold';
  return 'someone not signed in';
}

function describeDetails(details) {
  const parts = [];
  for (const [key, value] of Object.entries(details ?? {})) {
    if ((key === 'before' || key === 'after') && value && typeof value === 'object') continue;
    parts.push(`${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  if (details?.after && details?.before) {
    for (const key of Object.keys(details.after)) parts.push(`${key}: ${JSON.stringify(details.before[key])} → ${JSON.stringify(details.after[key])}`);
  }
  return parts.join('; ');
}

async function renderAudit() {
  const typeSelect = h('select', { id: 'audit-type' }, h('option', { value: '' }, 'Any type'), (config.auditEventTypes ?? []).map((type) => h('option', { value: type }, type)));
  const clientInput = h('input', { type: 'text', id: 'audit-client', autocomplete: 'off', spellcheck: 'false' });
  const userInput = h('input', { type: 'text', id: 'audit-user', autocomplete: 'off', spellcheck: 'false' });
  const filters = h(
    'form',
    { class: 'toolbar audit-filters', role: 'search', 'aria-label': 'Filter events' },
    h('label', { for: 'audit-type' }, 'Type'), typeSelect,
    h('label', { for: 'audit-client' }, 'Client ID'), clientInput,
    h('label', { for: 'audit-user' }, 'User ID'), userInput,
    h('button', { type: 'submit', text: 'Filter' }),
  );
  const body = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', text: 'Load more', hidden: true });
  const status = h('p', { class: 'muted', role: 'status' });
  main.replaceChildren(
    h('h1', { id: 'page-title', tabindex: '-1' }, 'Audit'),
    filters,
    h(
      'table',
      { id: 'audit-table' },
      h('thead', {}, h('tr', {}, ['When', 'Event', 'By', 'About', 'From', 'Outcome', 'Details'].map((c) => h('th', { scope: 'col' }, c)))),
      body,
    ),
    status,
    more,
  );
  let cursor = null;
  const query = () => {
    const params = new URLSearchParams({ limit: '50' });
    if (typeSelect.value) params.set('type', typeSelect.value);
    if (clientInput.value.trim()) params.set('clientId', clientInput.value.trim());
    if (userInput.value.trim()) params.set('userId', userInput.value.trim());
    if (cursor) params.set('cursor', cursor);
    return params;
  };
  const load = async (reset) => {
    if (reset) {
      cursor = null;
      body.replaceChildren();
    }
    let page;
    try {
      page = await api('GET', `/audit-events?${query()}`);
    } catch (err) {
      if (err.status === 401 || err.status === 403) return;
      status.textContent = problemSummary(err);
      return;
    }
    append(
      body,
      page.items.map((event) =>
        h(
          'tr',
          { 'data-event-id': event.id, 'data-type': event.type },
          h('td', {}, h('time', { datetime: event.at }, new Date(event.at).toLocaleString())),
          h('td', {}, event.type),
          h('td', {}, describeActor(event.actor)),
          h('td', {}, event.target ? `${event.target.kind} ${event.target.name ?? event.target.id}` : ''),
          h('td', {}, event.address ?? ''),
          h('td', {}, event.outcome === 'success' ? h('span', { class: 'badge' }, 'Success') : h('span', { class: 'badge off' }, 'Failure')),
          h('td', {}, describeDetails(event.details)),
        ),
      ),
    );
    cursor = page.nextCursor;
    more.hidden = !cursor;
    status.textContent = body.children.length ? '' : 'No events match.';
  };
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(true);
  });
  more.addEventListener('click', () => void load(false));
  await load(true);
}

// ---------------------------------------------------------------------------------------------
// Routing: #/clients, #/clients/<id>, #/users, #/audit.

let currentPage;
let clientsPage;

async function route() {
  const hash = location.hash || '#/clients';
  const [, page = 'clients', id] = hash.split('/');
  for (const link of document.querySelectorAll('nav a')) {
    if (link.getAttribute('href') === `#/${page}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (page === 'audit') {
    currentPage = 'audit';
    document.title = 'Audit · Keyhold admin console';
    await renderAudit();
    main.querySelector('h1')?.focus();
    return;
  }
  if (page === 'users') {
    currentPage = 'users';
    document.title = 'Users · Keyhold admin console';
    await renderUsers();
    main.querySelector('h1')?.focus();
    return;
  }
  document.title = 'Clients · Keyhold admin console';
  if (currentPage === 'clients' && clientsPage && id) {
    await clientsPage.showDetails(decodeURIComponent(id), { focus: true });
    return;
  }
  currentPage = 'clients';
  clientsPage = await renderClients(id ? decodeURIComponent(id) : undefined);
  main.querySelector(id ? '#pane-title' : 'h1')?.focus();
}

async function start() {
  config = await (await fetch('/admin/config.json')).json();
  const home = new URL(config.redirectUri).origin;
  if (location.origin !== home) {
    // Sign-in returns to the issuer's origin; start there so this tab's PKCE state is found again.
    location.replace(`${home}/admin/${location.hash}`);
    return;
  }
  if (!crypto.subtle) {
    renderMessage('The console needs HTTPS', 'Open the console over https (or on localhost): the browser offers the cryptography sign-in needs only there.');
    return;
  }
  const response = await fetch(`${config.issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new UserFacing('Keyhold is not answering', 'The sign-in configuration could not be loaded. Reload the page in a moment.');
  discovery = await response.json();

  if (location.pathname === '/admin/callback') await finishSignIn();
  session = loadSession();
  if (!session) {
    const params = new URLSearchParams(location.search);
    if (params.get('state') === SIGNED_OUT_STATE) {
      history.replaceState(null, '', '/admin/');
      renderMessage('Signed out', 'You have signed out of the Keyhold admin console.', [signInButton()]);
      return;
    }
    await signIn(location.hash);
    return;
  }
  const who = document.getElementById('who');
  who.textContent = `Signed in as ${session.name}`;
  who.hidden = false;
  const out = document.getElementById('sign-out');
  out.hidden = false;
  out.addEventListener('click', signOut);
  if (!session.scopes.includes(config.adminScope)) {
    renderNeedsAdmin();
    return;
  }
  document.getElementById('nav').hidden = false;
  window.addEventListener('hashchange', () => route().catch(fail));
  await route();
}

function fail(err) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return;
  console.error(err);
  renderMessage(err instanceof UserFacing ? err.title : 'Something went wrong', err.message || String(err), [signInButton()]);
}

start().catch(fail);
