import { STATUS_NAMES, type ApiEvent, type ListedTask, type WebCastTaskView } from '../api/wire.js';

/** Human output of tasks and events; --json prints the API's own Result instead. */

/** A task as Get shows it; the list adds its key. */
export type TaskView = WebCastTaskView & Partial<Pick<ListedTask, 'AppId' | 'RoomId' | 'TaskId'>>;
export type EventView = ApiEvent;

export const statusText = (status: number): string => `${status} ${STATUS_NAMES[status] ?? '?'}`;

const clockTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';

export function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export const layerText = (v: TaskView['VideoSolutions'][number]): string =>
  `${v.Width}x${v.Height}@${v.FrameRate} ${v.Bitrate ? `${v.Bitrate} kbps` : 'adaptive'}`;

export function formatTask(t: TaskView, key: string, now: number, why?: string): string {
  const rows: [string, string][] = [
    ['Task', key],
    ['Status', statusText(t.Status) + (t.StopReason ? `, ${t.StopReason}` : '')],
    ...(why ? [['Why', why] as [string, string]] : []),
    ['User', t.UserId],
    ['Source', t.SourceURL],
    ['Started', `${clockTime(t.StartTime)} (${ago(t.StartTime, now)})`],
    ['Ended', t.EndTime ? `${clockTime(t.EndTime)} (after ${Math.round((t.EndTime - t.StartTime) / 1000)} s)` : '-'],
    ['Layers', t.VideoSolutions.map(layerText).join(', ')],
    ['Limit', `${t.MaxRunningTime} s`],
  ];
  if (t.BusinessId) rows.push(['Business', t.BusinessId]);
  return rows.map(([k, v]) => `${k.padEnd(9)}${v}`).join('\n');
}

export function formatTable(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

export function formatEvent(e: EventView): string {
  const d = e.EventData;
  const parts = [`${e.EventTime.slice(11, 19)}  ${e.EventType}`];
  if (typeof d.Status === 'number' && e.EventType !== 'WebcastStartEvent') {
    parts.push(e.EventType === 'WebcastFirstFrame' || e.EventType === 'WebcastEnd' ? statusText(d.Status) : `status ${d.Status}`);
  }
  if (typeof d.StopReason === 'string' && d.StopReason) parts.push(d.StopReason);
  if (typeof d.Reason === 'string' && d.Reason) parts.push(d.Reason);
  if (typeof d.Position === 'number') parts.push(`place ${d.Position} in line`);
  parts.push(`callback ${e.Delivery.State}${e.Delivery.LastError ? ` (${e.Delivery.LastError})` : ''}`);
  const why = failureDetail([e]);
  return parts.join('  ') + (why ? `\n          why: ${why}` : '');
}

/** The reason a failed task gives, from its WebcastEnd event (GetWebCastTask has none: the vendor's shape). */
export function failureDetail(events: readonly EventView[]): string | undefined {
  const end = events.find((e) => e.EventType === 'WebcastEnd' && typeof e.EventData.FailureDetail === 'string');
  return end ? String(end.EventData.FailureDetail) : undefined;
}
