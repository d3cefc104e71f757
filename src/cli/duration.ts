/** `30d`, `12h`, `90m`, `45s`, `2w` -> milliseconds; throws on anything else. */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (!match) throw new Error(`invalid duration "${text}": expected a number and a unit, e.g. 30d, 12h, 90m`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[match[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(match[1]) * unit * 1000;
}
