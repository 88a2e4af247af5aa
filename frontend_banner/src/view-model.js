// What the banner shows for a keeper state at a given wall-clock time. Pure, so the timing
// rules (quiet period, expiry, retry countdown, announcement thresholds) are unit-tested in Node.

import { format, formatDuration } from './messages.js';

/** Seconds left at which the countdown is announced to screen readers. */
export const ANNOUNCE_THRESHOLDS_S = Object.freeze([300, 120, 60, 30, 10]);

/**
 * Derive the banner's view.
 *
 * `tone` is hidden, retrying (network or server error, the keeper retries by itself),
 * refused (retrying will not help) or expired. A problem stays hidden for `quietMs` after it
 * started, so a blip that the first quick retries fix shows nothing; it shows at once when the
 * session expires within that time.
 */
export function deriveView(state, now, { quietMs = 5_000 } = {}) {
  const expiresAt = state?.expiresAt ?? null;
  const timeLeftMs = expiresAt === null ? null : expiresAt - now;
  const expired = timeLeftMs !== null && timeLeftMs <= 0;
  const problem = state?.problem ?? null;
  let visible;
  if (!problem) {
    // No failure yet: only a session that ran out without any attempt (keeper stopped) shows.
    visible = expired && !state?.refreshing;
  } else {
    const quietOver = now - (state.problemSince ?? now) >= quietMs;
    const endsSoon = timeLeftMs !== null && timeLeftMs <= quietMs;
    visible = quietOver || endsSoon;
  }
  let tone = 'hidden';
  if (visible) tone = expired ? 'expired' : problem === 'refused' ? 'refused' : 'retrying';
  const retrying = problem !== null && problem !== 'refused';
  const retryInMs = retrying && state.nextRetryAt != null ? Math.max(0, state.nextRetryAt - now) : null;
  return { visible, tone, expired, problem, timeLeftMs, retryInMs, retrying, refreshing: Boolean(state?.refreshing) };
}

/** Build the banner's texts for a view with the string table `m`. */
export function viewTexts(view, m) {
  const title = view.expired ? m.titleExpired : m.title;
  let detail = '';
  if (view.problem === 'refused') {
    detail = m.refused;
  } else if (view.problem) {
    const cause = view.problem === 'network' ? m.network : m.server;
    const seconds = view.retryInMs === null ? null : Math.ceil(view.retryInMs / 1000);
    const next = view.refreshing || seconds === null || seconds <= 0
      ? m.retrying
      : format(m.retryIn, { seconds });
    detail = `${cause} — ${next}`;
  }
  let countdown;
  if (view.expired) countdown = m.expiredHint;
  else if (view.timeLeftMs === null) countdown = '';
  else countdown = format(m.countdown, { time: formatDuration(view.timeLeftMs) });
  return { title, detail, countdown };
}

/**
 * Return the announcement threshold (seconds) that the countdown crossed since the previous
 * render, or null. `previousLeftMs` null means this is the first render: nothing is crossed.
 */
export function crossedThreshold(previousLeftMs, timeLeftMs) {
  if (previousLeftMs === null || timeLeftMs === null || timeLeftMs <= 0) return null;
  let crossed = null;
  for (const seconds of ANNOUNCE_THRESHOLDS_S) {
    if (previousLeftMs > seconds * 1000 && timeLeftMs <= seconds * 1000) crossed = seconds;
  }
  return crossed;
}

/** Text announced when the countdown crosses `seconds`. */
export function thresholdText(seconds, m) {
  return seconds >= 60
    ? format(m.minutesLeft, { minutes: seconds / 60 })
    : format(m.secondsLeft, { seconds });
}
