/**
 * Database failures that mean "the database cannot be reached now" (issue 11 item 10), as each
 * driver reports them: a refused or dropped connection (Node's socket error codes), pg's own
 * connection messages, a SQLSTATE of class 08 (connection exception) or 57P0x (the server is
 * shutting down or starting), mysql2's lost connection. Answered 503 + Retry-After
 * (src/lfs/backend-errors.ts); anything else stays an internal error.
 */
import { searchErrorChain } from '../error-chain.js';
import { isConnectionFailureCode } from '../storage/backend-failure.js';

/** pg: the pool's connect timeout, a connection dropped mid-query, a server gone away */
const PG_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|Connection ended unexpectedly|the database system is (shutting down|starting up)/i;
const MYSQL_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN']);
/** SQLSTATE classes and codes of connection trouble: 08xxx, admin_shutdown, cannot_connect_now... */
const SQLSTATE = /^(08...|57P0[1-3]|53300)$/;

/**
 * The database's disk is full: SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100), MySQL's
 * "table is full" and "disk full". Answered 507, as a full object store is.
 */
const FULL_CODES = new Set(['SQLITE_FULL', '53100', 'ER_RECORD_FILE_FULL', 'ER_DISK_FULL']);

/** True when `err` (or an error it wraps) says the database is unreachable. */
export function isDatabaseUnavailable(err: unknown): boolean {
  return (
    searchErrorChain(err, (current) => {
      const code = (current as { code?: unknown }).code;
      if (
        typeof code === 'string' &&
        (isConnectionFailureCode(code) || MYSQL_CODES.has(code) || SQLSTATE.test(code))
      ) {
        return true;
      }
      return current instanceof Error && PG_MESSAGES.test(current.message) ? true : undefined;
    }) ?? false
  );
}

/** True when `err` (or an error it wraps) says the database's disk is full. */
export function isDatabaseFull(err: unknown): boolean {
  return (
    searchErrorChain(err, (current) => {
      const code = (current as { code?: unknown }).code;
      return typeof code === 'string' && FULL_CODES.has(code) ? true : undefined;
    }) ?? false
  );
}
