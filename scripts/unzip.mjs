#!/usr/bin/env node
// Extracts named entries of a zip archive with Node's zlib only (no unzip binary on a bare
// CI image). Reads the central directory (APPNOTE.TXT §4.3.12), so entries written with a data
// descriptor have their right sizes. Supports stored (0) and deflated (8) entries, no zip64.
//   node scripts/unzip.mjs <archive.zip> <dest-dir> <entry> [entry…]
import { readFileSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';

const [archive, dest, ...wanted] = process.argv.slice(2);
if (!archive || !dest || wanted.length === 0) {
  process.stderr.write('usage: unzip.mjs <archive.zip> <dest-dir> <entry> [entry…]\n');
  process.exit(2);
}
const buf = readFileSync(archive);
// End of central directory record: signature 0x06054b50, within the last 64 KiB + 22 bytes.
let eocd = -1;
for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
  if (buf.readUInt32LE(i) === 0x06054b50) {
    eocd = i;
    break;
  }
}
if (eocd < 0) throw new Error(`${archive}: not a zip archive (no end of central directory)`);
const count = buf.readUInt16LE(eocd + 10);
let p = buf.readUInt32LE(eocd + 16);
const found = new Set();
for (let n = 0; n < count; n++) {
  if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${archive}: bad central directory entry ${n}`);
  const method = buf.readUInt16LE(p + 10);
  const compressed = buf.readUInt32LE(p + 20);
  const nameLen = buf.readUInt16LE(p + 28);
  const extraLen = buf.readUInt16LE(p + 30);
  const commentLen = buf.readUInt16LE(p + 32);
  const externalAttrs = buf.readUInt32LE(p + 38);
  const localOffset = buf.readUInt32LE(p + 42);
  const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
  p += 46 + nameLen + extraLen + commentLen;
  if (!wanted.includes(name)) continue;
  const localNameLen = buf.readUInt16LE(localOffset + 26);
  const localExtraLen = buf.readUInt16LE(localOffset + 28);
  const start = localOffset + 30 + localNameLen + localExtraLen;
  const raw = buf.subarray(start, start + compressed);
  if (method !== 0 && method !== 8) throw new Error(`${name}: unsupported compression method ${method}`);
  const data = method === 8 ? inflateRawSync(raw) : raw;
  const out = path.join(dest, name);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, data);
  const mode = (externalAttrs >>> 16) & 0o777;
  if (mode) chmodSync(out, mode);
  found.add(name);
}
const missing = wanted.filter((w) => !found.has(w));
if (missing.length) throw new Error(`${archive}: no entry ${missing.join(', ')}`);
