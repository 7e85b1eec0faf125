/**
 * WebSocket subprotocol negotiation at `$connect`. Native clients offer none (or `im.json.1`);
 * LeanCloud's realtime SDKs offer `lc.proto2base64.3` (base64 protobuf in text frames) and must
 * see it echoed or they abort. `lc.protobuf2.*` needs binary frames, which API Gateway WebSocket
 * APIs refuse, so it is never selected.
 */

export const NATIVE_PROTOCOL = 'im.json.1';
export const LEANCLOUD_BASE64 = 'lc.proto2base64.3';

/** Protocols this server speaks, in order of preference. */
const SUPPORTED = [NATIVE_PROTOCOL, LEANCLOUD_BASE64];

export type WireProtocol = 'native' | 'leancloud';

/** The protocol to echo for a `Sec-WebSocket-Protocol` offer, if any is supported. */
export function selectSubprotocol(offer: string | undefined): string | undefined {
  if (!offer) return undefined;
  const offered = offer.split(',').map((p) => p.trim());
  return SUPPORTED.find((p) => offered.includes(p));
}

export function wireProtocolOf(selected: string | undefined): WireProtocol {
  return selected === LEANCLOUD_BASE64 ? 'leancloud' : 'native';
}
