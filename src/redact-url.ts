/**
 * SourceURLs often carry auth tokens in their query or fragment, and userinfo in their
 * authority: logs keep only scheme, host and path. (Apart from log.ts, so that the egress
 * proxy's process loads no logger.)
 */
export function redactUrl(raw: string): string {
  if (!URL.canParse(raw)) return '[unparseable URL]';
  const url = new URL(raw);
  const hidden = url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '';
  return `${url.protocol}//${url.host}${url.pathname}${hidden ? '?[redacted]' : ''}`;
}
