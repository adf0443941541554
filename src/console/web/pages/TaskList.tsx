import { useState } from 'preact/hooks';
import { call, STATUS, type Session, type Task } from '../api';
import { href } from '../router';
import { ago } from '../time';
import { usePolling } from '../usePolling';

export function TaskList({ session }: { session: Session }) {
  const everyApp = session.AppIds.includes('*');
  const [appId, setAppId] = useState(everyApp ? '' : (session.AppIds[0] ?? ''));
  const [roomId, setRoomId] = useState('');
  const [status, setStatus] = useState('');
  const query = new URLSearchParams({ AppId: appId.trim(), RoomId: roomId.trim(), Status: status, Limit: '100' }).toString();
  // Live: asked again every 2 s while the list shows.
  const { data, error } = usePolling(() => call<{ WebCastTasks: Task[] }>('GET', `/tasks?${query}`), 2000, [query]);
  const tasks = data?.WebCastTasks;
  return (
    <section>
      <div class="title-row">
        <h1>Tasks</h1>
        <a class="button" href={href.start()}>Start a webcast</a>
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        {everyApp ? (
          <label>AppId<input name="AppId" placeholder="every app" value={appId} onInput={(e) => setAppId(e.currentTarget.value)} /></label>
        ) : (
          <label>AppId<select name="AppId" value={appId} onChange={(e) => setAppId(e.currentTarget.value)}>{session.AppIds.map((a) => <option key={a}>{a}</option>)}</select></label>
        )}
        <label>RoomId<input name="RoomId" placeholder="every room" value={roomId} onInput={(e) => setRoomId(e.currentTarget.value)} /></label>
        <label>Status
          <select name="Status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">any</option>
            {Object.entries(STATUS).map(([n, name]) => <option key={n} value={n}>{name}</option>)}
          </select>
        </label>
      </form>
      {error && <p class="error">{error}</p>}
      {tasks && tasks.length === 0 && <p class="muted">No tasks in the last 72 hours match.</p>}
      {tasks && tasks.length > 0 && (
        <div class="table-wrap">
        <table class="tasks" data-testid="tasks">
          <thead><tr><th>Task</th><th>Room</th><th>App</th><th>User</th><th>Status</th><th>Started</th></tr></thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={`${t.AppId}/${t.RoomId}/${t.TaskId}`} data-task={t.TaskId}>
                <td><a href={href.task(t.AppId, t.RoomId, t.TaskId)}>{t.TaskId}</a></td>
                <td><a href={href.room(t.AppId, t.RoomId)}>{t.RoomId}</a></td>
                <td>{t.AppId}</td>
                <td>{t.UserId}</td>
                <td><StatusBadge status={t.Status} reason={t.StopReason} /></td>
                <td title={new Date(t.StartTime).toLocaleString()}>{ago(t.StartTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}

export function StatusBadge({ status, reason }: { status: number; reason: string }) {
  return (
    <span class={`badge s${status}`} data-testid="status">
      {STATUS[status] ?? status}{reason ? ` · ${reason}` : ''}
    </span>
  );
}
