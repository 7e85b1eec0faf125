/** The protocol's error codes (docs/protocol.md §13) and the one error type that carries them. */

export const ERROR_CODES = {
  SIGNATURE_FAILED: 4102,
  INVALID_LOGIN: 4103,
  SESSION_REQUIRED: 4105,
  FRAME_TOO_LONG: 4109,
  SESSION_CONFLICT: 4111,
  /** LeanCloud adapter only: a reconnect's or refresh's session token (`st`) is not valid. */
  SESSION_TOKEN_EXPIRED: 4112,
  UNPARSEABLE_RAW_MESSAGE: 4114,
  MESSAGE_SENT_QUOTA_EXCEEDED: 4116,
  INTERNAL_ERROR: 4200,
  CONVERSATION_SIGNATURE_FAILED: 4302,
  CONVERSATION_NOT_FOUND: 4303,
  CONVERSATION_FULL: 4304,
  CONVERSATION_QUERY_FAILED: 4310,
  CONVERSATION_LOG_REJECTED: 4312,
  NORMAL_CONVERSATION_REQUIRED: 4314,
  /** Extension (LeanCloud's code): a `kick` target that is not a member, in `failed`. */
  MEMBERSHIP_REQUIRED: 4317,
  OPERATION_UNAUTHORIZED: 4320,
  /** Extension: an `invite` target that already is a member, in `failed`. */
  ALREADY_MEMBER: 4326,
  INVALID_MESSAGING_TARGET: 4401,
  /** Extension (LeanCloud's code): editing or recalling someone else's message. */
  OWNERSHIP_REQUIRED: 4403,
  /** Extension (LeanCloud's code): editing or recalling a message that does not exist. */
  MESSAGE_NOT_FOUND: 4404,
} as const;

export type ErrorName = keyof typeof ERROR_CODES;

export interface ErrorBody {
  code: number;
  name: ErrorName;
  message: string;
}

/** A failure the client is told about. Anything else thrown becomes INTERNAL_ERROR. */
export class ImError extends Error {
  readonly code: number;
  constructor(
    readonly errorName: ErrorName,
    message: string,
  ) {
    super(message);
    this.name = 'ImError';
    this.code = ERROR_CODES[errorName];
  }

  toBody(): ErrorBody {
    return { code: this.code, name: this.errorName, message: this.message };
  }
}

export const INTERNAL_ERROR_BODY: ErrorBody = {
  code: ERROR_CODES.INTERNAL_ERROR,
  name: 'INTERNAL_ERROR',
  message: 'internal error, retry later',
};
