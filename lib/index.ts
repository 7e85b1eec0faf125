/** What the package offers a CDK app: the backend construct, the stack that wraps it, and its settings. */
export { ImBackend, settingsEnvironment, type ImBackendProps, type LogLevel } from './im-backend';
export { ImStack, type ImStackProps } from './im-stack';
