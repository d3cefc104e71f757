/**
 * Stops glibc's malloc from giving freed memory back to the kernel after every garbage collection,
 * which made an S3 proxy download pay a page fault for every 4 KiB it passed on.
 *
 * Why: Node's HTTP client allocates a 64 KiB buffer for every socket read and copies every body
 * chunk of a response into another new buffer (its parser's `on_body`), and V8 frees those buffers
 * in batches, at each scavenge (every 10-20 MB of a download). glibc trims the top of its heap (brk)
 * whenever more than M_TRIM_THRESHOLD is free there (128 KiB by default), so each batch went back to
 * the kernel and the next one was faulted in and zeroed again: 270-360 minor page faults per MB
 * proxied, about half of lfsd's CPU for an S3 download (2.0-2.2 s/GB; 1.0-1.5 s/GB without the
 * faults; bench figure 7, s3rver on loopback).
 *
 * The fix uses a documented glibc rule (mallopt(3), M_MMAP_THRESHOLD): when a block malloc placed
 * in a mapping of its own is freed, the mmap threshold rises to that block's size and the trim
 * threshold to twice that, up to 32 MiB and 64 MiB (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit). One
 * buffer of just under 32 MiB, never touched (so never resident) and freed at the next garbage
 * collection, sets both for the rest of the process. mallopt itself is out of JavaScript's reach,
 * and MALLOC_TRIM_THRESHOLD_ would have to be set in the environment before Node starts.
 *
 * Cost: the heap keeps up to 64 MiB of freed memory for reuse instead of returning it at once, and
 * allocations under 32 MiB (S3 upload parts) come from the heap instead of mappings of their own:
 * the peak RSS growth of a 300 MB S3 upload (test/storage/s3-store.test.ts) went from 26 to 40 MB.
 * Only S3Store calls this, so the embedded setup's memory figures are unchanged. Other C libraries
 * (musl) have other rules; there the buffer is just freed.
 */
const ALMOST_32_MIB = 32 * 1024 * 1024 - 64 * 1024;

let done = false;

/** whether this process has raised the threshold (tests) */
export function heapMemoryKept(): boolean {
  return done;
}

/** Raises glibc's malloc trim threshold to its dynamic maximum; once per process. */
export function keepFreedHeapMemory(): void {
  if (done) return;
  done = true;
  // allocated with mmap (above the 128 KiB default threshold), never written, dropped at once
  Buffer.allocUnsafeSlow(ALMOST_32_MIB);
}
