/**
 * Types for the part of janode (Janus's own Node adapter, plain JavaScript) that we use.
 * Only what rooms/janus calls is declared; janode's JSDoc is the reference.
 */
declare module 'janode' {
  import type { EventEmitter } from 'node:events';

  export interface Jsep {
    type: 'offer' | 'answer';
    sdp: string;
  }

  export class JanodeHandle extends EventEmitter {
    id: number;
    detach(): Promise<void>;
    hangup(): Promise<void>;
    trickle(candidate: unknown): Promise<void>;
    trickleComplete(): Promise<void>;
  }

  export class JanodeSession extends EventEmitter {
    id: number;
    attach<H extends JanodeHandle>(plugin: { id: string; Handle: new (...args: never[]) => H }): Promise<H>;
    destroy(): Promise<void>;
  }

  export class JanodeConnection extends EventEmitter {
    create(keepAliveSeconds?: number): Promise<JanodeSession>;
    close(): Promise<void>;
  }

  const Janode: {
    /** janode's own console logger. */
    Logger: { setLevel(level: 'debug' | 'verb' | 'info' | 'warn' | 'error' | 'none'): string };
    connect(config: { address: { url: string; apisecret?: string }[] | { url: string; apisecret?: string }; retry_time_secs?: number; max_retries?: number; is_admin?: boolean }): Promise<JanodeConnection>;
    EVENT: {
      CONNECTION_CLOSED: 'connection_closed';
      SESSION_DESTROYED: 'session_destroyed';
      HANDLE_DETACHED: 'handle_detached';
      HANDLE_ICE_FAILED: 'handle_ice_failed';
      HANDLE_HANGUP: 'handle_hangup';
      HANDLE_MEDIA: 'handle_media';
      HANDLE_WEBRTCUP: 'handle_webrtcup';
      HANDLE_SLOWLINK: 'handle_slowlink';
      HANDLE_TRICKLE: 'handle_trickle';
      CONNECTION_ERROR: 'connection_error';
    };
  };
  export default Janode;
}

declare module 'janode/plugins/videoroom' {
  import { JanodeHandle, type Jsep } from 'janode';

  export interface Participant {
    feed: string | number;
    display?: string;
    publisher: boolean;
  }

  export class VideoRoomHandle extends JanodeHandle {
    create(params: { room: string; description?: string; max_publishers?: number; permanent?: boolean; is_private?: boolean; bitrate?: number; videocodec?: string; audiocodec?: string; notify_joining?: boolean }): Promise<{ room: string; permanent: boolean }>;
    exists(params: { room: string }): Promise<{ room: string; exists: boolean }>;
    destroy(params: { room: string; permanent?: boolean }): Promise<unknown>;
    listParticipants(params: { room: string }): Promise<{ room: string; participants: Participant[] }>;
    kick(params: { room: string; feed: string | number }): Promise<unknown>;
    joinConfigurePublisher(params: { room: string; display?: string; audio?: boolean; video?: boolean; bitrate?: number; jsep: Jsep; feed?: string }): Promise<{ room: string; feed: string | number; display?: string; jsep?: Jsep; publishers: unknown[] }>;
    joinSubscriber(params: { room: string; feed: string | number; audio?: boolean; video?: boolean; sc_substream_layer?: number }): Promise<{ room: string; feed: string | number; display?: string; jsep: Jsep }>;
    start(params: { jsep: Jsep }): Promise<unknown>;
    configure(params: { sc_substream_layer?: number; sc_temporal_layers?: number; keyframe?: boolean; bitrate?: number }): Promise<unknown>;
    leave(): Promise<unknown>;
  }

  const VideoRoomPlugin: {
    id: string;
    Handle: typeof VideoRoomHandle;
    EVENT: Record<string, string>;
  };
  export default VideoRoomPlugin;
}
