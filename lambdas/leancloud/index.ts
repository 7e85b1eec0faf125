/**
 * The LeanCloud adapter's public entry: the frame handler `$default` calls for connections that
 * negotiated `lc.proto2base64.3`, and the event encoder. The composition root (runtime/deps.ts)
 * imports `encoder.ts` itself, the one other module others may import, so that route bundles
 * that never decode a frame do not carry the whole adapter. Removing the adapter is this folder
 * plus those two imports (and local/stack.ts's).
 */
export { handleLeanCloudFrame } from './adapter';
export { leanCloudEncoder } from './encoder';
