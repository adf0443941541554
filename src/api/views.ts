import type { NodeInfo, StoredCallback } from '../tasks/ports.js';
import type { Task } from '../tasks/types.js';
import type { ApiEvent, ListedTask, WebCastTaskView } from './wire.js';

/** How tasks and events look on the wire, for the OpenAPI and the console alike. */

export function toWebCastTask(t: Task): WebCastTaskView {
  return {
    StartTime: t.StartTime,
    EndTime: t.EndTime,
    Status: t.Status,
    StopReason: t.StopReason,
    UserId: t.UserId,
    SourceURL: t.SourceURL,
    BusinessId: t.BusinessId,
    VideoSolutions: t.VideoSolutions,
    MaxRunningTime: t.MaxRunningTime,
    MonitorConfig: t.MonitorConfig,
    EventNotifyConfig: t.EventNotifyConfig,
  };
}

export function toListedTask(t: Task): ListedTask {
  return { AppId: t.AppId, RoomId: t.RoomId, TaskId: t.TaskId, ...toWebCastTask(t) };
}

/** An event as its callback carries it, with how its delivery went. */
export function toApiEvent(c: StoredCallback): ApiEvent {
  return {
    EventId: c.event.EventId,
    EventType: c.event.EventType,
    EventTime: c.event.EventTime,
    EventData: c.event.EventData,
    Delivery: { State: c.state, Attempts: c.attempts, LastError: c.lastError },
  };
}


/** A node of the cluster, as ListWebcastNodes and the console show it. */
export const toApiNode = (n: NodeInfo) => ({
  NodeId: n.nodeId,
  Role: n.role,
  Address: n.address,
  Capacity: n.capacity,
  Running: n.running,
  Draining: n.draining,
  StartedAt: n.startedAt,
  HeartbeatAt: n.heartbeatAt,
});
