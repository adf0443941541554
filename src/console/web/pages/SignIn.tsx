import { useState } from 'preact/hooks';
import { ApiFailure, call, type Session } from '../api';

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [accessKey, setAccessKey] = useState('');
  const [secretKey, setSecretKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      // The secret goes to the server once; the session is an HttpOnly cookie from then on.
      onSignedIn(await call<Session>('POST', '/session', { AccessKey: accessKey.trim(), SecretKey: secretKey }));
    } catch (err) {
      setError(err instanceof ApiFailure ? err.message : String(err));
    } finally {
      setSecretKey('');
      setBusy(false);
    }
  };
  return (
    <main class="center">
      <form class="card signin" onSubmit={submit}>
        <h1>webcast</h1>
        <p class="muted">Sign in with an access key pair of this service.</p>
        <label>Access key<input name="accessKey" autocomplete="username" required value={accessKey} onInput={(e) => setAccessKey(e.currentTarget.value)} /></label>
        <label>Secret key<input name="secretKey" type="password" autocomplete="current-password" required value={secretKey} onInput={(e) => setSecretKey(e.currentTarget.value)} /></label>
        {error && <p class="error" data-testid="error">{error}</p>}
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}
