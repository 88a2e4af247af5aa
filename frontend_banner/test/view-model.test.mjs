import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MESSAGES, format, formatDuration, messagesFor } from '../src/messages.js';
import { crossedThreshold, deriveView, thresholdText, viewTexts } from '../src/view-model.js';

const NOW = 1_000_000;
const failing = (overrides = {}) => ({
  expiresAt: NOW + 272_000,
  problem: 'network',
  problemSince: NOW - 6000,
  nextRetryAt: NOW + 20_000,
  refreshing: false,
  ...overrides,
});

test('deriveView hides a problem during the quiet period', () => {
  const view = deriveView(failing({ problemSince: NOW - 4000 }), NOW, { quietMs: 5000 });
  assert.equal(view.visible, false);
  assert.equal(view.tone, 'hidden');
});

test('deriveView shows a lasting problem as retrying', () => {
  const view = deriveView(failing(), NOW, { quietMs: 5000 });
  assert.equal(view.tone, 'retrying');
  assert.equal(view.retryInMs, 20_000);
});

test('deriveView shows at once when the session ends within the quiet period', () => {
  const view = deriveView(failing({ problemSince: NOW, expiresAt: NOW + 3000 }), NOW, { quietMs: 5000 });
  assert.equal(view.visible, true);
});

test('deriveView marks refusal and expiry tones', () => {
  assert.equal(deriveView(failing({ problem: 'refused', nextRetryAt: null }), NOW).tone, 'refused');
  assert.equal(deriveView(failing({ expiresAt: NOW - 1 }), NOW).tone, 'expired');
  assert.equal(deriveView({ expiresAt: NOW - 1, problem: null }, NOW).tone, 'expired');
  assert.equal(deriveView({ expiresAt: NOW - 1, problem: null, refreshing: true }, NOW).tone, 'hidden');
});

test('viewTexts builds the French messages of each state', () => {
  const m = messagesFor('fr');
  assert.deepEqual(viewTexts(deriveView(failing(), NOW), m), {
    title: 'Votre session doit être renouvelée',
    detail: 'Connexion perdue — nouvelle tentative automatique dans 20\u00a0s',
    countdown: 'Session expirée dans 4:32',
  });
  const server = viewTexts(deriveView(failing({ problem: 'server', refreshing: true }), NOW), m);
  assert.equal(server.detail, 'Erreur du serveur — nouvelle tentative en cours…');
  const refused = viewTexts(deriveView(failing({ problem: 'refused', nextRetryAt: null }), NOW), m);
  assert.equal(refused.detail, 'Le serveur a refusé le renouvellement');
  const expired = viewTexts(deriveView(failing({ expiresAt: NOW - 1000 }), NOW), m);
  assert.equal(expired.title, 'Votre session a expiré');
  assert.equal(expired.countdown, 'Sauvegardez votre travail, puis reconnectez-vous.');
});

test('viewTexts speaks English with lang en', () => {
  const texts = viewTexts(deriveView(failing(), NOW), messagesFor('en-GB'));
  assert.equal(texts.title, 'Your session needs to be renewed');
  assert.equal(texts.detail, 'Connection lost — retrying automatically in 20\u00a0s');
  assert.equal(texts.countdown, 'Session expires in 4:32');
});

test('messages cover the same keys in both languages', () => {
  assert.deepEqual(Object.keys(MESSAGES.en).sort(), Object.keys(MESSAGES.fr).sort());
});

test('messagesFor merges overrides and falls back to French', () => {
  assert.equal(messagesFor('de').retry, 'Réessayer');
  assert.equal(messagesFor('en', { retry: 'Try again' }).retry, 'Try again');
});

test('format and formatDuration', () => {
  assert.equal(format('{a} and {b}', { a: 1 }), '1 and {b}');
  assert.equal(formatDuration(272_000), '4:32');
  assert.equal(formatDuration(271_001), '4:32');
  assert.equal(formatDuration(3_723_000), '1:02:03');
  assert.equal(formatDuration(-5), '0:00');
});

test('crossedThreshold announces a few countdown thresholds only', () => {
  assert.equal(crossedThreshold(null, 290_000), null);
  assert.equal(crossedThreshold(301_000, 299_000), 300);
  assert.equal(crossedThreshold(299_000, 298_000), null);
  assert.equal(crossedThreshold(130_000, 50_000), 60, 'a jump announces the lowest threshold crossed');
  assert.equal(crossedThreshold(5000, -1), null);
  assert.equal(thresholdText(120, messagesFor('fr')), 'La session expire dans 2\u00a0min');
  assert.equal(thresholdText(30, messagesFor('en')), 'The session expires in 30\u00a0s');
});
