/** Locale-aware number and time formatting for the widget, built once per language. */

import { DEFAULT_LANG } from './messages.js';

function safeLocale(lang) {
  try {
    return Intl.getCanonicalLocales(lang || DEFAULT_LANG)[0];
  } catch {
    // An invalid `lang` tag falls back to the default language instead of breaking the render.
    return DEFAULT_LANG;
  }
}

/**
 * Creates the formatters for `lang`. Times are shown in the browser's time zone; the server
 * sends Unix seconds and UTC timestamps.
 */
export function createFormatter(lang) {
  const locale = safeLocale(lang);
  const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const ratio = new Intl.NumberFormat(locale, {
    style: 'percent',
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  });
  const threshold = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });
  const clock = new Intl.DateTimeFormat(locale, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const minute = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' });
  const day = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short' });
  const dayAndMinute = new Intl.DateTimeFormat(locale, {
    weekday: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });

  return {
    locale,
    count: (value) => integer.format(value),
    ratio: (value) => ratio.format(value),
    threshold: (value) => threshold.format(value),
    time: (date) => clock.format(date),
    tick: (date, byDay) => (byDay ? day : minute).format(date),
    /** Formats a bucket start: the minute alone for minute buckets, with the day for hour buckets. */
    bucket: (date, stepSeconds) => (stepSeconds >= 3600 ? dayAndMinute : minute).format(date),
  };
}
