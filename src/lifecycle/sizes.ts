/**
 * Sizes as operators write them (`10GiB`, `500MB`, `1.5 TiB`, `none`) and as lfsd prints them.
 * Decimal units are powers of 1000, binary ones of 1024; a bare number is bytes.
 */
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  pib: 1024 ** 5,
};

/** Bytes, or null for `none` (no quota); throws a clear error on anything else. */
export function parseSize(text: string): number | null {
  const trimmed = text.trim();
  if (/^(none|unlimited)$/i.test(trimmed)) return null;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(trimmed);
  const unit = UNITS[(match?.[2] || 'b').toLowerCase()];
  if (!match || unit === undefined) {
    throw new Error(
      `invalid size "${text}": expected a number and a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 10GiB, 500MB, or none`,
    );
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new Error(`invalid size "${text}": too large`);
  return bytes;
}

/** `1.5 GiB`, `512 B`: binary units, three significant digits. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`;
}
