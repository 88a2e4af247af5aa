// Type declarations for the session banner and the session keeper (src/index.js).

/** Failure kind: no response (network), a 401/403 refusal, or any other server response. */
export type FailureKind = 'network' | 'refused' | 'server';

/** Reason vocabulary shared with the server-side recorder. */
export type FailureReason =
  | 'network' | 'expired' | 'revoked' | 'invalid' | 'inactive'
  | 'server_error' | 'rate_limited' | 'other';

/** Result of the host's refresh function: the new expiry, in one of two forms. */
export interface RefreshResult {
  /** Expiry in ms since the epoch, or a Date. */
  expiresAt?: number | Date;
  /** Seconds from now until expiry; preferred, because it ignores a wrong device clock. */
  expiresIn?: number;
  /** Data passed to the other tabs' onRemoteRefresh. Every same-origin tab can read it. */
  shared?: unknown;
}

export interface ClientEventsOptions {
  /** The client-events endpoint, e.g. "/v1/sessions/client-events". */
  url: string;
  /** Authentication headers, read at each send. */
  headers?: () => Record<string, string>;
  /** Events kept while waiting (oldest dropped past this). Default 200. */
  maxEvents?: number;
  /** Events per request. Default 50. */
  batchSize?: number;
}

export interface SessionKeeperOptions {
  /** The host's refresh call. Throw RefreshError, a fetch TypeError, or an error with `status`. */
  refresh: (context: { signal?: AbortSignal }) => Promise<RefreshResult>;
  /** Current expiry, ms since the epoch or Date. */
  expiresAt?: number | Date | null;
  /** Namespace shared by the tabs of one app (lock, channel and storage keys). Default "default". */
  name?: string;
  /** Refresh this long before expiry, or half-way through shorter tokens. Default 300000. */
  refreshAheadMs?: number;
  /** A refresh taking longer counts as a network failure. Default 15000. */
  timeoutMs?: number;
  /** First retry delay; each retry doubles it (retryFactor) up to maxRetryMs, with jitter. */
  initialRetryMs?: number;
  maxRetryMs?: number;
  retryFactor?: number;
  /** Maximum timer delay before the keeper reads the wall clock again. Default 30000. */
  maxTimerMs?: number;
  /**
   * How long a tab waits for news of another tab's success: after a refusal, or when the lock
   * shows that another tab has just renewed the token. Default 1500.
   */
  raceSettleMs?: number;
  /** Delay before sending client events again after a failed send. Default 60000. */
  eventsRetryMs?: number;
  /** Queue network failures and send them to the server's client-events endpoint. */
  clientEvents?: ClientEventsOptions;
  /** Called in the other tabs after one tab refreshed, with that refresh's `shared` data. */
  onRemoteRefresh?: (shared: unknown) => void;
  /** Test seams: clock, timers, storage, locks, BroadcastChannel, window, document, navigator. */
  env?: Partial<KeeperEnvironment>;
}

export interface KeeperEnvironment {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  random(): number;
  fetch: typeof fetch;
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  locks: Pick<LockManager, 'request'> | null;
  BroadcastChannel: typeof BroadcastChannel | null;
  window: EventTarget | null;
  document: (EventTarget & { visibilityState?: DocumentVisibilityState }) | null;
  navigator: { onLine?: boolean } | null;
  crypto: Pick<Crypto, 'getRandomValues'> & Partial<Pick<Crypto, 'randomUUID'>> | null;
}

export interface KeeperState {
  expiresAt: number | null;
  learnedAt: number | null;
  problem: FailureKind | null;
  reason: FailureReason | null;
  /** offline, fetch_error or timeout for network failures; the HTTP status otherwise. */
  detail: string | null;
  status: number | null;
  problemSince: number | null;
  attempt: number;
  nextRetryAt: number | null;
  refreshing: boolean;
  online: boolean;
  pendingEvents: number;
  /** Wall clock when the snapshot was taken. */
  now: number;
}

export interface KeeperFailureDetail {
  kind: FailureKind;
  reason: FailureReason;
  status: number | null;
  detail: string;
  at: number;
  attempt: number;
  nextRetryAt: number | null;
  trigger: string | null;
}

export interface KeeperEventMap {
  change: CustomEvent<KeeperState>;
  refreshed: CustomEvent<{ expiresAt: number; remote: boolean }>;
  failed: CustomEvent<KeeperFailureDetail>;
}

export declare class SessionKeeper extends EventTarget {
  constructor(options: SessionKeeperOptions);
  readonly tabId: string;
  readonly state: Readonly<KeeperState>;
  readonly mechanisms: {
    lock: 'web-locks' | 'storage-lease' | 'none';
    channel: 'broadcast-channel' | 'storage-event' | 'none';
  };
  now(): number;
  start(): this;
  stop(): void;
  /** Stop and forget the shared state (logout). */
  end(): void;
  setExpiry(expiresAt: number | Date, options?: { shared?: unknown }): void;
  retryNow(): Promise<void>;
  timeLeft(): number | null;
  addEventListener<K extends keyof KeeperEventMap>(
    type: K, listener: (event: KeeperEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof KeeperEventMap>(
    type: K, listener: (event: KeeperEventMap[K]) => void,
    options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions): void;
}

export declare const KEEPER_DEFAULTS: Readonly<Required<Pick<SessionKeeperOptions,
  'name' | 'refreshAheadMs' | 'timeoutMs' | 'initialRetryMs' | 'maxRetryMs' | 'retryFactor' |
  'maxTimerMs' | 'raceSettleMs' | 'eventsRetryMs'>>>;
export declare function computeBackoff(attempt: number, options?: Partial<SessionKeeperOptions>,
  random?: () => number): number;
export declare function refreshDueAt(expiresAt: number, learnedAt: number, refreshAheadMs: number): number;
export declare function resolveExpiry(result: RefreshResult, now: number): number;

export declare class RefreshError extends Error {
  constructor(kind: FailureKind, message: string,
    options?: { status?: number | null; reason?: string | null; cause?: unknown });
  readonly kind: FailureKind;
  readonly status: number | null;
  readonly reason: string | null;
  static fromResponse(response: Response): Promise<RefreshError>;
}
export declare function kindForStatus(status: number): FailureKind;
export declare function classifyFailure(error: unknown, options?: { onLine?: boolean }): {
  kind: FailureKind; reason: FailureReason; status: number | null; detail: string;
};

/** Keys of the banner's string table (see messages.js for both languages). */
export type MessageKey =
  | 'regionLabel' | 'title' | 'titleExpired' | 'network' | 'server' | 'refused' | 'retryIn'
  | 'retrying' | 'countdown' | 'expiredHint' | 'retry' | 'save' | 'relogin' | 'draftSaved'
  | 'nothingToSave' | 'renewed' | 'minutesLeft' | 'secondsLeft';
export type Messages = Record<MessageKey, string>;
export declare const MESSAGES: Record<string, Messages>;
export declare function defineMessages(lang: string, strings: Partial<Messages>): void;
export declare function messagesFor(lang?: string | null, overrides?: Partial<Messages>): Messages;
export declare function format(template: string, values?: Record<string, unknown>): string;
export declare function formatDuration(ms: number): string;

export declare function saveDrafts(root: ParentNode, storage: Storage, location?: Location, now?: number): number;
/** Put stored drafts back into their forms; a draft stays stored until its form is submitted. */
export declare function restoreDrafts(root: ParentNode, storage: Storage, location?: Location,
  now?: number, maxAgeMs?: number): number;
/** Delete a form's draft when the form is submitted; returns a function that stops this. */
export declare function forgetDraftsOnSubmit(root: Node, storage: Storage, location?: Location): () => void;

export type BannerTone = 'hidden' | 'retrying' | 'refused' | 'expired';

export interface BannerView {
  visible: boolean;
  tone: BannerTone;
  expired: boolean;
  problem: FailureKind | null;
  timeLeftMs: number | null;
  retryInMs: number | null;
  retrying: boolean;
  refreshing: boolean;
}
export declare function deriveView(state: Partial<KeeperState> | null, now: number,
  options?: { quietMs?: number }): BannerView;
export declare function viewTexts(view: BannerView, messages: Messages): {
  title: string; detail: string; countdown: string;
};

/** Detail of every banner event; it never carries a token. */
export interface SessionBannerEventDetail {
  tone: BannerTone;
  problem: FailureKind | null;
  reason: FailureReason | null;
  expiresAt: number | null;
}
export type SessionSaveEvent = CustomEvent<SessionBannerEventDetail>;
export type SessionRetryEvent = CustomEvent<SessionBannerEventDetail>;
export type SessionReloginEvent = CustomEvent<SessionBannerEventDetail & { url: string }>;
export type SessionStateChangeEvent = CustomEvent<SessionBannerEventDetail & { previousTone: BannerTone }>;

export declare class SessionBanner extends HTMLElement {
  static readonly observedAttributes: string[];
  keeper: SessionKeeper | null;
  messages: Partial<Messages>;
  /** `login-url` attribute; default "/login". */
  loginUrl: string;
  /** `return-param` attribute; default "next". */
  returnParam: string;
  /** `quiet-period` attribute, in seconds; default 5. */
  quietPeriod: number;
  readonly tone: BannerTone;
  readonly reloginUrl: string;
  retry(): boolean;
  save(): boolean;
  relogin(): boolean;
}

export declare const TAG_NAME: 'session-banner';

declare global {
  interface HTMLElementTagNameMap {
    'session-banner': SessionBanner;
  }
  interface GlobalEventHandlersEventMap {
    'session-save': SessionSaveEvent;
    'session-retry': SessionRetryEvent;
    'session-relogin': SessionReloginEvent;
    'session-statechange': SessionStateChangeEvent;
  }
}
