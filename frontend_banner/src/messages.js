// Every string the banner shows or announces, in French (default) and English.
// Placeholders in braces are filled by format(): {seconds}, {time}, {minutes}. A no-break
// space (\u00a0) keeps a number with its unit when the line wraps.

export const MESSAGES = {
  fr: {
    regionLabel: 'État de la session',
    title: 'Votre session doit être renouvelée',
    titleExpired: 'Votre session a expiré',
    network: 'Connexion perdue',
    server: 'Erreur du serveur',
    refused: 'Le serveur a refusé le renouvellement',
    retryIn: 'nouvelle tentative automatique dans {seconds}\u00a0s',
    retrying: 'nouvelle tentative en cours…',
    countdown: 'Session expirée dans {time}',
    expiredHint: 'Sauvegardez votre travail, puis reconnectez-vous.',
    retry: 'Réessayer',
    save: 'Sauvegarder',
    relogin: 'Se reconnecter',
    draftSaved: 'Brouillon enregistré sur cet appareil',
    nothingToSave: 'Aucun formulaire à sauvegarder sur cette page',
    renewed: 'Session renouvelée',
    minutesLeft: 'La session expire dans {minutes}\u00a0min',
    secondsLeft: 'La session expire dans {seconds}\u00a0s',
  },
  en: {
    regionLabel: 'Session status',
    title: 'Your session needs to be renewed',
    titleExpired: 'Your session has expired',
    network: 'Connection lost',
    server: 'Server error',
    refused: 'The server refused to renew the session',
    retryIn: 'retrying automatically in {seconds}\u00a0s',
    retrying: 'retrying now…',
    countdown: 'Session expires in {time}',
    expiredHint: 'Save your work, then sign in again.',
    retry: 'Retry',
    save: 'Save',
    relogin: 'Sign in again',
    draftSaved: 'Draft saved on this device',
    nothingToSave: 'No form to save on this page',
    renewed: 'Session renewed',
    minutesLeft: 'The session expires in {minutes}\u00a0min',
    secondsLeft: 'The session expires in {seconds}\u00a0s',
  },
};

export const DEFAULT_LANG = 'fr';

/** Add or override strings for a language; missing keys fall back to French. */
export function defineMessages(lang, strings) {
  const key = String(lang).toLowerCase();
  MESSAGES[key] = { ...(MESSAGES[key] ?? {}), ...strings };
}

/** Return the complete string table for a BCP 47 tag ("en-GB" uses "en"), French by default. */
export function messagesFor(lang, overrides = {}) {
  const tag = String(lang ?? '').toLowerCase();
  const base = MESSAGES[tag] ?? MESSAGES[tag.split('-')[0]] ?? MESSAGES[DEFAULT_LANG];
  return { ...MESSAGES[DEFAULT_LANG], ...base, ...overrides };
}

/** Replace {name} placeholders with values; unknown placeholders stay as written. */
export function format(template, values = {}) {
  return String(template).replace(/\{(\w+)\}/g, (match, name) =>
    Object.hasOwn(values, name) ? String(values[name]) : match,
  );
}

/** Format a duration as m:ss, or h:mm:ss from one hour on; negative durations show 0:00. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, '0')}:${seconds}`;
  return `${minutes}:${seconds}`;
}
