// Types of the "./define" entry point: registers <session-banner> on import.
export { SessionBanner, TAG_NAME } from './index';
