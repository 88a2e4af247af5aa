// Entry point without the element: the keeper and its failure helpers, for code that renews
// the session but shows no banner (a test, or a page with its own UI).
export { SessionKeeper, KEEPER_DEFAULTS, computeBackoff, refreshDueAt, resolveExpiry } from './session-keeper.js';
export { RefreshError, classifyFailure, kindForStatus } from './errors.js';
