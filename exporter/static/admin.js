/**
 * The exporter's /admin page: requests the exporter's bearer token once, keeps it in
 * sessionStorage (so it is forgotten when the tab closes) and hands it to the widget through
 * a token provider. A 401 from the exporter clears the token and shows the form again.
 */

import './widget/index.js';

const TOKEN_KEY = 'sessionwatch.admin.token';
const LANG_KEY = 'sessionwatch.admin.lang';

const pageMessages = {
  fr: {
    title: 'sessionwatch · Santé des sessions',
    heading: 'Santé des sessions',
    languageLabel: 'Langue',
    forgetToken: 'Oublier le jeton',
    formTitle: 'Jeton d’administration',
    formIntro:
      'Saisissez le jeton configuré sur l’exporteur (SESSIONWATCH_ADMIN_TOKEN). Il reste dans cet onglet jusqu’à sa fermeture et n’est envoyé qu’à cet exporteur.',
    tokenLabel: 'Jeton',
    submit: 'Ouvrir le tableau de bord',
    tokenMissing: 'Saisissez le jeton.',
    tokenInvalid: 'Le jeton ne peut contenir ni espace ni retour à la ligne.',
    tokenRejected: 'L’exporteur a refusé ce jeton. Saisissez-le à nouveau.',
  },
  en: {
    title: 'sessionwatch · Session health',
    heading: 'Session health',
    languageLabel: 'Language',
    forgetToken: 'Forget the token',
    formTitle: 'Admin token',
    formIntro:
      'Enter the token configured on the exporter (SESSIONWATCH_ADMIN_TOKEN). It stays in this tab until you close it and is sent only to this exporter.',
    tokenLabel: 'Token',
    submit: 'Open the dashboard',
    tokenMissing: 'Enter the token.',
    tokenInvalid: 'The token may contain no space or line break.',
    tokenRejected: 'The exporter rejected this token. Enter it again.',
  },
};

const widgetSlot = document.getElementById('widget-slot');
const form = document.getElementById('token-form');
const input = document.getElementById('token-input');
const tokenError = document.getElementById('token-error');
const forgetButton = document.getElementById('forget-token');
let errorKey = null;
let widget = null;

function readStorage(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    // Storage can be disabled by the browser; the page then requests the token on each load.
    return null;
  }
}

function writeStorage(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // Same as above: without storage the token lives only in this page's memory.
  }
}

let memoryToken = readStorage(TOKEN_KEY);

function currentLang() {
  return readStorage(LANG_KEY) === 'en' ? 'en' : 'fr';
}

function applyLanguage(lang) {
  const text = pageMessages[lang];
  document.documentElement.lang = lang;
  document.title = text.title;
  for (const element of document.querySelectorAll('[data-i18n]')) {
    element.textContent = text[element.dataset.i18n];
  }
  for (const element of document.querySelectorAll('[data-i18n-label]')) {
    element.setAttribute('aria-label', text[element.dataset.i18nLabel]);
  }
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === lang));
  }
  tokenError.textContent = errorKey ? text[errorKey] : '';
  widget?.setAttribute('lang', lang);
}

function createWidget() {
  const element = document.createElement('session-metrics-widget');
  element.setAttribute('base-url', 'v1/admin/sessions');
  element.setAttribute('heading-level', '2');
  element.setAttribute('lang', currentLang());
  element.tokenProvider = () => memoryToken;
  element.addEventListener('session-metrics-widget:error', (event) => {
    if (event.detail.kind === 'unauthorized') {
      setToken(null);
      showForm('tokenRejected');
    }
  });
  return element;
}

function showForm(messageKey) {
  errorKey = messageKey;
  widget?.remove();
  widget = null;
  applyLanguage(currentLang());
  forgetButton.hidden = true;
  form.hidden = false;
  input.value = '';
  input.setAttribute('aria-invalid', String(Boolean(messageKey)));
  input.focus();
}

function showWidget() {
  errorKey = null;
  tokenError.textContent = '';
  form.hidden = true;
  forgetButton.hidden = false;
  widget ??= createWidget();
  if (!widget.isConnected) widgetSlot.append(widget);
}

function setToken(token) {
  memoryToken = token;
  writeStorage(TOKEN_KEY, token);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = input.value.trim();
  if (!token) return showForm('tokenMissing');
  if (/\s/.test(token)) return showForm('tokenInvalid');
  setToken(token);
  showWidget();
});

forgetButton.addEventListener('click', () => {
  setToken(null);
  showForm(null);
});

for (const button of document.querySelectorAll('[data-lang]')) {
  button.addEventListener('click', () => {
    writeStorage(LANG_KEY, button.dataset.lang);
    applyLanguage(button.dataset.lang);
  });
}

applyLanguage(currentLang());
if (memoryToken) showWidget();
else showForm(null);
