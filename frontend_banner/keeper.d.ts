// Types of the "./keeper" entry point: the keeper without the element.
export {
  SessionKeeper, KEEPER_DEFAULTS, computeBackoff, refreshDueAt, resolveExpiry,
  RefreshError, classifyFailure, kindForStatus,
} from './index';
export type {
  FailureKind, FailureReason, RefreshResult, ClientEventsOptions, SessionKeeperOptions,
  KeeperEnvironment, KeeperState, KeeperFailureDetail, KeeperEventMap,
} from './index';
