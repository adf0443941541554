import pino, { type Logger } from 'pino';

// Here too, as every module that logs a URL has always found it.
export { redactUrl } from './redact-url.js';

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.WEBCAST_LOG_LEVEL ?? 'info',
      // Belt and braces: these must never reach a log even if someone logs a raw object.
      redact: {
        paths: ['secretKey', '*.secretKey', 'SecretKey', '*.SecretKey', 'headers.authorization', 'req.headers.authorization', 'SourceURL', '*.SourceURL'],
        censor: '[redacted]',
      },
    },
    options.destination ?? process.stdout,
  );
}
