/** Error codes carried in ERROR, REJECT and BYE frames (docs/protocol.md, "Error codes"). */
export const WIRE_ERRORS = {
  NONE: 0,
  BAD_FRAME: 1,
  VERSION: 2,
  UNKNOWN_PACKAGE: 3,
  TIMEOUT: 4,
  UNEXPECTED: 5,
  OUT_OF_RANGE: 6,
  NOT_AVAILABLE: 7,
  TOO_MANY_REQUESTS: 8,
  SHUTTING_DOWN: 9,
  FRAME_TOO_LARGE: 10,
  READ_FAILED: 11,
  BAD_DATA: 12,
  ELSEWHERE: 13,
  DUPLICATE: 14,
  BUSY: 15,
  AUTH_FAILED: 16,
  DAMAGED: 17,
} as const;

export type WireErrorName = keyof typeof WIRE_ERRORS;
export type WireErrorCode = (typeof WIRE_ERRORS)[WireErrorName];

const NAMES = new Map<number, WireErrorName>(Object.entries(WIRE_ERRORS).map(([k, v]) => [v, k as WireErrorName]));

export const wireErrorName = (code: number): string => NAMES.get(code) ?? `CODE_${code}`;

/** A violation by the remote side: the connection answers with ERROR(code) and closes. */
export class ProtocolError extends Error {
  constructor(
    readonly code: WireErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}
