/** Type declarations for <session-metrics-widget> (index.js, define.js). */

export type SessionMetricsWindow = '5m' | '15m' | '1h' | '24h' | '7d';
export type TopErrorsDimension = 'ip' | 'site' | 'reason';
export type SessionMetricsState = 'loading' | 'ready' | 'empty' | 'stale' | 'error';
export type SessionMetricsErrorKind =
  | 'unreachable'
  | 'timeout'
  | 'unauthorized'
  | 'forbidden'
  | 'unavailable'
  | 'invalid-request'
  | 'http'
  | 'invalid-response'
  | 'token';

/** Returns the bearer token to send, or null/undefined/'' to send none (cookies only). */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

/** Strings shown by the widget; see messages.js for every key and its French and English text. */
export type SessionMetricsMessages = Record<string, string>;

/** Host overrides, by language; keys missing here keep the built-in text. */
export type SessionMetricsMessageOverrides = Partial<
  Record<'fr' | 'en', Partial<SessionMetricsMessages>>
>;

export interface RankedCount {
  key: string;
  count: number;
}

/** Body of `GET <base-url>/metrics`. */
export interface SessionMetricsResponse {
  window: SessionMetricsWindow;
  generated_at: string;
  window_start: number;
  window_end: number;
  alert_threshold: number;
  active: { total: number; by_site: Array<{ site: string; count: number }> };
  refresh: {
    success: number;
    failure: number;
    failure_ratio: number | null;
    failures_by_reason: Record<string, number>;
  };
  forced_logouts: { total: number; by_reason: Record<string, number> };
  top_errors: Record<TopErrorsDimension, RankedCount[]>;
}

/** Body of `GET <base-url>/timeseries`. */
export interface SessionTimeseriesResponse {
  window: SessionMetricsWindow;
  step_seconds: number;
  points: Array<{
    start: number;
    success: number;
    failure: number;
    failures_by_reason: Record<string, number>;
    forced_logouts: number;
  }>;
  generated_at: string;
}

/** Body of `GET <base-url>/top-errors`. */
export interface TopErrorsResponse {
  by: TopErrorsDimension;
  window: SessionMetricsWindow;
  items: RankedCount[];
  total: number;
  offset: number;
  limit: number;
  next_offset: number | null;
  generated_at: string;
}

export interface SessionMetricsUpdatedDetail {
  window: SessionMetricsWindow;
  aboveThreshold: boolean;
  metrics: SessionMetricsResponse;
  timeseries: SessionTimeseriesResponse;
  topErrors: TopErrorsResponse;
}

export interface SessionMetricsErrorDetail {
  kind: SessionMetricsErrorKind;
  /** HTTP status, or null when no response arrived. */
  status: number | null;
  /** The server's `detail` text, cut to 300 characters, or null. */
  detail: string | null;
  /** True when earlier figures stay on screen, marked stale. */
  stale: boolean;
}

export interface SessionMetricsWindowChangeDetail {
  window: SessionMetricsWindow;
  previousWindow: SessionMetricsWindow;
}

export interface SessionMetricsRankingChangeDetail {
  by: TopErrorsDimension;
  previousBy: TopErrorsDimension;
}

export declare class SessionMetricsWidgetElement extends HTMLElement {
  static readonly observedAttributes: string[];
  /** `base-url` attribute; default "/v1/admin/sessions". */
  baseUrl: string;
  /** `window` attribute; default "15m". Setting an unknown value throws a RangeError. */
  timeWindow: SessionMetricsWindow;
  /** `refresh-interval` attribute, in seconds; default 30, 0 turns automatic refresh off. */
  refreshInterval: number;
  /** `page-size` attribute, 1 to 100; default 10. */
  pageSize: number;
  /** `credentials` attribute; default "same-origin". */
  credentials: RequestCredentials;
  /** `heading-level` attribute, 1 to 5; default 2. */
  headingLevel: number;
  tokenProvider: TokenProvider | null;
  messages: SessionMetricsMessageOverrides | null;
  /** Fetches everything now; resolves once the result or the error is on screen. */
  refresh(): Promise<void>;
}

export declare class MetricsRequestError extends Error {
  readonly kind: SessionMetricsErrorKind;
  readonly status: number | null;
  readonly detail: string | null;
}

export declare const TAG_NAME: 'session-metrics-widget';
export declare const messages: Record<'fr' | 'en', SessionMetricsMessages>;
export declare function formatMessage(
  template: string,
  params?: Record<string, string | number>,
): string;
export default SessionMetricsWidgetElement;

declare global {
  interface HTMLElementTagNameMap {
    'session-metrics-widget': SessionMetricsWidgetElement;
  }
  interface HTMLElementEventMap {
    'session-metrics-widget:updated': CustomEvent<SessionMetricsUpdatedDetail>;
    'session-metrics-widget:error': CustomEvent<SessionMetricsErrorDetail>;
    'session-metrics-widget:window-change': CustomEvent<SessionMetricsWindowChangeDetail>;
    'session-metrics-widget:ranking-change': CustomEvent<SessionMetricsRankingChangeDetail>;
  }
}
