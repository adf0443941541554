import { call, type ClusterNode } from '../api';
import { ago } from '../time';
import { usePolling } from '../usePolling';

/** The cluster's live nodes (a single node shows itself): what each runs, whether it beats, whether it drains. */
export function NodeList() {
  const { data, error } = usePolling(() => call<{ Nodes: ClusterNode[] }>('GET', '/nodes'), 2000, []);
  const nodes = data?.Nodes;
  return (
    <section>
      <h1>Nodes</h1>
      {error && <p class="error">{error}</p>}
      {nodes && nodes.length === 0 && <p class="muted">No node has sent a heartbeat in the last seconds.</p>}
      {nodes && nodes.length > 0 && (
        <div class="table-wrap">
          <table class="tasks" data-testid="nodes">
            <thead><tr><th>Node</th><th>Role</th><th>Address</th><th>Tasks</th><th>Last heartbeat</th><th>State</th></tr></thead>
            <tbody>
              {nodes.map((n) => (
                <tr key={n.NodeId} data-node={n.NodeId}>
                  <td class="url">{n.NodeId}</td>
                  <td>{n.Role === 'worker' ? 'worker' : 'API only'}</td>
                  <td>{n.Address}</td>
                  <td>{n.Role === 'worker' ? `${n.Running} of ${n.Capacity}` : '–'}</td>
                  <td title={new Date(n.HeartbeatAt).toLocaleString()}>{ago(n.HeartbeatAt)}</td>
                  <td>{n.Draining ? <span class="badge s1">draining</span> : <span class="badge s2">up</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
