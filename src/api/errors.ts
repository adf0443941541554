import { RequestError } from '../tasks/validation.js';
import { ActiveTaskNotFoundError, CapacityError, TaskAlreadyExistsError } from '../tasks/service.js';

/** The error codes of the API, with their numeric code where the vendor has one, and HTTP status. */
const CODES = {
  MissingParameter: { codeN: 100002, http: 400 },
  MissingAuthenticationToken: { codeN: 100003, http: 401 },
  MissingSignature: { codeN: 100005, http: 401 },
  InvalidTimestamp: { codeN: 100006, http: 403 },
  InvalidActionOrVersion: { codeN: 100008, http: 404 },
  InvalidAccessKey: { codeN: 100009, http: 401 },
  SignatureDoesNotMatch: { codeN: 100010, http: 401 },
  AccessDenied: { codeN: 100013, http: 403 },
  InternalError: { codeN: 100014, http: 500 },
  FlowLimitExceeded: { codeN: undefined, http: 429 },
  'FlowLimitExceeded.TaskNumberOverLimit': { codeN: undefined, http: 429 },
  InvalidParameter: { codeN: undefined, http: 400 },
  'InvalidParameter.TaskAlreadyExists': { codeN: undefined, http: 400 },
  'InvalidParameter.ErrorActiveTaskNotFound': { codeN: undefined, http: 400 },
  'InvalidParameter.BodyIsEmpty': { codeN: undefined, http: 400 },
  'InvalidParameter.Unmarshal': { codeN: undefined, http: 400 },
  // The console's: what a browser asks for that is not (or no longer) there.
  ResourceNotFound: { codeN: undefined, http: 404 },
  // WHEP's: the node cannot serve a player right now (Janus or the media relay failed); try again.
  ServiceUnavailable: { codeN: undefined, http: 503 },
} as const;

export type ErrorCode = keyof typeof CODES;

export class ApiError extends Error {
  readonly statusCode: number;
  readonly codeN: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = CODES[code].http;
    this.codeN = CODES[code].codeN;
  }
}

/** Maps the core's outcomes onto the API's codes; anything unknown is an internal error. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof RequestError) return new ApiError(err.kind, err.message);
  if (err instanceof TaskAlreadyExistsError) return new ApiError('InvalidParameter.TaskAlreadyExists', err.message);
  if (err instanceof CapacityError) return new ApiError('FlowLimitExceeded.TaskNumberOverLimit', err.message);
  if (err instanceof ActiveTaskNotFoundError) return new ApiError('InvalidParameter.ErrorActiveTaskNotFound', err.message);
  return new ApiError('InternalError', 'the service failed to handle the request; it has been logged');
}
