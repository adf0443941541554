import pino, { type Logger } from 'pino';

/**
 * SourceURLs often carry auth tokens in their query or fragment, and userinfo in their
 * authority: logs keep only scheme, host and path.
 */
export function redactUrl(raw: string): string {
  if (!URL.canParse(raw)) return '[unparseable URL]';
  const url = new URL(raw);
  const hidden = url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '';
  return `${url.protocol}//${url.host}${url.pathname}${hidden ? '?[redacted]' : ''}`;
}

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
