import { createHash, createHmac } from 'node:crypto';

/**
 * Presigned URLs built step by step as the vendor's official Go SDK (`base/sign.go`,
 * `Credentials.SignUrl`) and Python SDK (`volcengine/auth/SignerV4.py`, `sign_url`) build them,
 * written here apart from the service's own signing code so that a shared mistake cannot hide.
 */
export interface PresignInput {
  method: 'GET' | 'POST';
  params: Record<string, string>;
  accessKey: string;
  secretKey: string;
  region?: string;
  service?: string;
  date?: Date;
  sessionToken?: string;
}

const hex = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
// Go's url.QueryEscape and Python's quote(safe='-_.~'): every byte but A-Z a-z 0-9 - _ . ~ escaped.
const escape = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
const normQuery = (q: Record<string, string>) => Object.keys(q).sort().map((k) => `${escape(k)}=${escape(q[k] ?? '')}`).join('&');

function sign(o: PresignInput, query: Record<string, string>, xDate: string, scope: string): string {
  // Both SDKs: METHOD, path, query, an empty header block, no signed headers, the hash of no body.
  const canonical = [o.method, '/', normQuery(query), '\n', '', hex('')].join('\n');
  const toSign = ['HMAC-SHA256', xDate, scope, hex(canonical)].join('\n');
  const [date, region, service] = scope.split('/') as [string, string, string];
  const key = hmac(hmac(hmac(hmac(o.secretKey, date), region), service), 'request');
  return createHmac('sha256', key).update(toSign).digest('hex');
}

function start(o: PresignInput) {
  const xDate = (o.date ?? new Date()).toISOString().replace(/[-:]|\.\d{3}/g, '');
  const scope = `${xDate.slice(0, 8)}/${o.region ?? 'cn-north-1'}/${o.service ?? 'rtc'}/request`;
  const query: Record<string, string> = {
    ...o.params,
    'X-Date': xDate,
    'X-NotSignBody': '',
    'X-Credential': `${o.accessKey}/${scope}`,
    'X-Algorithm': 'HMAC-SHA256',
    'X-SignedHeaders': '',
    'X-SignedQueries': '',
  };
  return { xDate, scope, query };
}

/** Go: X-Security-Token (even empty) before the list; the list names every key, itself too. */
export function goPresignedQuery(o: PresignInput): string {
  const { xDate, scope, query } = start(o);
  query['X-Security-Token'] = o.sessionToken ?? '';
  query['X-SignedQueries'] = Object.keys(query).sort().join(';');
  query['X-Signature'] = sign(o, query, xDate, scope);
  // url.Values.Encode: sorted, spaces as '+'.
  return Object.keys(query).sort().map((k) => `${escape(k)}=${escape(query[k] ?? '').replace(/%20/g, '+')}`).join('&');
}

/** Python: the list first, then X-Security-Token only when there is one (signed, but not listed). */
export function pythonPresignedQuery(o: PresignInput): string {
  const { xDate, scope, query } = start(o);
  query['X-SignedQueries'] = Object.keys(query).sort().join(';');
  if (o.sessionToken) query['X-Security-Token'] = o.sessionToken;
  query['X-Signature'] = sign(o, query, xDate, scope);
  // urllib's urlencode: insertion order, quote_plus.
  return new URLSearchParams(query).toString();
}
