/**
 * Encoding and decoding of LeanCloud `GenericCommand` frames as the `lc.proto2base64.3`
 * subprotocol carries them: one base64 text frame per protobuf message.
 */
import { parse, type Type } from 'protobufjs';
import { LEANCLOUD_MESSAGE_PROTO } from './message-proto';

let genericCommand: Type | undefined;

function type(): Type {
  genericCommand ??= parse(LEANCLOUD_MESSAGE_PROTO, { keepCase: true }).root.lookupType('push_server.messages2.GenericCommand');
  return genericCommand;
}

/** A decoded command: enum fields as their names (`cmd: 'session'`), 64-bit integers as numbers. */
export type LcCommand = Record<string, unknown> & { cmd?: string; op?: string; i?: number; peerId?: string };

export class LcDecodeError extends Error {
  override readonly name = 'LcDecodeError';
}

/** Base64 text frame → command; LcDecodeError for anything that is not a GenericCommand. */
export function decodeFrame(text: string): LcCommand {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text.trim())) throw new LcDecodeError('frame is not base64');
  try {
    const message = type().decode(Buffer.from(text.trim(), 'base64'));
    return type().toObject(message, { enums: String, longs: Number, defaults: false }) as LcCommand;
  } catch (err) {
    throw new LcDecodeError(`frame is not a GenericCommand: ${(err as Error).message}`);
  }
}

/** Command (enum fields by name or number) → base64 text frame. */
export function encodeFrame(command: LcCommand): string {
  const t = type();
  return Buffer.from(t.encode(t.fromObject(command)).finish()).toString('base64');
}
