import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crashReason } from '../../src/capture/capture-session.js';
import { BROWSER_MAX_PIDS } from '../../src/capture/task-cgroups.js';

const none = { oomKills: 0, pidsLimitHits: 0 };

test('a crash is told as the page crashed unless the page ran into a limit of its browser', () => {
  assert.deepEqual(crashReason(none, 1024, 'the page crashed'), { cause: 'crash', reason: 'the page crashed' });
});

test('a page over its memory is told so, with the limit and the setting that sets it', () => {
  const { cause, reason } = crashReason({ ...none, oomKills: 1 }, 1024, 'the page crashed');
  assert.equal(cause, 'memory');
  assert.match(reason, /more than its 1024 MB of memory \(WEBCAST_PAGE_MEMORY_MB\)/);
});

test('a page that crashed once its browser had all the threads it may have is told so: workers are threads', () => {
  const { cause, reason } = crashReason({ ...none, pidsLimitHits: 8 }, 1024, 'the page crashed');
  assert.equal(cause, 'threads');
  assert.match(reason, new RegExp(`^the page crashed: its browser had reached the ${BROWSER_MAX_PIDS} threads and processes it may have`));
  assert.match(reason, /workers/);
});

test('memory comes first where the page ran into both: the memory going is what ended it', () => {
  assert.equal(crashReason({ oomKills: 2, pidsLimitHits: 3 }, 512, 'the page crashed').cause, 'memory');
});
