// Registers <session-banner> once, even when two bundles ship the element.
import { SessionBanner } from './session-banner.js';

export const TAG_NAME = 'session-banner';

if (typeof customElements !== 'undefined' && !customElements.get(TAG_NAME)) {
  customElements.define(TAG_NAME, SessionBanner);
}

export { SessionBanner };
