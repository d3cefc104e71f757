/**
 * Imported first by the CLI entry: sizes libuv's thread pool before anything starts it (libuv
 * reads UV_THREADPOOL_SIZE once, when the first file-system or crypto call needs a thread).
 *
 * The default pool has 4 threads. Every upload ends with fsyncs (its file, its directory, the
 * SQLite WAL), each holding a thread for milliseconds; with a client's 8 parallel transfers the
 * pool was full of fsyncs and every other file operation (open, write, rename, the reads of
 * downloads) queued behind them. A value set in the environment wins.
 */
const UPLOAD_FRIENDLY_POOL_SIZE = 16;

process.env.UV_THREADPOOL_SIZE ??= String(UPLOAD_FRIENDLY_POOL_SIZE);
