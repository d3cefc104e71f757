import { pino, type Logger } from 'pino';

/** The one logger: JSON lines (one per request), pretty-printed when stdout is a terminal. */
export function createLogger(level: string, options: { pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  return pino({
    level,
    // the pid tells the processes of a cluster (`workers` > 1) apart
    base: { service: 'lfsd', pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '***' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard' } } } : {}),
  });
}
