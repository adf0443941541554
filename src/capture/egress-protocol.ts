/** The messages between the service and its egress proxy process (egress-process.ts). */
export type FromEgress =
  /** Listening: sent once, before anything else. */
  | { type: 'ready'; port: number }
  /** It cannot listen (the port it was given is taken): it exits after this. */
  | { type: 'failed'; message: string }
  | { type: 'log'; level: 'debug' | 'info' | 'warn'; fields: Record<string, unknown>; msg: string }
  | { type: 'failure'; host: string; reason: string }
  | { type: 'refused' };

/** How the process is told its settings (argv would show them in ps). */
export interface EgressSettings {
  /** WEBCAST_URL_ALLOWLIST's entries. */
  allowlist: string[];
  /** 0 for any free port; the port of the process before it, when one is started again. */
  port: number;
  /** The service's log level: the process sends no line below it. */
  logLevel: string;
}
