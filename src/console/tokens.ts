import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Signed, expiring tokens for the console: its session cookie and the shareable viewer link.
 * Each kind signs under its own purpose, so a viewer link can never pass as a session.
 */
export type TokenPurpose = 'session' | 'viewer';

export interface SessionClaims {
  /** The access key that signed in. */
  k: string;
  exp: number;
}

export interface ViewerClaims {
  a: string;
  r: string;
  exp: number;
}

type Claims<P extends TokenPurpose> = P extends 'session' ? SessionClaims : ViewerClaims;

export class TokenSigner {
  constructor(private readonly secret: Buffer) {}

  /** The node's secret in the data folder, made on first use; several nodes share it by copying the file. */
  static fromDataDir(dataDir: string): TokenSigner {
    const file = path.join(dataDir, 'console-secret');
    if (!existsSync(file)) {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    }
    return new TokenSigner(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
  }

  private mac(purpose: TokenPurpose, payload: string): Buffer {
    return createHmac('sha256', this.secret).update(`${purpose}\n${payload}`).digest();
  }

  sign<P extends TokenPurpose>(purpose: P, claims: Claims<P>): string {
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${payload}.${this.mac(purpose, payload).toString('base64url')}`;
  }

  /** The claims of a well-signed token that has not expired; undefined otherwise. */
  verify<P extends TokenPurpose>(purpose: P, token: string | undefined, now: number): Claims<P> | undefined {
    if (!token) return undefined;
    const [payload, mac, extra] = token.split('.');
    if (!payload || !mac || extra !== undefined) return undefined;
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(purpose, payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: Claims<P>;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims<P>;
    } catch {
      return undefined;
    }
    return typeof claims.exp === 'number' && claims.exp > now ? claims : undefined;
  }
}
