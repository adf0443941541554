import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, call, enc, whepCall, whepOffer } from '../api';
import { usePolling } from '../usePolling';

interface Received {
  width: number;
  height: number;
  fps: number;
  kbps: number;
  framesDecoded: number;
}

/**
 * Watches one publisher of a room over WebRTC through the service's WHEP endpoint, as any
 * WHEP player would: the page offers, the service answers for Janus. Layer 1 is the big
 * simulcast layer, 0 the small one.
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
      {target && <Playback key={target} whepBase={`/whep/${enc(app)}/${enc(room)}`} userId={target} />}
    </div>
  );
}

function Playback({ whepBase, userId }: { whepBase: string; userId: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const [layer, setLayer] = useState(1);
  const [resource, setResource] = useState<string | undefined>();
  const [stats, setStats] = useState<Received | undefined>();
  const [error, setError] = useState('');
  const [muted, setMuted] = useState(true);

  useEffect(() => {
    let closed = false;
    let session: string | undefined;
    const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
    const stream = new MediaStream();
    pc.ontrack = (e) => {
      stream.addTrack(e.track);
      if (video.current) video.current.srcObject = stream;
    };
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    let sampler: ReturnType<typeof setInterval> | undefined;
    (async () => {
      await pc.setLocalDescription(await pc.createOffer());
      // No trickle: the offer goes with every candidate in it.
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
        setTimeout(resolve, 3000);
      });
      const { resource, answer } = await whepOffer(`${whepBase}/${enc(userId)}?layer=1`, pc.localDescription?.sdp ?? '');
      session = resource;
      if (closed) return void whepCall('DELETE', resource).catch(() => undefined);
      setResource(resource);
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
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
      clearInterval(sampler);
      pc.close();
      if (session) void whepCall('DELETE', session).catch(() => undefined);
    };
  }, [whepBase, userId]);

  const switchLayer = async (n: number) => {
    if (!resource) return;
    try {
      await whepCall('POST', `${resource}/layer`, { encodingId: String(n) });
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
