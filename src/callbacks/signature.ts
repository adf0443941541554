import { createHash } from 'node:crypto';

/** The callback body of API.md; EventData travels as a string holding JSON. */
export interface CallbackBody {
  EventType: string;
  EventData: string;
  EventTime: string;
  EventId: string;
  AppId: string;
  Version: string;
  Nonce: string;
  Signature: string;
}

/** hex(sha256(the fields and the secret, sorted as strings and joined)), as the vendor signs callbacks. */
export function callbackSignature(body: Omit<CallbackBody, 'Signature'>, secret: string): string {
  const parts = [body.EventType, body.EventData, body.EventTime, body.EventId, body.AppId, body.Version, body.Nonce, secret].sort();
  return createHash('sha256').update(parts.join('')).digest('hex');
}
