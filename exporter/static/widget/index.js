/** Entry point: importing this module defines <session-metrics-widget>. */

export { SessionMetricsWidgetElement, TAG_NAME } from './define.js';
export { MetricsRequestError } from './client.js';
export { messages, formatMessage } from './messages.js';
export { SessionMetricsWidgetElement as default } from './define.js';
