/** Registers <session-metrics-widget> unless another copy of this module already did. */

import { SessionMetricsWidgetElement } from './session-metrics-widget.js';

export const TAG_NAME = 'session-metrics-widget';

if (!customElements.get(TAG_NAME)) {
  customElements.define(TAG_NAME, SessionMetricsWidgetElement);
}

export { SessionMetricsWidgetElement };
