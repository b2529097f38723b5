/** Small ports of the Go library functions BuildKit uses on flag values. */
import { problem } from './errors.js';

const UNITS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's `time.ParseDuration`, in nanoseconds (a float: precision is irrelevant for the checks here). */
export function parseGoDuration(text: string): number {
  const fail = (detail = `invalid duration ${JSON.stringify(text)}`) => problem(`time: ${detail}`);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw fail();
  let total = 0;
  while (s !== '') {
    const number = /^(\d*)(?:\.(\d*))?/.exec(s);
    const digits = number?.[0] ?? '';
    if (digits === '' || digits === '.') throw fail();
    s = s.slice(digits.length);
    const unit = /^[^\d.]*/.exec(s)?.[0] ?? '';
    if (unit === '') throw fail(`missing unit in duration ${JSON.stringify(text)}`);
    const scale = UNITS[unit];
    if (scale === undefined) {
      throw fail(`unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`);
    }
    s = s.slice(unit.length);
    total += Number(digits) * scale;
  }
  return sign * total;
}

const SIZE = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;

/** docker/go-units `RAMInBytes`: `64m`, `1.5g`, `512` (binary units). */
export function ramInBytes(text: string): number {
  const match = SIZE.exec(text);
  if (!match) throw problem(`invalid size: '${text}'`);
  const power = ' kmgtp'.indexOf((match[2] ?? ' ').toLowerCase());
  return Math.trunc(Number.parseFloat(match[1] as string) * 1024 ** power);
}

/** Go's `strconv.ParseBool`. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** One record of Go's `encoding/csv` (comma-separated, `"` quoting, `""` for a quote; no lazy quotes). */
export function parseCsvRecord(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  const column = () => i + 1;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close < 0)
          throw problem(
            `parse error on line 1, column ${text.length + 1}: extraneous or missing " in quoted-field`,
          );
        field += text.slice(i, close);
        i = close + 1;
        if (text[i] === '"') {
          field += '"';
          i++;
          continue;
        }
        if (i < text.length && text[i] !== ',') {
          throw problem(`parse error on line 1, column ${column()}: extraneous or missing " in quoted-field`);
        }
        break;
      }
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? text.length : comma;
      field = text.slice(i, end);
      const quote = field.indexOf('"');
      if (quote >= 0)
        throw problem(`parse error on line 1, column ${i + quote + 1}: bare " in non-quoted-field`);
      i = end;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}
