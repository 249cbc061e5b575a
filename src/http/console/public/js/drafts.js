// Unsaved forms, kept in this tab's sessionStorage under the route that shows them: an edit survives
// leaving the page, a reload, and the round trip to the sign-in page when the session ends mid-save.

const KEY = 'keyhold.console.drafts';

function all() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? '{}') ?? {};
  } catch {
    return {};
  }
}

export function loadDraft(route) {
  return all()[route];
}

export function saveDraft(route, draft) {
  const drafts = all();
  drafts[route] = draft;
  sessionStorage.setItem(KEY, JSON.stringify(drafts));
}

export function clearDraft(route) {
  const drafts = all();
  if (!(route in drafts)) return;
  delete drafts[route];
  sessionStorage.setItem(KEY, JSON.stringify(drafts));
}

/** Forgets every draft of this tab: an explicit sign-out, so the next administrator here finds none. */
export function clearAllDrafts() {
  sessionStorage.removeItem(KEY);
}
