// Writes `hello`: a 171-byte static x86-64 Linux executable that prints a greeting and exits 0.
// It lets the `FROM scratch` example run in Docker without a base image or a compiler. Run with
// `node make-hello.mjs` to regenerate; the bytes are the same every time.
import { writeFileSync } from 'node:fs';

const message = Buffer.from('Hello from wharf!\n');
const base = 0x400000;
const codeOffset = 64 + 56; // ELF header + one program header
const code = Buffer.concat([
  Buffer.from([0xb8, 1, 0, 0, 0]), // mov eax, 1 (write)
  Buffer.from([0xbf, 1, 0, 0, 0]), // mov edi, 1 (stdout)
  Buffer.from([0x48, 0x8d, 0x35, 16, 0, 0, 0]), // lea rsi, [rip + 16] (the message after the code)
  Buffer.from([0xba, message.length, 0, 0, 0]), // mov edx, length
  Buffer.from([0x0f, 0x05]), // syscall
  Buffer.from([0xb8, 60, 0, 0, 0]), // mov eax, 60 (exit)
  Buffer.from([0x31, 0xff]), // xor edi, edi
  Buffer.from([0x0f, 0x05]), // syscall
]);
const size = codeOffset + code.length + message.length;

const elf = Buffer.alloc(64);
Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(elf, 0); // magic, 64-bit, little-endian, v1, SysV
elf.writeUInt16LE(2, 16); // ET_EXEC
elf.writeUInt16LE(0x3e, 18); // x86-64
elf.writeUInt32LE(1, 20); // version
elf.writeBigUInt64LE(BigInt(base + codeOffset), 24); // entry point
elf.writeBigUInt64LE(64n, 32); // program header offset
elf.writeUInt16LE(64, 52); // header size
elf.writeUInt16LE(56, 54); // program header size
elf.writeUInt16LE(1, 56); // one program header

const segment = Buffer.alloc(56);
segment.writeUInt32LE(1, 0); // PT_LOAD
segment.writeUInt32LE(5, 4); // read + execute
segment.writeBigUInt64LE(0n, 8); // from file offset 0
segment.writeBigUInt64LE(BigInt(base), 16); // virtual address
segment.writeBigUInt64LE(BigInt(base), 24); // physical address
segment.writeBigUInt64LE(BigInt(size), 32); // size in file
segment.writeBigUInt64LE(BigInt(size), 40); // size in memory
segment.writeBigUInt64LE(0x1000n, 48); // alignment

writeFileSync(new URL('./hello', import.meta.url), Buffer.concat([elf, segment, code, message]), {
  mode: 0o755,
});
