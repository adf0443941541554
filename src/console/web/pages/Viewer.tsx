import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, call, enc } from '../api';
import { usePolling } from '../usePolling';

interface Received {
  width: number;
  height: number;
  fps: number;
  kbps: number;
  framesDecoded: number;
}

/**
 * Watches one publisher of a room over WebRTC: the service holds the Janus subscription and
 * hands this page its offer; the page answers and receives. Layer 1 is the big simulcast
 * layer, 0 the small one.
 */
export function Viewer({ app, room, user }: { app: string; room: string; user?: string | undefined }) {
  const base = `/rooms/${enc(app)}/${enc(room)}`;
  const { data, error: listError } = usePolling(() => call<{ Publishers: { UserId: string }[] }>('GET', `${base}/publishers`), 3000, [base]);
  const publishers = data?.Publishers ?? [];
  const [chosen, setChosen] = useState<string | undefined>(user);
  const target = chosen && publishers.some((p) => p.UserId === chosen) ? chosen : publishers[0]?.UserId;
  return (
    <div class="viewer">
      {listError && <p class="error" data-testid="error">{listError}</p>}
      {data && publishers.length === 0 && <p class="muted" data-testid="empty">Nobody publishes in this room right now.</p>}
      {publishers.length > 0 && (
        <label class="inline">Publisher
          <select data-testid="publisher" value={target} onChange={(e) => setChosen(e.currentTarget.value)}>
            {publishers.map((p) => <option key={p.UserId}>{p.UserId}</option>)}
          </select>
        </label>
      )}
      {target && <Playback key={target} base={base} userId={target} />}
    </div>
  );
}

function Playback({ base, userId }: { base: string; userId: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const [layer, setLayer] = useState(1);
  const [viewerId, setViewerId] = useState<string | undefined>();
  const [stats, setStats] = useState<Received | undefined>();
  const [error, setError] = useState('');
  const [muted, setMuted] = useState(true);

  useEffect(() => {
    let closed = false;
    let id: string | undefined;
    const pc = new RTCPeerConnection({ iceServers: [] });
    const stream = new MediaStream();
    pc.ontrack = (e) => {
      stream.addTrack(e.track);
      if (video.current) video.current.srcObject = stream;
    };
    let keepalive: ReturnType<typeof setInterval> | undefined;
    let sampler: ReturnType<typeof setInterval> | undefined;
    (async () => {
      const opened = await call<{ ViewerId: string; OfferSdp: string }>('POST', `${base}/viewers`, { UserId: userId, Layer: 1 });
      id = opened.ViewerId;
      if (closed) return void call('DELETE', `${base}/viewers/${id}`).catch(() => undefined);
      setViewerId(id);
      await pc.setRemoteDescription({ type: 'offer', sdp: opened.OfferSdp });
      await pc.setLocalDescription(await pc.createAnswer());
      // No trickle: the answer goes with every candidate in it.
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
        setTimeout(resolve, 3000);
      });
      await call('POST', `${base}/viewers/${id}/answer`, { AnswerSdp: pc.localDescription?.sdp ?? '' });
      keepalive = setInterval(() => void call('POST', `${base}/viewers/${id}/keepalive`).catch(() => undefined), 10_000);
      let last: { bytes: number; at: number } | undefined;
      sampler = setInterval(async () => {
        const report = await pc.getStats();
        report.forEach((s: RTCInboundRtpStreamStats & { kind?: string; frameWidth?: number; frameHeight?: number; framesPerSecond?: number; framesDecoded?: number }) => {
          if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
          const bytes = s.bytesReceived ?? 0;
          const kbps = last ? ((bytes - last.bytes) * 8) / (s.timestamp - last.at) : 0;
          last = { bytes, at: s.timestamp };
          setStats({ width: s.frameWidth ?? 0, height: s.frameHeight ?? 0, fps: s.framesPerSecond ?? 0, kbps, framesDecoded: s.framesDecoded ?? 0 });
        });
      }, 1000);
    })().catch((err: unknown) => setError(err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err)));
    return () => {
      closed = true;
      clearInterval(keepalive);
      clearInterval(sampler);
      pc.close();
      if (id) void call('DELETE', `${base}/viewers/${id}`).catch(() => undefined);
    };
  }, [base, userId]);

  const switchLayer = async (n: number) => {
    if (!viewerId) return;
    try {
      await call('POST', `${base}/viewers/${viewerId}/layer`, { Layer: n });
      setLayer(n);
    } catch (err) {
      setError(err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err));
    }
  };

  return (
    <div>
      {error && <p class="error" data-testid="error">{error}</p>}
      <div class="player">
        <video ref={video} autoplay playsinline muted={muted} data-testid="video" />
      </div>
      <div class="stats" data-testid="stats">
        {stats ? (
          <>
            <span data-testid="resolution">{stats.width}×{stats.height}</span>
            <span data-testid="fps">{stats.fps.toFixed(0)} fps</span>
            <span data-testid="bitrate">{stats.kbps.toFixed(0)} kbps</span>
          </>
        ) : (
          <span>connecting…</span>
        )}
      </div>
      <div class="controls">
        <span class="muted">Layer</span>
        <button class={layer === 1 ? 'on' : 'secondary'} data-testid="layer-big" onClick={() => switchLayer(1)}>Big</button>
        <button class={layer === 0 ? 'on' : 'secondary'} data-testid="layer-small" onClick={() => switchLayer(0)}>Small</button>
        <button class="secondary" onClick={() => setMuted(!muted)}>{muted ? 'Unmute' : 'Mute'}</button>
      </div>
    </div>
  );
}
