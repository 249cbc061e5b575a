// The form for adding or editing a client. Which fields a type has, their limits and the URL rules all
// come from rules/client-rules.js, the module the API's own validation uses.

import { FIELDS_BY_TYPE, LIMITS, TYPES_WITH_SECRETS, URL_LISTS } from '../rules/client-rules.js';
import { h } from '../dom.js';
import { clearErrors, field, messageSlot, showFieldError } from '../controls/field.js';
import { urlList } from '../controls/url-list.js';

export const TYPE_LABELS = { hybrid: 'Hybrid', 'authorization-code': 'Authorization Code', 'client-credentials': 'Client Credentials' };

export const FIELD_LABELS = {
  name: 'Name',
  enabled: 'Enabled',
  redirectUris: 'Allowed Redirect URL(s)',
  postLogoutRedirectUris: 'Allowed Logout Redirect URL(s)',
  allowedCorsOrigins: 'Allowed CORS origin(s)',
  allowRefreshToken: 'Allow Refresh Token',
  accessTokenLifetime: 'Token Lifetime',
  roles: 'Roles',
  secrets: 'Secrets',
  description: 'Description',
  expiresAt: 'Expiration date',
  neverExpires: 'Never Expires',
};

export const hasField = (type, name) => FIELDS_BY_TYPE[type]?.includes(name) ?? false;
export const hasSecrets = (type) => TYPES_WITH_SECRETS.includes(type);

const URL_HINTS = {
  redirectUris: 'Enter a URL, then select + to add it to the list. The application names one of these URLs when it signs a user in, and Keyhold returns the result to it. Use https, http on 127.0.0.1 or localhost for native apps, or a private-use scheme such as com.example.app:/callback.',
  postLogoutRedirectUris: 'Optional. Where Keyhold may send the user after the application signs them out.',
  allowedCorsOrigins: 'Optional. Origins the browser application calls the token endpoint from, such as https://app.example.com.',
};
const PLACEHOLDERS = { redirectUris: 'https://app.example.com/callback', postLogoutRedirectUris: 'https://app.example.com/', allowedCorsOrigins: 'https://app.example.com' };

/** The values a new client of `type` starts with. */
export function defaults() {
  return {
    name: '',
    enabled: true,
    redirectUris: [],
    postLogoutRedirectUris: [],
    allowedCorsOrigins: [],
    allowRefreshToken: false,
    accessTokenLifetime: String(LIMITS.accessTokenLifetime.default),
    roles: [],
    pending: {},
  };
}

/** A stored client's values as the form holds them. */
export function valuesOf(client) {
  return { ...defaults(client.type), ...client, accessTokenLifetime: String(client.accessTokenLifetime), pending: {} };
}

/** The request body of `values` for a client of `type`: only the fields of its type. */
export function bodyOf(type, values, { isNew }) {
  const body = {};
  for (const name of FIELDS_BY_TYPE[type]) {
    if (name === 'enabled' && isNew) continue;
    body[name] = name === 'accessTokenLifetime' ? Number(values.accessTokenLifetime.trim()) : values[name];
  }
  return body;
}

/** The fields of `body` that differ from `client`: what a PATCH sends. */
export function changesOf(client, body) {
  return Object.fromEntries(Object.entries(body).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(client[key])));
}

/**
 * The form. `values` fills it; `onChange(values)` hears every edit (for the draft); `onSubmit(values)`
 * runs once the values pass the checks made here.
 */
export function clientForm({ type, values, roles, isNew, submitLabel, onSubmit, onCancel, onChange }) {
  const parts = {};
  const changed = () => onChange?.(read());
  parts.name = field({
    path: 'name',
    label: FIELD_LABELS.name,
    control: h('input', { type: 'text', required: true, maxlength: String(LIMITS.name.max), autocomplete: 'off', dir: 'auto', value: values.name }),
    hint: 'Use this name to identify the application that will use this client.',
  });
  if (!isNew) {
    parts.enabled = field({ path: 'enabled', label: FIELD_LABELS.enabled, control: h('input', { type: 'checkbox', checked: values.enabled }), check: true, hint: 'A disabled client can neither sign users in nor get tokens.' });
  }
  if (hasField(type, 'allowRefreshToken')) {
    parts.allowRefreshToken = field({
      path: 'allowRefreshToken',
      label: FIELD_LABELS.allowRefreshToken,
      control: h('input', { type: 'checkbox', checked: values.allowRefreshToken }),
      check: true,
      hint: 'Select this if the application uses refresh tokens to keep users signed in. Note: avoid selecting this if there is no need to refresh tokens; a refresh token lets the application request new access tokens for a long time.',
    });
  }
  for (const name of Object.keys(URL_LISTS)) {
    if (!hasField(type, name)) continue;
    parts[name] = urlList({ path: name, label: FIELD_LABELS[name], hint: URL_HINTS[name], values: values[name], max: URL_LISTS[name].max, placeholder: PLACEHOLDERS[name], onChange: changed });
    parts[name].setPendingText(values.pending?.[name]);
  }
  if (hasField(type, 'roles')) {
    const roleBox = (role, label) =>
      field({ path: `roles.${role}`, label, control: h('input', { type: 'checkbox', checked: values.roles.includes(role), 'data-role': role }), check: true });
    parts.roles = h(
      'fieldset',
      { class: 'field roles', 'data-path': 'roles' },
      h('legend', {}, FIELD_LABELS.roles),
      roleBox(roles.admin, 'Administrator (may call the admin API with scope admin)'),
      roleBox(roles.resourceServer, 'Resource server (may introspect any token, not only its own)'),
    );
  }
  const lifetime = LIMITS.accessTokenLifetime;
  parts.accessTokenLifetime = field({
    path: 'accessTokenLifetime',
    label: `${FIELD_LABELS.accessTokenLifetime} (seconds)`,
    control: h('input', { type: 'number', min: String(lifetime.min), max: String(lifetime.max), step: '1', inputmode: 'numeric', value: values.accessTokenLifetime }),
    hint: `How long an access token is valid: from ${lifetime.min} to ${lifetime.max} seconds; ${lifetime.default} (one hour) by default.`,
  });

  const slot = messageSlot();
  const submitButton = h('button', { type: 'submit', text: submitLabel });
  const form = h(
    'form',
    { novalidate: true, class: 'client-form' },
    slot.el,
    Object.values(parts),
    h('div', { class: 'actions' }, submitButton, h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: onCancel })),
  );

  function read() {
    const pending = {};
    const out = { ...values, name: parts.name.fieldControl.value, accessTokenLifetime: parts.accessTokenLifetime.fieldControl.value, pending };
    if (parts.enabled) out.enabled = parts.enabled.fieldControl.checked;
    if (parts.allowRefreshToken) out.allowRefreshToken = parts.allowRefreshToken.fieldControl.checked;
    for (const name of Object.keys(URL_LISTS)) {
      if (!parts[name]) continue;
      out[name] = parts[name].values();
      pending[name] = parts[name].pendingText();
    }
    if (parts.roles) out.roles = [...parts.roles.querySelectorAll('input[data-role]')].filter((box) => box.checked).map((box) => box.dataset.role);
    return out;
  }

  /** The checks that need no server; the first field in error is focused. */
  function check() {
    clearErrors(form);
    slot.clear();
    const failed = [];
    const name = parts.name.fieldControl.value;
    if (!name.trim()) failed.push([parts.name, name ? 'This cannot be only spaces.' : 'This is required.']);
    for (const list of Object.keys(URL_LISTS)) {
      if (!parts[list]) continue;
      if (!parts[list].commitPending()) failed.push([parts[list]]);
      else if (parts[list].values().length < URL_LISTS[list].min) failed.push([parts[list], 'Add at least one.']);
    }
    const seconds = parts.accessTokenLifetime.fieldControl.value.trim();
    if (!/^\d+$/.test(seconds) || Number(seconds) < lifetime.min || Number(seconds) > lifetime.max) {
      failed.push([parts.accessTokenLifetime, `Enter a whole number from ${lifetime.min} to ${lifetime.max}.`]);
    }
    for (const [wrapper, message] of failed) if (message) showFieldError(wrapper, message);
    failed[0]?.[0].fieldControl.focus();
    changed();
    return failed.length === 0;
  }

  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (submitButton.disabled || !check()) return;
    submitButton.disabled = true;
    try {
      await onSubmit(read());
    } finally {
      submitButton.disabled = false;
    }
  });
  return { form, slot, read, submit: () => form.requestSubmit(submitButton) };
}
