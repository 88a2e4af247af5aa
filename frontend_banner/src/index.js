// Entry point: the banner element (registered on import), the keeper and their helpers.
export { SessionBanner, TAG_NAME } from './define.js';
export { SessionKeeper, KEEPER_DEFAULTS, computeBackoff, refreshDueAt, resolveExpiry } from './session-keeper.js';
export { RefreshError, classifyFailure, kindForStatus } from './errors.js';
export { MESSAGES, defineMessages, messagesFor, format, formatDuration } from './messages.js';
export { forgetDraftsOnSubmit, restoreDrafts, saveDrafts } from './drafts.js';
export { deriveView, viewTexts } from './view-model.js';
