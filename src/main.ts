import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { createNode } from './app.js';
import { DataFolderInUse } from './store/data-folder-lock.js';
import { BrowserUidsInUse } from './capture/browser-firewall.js';

/** A start that cannot go on for a reason an operator fixes: said in one line, no stack. */
class StartError extends Error {}

async function main(): Promise<void> {
  // Every file and folder the service makes (the task store with every SourceURL's tokens, its
  // journal, the Janus configuration, logs) is its user's alone.
  process.umask(0o077);
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel });
  const node = await createNode(config, log);
  let address: string;
  try {
    address = await node.server.listen({ host: config.host, port: config.port });
    node.cluster?.setAddress(address);
  } catch (err) {
    // Nothing of this start may stay behind: its Janus, its browsers, its lock.
    await node.close().catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartError(`${config.host}:${config.port} is in use by another program; set WEBCAST_PORT to a free port`);
    if (code === 'EACCES') throw new StartError(`no permission to listen on ${config.host}:${config.port}; choose a port above 1023 with WEBCAST_PORT`);
    throw err;
  }
  log.info({ address, dataDir: config.dataDir }, 'webcast service listening');
  process.stdout.write(`webcast OpenAPI listening on ${address}\n`);

  const key = node.generatedKey;
  if (key?.isNew) {
    // Shown once, on the start that created it; it stays in the data folder, readable by its owner only.
    process.stdout.write(
      [
        '',
        `A key pair was generated and saved in ${key.file}:`,
        `  AccessKey: ${key.pair.accessKey}`,
        `  SecretKey: ${key.pair.secretKey}`,
        'Try it:',
        `  WEBCAST_ENDPOINT=${address} WEBCAST_ACCESS_KEY=${key.pair.accessKey} WEBCAST_SECRET_KEY=${key.pair.secretKey} \\`,
        `    npx webcast list --app demo`,
        '',
      ].join('\n'),
    );
  } else if (key) {
    process.stdout.write(`using the key pair ${key.pair.accessKey} from ${key.file}\n`);
  }

  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    node.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  const plain = err instanceof ConfigError || err instanceof DataFolderInUse || err instanceof BrowserUidsInUse || err instanceof StartError;
  process.stderr.write(`webcast: ${plain ? err.message : (err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
