// Default « Sauvegarder » handler: keeps the fields of forms marked `data-session-draft` in
// localStorage, so the work survives a new login, and puts them back when the page loads again.
// Password, file and hidden inputs are never stored (a hidden input often carries a CSRF token).

const SKIPPED_TYPES = new Set(['password', 'file', 'hidden', 'submit', 'button', 'reset', 'image']);
const KEY_PREFIX = 'session-banner:draft:';
// A draft older than this is not restored: the sale or form it kept is long over.
export const DRAFT_MAX_AGE_MS = 24 * 60 * 60_000;

function draftForms(root) {
  return Array.from(root.querySelectorAll?.('form[data-session-draft]') ?? []);
}

function formKey(form, location) {
  const name = form.dataset.sessionDraft || form.id || form.getAttribute('name') || 'form';
  return `${KEY_PREFIX}${location?.pathname ?? ''}:${name}`;
}

function storedFields(form) {
  return Array.from(form.elements).filter(
    (field) => field.name && !SKIPPED_TYPES.has(field.type) && !field.hasAttribute('data-session-draft-skip'),
  );
}

/** Store every draft form under `root`; returns how many forms were stored. */
export function saveDrafts(root, storage, location, now = Date.now()) {
  let saved = 0;
  for (const form of draftForms(root)) {
    const values = {};
    for (const field of storedFields(form)) {
      if (field.type === 'checkbox' || field.type === 'radio') {
        if (field.checked) (values[field.name] ??= []).push(field.value);
      } else {
        values[field.name] = field.value;
      }
    }
    try {
      storage.setItem(formKey(form, location), JSON.stringify({ savedAt: now, values }));
      saved += 1;
    } catch {
      // Storage full or disabled: the host's own `session-save` handler is the way out.
    }
  }
  return saved;
}

/**
 * Put stored drafts back into their forms; returns how many were restored.
 *
 * A draft stays stored until its form is submitted (see `forgetDraftsOnSubmit`) or it is older
 * than `maxAgeMs`, so a page that redirects to the login page right after loading keeps it for
 * the page that follows the login.
 */
export function restoreDrafts(root, storage, location, now = Date.now(), maxAgeMs = DRAFT_MAX_AGE_MS) {
  let restored = 0;
  for (const form of draftForms(root)) {
    const key = formKey(form, location);
    let draft = null;
    try {
      draft = JSON.parse(storage.getItem(key) ?? 'null');
    } catch {
      draft = null;
    }
    if (!draft || typeof draft.values !== 'object' || draft.values === null) continue;
    if (!(now - draft.savedAt <= maxAgeMs)) {
      removeDraft(storage, key);
      continue;
    }
    for (const field of storedFields(form)) {
      const value = draft.values[field.name];
      if (value === undefined) continue;
      if (field.type === 'checkbox' || field.type === 'radio') {
        field.checked = Array.isArray(value) && value.includes(field.value);
      } else {
        field.value = String(value);
      }
    }
    restored += 1;
  }
  return restored;
}

/**
 * Delete a draft form's draft when the form is submitted. One listener on `root` covers its
 * draft forms, including those rendered later. Returns a function that removes the listener.
 */
export function forgetDraftsOnSubmit(root, storage, location) {
  const listener = (event) => {
    const form = event.target;
    if (form?.matches?.('form[data-session-draft]')) removeDraft(storage, formKey(form, location));
  };
  // Capture, so that a host handler that stops the event still lets the draft go.
  root.addEventListener('submit', listener, true);
  return () => root.removeEventListener('submit', listener, true);
}

function removeDraft(storage, key) {
  try {
    storage.removeItem(key);
  } catch {
    // Storage disabled: nothing was stored either.
  }
}
