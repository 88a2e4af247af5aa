// Failure classification for the session keeper.
//
// A refresh can fail in three ways that call for different behaviour:
//   network: the request never got an answer (offline, fetch error, timeout). Retry soon,
//            and report it later, because the server never saw it.
//   refused: the refresh endpoint answered 401 or 403. Retrying will not help.
//   server:  any other answer (5xx, 429, an unexpected body). Retry with backoff.
// `reason` uses the recorder's vocabulary: network, expired, revoked, invalid, inactive,
// server_error, rate_limited, other.

export const FAILURE_KINDS = Object.freeze(['network', 'refused', 'server']);

const REASONS = new Set([
  'network', 'expired', 'revoked', 'invalid', 'inactive', 'server_error', 'rate_limited', 'other',
]);

/** Error a host's refresh function may throw to state the failure kind itself. */
export class RefreshError extends Error {
  constructor(kind, message, { status = null, reason = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    if (!FAILURE_KINDS.includes(kind)) {
      throw new TypeError(`RefreshError: kind must be one of ${FAILURE_KINDS.join(', ')}, got ${kind}`);
    }
    this.name = 'RefreshError';
    this.kind = kind;
    this.status = status;
    this.reason = reason;
  }

  /** Build the error for a non-2xx refresh response, reading `detail.reason` from a JSON body. */
  static async fromResponse(response) {
    let reason = null;
    try {
      const body = await response.clone().json();
      reason = body?.detail?.reason ?? body?.reason ?? null;
    } catch {
      // A body that is not JSON still has a status, which is enough to classify it.
    }
    const status = response.status;
    return new RefreshError(kindForStatus(status), `refresh failed with HTTP ${status}`, {
      status,
      reason: typeof reason === 'string' ? reason : null,
    });
  }
}

/** Map an HTTP status of the refresh endpoint to a failure kind. */
export function kindForStatus(status) {
  if (status === 401 || status === 403) return 'refused';
  if (status === 408) return 'network';
  return 'server';
}

function defaultReason(kind, status) {
  if (kind === 'network') return 'network';
  if (kind === 'refused') return 'invalid';
  if (status === 429) return 'rate_limited';
  if (typeof status === 'number' && status >= 500) return 'server_error';
  return 'other';
}

function normalizeReason(reason, kind, status) {
  if (typeof reason === 'string' && REASONS.has(reason)) return reason;
  return defaultReason(kind, status);
}

function networkDetail(kind, status, onLine) {
  if (kind !== 'network') return null;
  if (status === 408) return 'timeout';
  return onLine ? 'fetch_error' : 'offline';
}

/**
 * Classify whatever a refresh function threw.
 *
 * Returns {kind, reason, status, detail}; `detail` is offline, timeout or fetch_error for
 * network failures and the HTTP status (or "exception") otherwise.
 */
export function classifyFailure(error, { onLine = true } = {}) {
  if (error instanceof RefreshError) {
    const status = error.status ?? null;
    return {
      kind: error.kind,
      reason: normalizeReason(error.reason, error.kind, status),
      status,
      detail: networkDetail(error.kind, status, onLine) ?? String(status ?? 'exception'),
    };
  }
  const name = error?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return { kind: 'network', reason: 'network', status: null, detail: 'timeout' };
  }
  if (!onLine) {
    return { kind: 'network', reason: 'network', status: null, detail: 'offline' };
  }
  // fetch() rejects with a TypeError when the request could not be sent or answered.
  if (error instanceof TypeError) {
    return { kind: 'network', reason: 'network', status: null, detail: 'fetch_error' };
  }
  const status = typeof error?.status === 'number' ? error.status : null;
  if (status !== null) {
    const kind = kindForStatus(status);
    // 408 Request Timeout is a network failure; its detail uses the network vocabulary.
    const detail = kind === 'network' ? 'timeout' : String(status);
    return { kind, reason: normalizeReason(error.reason, kind, status), status, detail };
  }
  return { kind: 'server', reason: 'other', status: null, detail: 'exception' };
}
