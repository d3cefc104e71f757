/**
 * Counts what the metadata database pool is doing, for the metrics (observability/metrics.ts):
 * connections open, in use and callers waiting, whatever the dialect, by wrapping the Kysely
 * driver's acquire/release; and query latency through Kysely's `log` hook.
 */
import type { DatabaseConnection, Dialect, LogEvent } from 'kysely';
import type { PoolStats } from './metadata-store.js';

export type QueryObserver = (durationSeconds: number, failed: boolean) => void;

export class PoolMeter {
  #inUse = 0;
  #waiting = 0;
  #open: () => number = () => 0;

  constructor(private readonly onQuery?: QueryObserver) {}

  stats(): PoolStats {
    return { open: this.#open(), inUse: this.#inUse, waiting: this.#waiting };
  }

  /** Kysely's `log` option */
  readonly log = (event: LogEvent): void => {
    this.onQuery?.(event.queryDurationMillis / 1000, event.level === 'error');
  };

  /** `dialect` with its driver counting acquires and releases; `open` reads the pool's size */
  wrap(dialect: Dialect, open: () => number): Dialect {
    this.#open = open;
    const createDriver = dialect.createDriver.bind(dialect);
    dialect.createDriver = () => {
      const driver = createDriver();
      const acquire = driver.acquireConnection.bind(driver);
      const release = driver.releaseConnection.bind(driver);
      driver.acquireConnection = async (): Promise<DatabaseConnection> => {
        this.#waiting++;
        let connection: DatabaseConnection;
        try {
          connection = await acquire();
        } finally {
          this.#waiting--;
        }
        this.#inUse++;
        return connection;
      };
      driver.releaseConnection = (connection: DatabaseConnection): Promise<void> => {
        this.#inUse--;
        return release(connection);
      };
      return driver;
    };
    return dialect;
  }
}
