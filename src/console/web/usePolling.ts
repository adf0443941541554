import { useEffect, useState } from 'preact/hooks';
import { ApiFailure } from './api';

/** Loads now and again every `ms`, while the page shows; keeps the last good value on an error. */
export function usePolling<T>(load: () => Promise<T>, ms: number, deps: unknown[]): { data: T | undefined; error: string } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const value = await load();
        if (live) {
          setData(value);
          setError('');
        }
      } catch (err) {
        if (live) setError(err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err));
      } finally {
        if (live) timer = setTimeout(() => void tick(), ms);
      }
    };
    void tick();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, deps);
  return { data, error };
}
