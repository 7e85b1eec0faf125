/**
 * The LeanCloud adapter's one public entry: the frame handler `$default` calls for connections
 * that negotiated `lc.proto2base64.3`, and the event encoder the composition root puts on
 * `Deps.encoders`. Nothing else in lambdas/ imports from this folder, so removing the adapter is
 * this folder plus those two places.
 */
export { handleLeanCloudFrame } from './adapter';
export { leanCloudEncoder } from './encoder';
