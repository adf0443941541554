import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTransitionError, isActive, newTask, transition } from '../../src/tasks/state-machine.js';
import { parseStartWebcast } from '../../src/tasks/validation.js';
import { TaskStatus } from '../../src/tasks/types.js';

const fresh = () => newTask(parseStartWebcast({ AppId: 'a', RoomId: 'r', TaskId: 't', UserId: 'u', SourceURL: 'https://example.com' }), 1000);

describe('the task state machine', () => {
  it('starts not started, with a StartTime and no EndTime', () => {
    const t = fresh();
    assert.deepEqual([t.Status, t.StopReason, t.StartTime, t.EndTime], [TaskStatus.NotStarted, '', 1000, 0]);
    assert.equal(isActive(t.Status), true);
  });

  it('runs once published, then ends with a reason and an EndTime', () => {
    const running = transition(fresh(), { type: 'published' }, 2000);
    assert.equal(running.Status, TaskStatus.Running);
    assert.equal(running.StartTime, 1000);
    const ended = transition(running, { type: 'ended', reason: 'ExceedMaxRunningTime' }, 3000);
    assert.deepEqual([ended.Status, ended.StopReason, ended.EndTime], [TaskStatus.Ended, 'ExceedMaxRunningTime', 3000]);
    assert.equal(isActive(ended.Status), false);
  });

  it('may be stopped or fail before it ever ran, keeping the failure’s detail', () => {
    const stopped = transition(fresh(), { type: 'ended', reason: 'StopByAPI' }, 1500);
    assert.equal(stopped.Status, TaskStatus.Ended);
    const failed = transition(fresh(), { type: 'failed', reason: 'StartTaskFailed', detail: 'net::ERR_NAME_NOT_RESOLVED' }, 1500);
    assert.deepEqual([failed.Status, failed.StopReason, failed.FailureDetail], [TaskStatus.Failed, 'StartTaskFailed', 'net::ERR_NAME_NOT_RESOLVED']);
  });

  it('treats ended and failed as final', () => {
    const ended = transition(fresh(), { type: 'ended', reason: 'StopByAPI' }, 1500);
    const failed = transition(fresh(), { type: 'failed', reason: 'StartTaskFailed', detail: '' }, 1500);
    for (const t of [ended, failed]) {
      assert.throws(() => transition(t, { type: 'published' }, 2000), InvalidTransitionError);
      assert.throws(() => transition(t, { type: 'ended', reason: 'StopByAPI' }, 2000), InvalidTransitionError);
      assert.throws(() => transition(t, { type: 'failed', reason: 'StartTaskFailed', detail: '' }, 2000), InvalidTransitionError);
    }
  });

  it('publishes only once', () => {
    const running = transition(fresh(), { type: 'published' }, 2000);
    assert.throws(() => transition(running, { type: 'published' }, 2500), /status 2 cannot take the event 'published'/);
  });

  it('never changes the task it was given', () => {
    const t = fresh();
    const copy = structuredClone(t);
    transition(t, { type: 'published' }, 2000);
    assert.deepEqual(t, copy);
  });
});
