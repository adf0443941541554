import { useState } from 'preact/hooks';
import { ApiFailure, call, enc } from '../api';
import { Viewer } from './Viewer';

export function RoomPage({ app, room, user }: { app: string; room: string; user?: string | undefined }) {
  const [link, setLink] = useState<{ url: string; expiresAt: number } | undefined>();
  const [hours, setHours] = useState('1');
  const [error, setError] = useState('');
  const share = async () => {
    setError('');
    try {
      const result = await call<{ Path: string; ExpiresAt: number }>('POST', `/rooms/${enc(app)}/${enc(room)}/share`, { TtlSeconds: Math.round(Number(hours) * 3600) });
      setLink({ url: new URL(result.Path, location.origin).toString(), expiresAt: result.ExpiresAt });
    } catch (err) {
      setError(err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err));
    }
  };
  return (
    <section>
      <h1>Room {room} <span class="muted">({app})</span></h1>
      <Viewer app={app} room={room} user={user} />
      <div class="card share">
        <h2>Share this room</h2>
        <p class="muted">A link that lets anyone watch this room, and nothing else, until it expires.</p>
        <label class="inline">Valid for
          <select value={hours} onChange={(e) => setHours(e.currentTarget.value)}>
            <option value="1">1 hour</option>
            <option value="8">8 hours</option>
            <option value="24">1 day</option>
            <option value="168">7 days</option>
          </select>
        </label>{' '}
        <button onClick={share} data-testid="share">Make a viewer link</button>
        {error && <p class="error">{error}</p>}
        {link && (
          <p>
            <input class="wide" readOnly value={link.url} data-testid="share-url" onFocus={(e) => e.currentTarget.select()} />
            <span class="muted"> until {new Date(link.expiresAt).toLocaleString()}</span>
          </p>
        )}
      </div>
    </section>
  );
}
