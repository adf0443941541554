import { z } from 'zod';

/** The messages between the service and its egress proxy process (egress-process.ts). */
export type FromEgress =
  /** Listening: sent once, before anything else. */
  | { type: 'ready'; port: number }
  /** It cannot listen (the port it was given is taken): it exits after this. */
  | { type: 'failed'; message: string }
  | { type: 'log'; level: 'debug' | 'info' | 'warn'; fields: Record<string, unknown>; msg: string }
  /** A page's request it refused (the SSRF guard) or could not serve, and why. */
  | { type: 'failure'; host: string; reason: string; refused: boolean };

/** How the process is told its settings (argv would show them in ps). */
export interface EgressSettings {
  /** WEBCAST_URL_ALLOWLIST's entries. */
  allowlist: string[];
  /** 0 for any free port; the port of the process before it, when one is started again. */
  port: number;
  /** The service's log level: the process sends no line below it. */
  logLevel: string;
}

/**
 * What the service takes from the process, which parses what pages send: a process that was
 * made to say something else (an unknown log level would throw in the service's handler) is
 * not listened to, and its words are cut to a size a log line can hold.
 */
const fromEgress = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), port: z.number().int().min(1).max(65535) }),
  z.object({ type: z.literal('failed'), message: z.string().transform((s) => s.slice(0, 1000)) }),
  z.object({ type: z.literal('log'), level: z.enum(['debug', 'info', 'warn']), fields: z.record(z.string(), z.unknown()), msg: z.string().transform((s) => s.slice(0, 200)) }),
  z.object({ type: z.literal('failure'), host: z.string().max(300), reason: z.string().transform((s) => s.slice(0, 1000)), refused: z.boolean() }),
]);

export function parseFromEgress(m: unknown): FromEgress | undefined {
  const parsed = fromEgress.safeParse(m);
  return parsed.success ? parsed.data : undefined;
}
