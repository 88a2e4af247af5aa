// Default « Sauvegarder » handler: keeps the fields of forms marked `data-session-draft` in
// localStorage, so the work survives a new login, and puts them back when the page loads again.
// Password, file and hidden inputs are never stored (a hidden input often carries a CSRF token).

const SKIPPED_TYPES = new Set(['password', 'file', 'hidden', 'submit', 'button', 'reset', 'image']);
const KEY_PREFIX = 'session-banner:draft:';

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

/** Put stored drafts back into their forms and delete them; returns how many were restored. */
export function restoreDrafts(root, storage, location) {
  let restored = 0;
  for (const form of draftForms(root)) {
    const key = formKey(form, location);
    let draft = null;
    try {
      draft = JSON.parse(storage.getItem(key) ?? 'null');
      storage.removeItem(key);
    } catch {
      draft = null;
    }
    if (!draft || typeof draft.values !== 'object') continue;
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
