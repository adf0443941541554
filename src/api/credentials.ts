import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ApiError } from './errors.js';

/** An access key pair and the AppIds it may act on (`*` = any). */
export interface AccessKeyPair {
  accessKey: string;
  secretKey: string;
  appIds: readonly string[];
}

export class KeyRing {
  private readonly byAccessKey: ReadonlyMap<string, AccessKeyPair>;

  constructor(pairs: readonly AccessKeyPair[]) {
    this.byAccessKey = new Map(pairs.map((p) => [p.accessKey, p]));
  }

  find(accessKey: string): AccessKeyPair | undefined {
    return this.byAccessKey.get(accessKey);
  }
}

export const mayUseApp = (pair: AccessKeyPair, appId: string): boolean => pair.appIds.includes('*') || pair.appIds.includes(appId);

/** A key allowed every AppId: the operator's, which alone may see and steer the nodes. */
export const mayUseEveryApp = (pair: AccessKeyPair): boolean => pair.appIds.includes('*');

/** Nodes serve every customer: only a key allowed every AppId may `what` (see or steer them). */
export function requireEveryApp(pair: AccessKeyPair, what: string): void {
  if (!mayUseEveryApp(pair)) throw new ApiError('AccessDenied', `the access key ${pair.accessKey} is bound to AppIds; only a key allowed every AppId may ${what}`);
}

const keysFileSchema = z.object({
  keys: z
    .array(
      z.object({
        accessKey: z.string().min(8),
        secretKey: z.string().min(16),
        appIds: z.array(z.string().min(1)).min(1).default(['*']),
      }),
    )
    .min(1),
});

export function readKeysFile(file: string): AccessKeyPair[] {
  const result = keysFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!result.success) {
    throw new Error(`keys file ${file}: ${result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  }
  return result.data.keys;
}

export interface GeneratedKey {
  pair: AccessKeyPair;
  /** True only on the start that created it: the secret is shown that once. */
  isNew: boolean;
  file: string;
}

/** The key pair kept in the data folder, created with owner-only permissions on first start. */
export function loadOrCreateGeneratedKey(dataDir: string): GeneratedKey {
  const file = path.join(dataDir, 'credentials.json');
  if (existsSync(file)) {
    const saved = z.object({ accessKey: z.string(), secretKey: z.string() }).parse(JSON.parse(readFileSync(file, 'utf8')));
    return { pair: { ...saved, appIds: ['*'] }, isNew: false, file };
  }
  mkdirSync(dataDir, { recursive: true });
  const pair = {
    accessKey: `AK${randomBytes(12).toString('hex').toUpperCase()}`,
    secretKey: randomBytes(30).toString('base64url'),
  };
  writeFileSync(file, `${JSON.stringify(pair, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { pair: { ...pair, appIds: ['*'] }, isNew: true, file };
}
