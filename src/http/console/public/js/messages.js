// What a field problem means, in plain words, chosen by the stable `code` the admin API (and the
// shared client rules) give every problem; the server's own sentence only when no wording here fits.

const sentence = (text) => {
  const s = String(text ?? '').trim();
  if (!s) return 'This value is not accepted.';
  // A message opening with a value (a quoted URL) keeps it as it is.
  const first = /^[a-z]+\b/.test(s) ? s.charAt(0).toUpperCase() + s.slice(1) : s;
  return /[.!?]$/.test(first) ? first : `${first}.`;
};

const BY_CODE = {
  required: () => 'This is required.',
  'invalid-type': () => 'This value is of the wrong kind.',
  empty: () => 'This cannot be empty.',
  blank: () => 'This cannot be only spaces.',
  'too-long': (p) => `Use at most ${p.limit} characters.`,
  'too-short': (p) => `Use at least ${p.limit} characters.`,
  'too-many': (p) => `At most ${p.limit} are allowed: remove one first.`,
  'too-few': (p) => (p.limit === 1 ? 'Add at least one.' : `Add at least ${p.limit}.`),
  'out-of-range': (p) => `Enter a whole number from ${p.minimum} to ${p.maximum}.`,
  'invalid-value': (p) => (p.allowed ? `Choose one of: ${p.allowed.join(', ')}.` : 'This value is not one Keyhold knows.'),
  duplicate: () => 'This is already in the list.',
  'control-characters': () => 'Remove the control characters (tabs, line breaks and the like).',
  'invalid-unicode': () => 'This holds characters that are not valid text.',
  'past-date': () => 'Choose a date in the future.',
  'conflicting-fields': () => 'Choose an expiration date or Never Expires, not both.',
  'read-only': () => 'Keyhold sets this itself; it cannot be written.',
  fixed: () => 'This cannot be changed once created.',
  'not-applicable': () => 'This does not apply to this kind of client.',
  'unknown-field': (p) => `This console sent a field the server does not know (${p.path}). Reload the page.`,
  'not-an-object': () => 'This console sent a request the server could not read. Reload the page.',
  'not-absolute-url': () => 'Enter a full URL, such as https://app.example.com/callback.',
  wildcard: () => 'Wildcards (*) are not allowed: register each URL exactly.',
  userinfo: () => 'Remove the user name or password from the URL.',
  fragment: () => 'Remove the fragment (the part from #).',
  'not-canonical': (p) => (p.canonical ? `Write it as ${p.canonical}` : 'Write the URL in its canonical form.'),
  'insecure-http': () => 'Use https: plain http is allowed only on 127.0.0.1, [::1] or localhost.',
  'scheme-not-allowed': () => 'Use https, http on a loopback host, or a private-use scheme such as com.example.app:/callback.',
  'path-required': () => 'Add a path after the scheme, as in com.example.app:/callback.',
  'not-an-origin': () => 'Enter an origin only (scheme, host and port), such as https://app.example.com.',
  'loopback-mix': () => 'https on a loopback host cannot be combined with native-app URLs in one client.',
};

/** The sentence for one problem `{ path, code, message, limit?, minimum?, maximum?, allowed?, canonical? }`. */
export function describeProblem(problem) {
  const wording = BY_CODE[problem.code];
  return wording ? wording(problem) : sentence(problem.message);
}

export { sentence };
