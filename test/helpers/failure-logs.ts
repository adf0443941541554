import { afterEach, beforeEach, type TestContext } from 'node:test';
import type { TestNode } from './node.js';

const LEVELS: Record<number, string> = { 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One pino line, shortened for a person reading a CI log: time, level, message, then the rest. */
function readable(line: string): string {
  try {
    const { time, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
    delete rest.pid;
    delete rest.hostname;
    const fields = JSON.stringify(rest);
    return `${new Date(Number(time)).toISOString().slice(11, 23)} ${LEVELS[Number(level)] ?? String(level)} ${String(msg)} ${fields === '{}' ? '' : fields}`.slice(0, 400);
  } catch {
    return line.slice(0, 400);
  }
}

/**
 * For a describe block whose tests run on a node: a test that fails prints what the node
 * logged while it ran (info and up but the API's request lines, the last `max`). A CI run's failure is then told by
 * the node's own words, not only by the timeout the test met.
 */
export function printNodeLogsOnFailure(node: () => TestNode | undefined, max = 80): void {
  let from = 0;
  beforeEach(() => {
    from = node()?.logs.length ?? 0;
  });
  afterEach((t) => {
    const logs = node()?.logs;
    // Node 20's TestContext has `passed` (since 20.12); @types/node 20 does not list it yet.
    if ((t as TestContext & { passed?: boolean }).passed !== false || !logs) return;
    // The tests' own API calls (one a poll) would fill the tail.
    const lines = logs.slice(from).filter((l) => !l.includes('"level":20') && !l.includes('"msg":"api request"')).slice(-max);
    process.stdout.write(`\n# the node's log while "${t.name}" ran (${lines.length} lines, info and up):\n${lines.map((l) => `#   ${readable(l)}`).join('\n')}\n`);
  });
}
